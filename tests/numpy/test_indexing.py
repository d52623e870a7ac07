"""Indexing (wengert/numpy/indexing.py): ``x[idx]`` for every kind of index, and the
functions built on it (take, take_along_axis, diag, diagonal, sort, ...), reverse mode
to order 2, plus the sparse cotangent path, float32 and plain-NumPy dispatch."""
import time

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import grad, vjp
from tests.numpy.specs import check, rand, spec


def item(idx):
    return lambda x: x[idx]


MASK_2D = onp.array([[True, False, True], [False, True, True]])
MASK_ROWS = onp.array([True, False, True])

INDEX_SPECS = [
    # basic
    spec("int", item(1), rand(4)),
    spec("negative-int", item(-1), rand(4)),
    spec("int-2d", item(0), rand(2, 3)),
    spec("int-int-3d", item((1, -2)), rand(2, 3, 2)),
    spec("slice", item(slice(1, 3)), rand(4)),
    spec("slice-step", item(slice(None, None, 2)), rand(5)),
    spec("slice-negative-step", item(slice(None, None, -1)), rand(4)),
    spec("slice-negative-step-2d", item((slice(None, None, -2), slice(2, 0, -1))), rand(4, 3)),
    spec("slice-int-mix", item((slice(1, None), -1)), rand(3, 3)),
    spec("empty-slice", item(slice(2, 1)), rand(3)),
    spec("ellipsis", item((Ellipsis, 0)), rand(2, 3, 2)),
    spec("ellipsis-middle", item((0, Ellipsis, slice(None, 1))), rand(2, 3, 2)),
    spec("none", item(None), rand(3)),
    spec("newaxis-mix", item((slice(None), onp.newaxis, 1)), rand(2, 3)),
    spec("ellipsis-none", item((Ellipsis, None)), rand(2, 2)),
    spec("empty-tuple", item(()), rand(2, 2)),
    # integer arrays
    spec("int-array", item(onp.array([2, 0])), rand(4)),
    spec("int-list", item([0, 2, 1]), rand(3)),
    spec("repeated-ints", item(onp.array([1, 1, 0, 1])), rand(3)),
    spec("repeated-ints-negative", item([-1, 2, -1]), rand(3)),
    spec("int-array-2d-index", item(onp.array([[0, 1], [1, 1]])), rand(3)),
    spec("two-int-arrays", item((onp.array([0, 1, 1]), onp.array([2, 0, 2]))), rand(2, 3)),
    spec("int-array-and-slice", item((slice(None), [0, 0, 2])), rand(2, 3)),
    spec("int-array-split-by-slice", item(([1, 0], slice(None), [1, 1])), rand(2, 3, 2)),
    spec("int-array-ellipsis-none", item((Ellipsis, None, [1, 1])), rand(2, 2)),
    spec("empty-list", item([]), rand(3)),
    # boolean masks
    spec("mask-1d", item(onp.array([True, False, True, True])), rand(4)),
    spec("mask-2d", item(MASK_2D), rand(2, 3)),
    spec("mask-rows", item(MASK_ROWS), rand(3, 2)),
    spec("mask-and-slice", item((slice(None), MASK_ROWS)), rand(2, 3)),
    spec("mask-from-comparison", lambda x: x[x > 0], onp.array([0.5, -1.0, 2.0, -0.3])),
    spec("mask-all-false", item(onp.zeros(3, bool)), rand(3)),
    spec("mask-ellipsis", item((Ellipsis, MASK_ROWS)), rand(2, 2, 3)),
    # chains: the cotangent of one index feeds another
    spec("chain", lambda x: x[1:][::-1][[0, 0]], rand(4)),
    spec("chain-2d", lambda x: x.T[0][None, :] * x[:, 0], rand(3, 3)),
    spec("index-twice-sum", lambda x: x[0] * x[0] + x[[0, 0]], rand(2)),
]


@pytest.mark.parametrize("fun, args, kwargs", INDEX_SPECS)
def test_getitem(fun, args, kwargs):
    check(fun, args, kwargs)


