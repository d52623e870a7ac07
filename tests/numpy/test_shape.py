"""Shape functions (wengert/numpy/shape.py): reverse mode to order 2 over 1-d, 2-d and
3-d arrays and their axis arguments, plus dtypes, signatures and plain-NumPy dispatch."""
import importlib
import inspect

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import MissingRuleError, grad, vjp
from tests.numpy.specs import check, rand, spec


def sp(name, fun, *args, **kwargs):
    """``spec`` where only the float arguments are differentiated; the others (shapes,
    axes, indices) stay in their positions as constants."""
    diff = [i for i, a in enumerate(args) if isinstance(a, (float, onp.ndarray))]

    def f(*xs, **kw):
        full = list(args)
        for i, x in zip(diff, xs):
            full[i] = x
        return fun(*full, **kw)
    return spec(name, f, *[args[i] for i in diff], **kwargs)


def _first(f):
    """A function returning a list/tuple of arrays, made array-valued for check_grads."""
    return lambda *a, **k: np.concatenate([np.ravel(p) for p in f(*a, **k)])


SPECS = [
    # reshape / ravel / transpose family
    sp("reshape-1d-2d", np.reshape, rand(6), (2, 3)),
    sp("reshape-3d-minus1", np.reshape, rand(2, 3, 2), (3, -1)),
    sp("reshape-int", np.reshape, rand(2, 3), 6),
    sp("reshape-order-F", np.reshape, rand(2, 3), (3, 2), order="F"),
    sp("reshape-method", lambda x: x.reshape(3, 2), rand(6)),
    sp("ravel-2d", np.ravel, rand(2, 3)),
    sp("ravel-3d-F", np.ravel, rand(2, 3, 2), order="F"),
    sp("ravel-K-transposed", lambda x: np.ravel(np.transpose(x, (1, 0, 2)), order="K"), rand(2, 3, 2)),
    sp("flatten-method", lambda x: x.flatten(), rand(2, 3)),
    sp("transpose-2d", np.transpose, rand(2, 3)),
    sp("transpose-3d-axes", np.transpose, rand(2, 3, 4), (1, 2, 0)),
    sp("transpose-negative-axes", np.transpose, rand(2, 3, 4), (-1, 0, -2)),
    sp("transpose-T", lambda x: x.T, rand(2, 3)),
    sp("permute_dims", np.permute_dims, rand(2, 3, 4), (2, 0, 1)),
    sp("matrix_transpose-3d", np.matrix_transpose, rand(2, 3, 4)),
    sp("mT", lambda x: x.mT, rand(2, 3, 4)),
    sp("swapaxes-2d", np.swapaxes, rand(2, 3), 0, 1),
    sp("swapaxes-3d-neg", np.swapaxes, rand(2, 3, 4), -1, 0),
    sp("swapaxes-method", lambda x: x.swapaxes(0, 2), rand(2, 3, 4)),
    sp("moveaxis-3d", np.moveaxis, rand(2, 3, 4), 0, -1),
    sp("moveaxis-3d-tuple", np.moveaxis, rand(2, 3, 4), (0, 1), (2, 0)),
    sp("rollaxis-3d", np.rollaxis, rand(2, 3, 4), 2),
    sp("rollaxis-3d-start", np.rollaxis, rand(2, 3, 4), 0, 2),
    # unit axes, broadcasting
    sp("expand_dims-1d", np.expand_dims, rand(3), 0),
    sp("expand_dims-2d-neg", np.expand_dims, rand(2, 3), -1),
    sp("expand_dims-tuple", np.expand_dims, rand(2, 3), (0, 2)),
    sp("squeeze-all", np.squeeze, rand(1, 3, 1)),
    sp("squeeze-axis", np.squeeze, rand(1, 3, 1), axis=2),
    sp("squeeze-axis-tuple", np.squeeze, rand(1, 3, 1), axis=(0, 2)),
    sp("squeeze-method", lambda x: x.squeeze(0), rand(1, 3)),
    sp("atleast_1d-scalar", np.atleast_1d, rand()),
    sp("atleast_2d-1d", np.atleast_2d, rand(3)),
    sp("atleast_3d-1d", np.atleast_3d, rand(3)),
    sp("atleast_3d-2d", np.atleast_3d, rand(2, 3)),
    sp("atleast_2d-several", _first(np.atleast_2d), rand(3), rand(2, 2), rand()),
    sp("broadcast_to-1d-2d", np.broadcast_to, rand(3), (2, 3)),
    sp("broadcast_to-3d", np.broadcast_to, rand(2, 1, 3), (4, 2, 2, 3)),
    sp("broadcast_to-int-shape", np.broadcast_to, rand(1), 3),
    sp("broadcast_arrays", _first(np.broadcast_arrays), rand(3), rand(2, 1)),
    # joining
    sp("concatenate-1d", lambda x, y: np.concatenate([x, y]), rand(2), rand(3)),
    sp("concatenate-2d-axis1", lambda x, y: np.concatenate((x, y), axis=1), rand(2, 2), rand(2, 3)),
    sp("concatenate-3d-neg-axis", lambda x, y, z: np.concatenate([x, y, z], -1), rand(2, 1, 2),
         rand(2, 1, 1), rand(2, 1, 3)),
    sp("concatenate-axis-None", lambda x, y: np.concatenate([x, y], axis=None), rand(2, 2), rand(3)),
    sp("concatenate-with-constant", lambda x: np.concatenate([x, onp.ones(2), x]), rand(3)),
    sp("concatenate-dtype", lambda x, y: np.concatenate([x, y], dtype=onp.complex128).real, rand(2), rand(2)),
    sp("concat", lambda x, y: np.concat([x, y], axis=0), rand(2, 2), rand(1, 2)),
    sp("stack-1d", lambda x, y: np.stack([x, y]), rand(3), rand(3)),
    sp("stack-2d-axis-1", lambda x, y: np.stack([x, y], axis=-1), rand(2, 3), rand(2, 3)),
    sp("stack-3d-axis2", lambda x, y: np.stack((x, y), 2), rand(2, 1, 2), rand(2, 1, 2)),
    sp("stack-scalars", lambda x, y: np.stack([x, y, x * y]), rand(), rand()),
    sp("unstack", _first(np.unstack), rand(3, 2)),
    sp("unstack-axis", _first(lambda x: np.unstack(x, axis=1)), rand(2, 3, 2)),
    sp("hstack-1d", lambda x, y: np.hstack([x, y]), rand(2), rand(3)),
    sp("hstack-2d", lambda x, y: np.hstack((x, y)), rand(2, 1), rand(2, 3)),
    sp("hstack-scalars", lambda x, y: np.hstack([x, y]), rand(), rand()),
    sp("vstack-1d", lambda x, y: np.vstack([x, y]), rand(3), rand(3)),
    sp("vstack-2d", lambda x, y: np.vstack([x, y]), rand(1, 3), rand(2, 3)),
    sp("dstack-1d", lambda x, y: np.dstack([x, y]), rand(3), rand(3)),
    sp("dstack-2d-3d", lambda x, y: np.dstack([x, y]), rand(2, 3), rand(2, 3, 2)),
    sp("column_stack", lambda x, y: np.column_stack([x, y]), rand(3), rand(3, 2)),
    sp("append-None", np.append, rand(2, 2), rand(3)),
    sp("append-axis", np.append, rand(2, 2), rand(1, 2), axis=0),
    # splitting
    sp("split-sections", _first(np.split), rand(6), 3),
    sp("split-indices-2d", _first(np.split), rand(2, 5), [1, 3], axis=1),
    sp("split-3d-neg-axis", _first(np.split), rand(2, 2, 4), 2, axis=-1),
    sp("array_split-uneven", _first(np.array_split), rand(7), 3),
    sp("array_split-indices", _first(np.array_split), rand(3, 4), [1, -1, 10], axis=1),
    sp("array_split-pieces", lambda x: np.array_split(x, 3)[1] * np.array_split(x, 3)[2][0], rand(8)),
    sp("hsplit", _first(np.hsplit), rand(2, 4), 2),
    sp("vsplit", _first(np.vsplit), rand(4, 2), [1]),
    sp("dsplit", _first(np.dsplit), rand(1, 2, 4), 2),
    # repeating
    sp("tile-1d-int", np.tile, rand(3), 2),
    sp("tile-1d-tuple", np.tile, rand(3), (2, 2)),
    sp("tile-2d", np.tile, rand(2, 3), (2, 1)),
    sp("tile-3d-short-reps", np.tile, rand(2, 1, 2), 3),
    sp("tile-ones", np.tile, rand(3), (1, 1)),
    sp("repeat-int", np.repeat, rand(3), 2),
    sp("repeat-int-axis0", np.repeat, rand(2, 3), 3, axis=0),
    sp("repeat-int-axis-neg", np.repeat, rand(2, 2, 3), 2, axis=-1),
    sp("repeat-per-element", np.repeat, rand(3), [1, 0, 3]),
    sp("repeat-per-element-axis1", np.repeat, rand(2, 3), [2, 1, 2], axis=1),
    sp("repeat-2d-None", np.repeat, rand(2, 2), 2),
    sp("repeat-method", lambda x: x.repeat(2, axis=1), rand(2, 2)),
    # reversing and rotating
    sp("flip-1d", np.flip, rand(4)),
    sp("flip-2d-axis0", np.flip, rand(2, 3), 0),
    sp("flip-3d-tuple", np.flip, rand(2, 3, 2), (0, 2)),
    sp("flip-3d-None", np.flip, rand(2, 3, 2)),
    sp("fliplr", np.fliplr, rand(2, 3)),
    sp("flipud", np.flipud, rand(3, 2)),
    sp("flipud-1d", np.flipud, rand(3)),
    sp("roll-1d", np.roll, rand(5), 2),
    sp("roll-1d-negative", np.roll, rand(5), -7),
    sp("roll-2d-None", np.roll, rand(2, 3), 4),
    sp("roll-2d-axis", np.roll, rand(2, 3), 1, axis=1),
    sp("roll-3d-tuple", np.roll, rand(2, 3, 2), (1, -1), axis=(1, 2)),
    sp("roll-repeated-axis", np.roll, rand(4, 3), (1, 2), axis=(0, 0)),
    sp("rot90-2d", np.rot90, rand(2, 3)),
    sp("rot90-k2", np.rot90, rand(2, 3), 2),
    sp("rot90-k3", np.rot90, rand(2, 3), 3),
    sp("rot90-k-neg", np.rot90, rand(2, 3), -1),
    sp("rot90-3d-axes", np.rot90, rand(2, 3, 2), 1, (1, 2)),
    # padding and triangles
    sp("pad-1d", np.pad, rand(3), 2),
    sp("pad-1d-pair", np.pad, rand(3), (1, 2)),
    sp("pad-2d-per-axis", np.pad, rand(2, 3), ((1, 0), (0, 2)), constant_values=1.5),
    sp("pad-3d", np.pad, rand(2, 1, 2), 1, mode="constant"),
    sp("pad-2d-values-per-axis", np.pad, rand(2, 2), 1, constant_values=((1.0, 2.0), (3.0, 4.0))),
    sp("pad-traced-constant", lambda x, c: np.pad(x, ((1, 1), (2, 0)), constant_values=c), rand(2, 2), rand()),
    sp("pad-traced-constant-pairs", lambda x, c: np.pad(x, 1, constant_values=c), rand(2, 3), rand(2, 2)),
    sp("triu-2d", np.triu, rand(3, 3)),
    sp("triu-k1-rect", np.triu, rand(3, 4), 1),
    sp("tril-2d", np.tril, rand(3, 3)),
    sp("tril-k-neg-3d", np.tril, rand(2, 3, 3), -1),
    sp("tril-1d", np.tril, rand(3)),
    sp("copy", np.copy, rand(2, 3)),
    sp("copy-method", lambda x: x.copy() * 2, rand(2, 3)),
    sp("astype", lambda x: np.astype(x, onp.complex128).real, rand(3)),
]


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


