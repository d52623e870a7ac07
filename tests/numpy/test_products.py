"""Products and contractions: matmul, dot, vdot, inner, outer, tensordot, einsum, kron,
cross (see tests/numpy/specs.py for the spec-table pattern)."""
import functools
import warnings

import numpy as onp
import pytest

import wengert.numpy as np
from tests.numpy.specs import check, rand, spec
from wengert import InPlaceUpdateError, grad, vjp
from wengert.numpy import products


def ein(subscripts, **kwargs):
    return functools.partial(np.einsum, subscripts, **kwargs)


def td(axes):
    return functools.partial(np.tensordot, axes=axes)


def cross2(a, b, **kwargs):
    """np.cross of 2-vectors (deprecated by NumPy 2, still supported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(a, b, **kwargs)


MATMUL = [
    spec("matmul-1d-1d", np.matmul, rand(3), rand(3)),
    spec("matmul-2d-1d", np.matmul, rand(2, 3), rand(3)),
    spec("matmul-1d-2d", np.matmul, rand(3), rand(3, 4)),
    spec("matmul-2d-2d", np.matmul, rand(2, 3), rand(3, 4)),
    spec("matmul-3d-2d", np.matmul, rand(2, 3, 4), rand(4, 5)),
    spec("matmul-2d-3d", np.matmul, rand(3, 4), rand(2, 4, 5)),
    spec("matmul-3d-3d", np.matmul, rand(2, 3, 4), rand(2, 4, 5)),
    spec("matmul-1d-3d", np.matmul, rand(4), rand(2, 4, 5)),
    spec("matmul-3d-1d", np.matmul, rand(2, 3, 4), rand(4)),
    spec("matmul-broadcast-batch", np.matmul, rand(2, 1, 3, 4), rand(5, 4, 2)),
    spec("matmul-broadcast-size1", np.matmul, rand(1, 3, 4), rand(2, 4, 5)),
]

DOT = [
    spec("dot-scalar-scalar", np.dot, rand(), rand()),
    spec("dot-scalar-2d", np.dot, rand(), rand(2, 3)),
    spec("dot-2d-scalar", np.dot, rand(2, 3), rand()),
    spec("dot-0d-array", np.dot, onp.array(1.5), rand(3)),
    spec("dot-1d-1d", np.dot, rand(3), rand(3)),
    spec("dot-2d-1d", np.dot, rand(2, 3), rand(3)),
    spec("dot-1d-2d", np.dot, rand(3), rand(3, 4)),
    spec("dot-2d-2d", np.dot, rand(2, 3), rand(3, 4)),
    spec("dot-3d-1d", np.dot, rand(2, 2, 3), rand(3)),
    spec("dot-1d-3d", np.dot, rand(3), rand(2, 3, 4)),
    spec("dot-3d-2d", np.dot, rand(2, 2, 3), rand(3, 4)),
    spec("dot-2d-3d", np.dot, rand(2, 3), rand(2, 3, 4)),
    spec("dot-3d-3d", np.dot, rand(2, 2, 3), rand(2, 3, 2)),
    spec("vdot-1d", np.vdot, rand(4), rand(4)),
    spec("vdot-2d-flattens", np.vdot, rand(2, 3), rand(2, 3)),
    spec("vdot-mixed-shapes", np.vdot, rand(2, 3), rand(6)),
    spec("inner-1d-1d", np.inner, rand(3), rand(3)),
    spec("inner-2d-1d", np.inner, rand(2, 3), rand(3)),
    spec("inner-2d-2d", np.inner, rand(2, 3), rand(4, 3)),
    spec("inner-3d-2d", np.inner, rand(2, 2, 3), rand(4, 3)),
    spec("inner-scalar", np.inner, rand(), rand(2, 3)),
    spec("outer-1d-1d", np.outer, rand(3), rand(4)),
    spec("outer-2d-flattens", np.outer, rand(2, 2), rand(3)),
    spec("outer-scalar", np.outer, rand(), rand(3)),
    spec("tensordot-axes0", td(0), rand(2, 3), rand(4)),
    spec("tensordot-axes1", td(1), rand(2, 3), rand(3, 4)),
    spec("tensordot-axes2", td(2), rand(2, 3, 4), rand(3, 4, 2)),
    spec("tensordot-pair-of-ints", td((1, 0)), rand(2, 3), rand(3, 4)),
    spec("tensordot-pair-of-sequences", td(([0, 2], [2, 0])), rand(2, 3, 4), rand(4, 5, 2)),
    spec("tensordot-negative-axes", td(([-1], [-2])), rand(2, 3), rand(2, 3, 4)),
    spec("tensordot-leading-axes", td(([0, 1], [0, 1])), rand(2, 3, 4), rand(2, 3, 5)),
    spec("kron-1d-1d", np.kron, rand(2), rand(3)),
    spec("kron-2d-2d", np.kron, rand(2, 3), rand(2, 2)),
    spec("kron-2d-1d", np.kron, rand(2, 3), rand(2)),
    spec("kron-3d-2d", np.kron, rand(2, 1, 2), rand(2, 3)),
    spec("cross-3", np.cross, rand(3), rand(3)),
    spec("cross-3-batched-broadcast", np.cross, rand(4, 3), rand(3)),
    spec("cross-3-batched-3d", np.cross, rand(2, 1, 3), rand(4, 3)),
    spec("cross-axis", np.cross, rand(3, 2), rand(3, 2), axis=0),
    spec("cross-axisa-axisb-axisc", np.cross, rand(3, 4), rand(4, 3), axisa=0, axisb=-1, axisc=0),
    spec("cross-2", cross2, rand(2), rand(2)),
    spec("cross-2-batched", cross2, rand(4, 2), rand(2)),
    spec("cross-2-3", cross2, rand(4, 2), rand(4, 3)),
    spec("cross-3-2-axisc", cross2, rand(3, 4), rand(4, 2), axisa=0, axisc=0),
]

EINSUM = [
    spec("einsum-matmul", ein("ij,jk->ik"), rand(2, 3), rand(3, 4)),
    spec("einsum-transpose", ein("ij->ji"), rand(2, 3)),
    spec("einsum-diagonal", ein("ii->i"), rand(3, 3)),
    spec("einsum-trace", ein("ii->"), rand(3, 3)),
    spec("einsum-sum-all", ein("ij->"), rand(2, 3)),
    spec("einsum-sum-axis", ein("ij->i"), rand(2, 3)),
    spec("einsum-ellipsis-matmul", ein("...ij,...jk->...ik"), rand(2, 3, 4), rand(4, 5)),
    spec("einsum-ellipsis-broadcast-size1", ein("...ij,...jk->...ik"), rand(1, 3, 4), rand(2, 4, 5)),
    spec("einsum-ellipsis-middle", ein("i...j,j->...i"), rand(2, 3, 4), rand(4)),
    spec("einsum-ellipsis-implicit", ein("...ij,...jk"), rand(2, 3, 4), rand(2, 4, 5)),
    spec("einsum-ellipsis-diagonal", ein("...ii->...i"), rand(2, 3, 3)),
    spec("einsum-inner", ein("i,i->"), rand(4), rand(4)),
    spec("einsum-outer", ein("i,j->ij"), rand(3), rand(4)),
    spec("einsum-batched-matmul", ein("bij,bjk->bik"), rand(2, 3, 4), rand(2, 4, 5)),
    spec("einsum-hadamard", ein("ij,ij->ij"), rand(2, 3), rand(2, 3)),
    spec("einsum-hadamard-broadcast", ein("ij,ij->ij"), rand(1, 3), rand(2, 3)),
    spec("einsum-implicit-matmul", ein("ij,jk"), rand(2, 3), rand(3, 4)),
    spec("einsum-implicit-trace", ein("ii"), rand(3, 3)),
    spec("einsum-implicit-transpose", ein("ba"), rand(2, 3)),
    spec("einsum-three-operands", ein("ij,jk,kl->il"), rand(2, 3), rand(3, 4), rand(4, 2)),
    spec("einsum-three-operands-optimize", ein("ij,jk,kl->il", optimize=True), rand(2, 3), rand(3, 4), rand(4, 2)),
    spec("einsum-optimize-greedy", ein("bij,jk->bik", optimize="greedy"), rand(2, 3, 4), rand(4, 5)),
    spec("einsum-optimize-path", ein("ij,jk,kl->il", optimize=["einsum_path", (0, 1), (0, 1)]),
         rand(2, 3), rand(3, 4), rand(4, 2)),
    spec("einsum-repeated-and-summed", ein("iij,jk->k"), rand(2, 2, 4), rand(4, 5)),
    spec("einsum-only-in-one-operand", ein("ij,k->ik"), rand(2, 3), rand(4)),
    spec("einsum-same-operand-letters", ein("i,i,i->i"), rand(3), rand(3), rand(3)),
    spec("einsum-scalar-operand", ein(",i->i"), rand(), rand(3)),
    spec("einsum-bilinear-form", ein("i,ij,j->"), rand(3), rand(3, 4), rand(4)),
    spec("einsum-sublist", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), rand(2, 3), rand(3, 4)),
    spec("einsum-sublist-ellipsis", lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1, 2]), rand(2, 3), rand(3, 4)),
]

SPECS = MATMUL + DOT + EINSUM


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_value_matches_numpy(fun, args, kwargs):
    """The traced value equals the untraced one, which is NumPy's own result."""
    out, _ = vjp(lambda *a: fun(*a, **kwargs), *args)
    expected = fun(*args, **kwargs)
    assert onp.shape(out) == onp.shape(expected)
    onp.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ii->", [(3, 3)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
])
def test_einsum_third_order(subscripts, shapes):
    check(ein(subscripts), [rand(*s) for s in shapes], order=3)


