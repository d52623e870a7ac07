"""Reductions (wengert/numpy/reductions.py) and linalg.norm: spec table + kink tests."""
import numpy
import numpy as onp
import pytest

import wengert.numpy as np
from tests.numpy.specs import check, positive, rand, spec
from wengert import InPlaceUpdateError, grad
from wengert.core import getval
from wengert.numpy import reductions

INF = onp.inf


def with_nans(*shape):
    x = rand(*shape)
    x.flat[::3] = onp.nan
    return x


def mask(*shape):
    m = onp.random.default_rng(1).random(shape) > 0.4
    m[..., 0] = True
    return m


def _axis_specs(name, fun, extra=(), **fixed):
    """fun over scalar/vector/matrix/3-d inputs, axis None/int/negative/tuple, keepdims."""
    rows = [spec(f"{name}-scalar", fun, rand(), **fixed),
            spec(f"{name}-vector", fun, rand(5), **fixed),
            spec(f"{name}-vector-axis0-keepdims", fun, rand(4), axis=0, keepdims=True, **fixed),
            spec(f"{name}-matrix", fun, rand(3, 4), **fixed),
            spec(f"{name}-matrix-axis1", fun, rand(3, 4), axis=1, **fixed),
            spec(f"{name}-matrix-axis-neg2-keepdims", fun, rand(3, 4), axis=-2, keepdims=True, **fixed),
            spec(f"{name}-3d-none-keepdims", fun, rand(2, 3, 2), keepdims=True, **fixed),
            spec(f"{name}-3d-tuple", fun, rand(2, 3, 2), axis=(0, 2), **fixed),
            spec(f"{name}-3d-tuple-neg-keepdims", fun, rand(2, 3, 2), axis=(-1, 1), keepdims=True, **fixed)]
    return rows + [spec(f"{name}-{n}", fun, *a, **dict(fixed, **kw)) for n, a, kw in extra]


