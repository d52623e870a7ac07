"""The examples run and show what they claim."""

from tests.examples_loader import load_example as _load


def test_forward_gradient_descent():
    cosine, mean_err, loss_true, loss_fwd, loss_start = _load("forward_gradient_descent").main(verbose=False)
    assert cosine > 0.1                      # points downhill on average
    assert mean_err < 0.25                   # the average approaches the true gradient
    assert loss_true < loss_fwd < loss_start  # descends, more slowly than the true gradient
