"""wengert.numpy as a drop-in: names, constants, non-differentiable functions,
missing rules, NumPy protocol dispatch, and conversions that would lose a derivative."""
import numpy as onp
import pytest

import wengert.numpy as np
from wengert import (InPlaceUpdateError, MissingRuleError, TracedConversionError, grad)


def _public(module):
    return [n for n in dir(module) if not n.startswith("_")]


@pytest.mark.parametrize("module, wrapped", [(onp, np), (onp.linalg, np.linalg), (onp.fft, np.fft),
                                             (onp.random, np.random)])
def test_every_public_numpy_name_resolves(module, wrapped):
    missing = [n for n in _public(module) if not hasattr(wrapped, n)]
    assert missing == []


def test_constants_types_and_plain_calls_pass_through():
    assert np.pi == onp.pi and np.float32 is onp.float32 and np.ndarray is onp.ndarray and np.newaxis is None
    onp.testing.assert_array_equal(np.arange(3), onp.arange(3))
    onp.testing.assert_array_equal(np.linalg.inv(onp.eye(2)), onp.eye(2))
    assert np.random.default_rng(0).normal() == onp.random.default_rng(0).normal()


def test_non_differentiable_functions_read_traced_values_as_constants():
    def f(x):
        i = np.argmax(x)
        order = np.argsort(x)
        s = np.sign(x) + np.floor(x) + np.round(x)
        mask = (x > 0) & np.isfinite(x) & np.logical_not(x < -5)
        z = np.zeros_like(x) + np.ones_like(x)
        assert np.shape(x) == (4,) and np.ndim(x) == 1 and np.size(x) == 4
        assert x.shape == (4,) and x.ndim == 1 and x.size == 4 and x.dtype == onp.float64 and len(x) == 4
        noise = np.random.default_rng(0).normal(size=4) * 0.0
        return np.sum(x * s * mask * z) + x[i] * order[0] + np.sum(noise)
    x = onp.array([0.5, -1.5, 2.5, 1.0])
    expected = onp.sign(x) + onp.floor(x) + onp.round(x)
    expected = expected * (x > 0)
    expected[2] += onp.argsort(x)[0]
    onp.testing.assert_allclose(grad(f)(x), expected)


def test_traced_value_reaching_a_function_without_rule_raises_naming_it():
    with pytest.raises(MissingRuleError, match=r"numpy\.interp"):
        grad(lambda x: np.sum(np.interp(x, x, x)))(onp.ones(3))
    with pytest.raises(MissingRuleError, match=r"numpy\.interp"):
        grad(lambda x: onp.sum(onp.interp(x, x, x)))(onp.ones(3))    # through __array_function__
    import wengert.scipy.special as special
    with pytest.raises(MissingRuleError, match=r"scipy\.special\.spence"):
        grad(lambda x: np.sum(special.spence(x)))(onp.ones(2))


def test_plain_numpy_code_records_the_same_primitives():
    W = onp.arange(6.0).reshape(3, 2) / 6

    def plain(x):
        h = onp.sin(x) @ W
        return onp.sum(onp.concatenate([h, h * 2.0])) + onp.mean(x)

    def wrapped(x):
        h = np.sin(x) @ W
        return np.sum(np.concatenate([h, h * 2.0])) + np.mean(x)

    x = onp.array([0.1, 0.2, 0.3])
    onp.testing.assert_allclose(grad(plain)(x), grad(wrapped)(x))
    onp.testing.assert_allclose(grad(plain)(x), 3 * onp.cos(x) * W.sum(axis=1) + 1 / 3)


def test_conversions_that_would_drop_the_derivative_raise():
    with pytest.raises(TracedConversionError, match=r"float\(\)"):
        grad(lambda x: float(x))(1.0)
    with pytest.raises(TracedConversionError, match="asarray"):
        grad(lambda x: onp.asarray(x).sum())(onp.ones(2))
    def store(x):
        out = onp.zeros(2)
        out[:] = x
        return x
    with pytest.raises(TracedConversionError):
        grad(store)(1.0)
    with pytest.raises(InPlaceUpdateError, match="fill"):
        def fill(x):
            x.fill(1.0)
            return np.sum(x)
        grad(fill)(onp.ones(2))


def test_array_of_traced_scalars_and_iteration():
    def f(x):
        a, b = x[0], x[1]
        v = np.array([a * b, a + b, 1.0])
        total = 0.0
        for vi in v:
            total = total + vi ** 2
        return total
    x = onp.array([2.0, 3.0])
    a, b = x
    expected = [2 * a * b * b + 2 * (a + b), 2 * a * b * a + 2 * (a + b)]
    onp.testing.assert_allclose(grad(f)(x), expected)


def test_the_common_ndarray_methods_differentiate_to_second_order():
    from wengert import check_grads
    x = onp.random.default_rng(0).normal(size=(3, 4))
    W = onp.random.default_rng(1).normal(size=(4, 2))

    def f(x):
        return (x.sum() + x.mean(axis=0).prod() + x.max() + x.min(axis=1).sum() + x.std() + x.var(ddof=1)
                + x.reshape(4, 3).transpose().ravel()[2] + x.flatten()[0] + x[None].squeeze().dot(W).sum()
                + x.clip(-0.5, 0.5).sum() + x.cumsum(axis=1)[:, -1].sum() + x.astype(onp.float64).sum()
                + x.conj().real.sum() + x.T[0, 1] + x.imag.sum())
    check_grads(f, (x,), order=2)
    assert grad(lambda x: x.astype(onp.float32).sum())(x).dtype == onp.float64
