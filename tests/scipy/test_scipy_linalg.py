"""scipy.linalg: solve_triangular, cho_factor/cho_solve, lu_factor/lu_solve, expm, sqrtm,
solve_sylvester, solve_banded, block_diag (the spec-table pattern of tests/numpy/specs.py).

Every row is checked against finite differences in both modes to second order, on
well-conditioned inputs (triangles with a dominant diagonal, SPD matrices, matrices
near a multiple of the identity). Then: traced values equal SciPy's, the
decompositions inside larger functions (log-determinants, solves), agreement with
compositions of other wengert functions, batched Jacobians and Hessians without slow
fallbacks, and stacked (batched) matrices.
"""
import functools
import importlib

import numpy as onp
import pytest

from tests.fallbacks import is_loop, primitives_of, record_fallbacks
import scipy.linalg as osl

import wengert
import wengert.numpy as np
import wengert.scipy.linalg as sl
from tests.numpy.specs import check, spec
from wengert.core.tracer import getval
from wengert.transforms.batch import vmap_flat

R = onp.random.default_rng(1234)   # our own stream: the shared one in specs.py feeds other tables


def rand(*shape):
    return R.uniform(-1.0, 1.0, size=shape)


def crand(*shape):
    return rand(*shape) + 1j * rand(*shape)


def _eye_like(shape):
    return onp.broadcast_to(onp.eye(shape[-1]), shape)


def spd(*shape, cplx=False):
    x = crand(*shape) if cplx else rand(*shape)
    return x @ onp.conj(onp.swapaxes(x, -1, -2)) + shape[-1] * _eye_like(shape)


def tri(*shape, lower=True, cplx=False):
    x = crand(*shape) if cplx else rand(*shape)
    return (onp.tril(x) if lower else onp.triu(x)) + 3.0 * _eye_like(shape)


def near_eye(*shape, cplx=False):
    """Well conditioned, no symmetry: 1.5 I plus a small perturbation."""
    return 0.3 * (crand(*shape) if cplx else rand(*shape)) + 1.5 * _eye_like(shape)


def pivoting(*shape, cplx=False):
    """Well conditioned, with partial pivoting swapping rows (by clear margins)."""
    n = shape[-1]
    return near_eye(*shape, cplx=cplx)[..., onp.roll(onp.arange(n), 1), :]


def banded(l, u, n, *stack):
    ab = rand(*stack, l + u + 1, n)
    ab[..., u, :] += 3.0                   # dominant main diagonal
    return ab


# -- small adapters: one function of the differentiated arrays ------------------------------

def cho_c(a, lower=False):
    return sl.cho_factor(a, lower=lower)[0]


def cho_solve_c(c, b, lower=False):
    return sl.cho_solve((c, lower), b)


def cho_both(a, b, lower=False):
    return sl.cho_solve(sl.cho_factor(a, lower=lower), b)


def lu_packed(a):
    return sl.lu_factor(a)[0]


def lu_solve_piv(lu, b, piv, trans=0):
    return sl.lu_solve((lu, piv), b, trans=trans)


def lu_both(a, b, trans=0):
    return sl.lu_solve(sl.lu_factor(a), b, trans=trans)


def banded_solve(ab, b, l_and_u):
    return sl.solve_banded(l_and_u, ab, b)


def logdet_cho(a, lower=False):
    c, low = sl.cho_factor(a, lower=lower)
    return 2.0 * np.sum(np.log(np.real(np.diagonal(c, axis1=-2, axis2=-1))), axis=-1)


def gaussian_loglik(a, x):
    """A Gaussian log-likelihood (up to a constant) through one Cholesky factorisation."""
    cf = sl.cho_factor(a, lower=True)
    return -0.5 * np.sum(x * sl.cho_solve(cf, x)) - 0.5 * logdet_cho(a, lower=True)


_LU = osl.lu_factor(pivoting(4, 4))
_LU_STACK = osl.lu_factor(pivoting(2, 3, 3))