# -- complex vdot -----------------------------------------------------------------------

def test_vdot_complex_value_and_convention():
    a = rand(2, 3) + 1j * rand(2, 3)
    b = rand(2, 3) + 1j * rand(2, 3)
    out, _ = vjp(np.vdot, a, b)
    onp.testing.assert_allclose(out, onp.vdot(a, b))
    # HIPS autograd's convention: grad of a real L(z) is dL/dx - i dL/dy.
    # real(vdot(a, b)) = sum(ar*br + ai*bi)
    onp.testing.assert_allclose(grad(lambda a: np.real(np.vdot(a, b)))(a), onp.conj(b))
    onp.testing.assert_allclose(grad(lambda b: np.real(np.vdot(a, b)))(b), onp.conj(a))
    # imag(vdot(a, b)) = sum(ar*bi - ai*br)
    onp.testing.assert_allclose(grad(lambda a: np.imag(np.vdot(a, b)))(a), 1j * onp.conj(b))
    onp.testing.assert_allclose(grad(lambda b: np.imag(np.vdot(a, b)))(b), -1j * onp.conj(a))


@pytest.mark.parametrize("part", [np.real, np.imag])
def test_vdot_complex_check(part):
    """Complex vdot checked through real coordinates: (ar, ai, br, bi) -> part(vdot(a, b))."""
    def f(ar, ai, br, bi):
        return part(np.vdot(ar + 1j * ai, br + 1j * bi))
    check(f, (rand(2, 3), rand(2, 3), rand(6), rand(6)))