SPECS = (
    _axis_specs("sum", np.sum, [("where", (rand(3, 4),), dict(axis=1, where=mask(3, 4))),
                                ("initial", (rand(3, 4),), dict(axis=0, initial=1.5))])
    + _axis_specs("mean", np.mean, [("where", (rand(3, 4),), dict(axis=1, where=mask(3, 4)))])
    + _axis_specs("prod", np.prod, [("where", (rand(3, 4),), dict(axis=1, where=mask(3, 4))),
                                    ("long-axis", (rand(9),), {})])
    + _axis_specs("max", np.max, [("where-initial", (rand(3, 4),), dict(axis=1, where=mask(3, 4), initial=-5.0))])
    + _axis_specs("min", np.min)
    + _axis_specs("amax", np.amax)
    + _axis_specs("amin", np.amin)
    + _axis_specs("ptp", np.ptp)
    + _axis_specs("var", np.var, [("ddof1-axis", (rand(3, 4),), dict(axis=1, ddof=1)),
                                  ("ddof2-tuple", (rand(2, 3, 2),), dict(axis=(0, 1), ddof=2, keepdims=True)),
                                  ("correction", (rand(5),), dict(correction=1)),
                                  ("where", (rand(3, 4),), dict(axis=1, where=mask(3, 4)))])
    + _axis_specs("std", np.std, [("ddof1", (rand(3, 4),), dict(axis=0, ddof=1)),
                                  ("ddof1-all", (rand(2, 3, 2),), dict(ddof=1))])
    + _axis_specs("nansum", np.nansum, [("nans", (with_nans(3, 4),), dict(axis=1)),
                                        ("nans-all", (with_nans(2, 3, 2),), {})])
    + _axis_specs("nanmean", np.nanmean, [("nans", (with_nans(3, 4),), dict(axis=0, keepdims=True)),
                                          ("nans-all", (with_nans(2, 3, 2),), {})])
    + _axis_specs("average", np.average, [
        ("weights-1d", (rand(3, 4),), dict(axis=1, weights=positive(4))),
        ("weights-full", (rand(3, 4),), dict(weights=positive(3, 4))),
        ("returned", (rand(3, 4),), dict(axis=0, returned=True))])
    + [
        spec("cumsum-scalar", np.cumsum, rand()),
        spec("cumsum-vector", np.cumsum, rand(5)),
        spec("cumsum-matrix-flat", np.cumsum, rand(3, 4)),
        spec("cumsum-matrix-axis1", np.cumsum, rand(3, 4), axis=1),
        spec("cumsum-3d-axis-neg1", np.cumsum, rand(2, 3, 4), axis=-1),
        spec("cumprod-scalar", np.cumprod, rand()),
        spec("cumprod-vector", np.cumprod, rand(7)),
        spec("cumprod-matrix-flat", np.cumprod, rand(3, 3)),
        spec("cumprod-matrix-axis0", np.cumprod, rand(4, 3), axis=0),
        spec("cumprod-3d-axis-neg2", np.cumprod, rand(2, 5, 2), axis=-2),
        spec("trace-matrix", np.trace, rand(3, 3)),
        spec("trace-rect-offset", np.trace, rand(3, 4), offset=1),
        spec("trace-neg-offset", np.trace, rand(4, 3), offset=-2),
        spec("trace-3d-axes", np.trace, rand(3, 2, 3), axis1=2, axis2=0),
        spec("trace-3d-neg-axes", np.trace, rand(2, 3, 3), offset=1, axis1=-1, axis2=-2),
        spec("diff-vector", np.diff, rand(5)),
        spec("diff-n2", np.diff, rand(6), n=2),
        spec("diff-n0", np.diff, rand(3), n=0),
        spec("diff-matrix-axis0", np.diff, rand(4, 3), axis=0),
        spec("diff-3d-n2-axis1", np.diff, rand(2, 5, 2), n=2, axis=1),
        spec("diff-prepend-append", np.diff, rand(3, 4), axis=-1, prepend=0.5, append=rand(3, 1)),
        # differentiable extra arguments
        spec("sum-traced-initial", lambda x, i: np.sum(x, axis=1, initial=i), rand(3, 4), rand()),
        spec("prod-traced-initial", lambda x, i: np.prod(x, axis=0, initial=i), rand(3, 4), rand()),
        spec("max-traced-initial", lambda x, i: np.max(x, axis=1, initial=i), rand(3, 4), 0.5),
        spec("average-traced-weights", lambda x, w: np.average(x, axis=(0, 1), weights=w, returned=True),
             rand(3, 4), positive(3, 4)),
        spec("average-traced-weights-axis", lambda x, w: np.average(x, axis=-1, weights=w, keepdims=True),
             rand(2, 3, 4), positive(4)),
        spec("diff-traced-prepend-append", lambda x, p, a: np.diff(x, axis=0, prepend=p, append=a),
             rand(3, 4), rand(), rand(1, 4)),
        spec("var-traced-mean", lambda x: np.var(x, axis=1, mean=np.mean(x, axis=1, keepdims=True)), rand(3, 4)),
    ]
)

NORM = np.linalg.norm
NORM_SPECS = [
    spec("norm-scalar", NORM, rand()),
    spec("norm-vector", NORM, rand(5)),
    spec("norm-3d-flat", NORM, rand(2, 3, 2)),
    spec("norm-3d-flat-keepdims", NORM, rand(2, 3, 2), keepdims=True),
] + [
    spec(f"norm-vector-ord{o}", NORM, rand(5), ord=o) for o in (2, 1, INF, -INF, 3, 0.5, -1, -2.5)
] + [
    spec(f"norm-matrix-axis1-ord{o}", NORM, rand(3, 4), ord=o, axis=1) for o in (None, 2, 1, INF, -INF, 3)
] + [
    spec(f"norm-3d-axis-neg1-keepdims-ord{o}", NORM, rand(2, 3, 4), ord=o, axis=-1, keepdims=True)
    for o in (None, 1.5, INF)
] + [
    spec(f"norm-matrix-ord{o}", NORM, rand(3, 4), ord=o) for o in ("fro", "nuc", 1, -1, INF, -INF, 2, -2)
] + [
    spec(f"norm-tall-ord{o}", NORM, rand(4, 2), ord=o) for o in ("nuc", 2, -2)
] + [
    spec(f"norm-3d-axes10-ord{o}", NORM, rand(3, 2, 3), ord=o, axis=(1, 0)) for o in ("fro", "nuc", 1, INF, 2, -2)
] + [
    spec(f"norm-3d-axes-neg-keepdims-ord{o}", NORM, rand(2, 3, 2), ord=o, axis=(-1, -3), keepdims=True)
    for o in (None, -1, -INF, 2, "nuc")
]