SOLVE_TRIANGULAR = [
    spec(f"solve_triangular-{'lower' if lower else 'upper'}-trans{trans}{'-unit' if unit else ''}",
         sl.solve_triangular, tri(3, 3, lower=lower), rand(3, 2), lower=lower, trans=trans, unit_diagonal=unit)
    for lower in (True, False) for trans in (0, 1, 2) for unit in (False, True)
] + [
    spec("solve_triangular-vector", sl.solve_triangular, tri(3, 3), rand(3), lower=True),
    spec("solve_triangular-trans-string", sl.solve_triangular, tri(3, 3, lower=False), rand(3), trans="T"),
    spec("solve_triangular-stacked", sl.solve_triangular, tri(2, 3, 3), rand(2, 3, 2), lower=True, trans=1),
    spec("solve_triangular-stacked-vector", sl.solve_triangular, tri(2, 3, 3, lower=False), rand(3)),
    spec("solve_triangular-broadcast-b", sl.solve_triangular, tri(3, 3, lower=False), rand(2, 3, 2)),
    spec("solve_triangular-broadcast-a", sl.solve_triangular, tri(2, 1, 3, 3), rand(3, 3, 2), lower=True),
    spec("solve_triangular-complex", sl.solve_triangular, tri(3, 3, cplx=True), crand(3, 2), lower=True),
    spec("solve_triangular-complex-trans2", sl.solve_triangular, tri(3, 3, lower=False, cplx=True), crand(3),
         trans=2),
]

CHOLESKY = [
    spec("cho_factor-upper", cho_c, spd(3, 3)),
    spec("cho_factor-lower", cho_c, spd(3, 3), lower=True),
    spec("cho_factor-complex-upper", cho_c, spd(3, 3, cplx=True)),
    spec("cho_factor-complex-lower", cho_c, spd(3, 3, cplx=True), lower=True),
    spec("cho_factor-stacked", cho_c, spd(2, 3, 3), lower=True),
    spec("cho_solve-upper", cho_solve_c, osl.cho_factor(spd(3, 3))[0], rand(3, 2)),
    spec("cho_solve-lower-vector", cho_solve_c, osl.cho_factor(spd(3, 3), lower=True)[0], rand(3), lower=True),
    spec("cho_solve-complex", cho_solve_c, osl.cho_factor(spd(3, 3, cplx=True))[0], crand(3, 2)),
    spec("cho_solve-complex-lower", cho_solve_c, osl.cho_factor(spd(3, 3, cplx=True), lower=True)[0], crand(3),
         lower=True),
    spec("cho_solve-stacked", cho_solve_c, osl.cho_factor(spd(2, 3, 3))[0], rand(2, 3, 2)),
    spec("cho_solve-stacked-vector", cho_solve_c, osl.cho_factor(spd(2, 3, 3))[0], rand(3)),
    spec("cho_factor+solve-upper", cho_both, spd(3, 3), rand(3, 2)),
    spec("cho_factor+solve-lower", cho_both, spd(3, 3), rand(3), lower=True),
    spec("cho_factor+solve-broadcast", cho_both, spd(3, 3), rand(2, 3, 1)),
    spec("logdet-cho_factor", logdet_cho, spd(3, 3)),
    spec("logdet-cho_factor-complex", logdet_cho, spd(3, 3, cplx=True), lower=True),
    spec("gaussian-loglik", gaussian_loglik, spd(3, 3), rand(3)),
]

LU = [
    spec("lu_factor", lu_packed, pivoting(4, 4)),
    spec("lu_factor-complex", lu_packed, pivoting(3, 3, cplx=True)),
    spec("lu_factor-stacked", lu_packed, pivoting(2, 3, 3)),
] + [
    spec(f"lu_solve-trans{t}", lu_solve_piv, _LU[0], rand(4, 2), piv=_LU[1], trans=t) for t in (0, 1, 2)
] + [
    spec(f"lu_solve-vector-trans{t}", lu_solve_piv, _LU[0], rand(4), piv=_LU[1], trans=t) for t in (0, 1)
] + [
    spec(f"lu_factor+solve-trans{t}", lu_both, pivoting(3, 3), rand(3, 2), trans=t) for t in (0, 1, 2)
] + [
    spec("lu_factor+solve-complex-trans2", lu_both, pivoting(3, 3, cplx=True), crand(3), trans=2),
    spec("lu_solve-stacked", lu_solve_piv, _LU_STACK[0], rand(2, 3, 2), piv=_LU_STACK[1], trans=1),
    spec("lu_factor+solve-stacked-broadcast-b", lu_both, pivoting(2, 3, 3), rand(3, 2), trans=1),
    spec("lu_factor+solve-stacked-vector", lu_both, pivoting(2, 3, 3), rand(3)),
]