# -- values equal NumPy's -------------------------------------------------------------------

VALUE_CASES = [
    ("roll", (onp.arange(24.).reshape(2, 3, 4), (1, -5)), {"axis": (1, 2)}),
    ("roll", (onp.arange(6.), 3), {}),
    ("rot90", (onp.arange(24.).reshape(2, 3, 4), -3, (2, 0)), {}),
    ("pad", (onp.arange(6.).reshape(2, 3), ((1, 2), (2, 1))), {"constant_values": ((1, 2), (3, 4))}),
    ("tile", (onp.arange(6.).reshape(2, 1, 3), (2, 1, 2, 1)), {}),
    ("repeat", (onp.arange(6.).reshape(2, 3), [1, 2]), {"axis": 0}),
    ("array_split", (onp.arange(10.), [-3, 2, 20]), {}),
    ("array_split", (onp.arange(12.).reshape(3, 4), 3), {"axis": 1}),
    ("column_stack", ([onp.arange(3.), onp.ones((3, 2))],), {}),
    ("triu", (onp.arange(12.).reshape(3, 4), -1), {}),
    ("atleast_3d", (onp.arange(3.),), {}),
    ("squeeze", (onp.ones((1, 2, 1)),), {"axis": -1}),
    ("moveaxis", (onp.arange(24.).reshape(2, 3, 4), [0, -1], [-1, 0]), {}),
    ("ravel", (onp.arange(24.).reshape(2, 3, 4).transpose(2, 0, 1),), {"order": "K"}),
    ("ravel", (onp.asfortranarray(onp.arange(6.).reshape(2, 3)),), {"order": "A"}),
]