def test_complex_matmul_and_einsum_through_real_coordinates():
    def f(ar, ai, br, bi):
        a, b = ar + 1j * ai, br + 1j * bi
        return np.real(np.einsum("ij,jk->ik", a, b)) + np.imag(np.dot(a, b)) + np.real(a @ b) ** 2
    check(f, (rand(2, 3), rand(2, 3), rand(3, 2), rand(3, 2)))


# -- float32 ---------------------------------------------------------------------------

F32 = [
    ("matmul", np.matmul, [(2, 3, 4), (4, 5)]),
    ("dot", np.dot, [(2, 3), (3, 4)]),
    ("dot-3d", np.dot, [(2, 2, 3), (2, 3, 4)]),
    ("vdot", np.vdot, [(2, 3), (6,)]),
    ("inner", np.inner, [(2, 3), (4, 3)]),
    ("outer", np.outer, [(3,), (4,)]),
    ("tensordot", td(([0, 2], [2, 0])), [(2, 3, 4), (4, 5, 2)]),
    ("einsum", ein("ij,jk->ik"), [(2, 3), (3, 4)]),
    ("einsum-diagonal", ein("ii->"), [(3, 3)]),
    ("kron", np.kron, [(2, 3), (2,)]),
    ("cross", np.cross, [(4, 3), (3,)]),
]


@pytest.mark.parametrize("fun, shapes", [pytest.param(f, s, id=n) for n, f, s in F32])
def test_float32_in_float32_out(fun, shapes):
    args = [rand(*s, dtype=onp.float32) for s in shapes]
    out, pullback = vjp(fun, *args)
    assert out.dtype == onp.float32
    grads = pullback(onp.ones_like(out))
    for g, x in zip(grads, args):
        assert g.dtype == onp.float32 and g.shape == x.shape
    # a float64 partner does not leak into the float32 argument's gradient
    if len(args) == 2:
        g32, g64 = grad(lambda x, y: np.sum(fun(x, y)), (0, 1))(args[0], args[1].astype(onp.float64))
        assert g32.dtype == onp.float32 and g64.dtype == onp.float64


# -- the real NumPy on traced values ----------------------------------------------------