MATRIX_FUNCTIONS = [
    spec("expm", sl.expm, rand(3, 3)),
    spec("expm-complex", sl.expm, crand(3, 3)),
    spec("expm-stacked", sl.expm, rand(2, 3, 3)),
    spec("expm-1x1", sl.expm, rand(1, 1)),
    spec("expm-norm", lambda a: np.linalg.norm(sl.expm(a) - onp.eye(3)), rand(3, 3)),
    spec("sqrtm-spd", sl.sqrtm, spd(3, 3)),
    spec("sqrtm-nonsymmetric", sl.sqrtm, near_eye(3, 3)),
    spec("sqrtm-rotation", sl.sqrtm, onp.array([[1.0, -2.0], [2.0, 1.0]])),
    spec("sqrtm-negative-eigenvalue-complex-result", sl.sqrtm, onp.array([[-2.0, 0.3], [0.1, 1.5]])),
    spec("sqrtm-complex", sl.sqrtm, near_eye(3, 3, cplx=True)),
    spec("sqrtm-stacked", sl.sqrtm, spd(2, 3, 3)),
    spec("solve_sylvester", sl.solve_sylvester, near_eye(3, 3), near_eye(2, 2), rand(3, 2)),
    spec("solve_sylvester-complex", sl.solve_sylvester, near_eye(2, 2, cplx=True), near_eye(3, 3, cplx=True),
         crand(2, 3)),
    spec("solve_sylvester-stacked", sl.solve_sylvester, near_eye(2, 3, 3), near_eye(2, 2), rand(2, 3, 2)),
    spec("solve_sylvester-shared-a-b", sl.solve_sylvester, near_eye(3, 3), near_eye(2, 2), rand(2, 3, 2)),
]

BANDED = [
    spec(f"solve_banded-{l}{u}{'-vector' if vec else ''}", banded_solve, banded(l, u, 5),
         rand(5) if vec else rand(5, 2), l_and_u=(l, u))
    for (l, u) in ((1, 1), (2, 1), (0, 2), (0, 0)) for vec in (False, True)
] + [
    spec("solve_banded-stacked", banded_solve, banded(1, 1, 4, 2), rand(2, 4, 2), l_and_u=(1, 1)),
    spec("solve_banded-stacked-vector", banded_solve, banded(1, 2, 4, 2), rand(4), l_and_u=(1, 2)),
]

BLOCK_DIAG = [
    spec("block_diag-two", lambda a, b: sl.block_diag(a, b), rand(2, 2), rand(3, 1)),
    spec("block_diag-three-1d-0d", lambda a, b, c: sl.block_diag(a, b, c), rand(2, 3), rand(3), onp.array(0.7)),
    spec("block_diag-one", sl.block_diag, rand(2, 3)),
    spec("block_diag-complex-real", lambda a, b: sl.block_diag(a, b), crand(2, 2), rand(1, 2)),
    spec("block_diag-stacked-broadcast", lambda a, b: sl.block_diag(a, b), rand(2, 2, 2), rand(1, 3)),
    spec("block_diag-empty-block", lambda a, b: sl.block_diag(a, onp.zeros((2, 0)), b), rand(2, 2), rand(1, 3)),
]

SPECS = SOLVE_TRIANGULAR + CHOLESKY + LU + MATRIX_FUNCTIONS + BANDED + BLOCK_DIAG


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_traced_value_is_scipys(fun, args, kwargs):
    """The traced path (primitives, columns for vectors next to stacks, ...) gives the
    value of the untraced path, which is SciPy's own call."""
    traced = wengert.vjp(lambda *a: fun(*a, **kwargs), *args)[0]
    plain = fun(*args, **kwargs)
    assert onp.shape(traced) == onp.shape(plain)
    onp.testing.assert_allclose(traced, plain, rtol=1e-12, atol=1e-12)