@pytest.mark.parametrize("fun, args, kwargs", SPECS + NORM_SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


# -- forward values are NumPy's ---------------------------------------------------------

VALUE_CASES = [(name, kw) for name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "ptp", "var", "std",
                                      "nansum", "nanmean", "average")
               for kw in ({}, dict(axis=1), dict(axis=(0, 2), keepdims=True))] + [
    ("cumsum", dict(axis=1)), ("cumprod", {}), ("trace", dict(offset=1, axis1=2, axis2=0)), ("diff", dict(n=2)),
    ("var", dict(ddof=1, axis=0)), ("std", dict(ddof=1))]


@pytest.mark.parametrize("dtype", [onp.float64, onp.float32])
@pytest.mark.parametrize("name, kwargs", VALUE_CASES)
def test_values_match_numpy(name, kwargs, dtype):
    x = rand(2, 3, 4).astype(dtype)
    x[0, 0, 0] = onp.nan if name.startswith("nan") else x[0, 0, 0]
    ours, theirs = getattr(np, name)(x, **kwargs), getattr(onp, name)(x, **kwargs)
    assert ours.dtype == theirs.dtype
    onp.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("ord, axis", [(None, None), ("fro", None), ("nuc", None), (2, None), (-2, None),
                                       (1, None), (-INF, None), (3, 1), (0, 1), (INF, 0), (2, (2, 0))])
def test_norm_values_match_numpy(ord, axis):
    x = rand(3, 4) if axis is None else rand(3, 4, 2)
    onp.testing.assert_array_equal(NORM(x, ord, axis), onp.linalg.norm(x, ord, axis))

    def traced(x):          # the traced computation gives the same value
        out = NORM(x, ord, axis)
        onp.testing.assert_array_equal(getval(out), onp.linalg.norm(getval(x), ord, axis))
        return np.sum(out)
    grad(traced)(x)


# -- kinks ------------------------------------------------------------------------------

def test_prod_one_zero():
    x = onp.array([2.0, 0.0, 3.0, 4.0])
    onp.testing.assert_array_equal(grad(np.prod)(x), [0.0, 24.0, 0.0, 0.0])
    m = onp.array([[2.0, 0.0, 5.0], [1.0, 3.0, 0.0]])
    onp.testing.assert_array_equal(grad(lambda m: np.sum(np.prod(m, axis=1)))(m), [[0, 10, 0], [0, 0, 3]])