W = rand(3, 4)
V = rand(4, 2)
REAL = [
    ("numpy.dot", lambda x: onp.dot(x, W), np.dot),
    ("x @ W", lambda x: x @ W, np.matmul),
    ("numpy.matmul", lambda x: onp.matmul(x, W), np.matmul),
    ("V @ x", lambda x: V @ x, lambda x, w: np.matmul(V, x)),
    ("ndarray.dot", lambda x: x.dot(W), np.dot),
    ("numpy.einsum", lambda x: onp.einsum("ij,jk->ik", x, W), ein("ij,jk->ik")),
    ("numpy.einsum-optimize", lambda x: onp.einsum("ij,jk->ik", x, W, optimize=True), ein("ij,jk->ik")),
    ("numpy.tensordot", lambda x: onp.tensordot(x, W, 1), td(1)),
    ("numpy.inner", lambda x: onp.inner(x, W.T), lambda x, w: np.inner(x, w.T)),
    ("numpy.outer", lambda x: onp.outer(x, W), np.outer),
    ("numpy.vdot", lambda x: onp.vdot(x, onp.ones((2, 3))), lambda x, w: np.vdot(x, onp.ones((2, 3)))),
    ("numpy.kron", lambda x: onp.kron(x, W), np.kron),
]


@pytest.mark.parametrize("f, ref", [pytest.param(f, r, id=n) for n, f, r in REAL])
def test_real_numpy_on_traced_values(f, ref):
    x = rand(2, 3)
    expected = grad(lambda x: onp.sum(onp.sin(ref(x, W))))(x)
    got = grad(lambda x: onp.sum(onp.sin(f(x))))(x)
    onp.testing.assert_allclose(got, expected, rtol=1e-12)
    check(f, (x,))


def test_real_numpy_cross_and_einsum_with_two_traced():
    a, b = rand(4, 3), rand(3)
    check(lambda a, b: onp.cross(a, b), (a, b))
    check(lambda a, b: onp.einsum("...i,...i->...", a, b), (a, b))
    got = grad(lambda a, b: onp.sum(onp.cross(a, b) ** 2), (0, 1))(a, b)
    expected = grad(lambda a, b: np.sum(np.cross(a, b) ** 2), (0, 1))(a, b)
    for g, e in zip(got, expected):
        onp.testing.assert_allclose(g, e)


# -- forward rules (for the forward mode to come) ----------------------------------------

@pytest.mark.parametrize("prim, args, kwargs", [
    (np.matmul, [rand(2, 3, 4), rand(4, 5)], {}),
    (products.dot_p, [rand(2, 3), rand(2, 3, 4)], {}),
    (products.tensordot_p, [rand(2, 3, 4), rand(4, 5, 2)], {"axes": ((0, 2), (2, 0))}),
    (products.einsum_p, ["ij,jk,kl->il", rand(2, 3), rand(3, 4), rand(4, 2)], {"optimize": False}),
])
def test_jvp_rules_are_multilinear(prim, args, kwargs):
    ans = prim(*args, **kwargs)
    for k, x in enumerate(args):
        if isinstance(x, str):
            continue
        t = rand(*x.shape)
        moved = list(args)
        moved[k] = x + t
        expected = prim(*moved, **kwargs) - ans
        onp.testing.assert_allclose(prim.jvps[k](t, ans, *args, **kwargs), expected, atol=1e-12)


# -- errors and odds and ends -----------------------------------------------------------

def test_out_with_traced_value_is_refused():
    with pytest.raises(InPlaceUpdateError):
        grad(lambda x: np.sum(np.dot(x, x, out=onp.empty(()))))(rand(3))
    with pytest.raises(InPlaceUpdateError):
        grad(lambda x: np.sum(np.einsum("i,i->", x, x, out=onp.empty(()))))(rand(3))


def test_shape_errors_are_numpy_errors():
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(np.dot(x, onp.ones((4, 2)))))(rand(2, 3))
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(np.dot(x, onp.ones((2, 4, 2)))))(rand(2, 2, 3))
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(np.tensordot(x, onp.ones((4, 2)), 1)))(rand(2, 3))
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(np.cross(x, onp.ones(4))))(rand(4))


def test_einsum_dtype_and_path():
    x = rand(2, 3)
    g = grad(lambda x: np.sum(np.einsum("ij,ij->", x, x, dtype=onp.float64)))(x)
    onp.testing.assert_allclose(g, 2 * x)
    path, _ = np.einsum_path("ij,jk->ik", x, onp.ones((3, 4)))
    assert path[0] == "einsum_path"
    grad(lambda x: np.sum(np.einsum("ij,jk->ik", x, onp.ones((3, 4)), optimize=np.einsum_path(
        "ij,jk->ik", x, onp.ones((3, 4)))[0])))(x)


def test_contractions_record_one_primitive():
    """Each product is one record on the tape (no per-element or per-batch loops)."""
    from wengert.core.reverse import trace_reverse
    for f, args in [(np.dot, (rand(4, 3), rand(3, 2))), (ein("ij,jk->ik"), (rand(4, 3), rand(3, 2))),
                    (np.matmul, (rand(2, 4, 3), rand(3, 2)))]:
        _, _, records = trace_reverse(f, args, range(2))
        assert len([r for r in records if r[0] is not None]) == 1