# -- the wrappers ------------------------------------------------------------------------------

def test_namespace():
    assert sl.DIFFERENTIABLE == sorted(["block_diag", "cho_factor", "cho_solve", "expm", "lu_factor", "lu_solve",
                                        "solve_banded", "solve_sylvester", "solve_triangular", "sqrtm"])
    with pytest.raises(wengert.MissingRuleError, match="scipy.linalg.inv"):
        wengert.grad(lambda a: np.sum(sl.inv(a)))(near_eye(2, 2))
    assert sl.LinAlgError is osl.LinAlgError


def test_untraced_calls_are_scipys():
    a = spd(3, 3)
    c, lower = sl.cho_factor(a, lower=True)
    c0, _ = osl.cho_factor(a, lower=True)
    assert lower is True and onp.array_equal(c, c0)
    lu, piv = sl.lu_factor(a)
    assert piv.dtype == osl.lu_factor(a)[1].dtype and onp.array_equal(lu, osl.lu_factor(a)[0])
    assert onp.array_equal(sl.expm(a / 3), osl.expm(a / 3))


def test_factor_outputs_when_traced():
    a = pivoting(4, 4)
    seen = {}

    def f(x):
        c, lower = sl.cho_factor(x @ x.T, lower=True)
        lu, piv = sl.lu_factor(x)
        seen.update(lower=lower, piv=piv, c=getval(c))
        return np.sum(lu) + np.sum(c)

    wengert.grad(f)(a)
    assert seen["lower"] is True
    lu0, piv0 = osl.lu_factor(a)
    assert isinstance(seen["piv"], onp.ndarray) and seen["piv"].dtype == piv0.dtype
    onp.testing.assert_array_equal(seen["piv"], piv0)
    onp.testing.assert_allclose(seen["c"], osl.cho_factor(a @ a.T, lower=True)[0])


def test_refusals():
    with pytest.raises(wengert.MissingRuleError, match="non-square"):
        wengert.grad(lambda a: np.sum(sl.lu_factor(a)[0]))(rand(3, 2))
    with pytest.raises(onp.linalg.LinAlgError):
        wengert.grad(lambda a: np.sum(sl.sqrtm(a)))(onp.array([4.0]))


def test_solve_sylvester_complex_q_with_real_a_b():
    """SciPy solves real a, b with a complex q from real Schur forms handed to complex
    trsyl, which is wrong when a or b has complex eigenvalues; ours is right."""
    a, b = onp.array([[0.0, -2.0], [2.0, 0.5]]), near_eye(3, 3)
    q = crand(2, 3)
    x = sl.solve_sylvester(a, b, q)
    onp.testing.assert_allclose(a @ x + x @ b, q, atol=1e-12)


def test_solve_sylvester_shared_schur_matches_scipy():
    a, b, q = near_eye(3, 3), near_eye(2, 2), rand(4, 2, 3, 2)
    onp.testing.assert_allclose(sl.solve_sylvester(a, b, q), osl.solve_sylvester(a, b, q), rtol=1e-12)


# -- inside larger functions, and against other wengert compositions -----------------------------

def test_logdet_gradient():
    """d logdet(A) = tr(A^-1 dA) with dA built from the triangle cho_factor reads."""
    a = spd(4, 4)
    m = onp.linalg.inv(a)
    onp.testing.assert_allclose(logdet_cho(a), onp.linalg.slogdet(a)[1], rtol=1e-12)
    onp.testing.assert_allclose(wengert.grad(logdet_cho)(a), 2 * onp.triu(m) - onp.diag(onp.diag(m)), rtol=1e-10)
    g = wengert.grad(functools.partial(logdet_cho, lower=True))(a)
    onp.testing.assert_allclose(g, 2 * onp.tril(m) - onp.diag(onp.diag(m)), rtol=1e-10)


@pytest.mark.parametrize("solver", [functools.partial(lu_both, trans=0), cho_both],
                         ids=["lu", "cholesky"])
