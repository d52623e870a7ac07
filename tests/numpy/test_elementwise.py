"""Elementwise rules (wengert/numpy/elementwise.py): every function, operator, kink,
dtype and complex convention.

- ``test_rule``: each function against finite differences (reverse mode, order 2) on
  its valid domain, for a Python float, a 0-d array, vectors and broadcast shapes,
  with every argument traced and with one argument held constant.
- operators and real-NumPy calls (``numpy.sin(x)`` on a traced value) give the same
  gradients as the wengert functions.
- kinks: the documented subgradients, exactly, and no NaN where a finite one exists.
- dtypes: float32 stays float32; complex values follow HIPS autograd's convention.
"""
import math
import warnings

import numpy as onp
import pytest

import wengert.numpy as np
from tests.numpy.specs import check, spec
from wengert import elementwise_grad, grad
from wengert.core.tracer import Box
from wengert.numpy import elementwise as ew

R = onp.random.default_rng(1234)


# -- domains: each returns a Python float for shape (), else a float64 array -------------

def _uniform(low, high, shape):
    return float(R.uniform(low, high)) if shape == () else R.uniform(low, high, size=shape)


def real(shape):
    return _uniform(-2.0, 2.0, shape)


def pos(shape):
    return _uniform(0.5, 2.0, shape)


def unit(shape):
    return _uniform(-0.9, 0.9, shape)


def above1(shape):
    return _uniform(1.2, 3.0, shape)


def nonzero(shape):
    """|x| in [0.5, 2] with a random sign: away from the kink of abs, cbrt, 1/x."""
    sign = onp.where(R.uniform(size=shape) < 0.5, -1.0, 1.0)
    v = sign * R.uniform(0.5, 2.0, size=shape)
    return float(v) if shape == () else v


def numer(shape):
    """Numerators for mod/fmod: +-(5.1, 5.9), so that x / y in +-(2.1, 2.9) for y in
    (2.05, 2.4): far from the jumps at integer quotients."""
    return onp.sign(nonzero(shape)) * _uniform(5.1, 5.9, shape)


def denom(shape):
    return _uniform(2.05, 2.4, shape)


def arg(domain, shape):
    """A value of ``domain``; shape ``"0d"`` gives a 0-d float64 array."""
    return onp.asarray(domain(())) if shape == "0d" else domain(shape)


# -- the spec table ------------------------------------------------------------------------

UNARY = {
    "negative": (np.negative, real), "positive": (np.positive, real), "square": (np.square, real),
    "sqrt": (np.sqrt, pos), "cbrt": (np.cbrt, nonzero), "reciprocal": (np.reciprocal, nonzero),
    "exp": (np.exp, real), "exp2": (np.exp2, real), "expm1": (np.expm1, real),
    "log": (np.log, pos), "log2": (np.log2, pos), "log10": (np.log10, pos), "log1p": (np.log1p, pos),
    "sin": (np.sin, real), "cos": (np.cos, real), "tan": (np.tan, unit),
    "arcsin": (np.arcsin, unit), "arccos": (np.arccos, unit), "arctan": (np.arctan, real),
    "sinh": (np.sinh, real), "cosh": (np.cosh, real), "tanh": (np.tanh, real),
    "arcsinh": (np.arcsinh, real), "arccosh": (np.arccosh, above1), "arctanh": (np.arctanh, unit),
    "absolute": (np.absolute, nonzero), "abs": (np.abs, nonzero), "fabs": (np.fabs, nonzero),
    "sinc": (np.sinc, real), "deg2rad": (np.deg2rad, real), "radians": (np.radians, real),
    "rad2deg": (np.rad2deg, real), "degrees": (np.degrees, real),
    "real": (np.real, real), "imag": (np.imag, real), "conjugate": (np.conjugate, real),
    "conj": (np.conj, real),
}
# NumPy 2's array-API aliases are the same functions.
ALIASES = {"acos": "arccos", "asin": "arcsin", "atan": "arctan", "acosh": "arccosh",
           "asinh": "arcsinh", "atanh": "arctanh", "atan2": "arctan2", "pow": "power"}

