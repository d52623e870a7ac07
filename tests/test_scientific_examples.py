"""The scientific examples (examples/gaussian_mixture.py, lotka_volterra.py,
black_scholes.py) run and show what they claim."""

import numpy as onp
import pytest

from tests.examples_loader import load_example as _load


def test_black_scholes_greeks_match_closed_forms():
    out = _load("black_scholes").main(verbose=False)
    assert out["cases"] == 60
    assert "primitive" in out["by_cdf"]                    # the example's own normal-CDF primitive
    for cdf, errors in out["by_cdf"].items():
        for name in ("delta", "vega", "gamma_jvp", "gamma_jacfwd"):
            assert errors[name] < 1e-10, (cdf, name, errors[name])
    assert out["parity"] < 1e-10


def test_black_scholes_single_option():
    bs = _load("black_scholes")
    args = (105.0, 100.0, 0.75, 0.02, 0.3)
    cf = bs.closed_form(*args)
    for cdf in bs.CDFS.values():
        onp.testing.assert_allclose(bs.greeks(*args, cdf), [cf[0], cf[1], cf[2], cf[2]], rtol=1e-12)


def test_gaussian_mixture_recovers_the_components():
    ex = _load("gaussian_mixture")
    out = ex.main(verbose=False)
    assert out["grad_rel_err"] < 1e-6                      # value_and_grad agrees with finite differences
    assert out["improvement"] > 0.5                        # the fit raised the mean log-likelihood
    assert out["grad_norm"] < 1e-5                         # at a stationary point
    assert out["mean_err"] < 0.25                          # fitted means near the true ones (600 points)
    assert out["weight_err"] < 0.08
    onp.testing.assert_allclose(out["weights"].sum(), 1.0, rtol=1e-12)
    for cov in out["covs"]:                                # Cholesky parameterisation: valid covariances
        assert onp.all(onp.linalg.eigvalsh(cov) > 0)


def test_gaussian_mixture_reaches_the_em_maximum():
    mixture = pytest.importorskip("sklearn.mixture")
    ex = _load("gaussian_mixture")
    out = ex.main(verbose=False)
    em = mixture.GaussianMixture(ex.K, tol=1e-10, max_iter=1000, reg_covar=0.0, random_state=0)
    x = ex.sample(600, 0)
    assert abs(em.fit(x).score(x) - out["ll_end"]) < 1e-6   # the same (maximum) likelihood as EM


def test_lotka_volterra_recovers_the_parameters():
    out = _load("lotka_volterra").main(verbose=False)
    assert out["grad_rel_err"] < 1e-6                      # adjoint gradient vs finite differences
    assert out["loss_end"] < 0.01 * out["loss_start"]
    assert out["max_rel_err"] < 0.05                       # all four parameters within 5%
    start_err = onp.abs(out["start"] - out["true"]) / out["true"]
    assert onp.all(start_err > 0.2)                        # from a first guess 25-40% off