@pytest.mark.parametrize("name, args, kwargs", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_traced_values_match_numpy(name, args, kwargs):
    expected = getattr(onp, name)(*args, **kwargs)
    x = args[0]
    if isinstance(x, list):
        out = vjp(lambda *xs: getattr(np, name)(list(xs), *args[1:], **kwargs), *x)[0]
    else:
        out = vjp(lambda x: getattr(np, name)(x, *args[1:], **kwargs), x)[0]
    if isinstance(expected, (list, tuple)):
        assert len(out) == len(expected)
        for o, e in zip(out, expected):
            onp.testing.assert_array_equal(o, e)
    else:
        assert out.shape == expected.shape
        onp.testing.assert_array_equal(out, expected)


def test_untraced_calls_are_numpy():
    x = onp.arange(6).reshape(2, 3)                 # integers, no tracing: NumPy's own result
    assert np.reshape(x, (3, 2)).dtype == x.dtype
    assert np.flip(x, 1).base is not None
    assert np.split(onp.arange(4), 2)[0].tolist() == [0, 1]
    with pytest.raises(ValueError):
        np.split(onp.arange(5.), 2)


def test_errors_match_numpy_when_traced():
    with pytest.raises(ValueError, match="equal division"):
        grad(lambda x: np.sum(np.split(x, 2)[0]))(rand(5))
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(np.stack([x, x[:2]])))(rand(3))
    with pytest.raises(onp.exceptions.AxisError):
        grad(lambda x: np.sum(np.moveaxis(x, 2, 0)))(rand(2, 2))