BINARY = {
    "add": (np.add, real, real), "subtract": (np.subtract, real, real),
    "multiply": (np.multiply, real, real), "divide": (np.divide, real, nonzero),
    "true_divide": (np.true_divide, real, nonzero), "power": (np.power, pos, real),
    "float_power": (np.float_power, pos, real), "arctan2": (np.arctan2, nonzero, nonzero),
    "hypot": (np.hypot, nonzero, nonzero), "logaddexp": (np.logaddexp, real, real),
    "logaddexp2": (np.logaddexp2, real, real), "maximum": (np.maximum, real, real),
    "minimum": (np.minimum, real, real), "fmax": (np.fmax, real, real), "fmin": (np.fmin, real, real),
    "mod": (np.mod, numer, denom), "remainder": (np.remainder, numer, denom),
    "fmod": (np.fmod, numer, denom),
}

UNARY_SHAPES = [(), "0d", (4,), (2, 3, 4)]
BINARY_SHAPES = [((), ()), ((4,), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 4)), ("0d", (4,)), ((4,), "0d")]


def _shape_id(s):
    return "float" if s == () else "0d" if s == "0d" else "x".join(map(str, s))


def _specs():
    out = []
    for name, (f, dom) in UNARY.items():
        for s in UNARY_SHAPES:
            out.append(spec(f"{name}-{_shape_id(s)}", f, arg(dom, s)))
    for alias, name in ALIASES.items():
        if name in UNARY:
            out.append(spec(f"{alias}-alias", getattr(np, alias), arg(UNARY[name][1], (4,))))
        else:
            f, dx, dy = BINARY[name]
            out.append(spec(f"{alias}-alias", getattr(np, alias), arg(dx, (3, 1)), arg(dy, (4,))))
    for name, (f, dx, dy) in BINARY.items():
        for sx, sy in BINARY_SHAPES:
            out.append(spec(f"{name}-{_shape_id(sx)}-{_shape_id(sy)}", f, arg(dx, sx), arg(dy, sy)))
        # one argument constant: an ndarray on one side, a Python float on the other
        cy, cx = arg(dy, (3, 4)), arg(dx, ())
        out.append(spec(f"{name}-const-y", lambda x, f=f, c=cy: f(x, c), arg(dx, (2, 3, 4))))
        out.append(spec(f"{name}-const-x", lambda y, f=f, c=cx: f(c, y), arg(dy, (3, 4))))
    # power with integer and integer-array exponents, and exponent-only tracing
    out += [
        spec("power-int-exponent", lambda x: np.power(x, 3), real((4,))),
        spec("power-int-array-exponent", lambda x: np.power(x, onp.array([0, 1, 2, -1])), nonzero((3, 4))),
        spec("power-negative-base-int", lambda x: x ** 2, -pos((4,))),
        spec("power-const-base-array", lambda y, c=pos((3, 1)): np.power(c, y), real((4,))),
    ]
    # clip: x and both bounds traced, bounds broadcasting against x; None bounds; keywords
    lo, hi = -_uniform(0.2, 1.5, (3, 1)), _uniform(0.2, 1.5, (4,))
    out += [
        spec("clip-all-traced", np.clip, real((2, 3, 4)), lo, hi),
        spec("clip-float", np.clip, real(()), -0.5, 0.5),
        spec("clip-0d", np.clip, arg(real, "0d"), onp.asarray(-0.5), onp.asarray(0.5)),
        spec("clip-x-only", lambda x: np.clip(x, -0.5, 0.7), real((3, 4))),
        spec("clip-bounds-only", lambda lo, hi, x=real((2, 3, 4)): np.clip(x, lo, hi), lo, hi),
        spec("clip-lo-none", lambda x, h: np.clip(x, None, h), real((3, 4)), hi),
        spec("clip-hi-none", lambda x, l: np.clip(x, l, None), real((3, 4)), lo),
        spec("clip-both-none", lambda x: np.clip(x, None, None), real((4,))),
        spec("clip-min-max-kw", lambda x, l, h: np.clip(x, min=l, max=h), real((3, 4)), lo, hi),
        spec("clip-max-kw", lambda x, h: np.clip(x, max=h), real((3, 4)), hi),
        spec("clip-method", lambda x, h: x.clip(-0.5, h), real((3, 4)), hi),
        spec("clip-bounds-crossed", np.clip, real((3, 4)), _uniform(0.6, 1.0, (4,)), -_uniform(0.6, 1.0, (3, 1))),
    ]
    # where: both branches traced, broadcasting against the condition; a float condition
    cond = R.uniform(size=(3, 4)) < 0.5
    out += [
        spec("where-broadcast", lambda x, y: np.where(cond, x, y), real((2, 3, 4)), real((4,))),
        spec("where-const-branch", lambda x: np.where(cond, x, 0.0), real((3, 1))),
        spec("where-float", lambda x, y: np.where(x > 0, x, y), real(()), real(())),
        spec("where-float-condition", lambda x, y: np.where(onp.array([0.5, 0.0, -2.0, onp.nan]), x, y),
             real((4,)), real((4,))),
        spec("where-list-condition", lambda x, y: np.where([True, False, False, True], x, y),
             real(()), real((4,))),
        spec("where-traced-condition", lambda x: np.where(x > 0.0, x ** 2, np.sin(x)), real((3, 4))),
    ]
    # sinc near 0 (the removable singularity) and compositions
    out += [
        spec("sinc-near-zero", np.sinc, onp.array([0.0, 1e-9, -3e-3, 0.0099, -0.0101, 0.02, 0.5])),
        spec("composition", lambda x, y: np.sum(np.exp(np.sin(x) * y) / np.hypot(x, y) ** 1.5),
             real((3, 4)), nonzero((4,))),
    ]
    return out