def test_solve_gradients_are_the_textbook_ones(solver):
    """x = A^-1 b: g_b = A^-T g and, along a symmetric direction, <g_A, dA> = -<A^-T g x^T, dA>."""
    a, b, g = spd(4, 4), rand(4, 2), rand(4, 2)
    x = onp.linalg.solve(a, b)
    out, pull = wengert.vjp(solver, a, b)
    ga, gb = pull(g)
    onp.testing.assert_allclose(out, x, rtol=1e-12)
    onp.testing.assert_allclose(gb, onp.linalg.solve(a.T, g), rtol=1e-10)
    d = rand(4, 4)
    d = d + d.T
    _, dx = wengert.jvp(solver, (a, b), (d, onp.zeros_like(b)))
    onp.testing.assert_allclose(dx, -onp.linalg.solve(a, d @ x), rtol=1e-10, atol=1e-12)
    onp.testing.assert_allclose(onp.sum(dx * g), onp.sum(ga * d), rtol=1e-10)


def test_cho_solve_is_two_triangular_solves():
    c, b, g = osl.cho_factor(spd(3, 3), lower=True)[0], rand(3, 2), rand(3, 2)

    def two(c, b):
        return sl.solve_triangular(c, sl.solve_triangular(c, b, lower=True), lower=True, trans=1)

    for f in (functools.partial(cho_solve_c, lower=True), two):
        onp.testing.assert_allclose(f(c, b), osl.cho_solve((c, True), b), rtol=1e-12)
    ga, gb = wengert.vjp(functools.partial(cho_solve_c, lower=True), c, b)[1](g)
    ha, hb = wengert.vjp(two, c, b)[1](g)
    onp.testing.assert_allclose(ga, ha, rtol=1e-10, atol=1e-12)
    onp.testing.assert_allclose(gb, hb, rtol=1e-10, atol=1e-12)


def test_lu_solve_is_a_permutation_and_two_triangular_solves():
    a, b, g = pivoting(4, 4), rand(4, 3), rand(4, 3)
    perm = onp.arange(4)
    for i, p in enumerate(osl.lu_factor(a)[1]):
        perm[[i, p]] = perm[[p, i]]

    def composed(a, b):
        lu, _ = sl.lu_factor(a)
        y = sl.solve_triangular(lu, b[perm], lower=True, unit_diagonal=True)
        return sl.solve_triangular(lu, y)

    onp.testing.assert_allclose(composed(a, b), lu_both(a, b), rtol=1e-12)
    for got, want in zip(wengert.vjp(lu_both, a, b)[1](g), wengert.vjp(composed, a, b)[1](g)):
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _taylor_expm(a, terms=30):
    out, term = onp.eye(3), onp.eye(3)
    for k in range(1, terms):
        term = np.matmul(term, a) / k
        out = out + term
    return out


def test_expm_agrees_with_its_taylor_series():
    a, w, t = 0.4 * rand(3, 3), rand(3, 3), rand(3, 3)

    def loss(f):
        return lambda a: np.sum(w * f(a))

    onp.testing.assert_allclose(sl.expm(a), _taylor_expm(a), rtol=1e-13)
    onp.testing.assert_allclose(wengert.grad(loss(sl.expm))(a), wengert.grad(loss(_taylor_expm))(a), rtol=1e-12)
    onp.testing.assert_allclose(wengert.jvp(sl.expm, (a,), (t,))[1], wengert.jvp(_taylor_expm, (a,), (t,))[1],
                                rtol=1e-12)
    onp.testing.assert_allclose(wengert.hessian(loss(sl.expm))(a), wengert.hessian(loss(_taylor_expm))(a),
                                rtol=1e-10, atol=1e-12)


def test_sqrtm_squared_is_the_identity_map():
    a = spd(3, 3)
    jac = wengert.jacrev(lambda a: np.matmul(sl.sqrtm(a), sl.sqrtm(a)))(a)
    onp.testing.assert_allclose(jac, onp.eye(9).reshape(3, 3, 3, 3), atol=1e-10)
    # d tr(sqrt(A)) = tr(A^{-1/2} dA) / 2
    onp.testing.assert_allclose(wengert.grad(lambda a: np.trace(sl.sqrtm(a)))(a),
                                0.5 * onp.linalg.inv(osl.sqrtm(a)).T, rtol=1e-10)