@pytest.mark.parametrize("mode", ["edge", "reflect", "wrap", "mean"])
def test_pad_other_modes_raise_when_traced(mode):
    with pytest.raises(MissingRuleError, match=r"numpy\.pad\(mode="):
        grad(lambda x: np.sum(np.pad(x, 1, mode=mode)))(rand(3))
    assert np.pad(onp.arange(3.), 1, mode=mode).shape == (5,)     # untraced: NumPy's pad


def test_float32_gradients_stay_float32():
    x = rand(2, 3, dtype=onp.float32)
    y = rand(3, dtype=onp.float32)
    f = lambda x, y: np.sum(np.concatenate([np.ravel(np.tile(x, 2)), np.roll(y, 1), np.pad(y, 1)]) ** 2)
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    assert gx.dtype == onp.float32 and gy.dtype == onp.float32
    g = grad(lambda x: np.sum(np.triu(np.rot90(x)) * np.repeat(x, 2, 0)[:3]))(rand(3, 3, dtype=onp.float32))
    assert g.dtype == onp.float32


def test_real_numpy_namespace_dispatches():
    """``numpy.concatenate`` etc. on traced values go through __array_function__."""
    x, y = rand(2, 3), rand(2, 3)

    def ours(x, y):
        z = np.concatenate([x, y])
        return np.sum(np.sin(np.transpose(np.reshape(z, (3, 4)))) * np.stack([x, y], axis=-1).ravel()[:12].reshape(4, 3))

    def real(x, y):
        z = onp.concatenate([x, y])
        return onp.sum(onp.sin(onp.transpose(onp.reshape(z, (3, 4)))) * onp.stack([x, y], axis=-1).ravel()[:12].reshape(4, 3))

    g1 = grad(ours, argnums=(0, 1))(x, y)
    g2 = grad(real, argnums=(0, 1))(x, y)
    for a, b in zip(g1, g2):
        onp.testing.assert_allclose(a, b)
    check(lambda x, y: onp.flip(onp.roll(onp.pad(onp.concatenate([x, y], axis=1), 1), 1, axis=0), 1), (x, y))
    check(lambda x: onp.tile(onp.moveaxis(onp.expand_dims(x, 0), 0, -1), (1, 2, 1)), (x,))
    check(lambda x: onp.array_split(x, 2, axis=1)[1] + onp.split(x, 2)[0][0, 0], (x,))