@pytest.mark.parametrize("fun, args, kwargs", _specs())
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


def test_all_lists_exactly_the_numpy_names():
    expected = set(UNARY) | set(BINARY) | set(ALIASES) | {"clip", "where", "divmod"}
    expected = {n for n in expected if hasattr(onp, n)}
    assert sorted(ew.__all__) == sorted(expected)
    assert len(ew.__all__) == len(set(ew.__all__))
    for name in ew.__all__:
        assert getattr(np, name) is getattr(ew, name), name
    assert np.abs is np.absolute and np.mod is np.remainder and np.conj is np.conjugate


# -- operators and the real NumPy ufuncs -----------------------------------------------------

def _grads(f, w, *args):
    """Gradients of sum(f(*args) * w) by every argument."""
    return grad(lambda *a: np.sum(f(*a) * w), tuple(range(len(args))))(*args)


def _assert_grads_equal(f, g, *args):
    """``f`` and ``g`` have the same value and the same gradients at ``args``."""
    value = g(*args)
    onp.testing.assert_allclose(f(*args), value, rtol=1e-15)
    w = R.standard_normal(onp.shape(value))
    for a, b in zip(_grads(f, w, *args), _grads(g, w, *args)):
        onp.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


OPS = [  # name, operator form, function, domain of x, domain of y
    ("add", lambda a, b: a + b, np.add, real, real),
    ("sub", lambda a, b: a - b, np.subtract, real, real),
    ("mul", lambda a, b: a * b, np.multiply, real, real),
    ("truediv", lambda a, b: a / b, np.divide, real, nonzero),
    ("mod", lambda a, b: a % b, np.mod, numer, denom),
    ("pow", lambda a, b: a ** b, np.power, pos, real),
]


@pytest.mark.parametrize("name, op, fun, dx, dy", OPS, ids=[o[0] for o in OPS])
def test_operator(name, op, fun, dx, dy):
    x, y = dx((3, 4)), dy((4,))
    _assert_grads_equal(op, fun, x, y)                                   # box op box
    _assert_grads_equal(lambda a: op(a, 1.25), lambda a: fun(a, 1.25), x)  # box op float
    c = float(dx(()))
    _assert_grads_equal(lambda b: op(c, b), lambda b: fun(c, b), y)      # float op box
    arr = dx((3, 4))
    _assert_grads_equal(lambda b: op(arr, b), lambda b: fun(arr, b), y)  # ndarray op box
    sc = onp.float64(c)
    _assert_grads_equal(lambda b: op(sc, b), lambda b: fun(sc, b), y)    # numpy scalar op box
    ufunc = getattr(onp, fun.__name__)                                   # the real numpy ufunc
    _assert_grads_equal(lambda a, b: ufunc(a, b), fun, x, y)
    _assert_grads_equal(lambda b: ufunc(arr, b), lambda b: fun(arr, b), y)

    def kinds(a, b):
        seen.extend([op(a, b), op(arr, b), op(c, b), ufunc(arr, b)])
        return np.sum(a)
    seen = []
    grad(kinds, (0, 1))(x, y)
    assert all(isinstance(v, Box) for v in seen)      # never an object array of boxes


