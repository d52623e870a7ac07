"""The founding documents' examples (../shared/seeds)."""
import numpy as onp
import pytest

import wengert.numpy as np
from wengert import grad


def product(x, t):
    f = 1.0
    for ti in t:
        f = f * (x - ti)
    return f


def prefix_suffix_derivative(x, t):
    """g'(x) = sum_i f^(i-1) r^(i+1), with prefix products f and suffix products r: O(m)."""
    m = len(t)
    f = onp.ones(m + 1)
    r = onp.ones(m + 2)
    for k in range(1, m + 1):
        f[k] = f[k - 1] * (x - t[k - 1])
    for k in range(m, 0, -1):
        r[k] = r[k + 1] * (x - t[k - 1])
    return sum(f[i - 1] * r[i + 1] for i in range(1, m + 1))


@pytest.mark.parametrize("offset", [0.3, 1e-12, 0.0])
def test_product_of_factors_matches_prefix_suffix_formula_even_at_a_root(offset):
    rng = onp.random.default_rng(1)
    t = list(rng.uniform(-onp.e, onp.e, 1000))   # E log|x - t_i| ~ 0: the product stays representable
    t_arr = onp.array(t)
    x = t[500] + offset
    exact = prefix_suffix_derivative(x, t)
    got = grad(product)(x, t)
    assert got == pytest.approx(exact, rel=1e-9, abs=1e-300)
    if offset == 0.0:
        # the O(m) formula sum g(x) / (x - t_i) divides 0 by 0 here; reverse mode does not
        with onp.errstate(divide="ignore", invalid="ignore"):
            naive = onp.sum(onp.prod(x - t_arr) / (x - t_arr))
        assert onp.isnan(naive) and onp.isfinite(got) and got != 0.0


def test_logistic_map():
    def f(x):
        for _ in range(3):
            x = 4 * x * (1 - x)
        return x
    x, d = 0.3, 1.0
    for _ in range(3):
        d *= 4 - 8 * x
        x = 4 * x * (1 - x)
    assert grad(f)(0.3) == pytest.approx(d, rel=1e-14)


def test_two_variable_example():
    def f(x1, x2):
        return x1 * x2 + np.sin(x1)
    g1, g2 = grad(f, argnums=(0, 1))(2.0, 5.0)
    assert g1 == pytest.approx(5.0 + onp.cos(2.0)) and g2 == pytest.approx(2.0)
