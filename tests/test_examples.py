"""The examples run and show what they claim."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forward_gradient_descent():
    cosine, mean_err, loss_true, loss_fwd, loss_start = _load("forward_gradient_descent").main(verbose=False)
    assert cosine > 0.1                      # points downhill on average
    assert mean_err < 0.25                   # the average approaches the true gradient
    assert loss_true < loss_fwd < loss_start  # descends, more slowly than the true gradient