def test_matmul_operator():
    W, v = real((3, 4)), real((4,))
    ref = grad(lambda W, v: np.sum(np.matmul(W, v) ** 2), (0, 1))(W, v)
    for f in (lambda W, v: W @ v, lambda W, v: onp.matmul(W, v)):
        for a, b in zip(grad(lambda W, v: np.sum(f(W, v) ** 2), (0, 1))(W, v), ref):
            onp.testing.assert_allclose(a, b, rtol=1e-12)
    # ndarray on the left of @ with a traced right operand
    onp.testing.assert_allclose(grad(lambda v: np.sum((W @ v) ** 2))(v), ref[1], rtol=1e-12)
    onp.testing.assert_allclose(grad(lambda W: np.sum((W @ v) ** 2))(W), ref[0], rtol=1e-12)


def test_unary_operators():
    x = nonzero((3, 4))
    onp.testing.assert_array_equal(grad(lambda a: np.sum(-a))(x), -onp.ones_like(x))
    onp.testing.assert_array_equal(grad(lambda a: np.sum(+a * a))(x), 2 * x)
    onp.testing.assert_array_equal(grad(lambda a: np.sum(abs(a)))(x), onp.sign(x))
    onp.testing.assert_array_equal(grad(lambda a: np.sum(onp.negative(a)))(x), -onp.ones_like(x))
    onp.testing.assert_array_equal(grad(lambda a: np.sum(onp.abs(a)))(x), onp.sign(x))