def test_block_diag_agrees_with_concatenate():
    a, b, g = rand(2, 3), rand(2, 2), rand(4, 5)

    def composed(a, b):
        return np.concatenate([np.concatenate([a, onp.zeros((2, 2))], axis=1),
                               np.concatenate([onp.zeros((2, 3)), b], axis=1)], axis=0)

    onp.testing.assert_array_equal(sl.block_diag(a, b), composed(a, b))
    for got, want in zip(wengert.vjp(sl.block_diag, a, b)[1](g), wengert.vjp(composed, a, b)[1](g)):
        onp.testing.assert_array_equal(got, want)


def _dense_from_bands(ab, l, u):
    n = ab.shape[-1]
    return sum(np.diag(ab[k, max(u - k, 0):n + min(u - k, 0)], u - k) for k in range(l + u + 1))


@pytest.mark.parametrize("l, u", [(1, 1), (2, 0), (1, 2)])
def test_solve_banded_agrees_with_a_dense_solve(l, u):
    ab, b, g = banded(l, u, 5), rand(5, 2), rand(5, 2)
    def dense(ab, b):
        return lu_both(_dense_from_bands(ab, l, u), b)

    band = functools.partial(banded_solve, l_and_u=(l, u))
    onp.testing.assert_allclose(band(ab, b), dense(ab, b), rtol=1e-12)
    for got, want in zip(wengert.vjp(band, ab, b)[1](g), wengert.vjp(dense, ab, b)[1](g)):
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _symmetric_jvps_agree(f, g, a, rtol=1e-10):
    d = rand(*a.shape)
    d = d + d.T
    fa, fd = wengert.jvp(f, (a,), (d,))
    ga, gd = wengert.jvp(g, (a,), (d,))
    onp.testing.assert_allclose(fa, ga, rtol=rtol, atol=1e-12)
    onp.testing.assert_allclose(fd, gd, rtol=rtol, atol=1e-12)


NUMPY_LINALG = [   # (name, ours, theirs, whether ours reads the whole matrix)
    ("cholesky", lambda a: np.tril(cho_c(a, lower=True)), lambda a: np.linalg.cholesky(a), False),
    ("slogdet", logdet_cho, lambda a: np.linalg.slogdet(a)[1], False),
    ("det", lambda a: np.exp(logdet_cho(a)), lambda a: np.linalg.det(a), False),
    ("solve", lambda a: lu_both(a, onp.ones((4, 2))), lambda a: np.linalg.solve(a, onp.ones((4, 2))), True),
    ("inv", lambda a: lu_both(a, onp.eye(4)), lambda a: np.linalg.inv(a), True),
]


@pytest.mark.parametrize("name, ours, theirs, full", NUMPY_LINALG, ids=[c[0] for c in NUMPY_LINALG])
def test_agrees_with_wengert_numpy_linalg(name, ours, theirs, full):
    """Where wengert.numpy.linalg differentiates the same function: the Cholesky-based ones
    read one triangle, so they agree along symmetric directions; the LU-based ones agree
    in every direction, in both modes, and to second order."""
    if name not in importlib.import_module("wengert.numpy.linalg").DIFFERENTIABLE:
        pytest.skip(f"wengert.numpy.linalg.{name} is not differentiable yet")
    _symmetric_jvps_agree(ours, theirs, spd(4, 4))
    if full:
        a, v = pivoting(4, 4), rand(4, *onp.shape(ours(spd(4, 4)))[1:])
        for jac in (wengert.jacfwd, wengert.jacrev):
            onp.testing.assert_allclose(jac(ours)(a), jac(theirs)(a), rtol=1e-9, atol=1e-11)
        onp.testing.assert_allclose(wengert.hessian(lambda a: np.sum(v * ours(a)))(a),
                                    wengert.hessian(lambda a: np.sum(v * theirs(a)))(a), rtol=1e-9, atol=1e-10)