def test_array_of_traced_scalars_and_nested_lists():
    def f(a, b):
        m = np.array([[a, 2.0 * b], [b, a * b]])
        v = np.asarray([a, b], dtype=onp.float64)
        return np.sum(m @ v) + np.sum(np.array([a, 1.0], ndmin=2))

    check(f, (rand(), rand()))
    a, b = 0.7, -1.3
    ga, gb = grad(f, argnums=(0, 1))(a, b)
    # m @ v = [a*a + 2b*b, b*a + a*b*b]; plus a + 1
    onp.testing.assert_allclose([ga, gb], [2 * a + b + b * b + 1, 4 * b + a + 2 * a * b])
    out = vjp(lambda a: np.array([[a, a], [a, a]], dtype=onp.float32), 1.0)[0]
    assert out.dtype == onp.float32 and out.shape == (2, 2)
    check(lambda x: np.stack([x[0] * x[1], x[2]]), (rand(3),))
    check(lambda x: np.concatenate([[x[0], x[1]], x]), (rand(3),))


def test_signatures_match_numpy():
    for family in ("shape", "indexing", "constructors"):
        module = importlib.import_module(f"wengert.numpy.{family}")
        for name in module.__all__:
            assert hasattr(onp, name), name
            ours = inspect.signature(getattr(module, name))
            theirs = inspect.signature(getattr(onp, name))
            assert list(ours.parameters) == list(theirs.parameters), name
            for p, q in zip(ours.parameters.values(), theirs.parameters.values()):
                assert p.kind == q.kind and p.default == q.default, (name, p, q)