def test_floor_divide_and_divmod_are_piecewise_constant():
    x, y = numer((3, 4)), denom((4,))

    def f(a, b):
        q = a // b
        assert type(q) is onp.ndarray and type(2.5 // b) is onp.ndarray and type(x // b) is onp.ndarray
        q2, r = divmod(a, b)
        onp.testing.assert_array_equal(q2, q)
        return np.sum(q * a + r)
    gx, gy = grad(f, (0, 1))(x, y)
    onp.testing.assert_allclose(gx, onp.floor_divide(x, y) + 1, rtol=1e-12)
    onp.testing.assert_allclose(gy, -onp.floor_divide(x, y).sum(axis=0), rtol=1e-12)


def test_comparisons_return_plain_bool_arrays():
    x, y = real((3, 4)), real((4,))

    def f(a, b):
        results = [a < b, a <= 0.5, a > b, a >= y, a == b, a != x, 0.5 < a, x > a, y == a,
                   onp.less(a, b), onp.greater_equal(x, a), onp.equal(a, a)]
        expected = [x < y, x <= 0.5, x > y, x >= y, x == y, x != x, 0.5 < x, x > x, y == x,
                    x < y, x >= x, x == x]
        for r, e in zip(results, expected):
            assert type(r) is onp.ndarray and r.dtype == bool
            onp.testing.assert_array_equal(r, e)
        return np.sum(a * b)
    grad(f, (0, 1))(x, y)


def _numpy_version_of(name):
    return getattr(onp, name)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_real_numpy_unary(name):
    fun, dom = UNARY[name]
    x = dom((3, 4))
    _assert_grads_equal(_numpy_version_of(name), fun, x)


@pytest.mark.parametrize("name", sorted(BINARY) + [n for n in ("pow", "atan2") if hasattr(onp, n)])
def test_real_numpy_binary(name):
    fun, dx, dy = BINARY[ALIASES.get(name, name)]
    x, y = dx((3, 1)), dy((4,))
    _assert_grads_equal(_numpy_version_of(name), fun, x, y)
    _assert_grads_equal(lambda b: _numpy_version_of(name)(x, b), lambda b: fun(x, b), y)


def test_real_numpy_clip_and_where():
    x, lo, hi = real((3, 4)), -pos((3, 1)) / 2, pos((4,)) / 2
    _assert_grads_equal(onp.clip, np.clip, x, lo, hi)
    _assert_grads_equal(lambda a, h: onp.clip(a, min=-0.3, max=h), lambda a, h: np.clip(a, -0.3, h), x, hi)
    _assert_grads_equal(lambda a, b: onp.where(a > b, a, b), np.maximum, x, hi)
    _assert_grads_equal(lambda a: a.clip(max=0.3), lambda a: np.clip(a, None, 0.3), x)


def test_clip_argument_errors_follow_numpy():
    x = onp.array([1.0, 2.0])
    with pytest.raises(ValueError, match="forbidden"):
        np.clip(x, 0.0, 1.0, min=0.0)
    with pytest.raises(TypeError, match="a_max"):
        np.clip(x, 0.0)
    with pytest.raises(ValueError):
        np.where(x > 1, x)


# -- kinks -----------------------------------------------------------------------------------

def _no_nan(*values):
    for v in values:
        assert not onp.any(onp.isnan(v)), values


def test_abs_and_fabs_at_zero():
    for f in (np.abs, np.absolute, np.fabs, abs):
        assert grad(f)(0.0) == 0.0
        assert grad(grad(f))(1.0) == 0.0 and grad(grad(f))(-1.0) == 0.0 and grad(grad(f))(0.0) == 0.0
        g = elementwise_grad(f)(onp.array([-1.5, 0.0, 2.0]))
        onp.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    assert grad(np.abs)(0j) == 0
    assert grad(lambda z: np.abs(z) ** 2)(0j) == 0


@pytest.mark.parametrize("f, nan_wins", [(np.maximum, True), (np.minimum, True), (np.fmax, False), (np.fmin, False)])
def test_max_min_ties_split_the_cotangent(f, nan_wins):
    assert grad(f, (0, 1))(1.5, 1.5) == (0.5, 0.5)
    assert grad(f, (0, 1))(0.0, 0.0) == (0.5, 0.5)
    x, y = onp.array([1.0, 2.0, 3.0]), onp.array([1.0, 3.0, 2.0])
    gx, gy = elementwise_grad(f, (0, 1))(x, y)
    big = f in (np.maximum, np.fmax)
    onp.testing.assert_array_equal(gx, [0.5, 0.0, 1.0] if big else [0.5, 1.0, 0.0])
    onp.testing.assert_array_equal(gy, [0.5, 1.0, 0.0] if big else [0.5, 0.0, 1.0])
    # second derivatives at a tie are finite (zero)
    assert grad(lambda a: grad(f, 0)(a, 1.0))(1.0) == 0.0
    # broadcasting against a tie: the scalar collects the halves
    assert grad(lambda b: np.sum(f(onp.array([1.0, 1.0, 5.0]), b)))(1.0) == (0.0 if big else 1.0) + 1.0
    # NaN: maximum/minimum propagate it, fmax/fmin pick the number
    gx, gy = grad(f, (0, 1))(onp.nan, 2.0)
    assert (gx, gy) == ((0.0, 0.0) if nan_wins else (0.0, 1.0))


def test_clip_at_the_bounds():
    g = grad(np.clip, (0, 1, 2))
    assert g(1.0, 1.0, 2.0) == (1.0, 0.0, 0.0)       # at the lower bound
    assert g(2.0, 1.0, 2.0) == (1.0, 0.0, 0.0)       # at the upper bound
    assert g(0.5, 1.0, 2.0) == (0.0, 1.0, 0.0)
    assert g(2.5, 1.0, 2.0) == (0.0, 0.0, 1.0)
    assert g(1.5, 1.5, 1.5) == (1.0, 0.0, 0.0)       # both bounds equal x
    assert g(1.5, 3.0, 1.0) == (0.0, 0.0, 1.0)       # crossed bounds: NumPy returns a_max
    assert g(0.5, 3.0, 1.0) == (0.0, 0.0, 1.0)
    assert grad(lambda x: np.clip(x, None, 2.0))(2.0) == 1.0
    assert grad(lambda x: np.clip(x, min=1.0))(1.0) == 1.0
    assert grad(lambda x: np.clip(x, 1.0, 2.0), 0)(1.0) == 1.0
    gx, glo, ghi = elementwise_grad(np.clip, (0, 1, 2))(onp.array([0.0, 1.0, 1.5, 2.0, 3.0]), 1.0, 2.0)
    onp.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert (glo, ghi) == (1.0, 1.0)
    assert grad(grad(lambda x: np.clip(x, 1.0, 2.0)))(1.0) == 0.0


def test_hypot_at_the_origin():
    assert grad(np.hypot, (0, 1))(0.0, 0.0) == (0.0, 0.0)
    gx, gy = elementwise_grad(np.hypot, (0, 1))(onp.zeros(3), onp.array([0.0, 3.0, -4.0]))
    onp.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])
    onp.testing.assert_array_equal(gy, [0.0, 1.0, -1.0])
    h = grad(lambda x: grad(np.hypot, 0)(x, 0.0))(0.0)
    _no_nan(h)