# -- batching: Jacobians and Hessians without fallbacks, stacks --------------------------------

_FAMILIES = ["wengert.core.vspace"] + [f"wengert.numpy.{m}" for m in (
    "elementwise", "reductions", "shape", "indexing", "products", "linalg", "constructors")] + \
    ["wengert.scipy.linalg"]


_primitives = primitives_of


_is_loop = is_loop


@pytest.fixture
def fallbacks(monkeypatch):
    """The (primitive, fallback) pairs reached: the batching loop or a transposed rule."""
    yield from record_fallbacks(monkeypatch, _primitives(_FAMILIES))


def test_every_primitive_has_explicit_rules_and_a_batching_rule():
    prims = [p for p in _primitives(["wengert.scipy.linalg"]) if p.name in sl.DIFFERENTIABLE]
    assert sorted(p.name for p in prims) == sl.DIFFERENTIABLE
    for p in prims:
        assert p.batch is not None and not _is_loop(p.batch), p.name
        assert p.jvp_joint is not None or 0 in p.jvps, p.name
        assert p.vjp_joint is not None or 0 in p.vjps, p.name


def rowwise_jacobian(f, x):
    out, pull = wengert.vjp(f, x)
    rows = [onp.asarray(pull(e.reshape(onp.shape(out)))[0]) for e in onp.eye(onp.size(out))]
    return onp.array(rows).reshape(onp.shape(out) + onp.shape(x))


_S = spd(3, 3)
_T = tri(3, 3)
_AB = banded(1, 1, 4)
_T_STACK = tri(2, 3, 3, lower=False)
_LU_A = pivoting(2, 3, 3)

JACOBIANS = [
    ("solve_triangular-a", lambda a: sl.solve_triangular(a, onp.arange(6.0).reshape(3, 2), lower=True, trans=1), _T),
    ("solve_triangular-b", lambda b: sl.solve_triangular(_T, b, lower=True), rand(3, 2)),
    ("solve_triangular-b-vector", lambda b: sl.solve_triangular(_T, b, lower=True), rand(3)),
    ("solve_triangular-b-stacked", lambda b: sl.solve_triangular(_T_STACK, b), rand(2, 3, 2)),
    ("solve_triangular-b-broadcast", lambda b: sl.solve_triangular(_T_STACK, b, trans=1), rand(3, 2)),
    ("solve_triangular-a-stacked", lambda a: sl.solve_triangular(a, onp.ones((3, 1))), _T_STACK),
    ("cho_factor-upper", cho_c, _S),
    ("cho_solve-a", lambda a: cho_both(a, onp.ones(3), lower=True), _S),
    ("cho_solve-b", lambda b: cho_both(_S, b), rand(3, 2)),
    ("lu_factor", lu_packed, pivoting(3, 3)),
    ("lu_solve-a-trans1", lambda a: lu_both(a, onp.ones((3, 2)), trans=1), pivoting(3, 3)),
    ("lu_solve-b", lambda b: lu_both(_S, b), rand(3)),
    ("lu_solve-b-stacked", lambda b: lu_both(_LU_A, b), rand(2, 3, 1)),
    ("expm", sl.expm, 0.5 * rand(3, 3)),
    ("sqrtm", sl.sqrtm, _S),
    ("solve_sylvester-a", lambda a: sl.solve_sylvester(a, _S, onp.ones((3, 3))), near_eye(3, 3)),
    ("solve_sylvester-q", lambda q: sl.solve_sylvester(_S, _S + 1, q), rand(3, 3)),
    ("solve_banded-ab", lambda ab: sl.solve_banded((1, 1), ab, onp.ones(4)), _AB),
    ("solve_banded-b", lambda b: sl.solve_banded((1, 1), _AB, b), rand(4, 2)),
    ("block_diag", lambda x: sl.block_diag(x, _S, x[0]), rand(2, 2)),
]


