"""Hypothesis properties of reverse mode on random shapes and values."""
import numpy as onp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wengert.numpy as np
from wengert import jacfwd, jacrev, jvp, vjp
from wengert.tools import numerical_jvp

FUNCTIONS = {
    "sin*exp": lambda x, y: np.sin(x) * np.exp(y / 4),
    "tanh(x+y)^2": lambda x, y: np.tanh(x + y) ** 2,
    "x/(1+y^2)": lambda x, y: x / (1 + y ** 2),
    "maximum": lambda x, y: np.maximum(x, 2 * y) + np.log1p(x ** 2),
}

shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
floats = st.floats(-2, 2, allow_nan=False, width=64)
SETTINGS = settings(max_examples=40, deadline=None)


def _arrays(draw, shape):
    return draw(hnp.arrays(onp.float64, shape, elements=floats))


@SETTINGS
@given(data=st.data(), shape=shapes, name=st.sampled_from(sorted(FUNCTIONS)))
def test_vjp_is_linear_in_the_cotangent(data, shape, name):
    f = FUNCTIONS[name]
    x, y = _arrays(data.draw, shape.input_shapes[0]), _arrays(data.draw, shape.input_shapes[1])
    out, pullback = vjp(f, x, y)
    u, v = _arrays(data.draw, onp.shape(out)), _arrays(data.draw, onp.shape(out))
    a, b = data.draw(floats), data.draw(floats)
    combined = pullback(a * u + b * v)
    separate = [a * p + b * q for p, q in zip(pullback(u), pullback(v))]
    for c, s in zip(combined, separate):
        onp.testing.assert_allclose(c, s, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(data=st.data(), shape=shapes, name=st.sampled_from(sorted(FUNCTIONS)))
def test_transpose_identity_against_finite_differences(data, shape, name):
    """<v, J t> (central differences) == <J^T v, t> (reverse mode)."""
    f = FUNCTIONS[name]
    # keep away from the maximum's tie, where the derivative jumps
    x = _arrays(data.draw, shape.input_shapes[0])
    y = _arrays(data.draw, shape.input_shapes[1]) + 0.37
    out, pullback = vjp(f, x, y)
    t = (_arrays(data.draw, onp.shape(x)), _arrays(data.draw, onp.shape(y)))
    v = _arrays(data.draw, onp.shape(out))
    jt = numerical_jvp(f, (x, y), t, eps=1e-6)
    lhs = onp.sum(v * jt)
    rhs = sum(onp.sum(g * ti) for g, ti in zip(pullback(v), t))
    assert abs(lhs - rhs) <= 1e-5 * (1 + abs(lhs))


@SETTINGS
@given(data=st.data(), n=st.integers(1, 4), m=st.integers(1, 4))
def test_jacrev_rows_are_vjps_of_basis_vectors(data, n, m):
    W = _arrays(data.draw, (m, n))
    x = _arrays(data.draw, (n,))
    f = lambda x: np.tanh(W @ x) * x[0]
    J = jacrev(f)(x)
    _, pullback = vjp(f, x)
    for i in range(m):
        onp.testing.assert_allclose(J[i], pullback(onp.eye(m)[i])[0], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(data=st.data(), shape=shapes, name=st.sampled_from(sorted(FUNCTIONS)))
def test_forward_and_reverse_are_transposes(data, shape, name):
    """<v, J t> (forward mode) == <J^T v, t> (reverse mode), exactly up to rounding."""
    f = FUNCTIONS[name]
    x, y = _arrays(data.draw, shape.input_shapes[0]), _arrays(data.draw, shape.input_shapes[1])
    t = (_arrays(data.draw, onp.shape(x)), _arrays(data.draw, onp.shape(y)))
    out, jt = jvp(f, (x, y), t)
    v = _arrays(data.draw, onp.shape(out))
    _, pullback = vjp(f, x, y)
    lhs = onp.sum(v * jt)
    rhs = sum(onp.sum(g * ti) for g, ti in zip(pullback(v), t))
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs))


@SETTINGS
@given(data=st.data(), shape=shapes, name=st.sampled_from(sorted(FUNCTIONS)))
def test_jvp_is_linear_in_the_tangent(data, shape, name):
    f = FUNCTIONS[name]
    x, y = _arrays(data.draw, shape.input_shapes[0]), _arrays(data.draw, shape.input_shapes[1])
    t1 = (_arrays(data.draw, onp.shape(x)), _arrays(data.draw, onp.shape(y)))
    t2 = (_arrays(data.draw, onp.shape(x)), _arrays(data.draw, onp.shape(y)))
    a, b = data.draw(floats), data.draw(floats)
    combined = jvp(f, (x, y), tuple(a * p + b * q for p, q in zip(t1, t2)))[1]
    separate = a * jvp(f, (x, y), t1)[1] + b * jvp(f, (x, y), t2)[1]
    onp.testing.assert_allclose(combined, separate, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(data=st.data(), shape=shapes, name=st.sampled_from(sorted(FUNCTIONS)))
def test_jacfwd_equals_jacrev(data, shape, name):
    f = FUNCTIONS[name]
    x, y = _arrays(data.draw, shape.input_shapes[0]), _arrays(data.draw, shape.input_shapes[1])
    for Jf, Jr in zip(jacfwd(f, argnums=(0, 1))(x, y), jacrev(f, argnums=(0, 1))(x, y)):
        onp.testing.assert_allclose(Jf, Jr, rtol=1e-10, atol=1e-12)