def test_power_at_zero():
    assert grad(lambda x: np.power(x, 0.0))(0.0) == 0.0
    assert grad(lambda x: x ** 0)(0.0) == 0.0
    assert grad(np.power, (0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert grad(np.power, (0, 1))(0.0, 2.0) == (0.0, 0.0)
    assert grad(np.float_power, (0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert grad(lambda x: x ** 1.0)(0.0) == 1.0
    assert grad(grad(lambda x: x ** 2))(0.0) == 2.0
    assert grad(grad(lambda x: x ** 0))(0.0) == 0.0
    assert grad(lambda y: 0.0 ** y)(2.0) == 0.0
    g = elementwise_grad(lambda x: x ** onp.array([0.0, 1.0, 2.0, 3.0]))(onp.zeros(4))
    onp.testing.assert_array_equal(g, [0.0, 1.0, 0.0, 0.0])
    hx, hy = grad(lambda x, y: grad(np.power, 0)(x, y), (0, 1))(0.0, 2.0)
    assert (hx, hy) == (2.0, 0.0)


def test_sinc_at_zero():
    assert grad(np.sinc)(0.0) == 0.0
    onp.testing.assert_array_equal(elementwise_grad(np.sinc)(onp.zeros(3)), onp.zeros(3))
    # sinc is smooth at 0: sinc'' (0) = -pi^2 / 3, sinc'''(0) = 0
    onp.testing.assert_allclose(grad(grad(np.sinc))(0.0), -math.pi ** 2 / 3, rtol=1e-12)
    assert abs(grad(grad(grad(np.sinc)))(0.0)) < 1e-9
    # the two sides of the small-|x| branch agree
    a, b = grad(grad(np.sinc))(0.00999999), grad(grad(np.sinc))(0.01000001)
    onp.testing.assert_allclose(a, b, rtol=1e-6)


def test_sqrt_and_cbrt_at_zero_are_infinite():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert grad(np.sqrt)(0.0) == math.inf
        assert grad(np.cbrt)(0.0) == math.inf
        assert grad(lambda x: x ** 0.5)(0.0) == math.inf


KINK_SECOND = [  # function of one array, points including its kink, expected f''
    ("abs", np.abs, [-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]),
    ("fabs", np.fabs, [-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]),
    ("maximum-tie", lambda x: np.maximum(x, 1.0), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0]),
    ("fmin-tie", lambda x: np.fmin(1.0, x), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0]),
    ("clip-bounds", lambda x: np.clip(x, -1.0, 1.0), [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
    ("hypot-origin", lambda x: np.hypot(x, 0.0), [-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]),
    ("power-zero", lambda x: x ** onp.array([0.0, 1.0, 2.0]), [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]),
    ("sinc-zero", np.sinc, [0.0, 1e-3, -1e-3], [-math.pi ** 2 / 3] * 3),
]


@pytest.mark.parametrize("f, x, expected", [k[1:] for k in KINK_SECOND], ids=[k[0] for k in KINK_SECOND])
def test_second_derivatives_at_kinks_are_finite(f, x, expected):
    x = onp.array(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        h = elementwise_grad(elementwise_grad(f))(x)
    _no_nan(h)
    onp.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-12)


def test_python_float_singularities_follow_numpy():
    """Rules see the user's Python floats raw: at a singularity they must give NumPy's
    inf/nan, never raise ZeroDivisionError or return the real part of a complex."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert grad(np.divide, (0, 1))(1.0, 0.0) == (math.inf, -math.inf)
        assert grad(lambda x: x / 0)(1.0) == math.inf
        assert grad(lambda y: 1.0 / y)(0.0) == -math.inf
        assert grad(np.log)(0.0) == math.inf
        assert grad(np.log2)(0.0) == math.inf
        assert grad(np.log1p)(-1.0) == math.inf
        assert grad(np.arctanh)(1.0) == math.inf
        assert grad(np.arcsin)(1.0) == math.inf
        assert grad(lambda x: x ** -1.0)(0.0) == -math.inf
        assert grad(lambda x: x ** -2)(0.0) == -math.inf
        assert math.isnan(grad(lambda x: x ** 0.5)(-4.0))           # not 0.25j's real part, 0
        assert math.isnan(grad(lambda x: x ** (1 / 3))(-8.0))
        assert all(map(math.isnan, grad(np.arctan2, (0, 1))(0.0, 0.0)))
        assert grad(np.arctan)(1e200) == 0.0                        # (1e200)**2 overflows
        assert grad(np.arcsinh)(1e200) == 0.0
    assert np.power(-8.0, 2) == 64.0 and type(np.power(3.0, 2)) is float
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert math.isnan(np.power(-8.0, 1 / 3)) and np.power(0.0, -1.0) == math.inf


def test_mod_and_fmod_quotients_are_exact():
    # 1.0 / 0.1 rounds to 10.0, but 0.1 goes into 1.0 only 9 times (0.1 > 1/10)
    for f in (np.mod, np.fmod):
        gx, gy = grad(f, (0, 1))(1.0, 0.1)
        assert (gx, gy) == (1.0, -9.0)
    assert grad(np.fmod, 1)(-7.0, 2.0) == 3.0
    assert grad(np.mod, 1)(-7.0, 2.0) == 4.0


# -- dtypes ----------------------------------------------------------------------------------

def _f32(x):
    return onp.asarray(x, dtype=onp.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_float32_unary(name):
    fun, dom = UNARY[name]
    x = dom((4,))
    g32 = elementwise_grad(fun)(_f32(x))
    assert g32.dtype == onp.float32
    onp.testing.assert_allclose(g32, elementwise_grad(fun)(_f32(x).astype(float)), rtol=1e-5, atol=1e-6)
    h32 = elementwise_grad(elementwise_grad(fun))(_f32(x))
    assert h32.dtype == onp.float32


@pytest.mark.parametrize("name", sorted(BINARY))
def test_float32_binary(name):
    fun, dx, dy = BINARY[name]
    x, y = _f32(dx((3, 1))), _f32(dy((4,)))
    gx, gy = elementwise_grad(fun, (0, 1))(x, y)
    assert gx.dtype == gy.dtype == onp.float32
    rx, ry = elementwise_grad(fun, (0, 1))(x.astype(float), y.astype(float))
    onp.testing.assert_allclose(gx, rx, rtol=1e-4)
    onp.testing.assert_allclose(gy, ry, rtol=1e-4)
    cy, cx = float(dy(())), float(dx(()))
    for const in (cy, onp.float64(cy), onp.asarray(cy)):  # Python float, float64 scalar, 0-d array
        assert elementwise_grad(lambda a: fun(a, const))(x).dtype == onp.float32
    for const in (cx, onp.float64(cx), onp.asarray(cx)):
        assert elementwise_grad(lambda b: fun(const, b))(y).dtype == onp.float32
    assert elementwise_grad(elementwise_grad(lambda a: fun(a, cy)))(x).dtype == onp.float32


def test_float32_mixed_expression():
    x = _f32(pos((5,)))

    def f(a):
        return np.sum(2.0 * a ** 2 + onp.float64(0.5) * np.exp2(a) - np.clip(a, 0.7, onp.float64(1.5))
                      + np.where(a > 1.0, a, 3.0) * onp.pi + np.maximum(a, 1.0) / 3)
    g = grad(f)(x)
    assert g.dtype == onp.float32
    onp.testing.assert_allclose(g, grad(f)(x.astype(float)), rtol=1e-5)
    assert grad(lambda a: f(a) * onp.float64(2.0))(onp.float32(1.2)).dtype == onp.float32


# -- complex values: HIPS autograd's convention ----------------------------------------------

COMPLEX_FUNS = {
    "abs2": lambda m, z: m.abs(z) ** 2,
    "abs": lambda m, z: m.abs(z),
    "absolute-sin": lambda m, z: m.absolute(m.sin(z)),
    "real": lambda m, z: m.real(z),
    "imag": lambda m, z: m.imag(z),
    "real-conj-prod": lambda m, z: m.real(m.conj(z) * z),
    "imag-conjugate": lambda m, z: m.imag(m.conjugate(z) * (2 + 1j)),
    "real-square": lambda m, z: m.real(m.square(z) + 3 * z),
    "imag-exp": lambda m, z: m.imag(m.exp(z)),
    "real-log": lambda m, z: m.real(m.log(z) * (1 - 2j)),
    "abs-sqrt": lambda m, z: m.abs(m.sqrt(z)),
    "real-reciprocal": lambda m, z: m.real(m.reciprocal(z)),
    "imag-divide": lambda m, z: m.imag((z + 1j) / (z - 3)),
    "real-power": lambda m, z: m.real(m.power(z, 3) + z ** 2.5),
    "imag-tanh-cos": lambda m, z: m.imag(m.tanh(z) * m.cos(z)),
    "real-sinh-cosh": lambda m, z: m.real(m.sinh(z) - m.cosh(2 * z)),
    "real-arctan": lambda m, z: m.real(m.arctan(z) + m.arcsinh(z)),
    "abs-expm1-log1p": lambda m, z: m.abs(m.expm1(z) + m.log1p(z)),
    "real-negative-conj": lambda m, z: m.real(-m.conj(z) * m.exp2(z)),
}


def _autograd():
    return pytest.importorskip("autograd")


@pytest.mark.parametrize("name", sorted(COMPLEX_FUNS))
def test_complex_against_autograd(name):
    autograd = _autograd()
    import autograd.numpy as anp
    f = COMPLEX_FUNS[name]
    for z in (0.7 - 1.3j, R.standard_normal(4) + 1j * R.standard_normal(4) + 0.5):
        ours = grad(lambda z: np.sum(f(np, z)))(z)
        theirs = autograd.grad(lambda z: anp.sum(f(anp, z)))(z)
        assert onp.result_type(ours) == onp.complex128
        onp.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_complex_attributes_and_methods():
    z = R.standard_normal(4) + 1j * R.standard_normal(4)
    _assert_grads_equal(lambda z: z.real * z.imag + z.conj().real + z.conjugate().imag,
                        lambda z: np.real(z) * np.imag(z) + np.real(np.conj(z)) + np.imag(np.conjugate(z)), z)


def test_complex_python_scalar_gets_complex_gradient():
    assert isinstance(grad(np.real)(0.7 - 1.3j), complex)


def test_complex_second_order_against_autograd():
    autograd = _autograd()
    import autograd.numpy as anp

    def second(m, gradf):
        f = lambda z: m.abs(m.sin(z)) ** 2 + m.real(m.conj(z) * m.exp(z))
        return gradf(lambda z: m.real(gradf(f)(z) * (0.3 - 0.8j)))
    z = 0.4 + 0.9j
    onp.testing.assert_allclose(second(np, grad)(z), second(anp, autograd.grad)(z), rtol=1e-10)


def test_real_inputs_to_complex_functions_get_real_gradients():
    x = real((4,))
    for f in (lambda a: np.sum(np.real(a * (1 + 2j))), lambda a: np.sum(np.imag(np.exp(1j * a))),
              lambda a: np.sum(np.abs(a * (3 - 4j)))):
        g = grad(f)(x)
        assert g.dtype == onp.float64
    onp.testing.assert_allclose(grad(lambda a: np.sum(np.imag(np.exp(1j * a))))(x), onp.cos(x), rtol=1e-12)
    onp.testing.assert_allclose(grad(lambda a: np.sum(np.abs(a * (3 - 4j))))(x), 5 * onp.sign(x), rtol=1e-12)
    g32 = grad(lambda a: np.sum(np.real(a * (1 + 2j))))(_f32(x))
    assert g32.dtype == onp.float32


# -- Python scalars --------------------------------------------------------------------------

def test_where_selects_by_truth_value():
    x, y = onp.array([1.0, 2.0, 3.0, 4.0]), onp.array([5.0, 6.0, 7.0, 8.0])
    gx, gy = grad(lambda a, b: np.sum(np.where(onp.array([0.5, 0.0, -2.0, onp.nan]), a, b)), (0, 1))(x, y)
    onp.testing.assert_array_equal(gx, [1.0, 0.0, 1.0, 1.0])
    onp.testing.assert_array_equal(gy, [0.0, 1.0, 0.0, 0.0])
    gx, gy = grad(lambda a, b: np.sum(np.where([True, False], a, b)), (0, 1))(2.0, 3.0)
    assert (gx, gy) == (1.0, 1.0)
    gx, gy = grad(lambda a, b: np.sum(np.where(onp.array([[True], [False]]), a, b)), (0, 1))(x, 1.0)
    onp.testing.assert_array_equal(gx, onp.ones(4))
    assert gy == 4.0
    onp.testing.assert_array_equal(np.where(onp.array([0.0, 2.0]))[0], [1])


def test_python_scalars_stay_python_floats():
    r = grad(lambda x: 4 * x * (1 - x))(0.3)
    assert type(r) is float
    assert r == pytest.approx(4 - 8 * 0.3, rel=1e-15)   # 2.8 - 1.2 in float64: one ulp from 1.6
    for f, expected in [(lambda x: x * x + 2.0 * x - x / 4.0, 2 * 0.3 + 2.0 - 0.25),
                        (lambda x: x ** 2 - 3.0 ** 2, 0.6), (lambda x: -x + x ** 3, -1 + 3 * 0.09),
                        (lambda x: 1.0 / (1.0 + x) - x / 2, -1 / 1.3 ** 2 - 0.5)]:
        r = grad(f)(0.3)
        assert type(r) is float and r == pytest.approx(expected, rel=1e-14)
    assert type(np.negative(0.3)) is float and type(np.power(0.3, 2)) is float