def sp(name, fun, *args, **kwargs):
    """``spec`` where only the float arguments are differentiated."""
    diff = [i for i, a in enumerate(args) if isinstance(a, float) or (isinstance(a, onp.ndarray) and a.dtype.kind == "f")]

    def f(*xs, **kw):
        full = list(args)
        for i, x in zip(diff, xs):
            full[i] = x
        return fun(*full, **kw)
    return spec(name, f, *[args[i] for i in diff], **kwargs)


FUNCTION_SPECS = [
    sp("take-1d", np.take, rand(4), [3, 0, 3]),
    sp("take-scalar", np.take, rand(4), 2),
    sp("take-None-2d", np.take, rand(2, 3), [5, 0, 5]),
    sp("take-axis1", np.take, rand(2, 3), onp.array([[0, 2], [2, 2]]), axis=1),
    sp("take-axis-neg-3d", np.take, rand(2, 3, 2), [1, -1], axis=-1),
    sp("take-wrap", np.take, rand(3), [4, -5], mode="wrap"),
    sp("take-clip", np.take, rand(3), [5, -1, 1], mode="clip"),
    sp("take-method", lambda x: x.take([1, 1], axis=0), rand(2, 2)),
    sp("take_along_axis-1d", np.take_along_axis, rand(4), onp.array([3, 3, 0])),
    sp("take_along_axis-2d", np.take_along_axis, rand(2, 3), onp.array([[0, 0], [2, 1]]), axis=1),
    sp("take_along_axis-3d-axis0", np.take_along_axis, rand(2, 2, 3), onp.array([[[1], [0]]]), axis=0),
    sp("take_along_axis-None", np.take_along_axis, rand(2, 2), onp.array([3, 0, 3]), axis=None),
    sp("sort-1d", np.sort, rand(5)),
    sp("sort-2d-axis0", np.sort, rand(3, 2), axis=0),
    sp("sort-2d-axis-None", np.sort, rand(2, 3), axis=None),
    sp("sort-3d", np.sort, rand(2, 3, 2), axis=1),
    sp("sort-stable", np.sort, rand(4), kind="stable"),
    sp("diag-1d", np.diag, rand(3)),
    sp("diag-1d-k", np.diag, rand(3), 1),
    sp("diag-1d-k-neg", np.diag, rand(2), -2),
    sp("diag-2d", np.diag, rand(3, 3)),
    sp("diag-2d-k", np.diag, rand(3, 4), 1),
    sp("diag-2d-k-neg", np.diag, rand(3, 4), -2),
    sp("diag-roundtrip", lambda x: np.diag(np.diag(x) * 2.0), rand(3, 3)),
    sp("diagflat", np.diagflat, rand(2, 2), -1),
    sp("diagonal-2d", np.diagonal, rand(3, 3)),
    sp("diagonal-offset", np.diagonal, rand(3, 4), 2),
    sp("diagonal-3d-axes", np.diagonal, rand(2, 3, 3), 0, 1, 2),
    sp("diagonal-3d-neg", np.diagonal, rand(3, 2, 3), -1, -1, 0),
    sp("diagonal-method", lambda x: x.diagonal(1), rand(3, 3)),
    sp("compress", np.compress, onp.array([True, False, True]), rand(3, 2), axis=0),
    sp("compress-None", np.compress, onp.array([False, True]), rand(2, 2)),
    sp("extract", np.extract, onp.array([[True, False], [True, True]]), rand(2, 2)),
]


@pytest.mark.parametrize("fun, args, kwargs", FUNCTION_SPECS)
def test_function(fun, args, kwargs):
    check(fun, args, kwargs)


def test_repeated_indices_accumulate():
    g = grad(lambda x: np.sum(x[[0, 0, 2, 0]] * onp.array([1.0, 2.0, 3.0, 4.0])))(onp.zeros(3))
    onp.testing.assert_array_equal(g, [7.0, 0.0, 3.0])
    g = grad(lambda x: np.sum(np.take(x, [1, 1, 1])))(onp.zeros(2))
    onp.testing.assert_array_equal(g, [0.0, 3.0])