def test_prod_two_zeros():
    x = onp.array([2.0, 0.0, 3.0, 0.0])
    g = grad(np.prod)(x)
    onp.testing.assert_array_equal(g, onp.zeros(4))
    assert onp.all(onp.isfinite(g))
    m = onp.array([[0.0, 0.0, 5.0], [2.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    onp.testing.assert_array_equal(grad(lambda m: np.sum(np.prod(m, axis=1)))(m),
                                   [[0, 0, 0], [0, 8, 0], [6, 3, 2]])


def test_prod_second_derivative_at_zero():
    x = onp.array([2.0, 0.0, 3.0])
    # d/dx of (product of the others at index 1) = (x2, 0, x0)
    onp.testing.assert_array_equal(grad(lambda x: grad(np.prod)(x)[1])(x), [3.0, 0.0, 2.0])
    # the gradient at index 0 is x1 * x2, a function vanishing at the zero
    onp.testing.assert_array_equal(grad(lambda x: grad(np.prod)(x)[0])(x), [0.0, 3.0, 0.0])


def test_cumprod_zeros():
    x = onp.array([2.0, 0.0, 3.0, 0.0])
    # d sum(cumprod)/dx_j = sum_{i >= j} prod_{k <= i, k != j} x_k
    onp.testing.assert_array_equal(grad(lambda x: np.sum(np.cumprod(x)))(x), [1.0, 8.0, 0.0, 0.0])
    w = onp.array([1.0, -2.0, 0.5, 3.0])
    jac = onp.array([[onp.prod([x[k] for k in range(i + 1) if k != j]) if j <= i else 0.0 for j in range(4)]
                     for i in range(4)])
    onp.testing.assert_array_equal(grad(lambda x: np.sum(w * np.cumprod(x)))(x), w @ jac)


def test_max_ties_split_equally():
    onp.testing.assert_array_equal(grad(np.max)(onp.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    onp.testing.assert_array_equal(grad(np.min)(onp.array([2.0, 1.0, 1.0, 1.0])), [0.0, 1 / 3, 1 / 3, 1 / 3])
    onp.testing.assert_array_equal(grad(np.amax)(onp.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    m = onp.array([[1.0, 4.0, 4.0], [5.0, 2.0, 0.0]])
    onp.testing.assert_array_equal(grad(lambda m: np.sum(np.amin(m, axis=0)))(m), [[1, 0, 0], [0, 1, 1]])
    onp.testing.assert_array_equal(grad(lambda m: np.sum(np.max(m, axis=1)))(m), [[0, .5, .5], [1, 0, 0]])
    onp.testing.assert_array_equal(grad(np.ptp)(onp.array([1.0, 3.0, 1.0, 3.0])), [-.5, .5, -.5, .5])


def test_max_where_ignores_masked_elements():
    x = onp.array([[5.0, 1.0, 2.0]])
    g = grad(lambda x: np.sum(np.max(x, axis=1, where=onp.array([False, True, True]), initial=-INF)))(x)
    onp.testing.assert_array_equal(g, [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("ord, shape", [(None, (3,)), (2, (3,)), (1, (3,)), (INF, (3,)), (3, (3,)), (0.5, (3,)),
                                        (None, (2, 3)), ("fro", (2, 3)), ("nuc", (2, 3)), (2, (2, 3)),
                                        (-2, (3, 2)), (1, (2, 3)), (INF, (2, 3))])
def test_norm_at_zero_is_zero(ord, shape):
    g = grad(lambda x: NORM(x, ord))(onp.zeros(shape))
    assert onp.all(onp.isfinite(g))
    onp.testing.assert_array_equal(g, onp.zeros(shape))
    # second order stays finite as well
    g2 = grad(lambda x: np.sum(grad(lambda y: NORM(y, ord))(x) ** 2))(onp.zeros(shape))
    assert onp.all(onp.isfinite(g2))


def test_norm_zero_entry_and_axis():
    g = grad(lambda x: np.sum(NORM(x, axis=1)))(onp.array([[0.0, 0.0], [3.0, 4.0]]))
    onp.testing.assert_array_equal(g, [[0, 0], [0.6, 0.8]])
    onp.testing.assert_allclose(grad(lambda x: NORM(x, 3))(onp.array([0.0, 1.0, -1.0])),
                                [0.0, 2 ** (-2 / 3), -(2 ** (-2 / 3))])


def test_norm_ord0_is_constant():
    x = onp.array([0.0, 1.5, -2.0])
    assert NORM(x, 0) == 2.0
    onp.testing.assert_array_equal(grad(lambda x: NORM(x, 0) * np.sum(x))(x), [2.0, 2.0, 2.0])


def test_norm_matrix_2_is_top_singular_pair():
    a = rand(3, 4)
    u, s, vh = onp.linalg.svd(a)
    onp.testing.assert_allclose(grad(lambda a: NORM(a, 2))(a), onp.outer(u[:, 0], vh[0]), atol=1e-12)
    onp.testing.assert_allclose(grad(lambda a: NORM(a, "nuc"))(a), u[:, :3] @ vh[:3], atol=1e-12)
    # a repeated top singular value: the cotangent is split like max's
    onp.testing.assert_allclose(grad(lambda a: NORM(a, 2))(onp.diag([2.0, 2.0, 1.0])), onp.diag([.5, .5, 0]))


def test_norm_third_order():
    check(lambda a: NORM(a, "nuc") + NORM(a, 2), (rand(3, 2),), order=3)


def test_std_constant_slice_has_zero_gradient():
    g = grad(lambda x: np.std(x))(onp.full(4, 2.0))
    onp.testing.assert_array_equal(g, onp.zeros(4))
    g = grad(lambda x: np.sum(np.std(x, axis=1)))(onp.array([[1.0, 1.0], [1.0, 3.0]]))
    onp.testing.assert_array_equal(g, [[0, 0], [-.5, .5]])


def test_nan_entries_get_zero_gradient():
    x = onp.array([1.0, onp.nan, 3.0, onp.nan])
    onp.testing.assert_array_equal(grad(np.nansum)(x), [1.0, 0.0, 1.0, 0.0])
    onp.testing.assert_array_equal(grad(np.nanmean)(x), [0.5, 0.0, 0.5, 0.0])
    m = onp.array([[onp.nan, 2.0], [1.0, 1.0]])
    onp.testing.assert_array_equal(grad(lambda m: np.sum(np.nanmean(m, axis=0)))(m), [[0, .5], [1, .5]])


# -- dtypes, dispatch, errors, namespace --------------------------------------------------

FUNCS = [("sum", {}), ("mean", {}), ("prod", {}), ("max", {}), ("min", {}), ("amax", {}), ("amin", {}),
         ("ptp", {}), ("var", dict(ddof=1)), ("std", {}), ("cumsum", dict(axis=1)), ("cumprod", {}),
         ("average", dict(axis=0)), ("trace", {}), ("diff", {}), ("nansum", {}), ("nanmean", {})]


@pytest.mark.parametrize("name, kwargs", FUNCS + [("linalg.norm", dict(ord=o)) for o in (None, "nuc", 2, 1)])
def test_float32_in_float32_out(name, kwargs):
    fun = NORM if name == "linalg.norm" else getattr(np, name)
    x = rand(3, 4).astype(onp.float32)
    assert fun(x, **kwargs).dtype == onp.float32
    g = grad(lambda x: np.sum(fun(x, **kwargs)))(x)
    assert g.dtype == onp.float32


@pytest.mark.parametrize("name, kwargs", FUNCS + [("linalg.norm", dict(ord=o)) for o in (None, "nuc", 2, INF)])
def test_real_numpy_dispatch(name, kwargs):
    ours = NORM if name == "linalg.norm" else getattr(np, name)
    real = numpy.linalg.norm if name == "linalg.norm" else getattr(numpy, name)
    x = rand(3, 4)
    g_ours = grad(lambda x: np.sum(ours(x, **kwargs)))(x)
    g_real = grad(lambda x: np.sum(real(x, **kwargs)))(x)
    onp.testing.assert_array_equal(g_ours, g_real)


def test_methods_and_ufunc_reduce():
    x = rand(3, 4)
    f1 = lambda x: x.sum() + x.max(axis=0).sum() + x.var(ddof=1) + x.trace() + x.prod() + x.cumprod().sum()
    f2 = lambda x: np.sum(x) + np.sum(np.max(x, axis=0)) + np.var(x, ddof=1) + np.trace(x) + np.prod(x) \
        + np.sum(np.cumprod(x))
    onp.testing.assert_allclose(grad(f1)(x), grad(f2)(x))
    f3 = lambda x: numpy.add.reduce(x).sum() + numpy.maximum.reduce(x, axis=1).sum() \
        + numpy.multiply.accumulate(x).sum()
    f4 = lambda x: np.sum(np.sum(x, axis=0)) + np.sum(np.amax(x, axis=1)) + np.sum(np.cumprod(x, axis=0))
    onp.testing.assert_allclose(grad(f3)(x), grad(f4)(x))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "amax", "amin", "ptp", "var", "std",
                                  "cumsum", "cumprod", "trace", "nansum", "nanmean"])
def test_out_raises(name):
    with pytest.raises(InPlaceUpdateError):
        grad(lambda x: np.sum(getattr(np, name)(x, out=onp.empty(()))))(rand(3, 3))


def test_errors_like_numpy():
    with pytest.raises(ValueError):
        np.diff(np.sum(rand(3)))
    with pytest.raises(numpy.exceptions.AxisError):
        grad(lambda x: np.var(x, axis=2))(rand(3, 3))
    with pytest.raises(ZeroDivisionError):
        grad(lambda x: np.average(x, weights=onp.zeros(3)))(rand(3))
    with pytest.raises(ValueError):
        grad(lambda x: NORM(x, "nuc"))(rand(3))
    with pytest.raises(ValueError):
        grad(lambda x: NORM(x, "bad"))(rand(3, 3))


def test_signatures_and_namespace():
    import inspect
    assert sorted(reductions.__all__) == sorted(
        ["sum", "mean", "prod", "max", "min", "amax", "amin", "ptp", "var", "std", "cumsum", "cumprod",
         "average", "trace", "diff", "nansum", "nanmean"])
    for name in reductions.__all__:
        assert getattr(np, name) is getattr(reductions, name)
        assert inspect.signature(getattr(np, name)) == inspect.signature(getattr(numpy, name)), name
    assert inspect.signature(NORM) == inspect.signature(numpy.linalg.norm)