@pytest.mark.parametrize("f, x", [c[1:] for c in JACOBIANS], ids=[c[0] for c in JACOBIANS])
def test_batched_jacobians_match_rowwise(f, x, fallbacks):
    expected = rowwise_jacobian(f, x)
    for jac in (wengert.jacfwd, wengert.jacrev):
        onp.testing.assert_allclose(jac(f)(x), expected, rtol=1e-9, atol=1e-11, err_msg=jac.__name__)
    assert fallbacks == set()


def h_solves(a):
    c = sl.cho_factor(a @ a.T + 3 * onp.eye(3))
    x = sl.cho_solve(c, a[:, 0]) + sl.lu_solve(sl.lu_factor(a), a[0], trans=1)
    return np.sum(x ** 2) + np.sum(sl.solve_triangular(a, a, lower=True) ** 2) \
        + np.sum(sl.solve_banded((1, 0), np.stack([np.diagonal(a), a[1]]), a[:, 1]) ** 2)


def h_matrix_functions(a):
    return np.sum(sl.expm(0.3 * a) * a) + np.sum(sl.sqrtm(a @ a.T + onp.eye(3)) ** 2) \
        + np.sum(sl.solve_sylvester(a, a.T, a) ** 2) + np.sum(sl.block_diag(a, a[0]) ** 3)


@pytest.mark.parametrize("f", [h_solves, h_matrix_functions], ids=lambda f: f.__name__)
def test_hessian_matches_reverse_over_reverse(f, fallbacks):
    a = near_eye(3, 3) + 0.3 * rand(3, 3)
    h = wengert.hessian(f)(a)
    onp.testing.assert_allclose(h, wengert.jacrev(wengert.jacrev(f))(a), rtol=1e-8, atol=1e-10)
    onp.testing.assert_allclose(h, h.transpose(2, 3, 0, 1), rtol=1e-8, atol=1e-10)
    assert fallbacks == set()


STACKS = [
    ("lu", lambda a, b: lu_both(a, b), [pivoting(4, 3, 3), rand(4, 3, 2)], [True, True],
     lambda a, b: onp.linalg.solve(a, b)),
    ("lu-vector-shared-b", lambda a, b: lu_both(a, b, trans=1), [pivoting(4, 3, 3), rand(3)], [True, False],
     lambda a, b: onp.linalg.solve(onp.swapaxes(a, 1, 2), b[None, :, None])[..., 0]),
    ("solve_triangular-vectors", lambda a, b: sl.solve_triangular(a, b), [tri(4, 3, 3, lower=False), rand(4, 3)],
     [True, True], lambda a, b: onp.linalg.solve(a, b[..., None])[..., 0]),
    ("cho-shared-a", lambda a, b: cho_both(a, b), [spd(3, 3), rand(4, 3, 2)], [False, True],
     lambda a, b: onp.linalg.solve(a, b)),
    ("cho-stacked-element", lambda a, b: cho_both(a, b), [spd(4, 2, 3, 3), rand(3, 1)], [True, False],
     lambda a, b: onp.linalg.solve(a, b)),
    ("expm", sl.expm, [rand(4, 3, 3)], [True], osl.expm),
    ("sqrtm", sl.sqrtm, [spd(4, 3, 3)], [True], osl.sqrtm),
    ("sylvester", sl.solve_sylvester, [near_eye(4, 3, 3), near_eye(2, 2), rand(4, 3, 2)], [True, False, True],
     osl.solve_sylvester),
    ("banded", lambda ab, b: sl.solve_banded((1, 1), ab, b), [banded(1, 1, 4, 4), rand(4, 4)], [True, True],
     lambda ab, b: osl.solve_banded((1, 1), ab, b[..., None])[..., 0]),
    ("block_diag", lambda a, b: sl.block_diag(a, b), [rand(4, 2, 2, 2), rand(1, 3)], [True, False],
     osl.block_diag),
]


@pytest.mark.parametrize("f, values, batched, expected", [c[1:] for c in STACKS], ids=[c[0] for c in STACKS])
def test_batch_of_primals_is_scipys_stacked_call(f, values, batched, expected, fallbacks):
    onp.testing.assert_allclose(vmap_flat(f, values, batched, 4), expected(*values), rtol=1e-10, atol=1e-12)
    assert fallbacks == set()