def test_sort_scatters_through_the_permutation():
    x = onp.array([3.0, 1.0, 2.0])
    weights = onp.array([10.0, 20.0, 30.0])
    g = grad(lambda x: np.sum(np.sort(x) * weights))(x)
    onp.testing.assert_array_equal(g, [30.0, 10.0, 20.0])


def test_iterating_a_traced_vector_is_linear_time():
    """``for xi in x``: every element read builds a Sparse cotangent added in place."""
    n = 2000
    x = onp.linspace(-1.0, 1.0, n)

    def f(x):
        total = 0.0
        for i, xi in enumerate(x):
            total = total + xi * xi * (i % 3)
        return total

    start = time.perf_counter()
    g = grad(f)(x)
    elapsed = time.perf_counter() - start
    onp.testing.assert_allclose(g, 2 * x * (onp.arange(n) % 3))
    assert g.shape == (n,) and g.dtype == onp.float64
    assert elapsed < 5.0
    assert float(grad(lambda x: sum(xi for xi in x))(x).sum()) == n


def test_iterating_rows_and_second_order():
    check(lambda x: np.stack([r * r[0] for r in x]), (rand(3, 2),))
    check(lambda x: sum(xi * xi * xi for xi in x), (rand(4),))


def test_float32_in_float32_out():
    x = rand(3, 4, dtype=onp.float32)
    for f in (lambda x: np.sum(x[1:, ::-1] ** 2), lambda x: np.sum(x[[0, 0], [1, 1]]),
              lambda x: np.sum(x[x > 0]), lambda x: x[0, 0] * x[1, 2],
              lambda x: np.sum(np.sort(x, axis=0)[0] * np.diagonal(x)[0]),
              lambda x: np.sum(np.diag(x[0]))):
        g = grad(f)(x)
        assert g.dtype == onp.float32 and g.shape == x.shape
    gs = grad(lambda x: sum(xi for xi in x))(rand(5, dtype=onp.float32))
    assert gs.dtype == onp.float32


def test_traced_values_match_numpy():
    x = onp.arange(24.0).reshape(2, 3, 4)
    for idx in [(Ellipsis, None, [1, 1]), ([1, 0], slice(None), [3, 3]), (x > 10,), (0, slice(None, None, -2)),
                (None, 1, Ellipsis, onp.array([True, False, True, False]))]:
        onp.testing.assert_array_equal(vjp(lambda x: x[idx], x)[0], x[idx])
    for name, args, kwargs in [("diagonal", (1, 2, 0), {}), ("take", ([-1, 5],), {"mode": "wrap"}),
                               ("sort", (), {"axis": None}), ("take_along_axis", (onp.zeros((2, 3, 1), int),),
                                                              {"axis": 2})]:
        out = vjp(lambda x: getattr(np, name)(x, *args, **kwargs), x)[0]
        onp.testing.assert_array_equal(out, getattr(onp, name)(x, *args, **kwargs))
    out = vjp(lambda v: np.diag(v, -1), onp.arange(3.0))[0]
    onp.testing.assert_array_equal(out, onp.diag(onp.arange(3.0), -1))


def test_traced_integer_index_is_read_as_constant():
    def f(x):
        order = np.argsort(x)                    # not differentiable: a plain index array
        return np.sum(x[order] * onp.arange(3.0))
    check(f, (onp.array([0.3, -1.0, 2.0]),))
    with pytest.raises(TypeError):
        grad(lambda x: np.sum(x[x]))(rand(3))


def test_real_numpy_namespace_dispatches():
    x = rand(3, 3)
    f_ours = lambda x: np.sum(np.take(np.sort(x, axis=0), [0, 2], axis=1) * np.diagonal(x)[None, :2])
    f_real = lambda x: onp.sum(onp.take(onp.sort(x, axis=0), [0, 2], axis=1) * onp.diagonal(x)[None, :2])
    onp.testing.assert_allclose(grad(f_ours)(x), grad(f_real)(x))
    check(lambda x: onp.take_along_axis(x, onp.array([[0], [2], [1]]), 1) * onp.diag(x)[:, None], (x,))
