"""Black–Scholes Greeks by automatic differentiation, checked against their closed forms.

The price of a European call is written with ``wengert.numpy``:

    C = S N(d1) - K exp(-r T) N(d2),   d1 = (log(S / K) + (r + sigma^2 / 2) T) / (sigma sqrt(T)),
                                        d2 = d1 - sigma sqrt(T)

and its sensitivities are taken by the library:
- delta = dC/dS and vega = dC/dsigma by reverse mode (``grad``);
- gamma = d2C/dS2 by forward mode over reverse mode, both as ``jvp`` of ``grad`` and as
  ``jacfwd(grad)``.
Each is compared with its closed form (delta = N(d1), vega = S phi(d1) sqrt(T),
gamma = phi(d1) / (S sigma sqrt(T))) over a grid of strikes, maturities and volatilities.

The normal CDF ``N`` comes two ways, and every Greek is checked with both:
- ``N(x) = (1 + erf(x / sqrt 2)) / 2`` with ``wengert.scipy.special.erf``, when that is
  differentiable (it was not yet when this example was written, so this is optional);
- a primitive defined here (SciPy's ``ndtr`` for the value) with its derivative, the
  normal density, declared by ``defderiv``. The density is written with
  ``wengert.numpy``, so the rule is itself differentiable and the second derivative
  (gamma) follows.

    python examples/black_scholes.py
"""
import itertools

import numpy as onp
import scipy.special

import wengert.numpy as np
import wengert.scipy.special as wspecial
from wengert import defderiv, grad, jacfwd, jvp, primitive

_SQRT_2PI = onp.sqrt(2.0 * onp.pi)


def norm_pdf(x):
    return np.exp(-0.5 * x ** 2) / _SQRT_2PI


# The standard normal CDF as a primitive: its value from SciPy, its derivative the density.
norm_cdf_primitive = primitive(scipy.special.ndtr, "norm_cdf")
defderiv(norm_cdf_primitive, lambda ans, x: norm_pdf(x))


def norm_cdf_erf(x):
    return 0.5 * (1.0 + wspecial.erf(x / onp.sqrt(2.0)))


CDFS = {"primitive": norm_cdf_primitive}
if "erf" in wspecial.DIFFERENTIABLE:
    CDFS = {"erf": norm_cdf_erf, **CDFS}
norm_cdf = next(iter(CDFS.values()))


def d1_d2(S, K, T, r, sigma):
    vol = sigma * np.sqrt(T)
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / vol
    return d1, d1 - vol


def call_price(S, K, T, r, sigma, cdf=None):
    cdf = cdf or norm_cdf
    d1, d2 = d1_d2(S, K, T, r, sigma)
    return S * cdf(d1) - K * np.exp(-r * T) * cdf(d2)


def closed_form(S, K, T, r, sigma):
    """(delta, vega, gamma) of the call, from the textbook formulas."""
    d1 = (onp.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * onp.sqrt(T))
    pdf = onp.exp(-0.5 * d1 ** 2) / _SQRT_2PI
    return scipy.special.ndtr(d1), S * pdf * onp.sqrt(T), pdf / (S * sigma * onp.sqrt(T))


def greeks(S, K, T, r, sigma, cdf=None):
    """(delta, vega, gamma by jvp of grad, gamma by jacfwd of grad), all by AD."""
    delta, vega = grad(call_price, argnums=(0, 4))(S, K, T, r, sigma, cdf)
    delta_of_S = grad(call_price)                        # reverse mode, in S
    _, gamma_jvp = jvp(lambda s: delta_of_S(s, K, T, r, sigma, cdf), (S,), (1.0,))
    gamma_jacfwd = jacfwd(delta_of_S)(S, K, T, r, sigma, cdf)
    return float(delta), float(vega), float(gamma_jvp), float(gamma_jacfwd)


def main(S=100.0, r=0.03, verbose=True):
    strikes = (70.0, 90.0, 100.0, 115.0, 140.0)
    maturities = (0.1, 0.5, 1.0, 3.0)
    vols = (0.1, 0.25, 0.6)
    errors = {}
    for cdf_name, cdf in CDFS.items():
        err = errors[cdf_name] = {"delta": 0.0, "vega": 0.0, "gamma_jvp": 0.0, "gamma_jacfwd": 0.0}
        rows = []
        for K, T, sigma in itertools.product(strikes, maturities, vols):
            ad = greeks(S, K, T, r, sigma, cdf)
            delta, vega, gamma = closed_form(S, K, T, r, sigma)
            for name, a, c in zip(err, ad, (delta, vega, gamma, gamma)):
                err[name] = max(err[name], abs(a - c))
            rows.append((K, T, sigma, float(call_price(S, K, T, r, sigma, cdf))) + ad)
    # Put-call parity as a check on the price itself: C - P = S - K exp(-rT).
    parity = max(abs(float(call_price(S, K, T, r, s)) - S + K * onp.exp(-r * T)
                     - _put_price(S, K, T, r, s)) for K, T, s in itertools.product(strikes, maturities, vols))
    if verbose:
        print(f"European calls on S = {S:g}, r = {r:g}: {len(rows)} (strike, maturity, volatility) cases")
        print("    K     T   sigma     price     delta      vega     gamma")
        for K, T, sigma, price, d, v, g, _ in rows[::7]:
            print(f"{K:5.0f} {T:5.1f} {sigma:6.2f} {price:9.4f} {d:9.6f} {v:9.4f} {g:9.6f}")
        for cdf_name, err in errors.items():
            print(f"largest |AD - closed form| over all cases, normal CDF by {cdf_name}:")
            for name, e in err.items():
                print(f"  {name:13s} {e:.1e}")
        print(f"put-call parity of the price: largest violation {parity:.1e}")
    worst = {name: max(err[name] for err in errors.values()) for name in err}
    return {**worst, "by_cdf": errors, "parity": parity, "cases": len(rows)}


def _put_price(S, K, T, r, sigma):
    d1 = (onp.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * onp.sqrt(T))
    d2 = d1 - sigma * onp.sqrt(T)
    return K * onp.exp(-r * T) * scipy.special.ndtr(-d2) - S * scipy.special.ndtr(-d1)


if __name__ == "__main__":
    main()
