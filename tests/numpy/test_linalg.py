"""numpy.linalg: derivatives of every function (spec table, both modes, order 2), stacked
matrices, complex inputs, batched Jacobians without fallbacks, the batching rules on
batched primal arguments, degenerate eigenvalues / singular values, singular matrices,
agreement with HIPS autograd on complex inputs, and NumPy's values and result types.

Decompositions are checked through functions that do not depend on the choices NumPy
leaves free (the sign of a real eigenvector, the phase of a complex singular vector),
except where LAPACK fixes them (see the module docstring of wengert/numpy/linalg.py).
"""
import numpy as onp
import pytest

import wengert
import wengert.numpy as np
from tests.numpy.specs import check, spec
from tests.numpy.test_batching import fallbacks, rowwise_jacobian  # noqa: F401  (fallbacks: a fixture)
from wengert import MissingRuleError, grad, hessian, jacfwd, jacrev, jvp, vjp
from wengert.numpy import linalg as wlinalg

R = onp.random.default_rng(11)
la = np.linalg


def rn(*shape):
    return R.standard_normal(shape)


def cn(*shape):
    return R.standard_normal(shape) + 1j * R.standard_normal(shape)


def wellcond(*shape, cplx=False):
    """A random square (stack) shifted away from singularity."""
    return (cn(*shape) if cplx else rn(*shape)) + 3 * onp.eye(shape[-1])


def spd(*shape, cplx=False):
    """Hermitian positive definite (stack)."""
    b = cn(*shape) if cplx else rn(*shape)
    return b @ onp.conj(onp.swapaxes(b, -1, -2)) + shape[-1] * onp.eye(shape[-1])


Q4 = onp.linalg.qr(rn(4, 4))[0]
Q4b = onp.linalg.qr(rn(4, 4))[0]


# -- functions of decompositions that are invariant to NumPy's free choices ------------------

def eigh_vecs_sq(a, UPLO="L"):
    v = la.eigh(a, UPLO)[1]
    return np.real(v * np.conj(v))


def eigh_recon(a):
    w, v = la.eigh(a)
    return (v * w[..., None, :]) @ np.conj(np.swapaxes(v, -1, -2))


def eig_abs_vecs(a):
    return np.abs(la.eig(a)[1])


def eig_recon(a):
    w, v = la.eig(a)
    return (v * w[..., None, :]) @ la.inv(v)


def svd_recon(a, full_matrices=False):
    u, s, vh = la.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]


def svd_polar(a):
    u, s, vh = la.svd(a, full_matrices=False)
    return u @ vh


def svd_abs_u(a):
    return np.abs(la.svd(a, full_matrices=False)[0])


def svd_abs_vh(a):
    return np.abs(la.svd(a, full_matrices=False)[2])


def svd_complement_projector(a):
    """The projector onto the complement columns of the full U (tall) or rows of Vh (wide)."""
    u, s, vh = la.svd(a, full_matrices=True)
    m, n = a.shape[-2:]
    if m > n:
        c = u[..., :, n:]
        return c @ np.conj(np.swapaxes(c, -1, -2))
    c = vh[..., m:, :]
    return np.conj(np.swapaxes(c, -1, -2)) @ c


def svd_hermitian(a):
    u, s, vh = la.svd(a, hermitian=True)
    return (u * s[..., None, :]) @ vh


def qr_complete_projector(a):
    q = la.qr(a, "complete")[0]
    c = q[..., :, a.shape[-1]:]
    return c @ np.conj(np.swapaxes(c, -1, -2))


def first(f, i=0):
    def g(*args, **kwargs):
        return f(*args, **kwargs)[i]
    g.__name__ = f"{f.__name__}[{i}]"
    return g


SPECS = [
    # inv, solve
    spec("inv", la.inv, wellcond(3, 3)),
    spec("inv-stack", la.inv, wellcond(2, 3, 3)),
    spec("inv-complex", la.inv, wellcond(3, 3, cplx=True)),
    spec("solve-matrix", la.solve, wellcond(3, 3), rn(3, 2)),
    spec("solve-vector", la.solve, wellcond(3, 3), rn(3)),
    spec("solve-stack-vector", la.solve, wellcond(2, 3, 3), rn(3)),
    spec("solve-broadcast-b", la.solve, wellcond(3, 3), rn(2, 3, 2)),
    spec("solve-broadcast-a", la.solve, wellcond(2, 1, 3, 3), rn(4, 3, 1)),
    spec("solve-complex", la.solve, wellcond(3, 3, cplx=True), cn(3, 2)),
    spec("tensorsolve", la.tensorsolve, wellcond(6, 6).reshape(2, 3, 6), rn(2, 3)),
    spec("tensorinv", la.tensorinv, wellcond(6, 6).reshape(6, 2, 3), ind=1),
    # det, slogdet
    spec("det", la.det, rn(3, 3)),
    spec("det-stack", la.det, rn(2, 2, 3, 3)),
    spec("det-complex", la.det, cn(3, 3)),
    spec("det-1x1", la.det, rn(1, 1)),
    spec("slogdet-logabsdet", first(la.slogdet, 1), rn(2, 3, 3)),
    spec("slogdet-logabsdet-complex", first(la.slogdet, 1), cn(3, 3)),
    spec("slogdet-sign-complex", first(la.slogdet, 0), cn(2, 3, 3)),
    # cholesky (reads one triangle)
    spec("cholesky", la.cholesky, spd(3, 3)),
    spec("cholesky-stack", la.cholesky, spd(2, 3, 3)),
    spec("cholesky-upper", lambda a: la.cholesky(a, upper=True), spd(3, 3)),
    spec("cholesky-complex", la.cholesky, spd(3, 3, cplx=True)),
    spec("cholesky-complex-upper", lambda a: la.cholesky(a, upper=True), spd(2, 3, 3, cplx=True)),
    # eigh / eigvalsh (real eigenvectors are unique up to sign; complex ones: LAPACK's phase)
    spec("eigvalsh", la.eigvalsh, rn(4, 4)),
    spec("eigvalsh-upper-stack", lambda a: la.eigvalsh(a, "U"), rn(2, 3, 3)),
    spec("eigvalsh-complex", la.eigvalsh, cn(3, 3)),
    spec("eigh-values", first(la.eigh), rn(3, 3)),
    spec("eigh-vectors", first(la.eigh, 1), rn(4, 4)),
    spec("eigh-vectors-upper-stack", lambda a: la.eigh(a, "U")[1], rn(2, 3, 3)),
    spec("eigh-vectors-complex", first(la.eigh, 1), cn(3, 3)),
    spec("eigh-vectors-complex-upper", lambda a: la.eigh(a, "u")[1], cn(3, 3)),
    spec("eigh-vectors-squared-complex", eigh_vecs_sq, cn(2, 3, 3)),
    spec("eigh-reconstruct-complex", eigh_recon, cn(3, 3)),
    # eig / eigvals: complex results
    spec("eigvals", la.eigvals, rn(4, 4)),
    spec("eigvals-stack", la.eigvals, rn(2, 3, 3)),
    spec("eigvals-complex", la.eigvals, cn(3, 3)),
    spec("eig-values", first(la.eig), rn(3, 3)),
    spec("eig-abs-vectors", eig_abs_vecs, rn(4, 4)),
    spec("eig-vectors-real-spectrum", first(la.eig, 1), spd(3, 3) + 0.3 * rn(3, 3)),
    spec("eig-vectors-complex", first(la.eig, 1), cn(3, 3)),
    spec("eig-vectors-complex-stack", first(la.eig, 1), cn(2, 3, 3)),
    spec("eig-reconstruct", eig_recon, rn(3, 3)),
    # svd
    spec("svd-values", lambda a: la.svd(a, compute_uv=False), rn(4, 3)),
    spec("svd-values-stack-complex", lambda a: la.svd(a, compute_uv=False), cn(2, 3, 4)),
    spec("svdvals", la.svdvals, rn(3, 5)),
    spec("svd-u-tall", lambda a: la.svd(a, full_matrices=False)[0], rn(4, 3)),
    spec("svd-u-wide", lambda a: la.svd(a)[0], rn(3, 4)),
    spec("svd-vh-tall", lambda a: la.svd(a)[2], rn(4, 3)),
    spec("svd-vh-wide", lambda a: la.svd(a, full_matrices=False)[2], rn(2, 3, 5)),
    spec("svd-reconstruct-complex-tall", svd_recon, cn(4, 3)),
    spec("svd-reconstruct-complex-wide", svd_recon, cn(2, 3, 4)),
    spec("svd-reconstruct-full", lambda a: svd_recon(a, True), rn(5, 3)),
    spec("svd-polar-complex", svd_polar, cn(3, 3)),
    spec("svd-abs-u-complex", svd_abs_u, cn(4, 3)),
    spec("svd-abs-vh-complex-wide", svd_abs_vh, cn(3, 5)),
    spec("svd-full-complement-tall", svd_complement_projector, rn(5, 2)),
    spec("svd-full-complement-wide-complex", svd_complement_projector, cn(2, 4)),
    spec("svd-hermitian", svd_hermitian, rn(3, 3)),
    spec("svd-hermitian-complex", svd_hermitian, cn(2, 3, 3)),
    spec("svd-hermitian-values", lambda a: la.svd(a, compute_uv=False, hermitian=True), rn(2, 3, 3)),
    # qr (R's diagonal real, as LAPACK returns it: Q and R themselves are smooth)
    spec("qr-q", first(la.qr), rn(4, 3)),
    spec("qr-r", first(la.qr, 1), rn(4, 3)),
    spec("qr-q-wide", first(la.qr), rn(3, 5)),
    spec("qr-r-wide", first(la.qr, 1), rn(2, 3, 5)),
    spec("qr-q-complex", first(la.qr), cn(4, 3)),
    spec("qr-r-complex-wide", first(la.qr, 1), cn(2, 4)),
    spec("qr-mode-r", lambda a: la.qr(a, "r"), rn(2, 4, 3)),
    spec("qr-complete-r", lambda a: la.qr(a, "complete")[1], rn(5, 3)),
    spec("qr-complete-complement", qr_complete_projector, rn(5, 3)),
    spec("qr-complete-complement-complex", qr_complete_projector, cn(4, 2)),
    # pinv, lstsq
    spec("pinv-tall", la.pinv, rn(4, 3)),
    spec("pinv-wide-stack", la.pinv, rn(2, 3, 4)),
    spec("pinv-complex", la.pinv, cn(3, 4)),
    spec("pinv-hermitian", lambda a: la.pinv(a, hermitian=True), rn(3, 3)),
    spec("pinv-hermitian-complex", lambda a: la.pinv(a, hermitian=True), cn(3, 3)),
    spec("pinv-rtol", lambda a: la.pinv(a, rtol=1e-3), rn(2, 4, 3)),
    spec("lstsq-tall", lambda a, b: la.lstsq(a, b)[0], rn(5, 3), rn(5, 2)),
    spec("lstsq-wide-vector", lambda a, b: la.lstsq(a, b)[0], rn(3, 5), rn(3)),
    spec("lstsq-square", lambda a, b: la.lstsq(a, b)[0], wellcond(3, 3), rn(3)),
    spec("lstsq-complex", lambda a, b: la.lstsq(a, b)[0], cn(5, 3), cn(5, 2)),
    spec("lstsq-complex-wide", lambda a, b: la.lstsq(a, b)[0], cn(2, 4), cn(2, 3)),
    spec("lstsq-residuals", lambda a, b: la.lstsq(a, b)[1], rn(5, 3), rn(5, 2)),
    spec("lstsq-singular-values", lambda a, b: la.lstsq(a, b)[3], rn(5, 3), rn(5)),
    # compositions
    spec("matrix_power-5", lambda a: la.matrix_power(a, 5), rn(3, 3) / 2),
    spec("matrix_power-3-stack", lambda a: la.matrix_power(a, 3), rn(2, 3, 3)),
    spec("matrix_power-minus-2", lambda a: la.matrix_power(a, -2), wellcond(3, 3)),
    spec("multi_dot-4", lambda a, b, c, d: la.multi_dot([a, b, c, d]), rn(3), rn(3, 4), rn(4, 2), rn(2, 5)),
    spec("multi_dot-3", lambda a, b, c: la.multi_dot([a, b, c]), rn(2, 6), rn(6, 2), rn(2)),
    spec("cond", la.cond, rn(3, 3)),
    spec("cond-minus-2", lambda a: la.cond(a, -2), rn(2, 3, 3)),
    spec("cond-fro", lambda a: la.cond(a, "fro"), rn(3, 3)),
    spec("cond-1", lambda a: la.cond(a, 1), rn(3, 3)),
    spec("matrix_norm-nuc", lambda a: la.matrix_norm(a, ord="nuc"), rn(2, 3, 4)),
    spec("vector_norm-axes", lambda a: la.vector_norm(a, axis=(0, 2), ord=3, keepdims=True), rn(2, 3, 2)),
    spec("vecdot-complex", lambda a, b: la.vecdot(a, b, axis=0), cn(3, 2), cn(3, 1)),
    spec("trace-diagonal-outer-cross", lambda a, b: la.trace(la.outer(a, b)) + la.diagonal(la.outer(b, a), offset=1)
         + la.cross(a, b)[:2] + la.matmul(la.matrix_transpose(la.outer(a, a)), b)[1:] + la.tensordot(a, b, axes=1),
         rn(3), rn(3)),
]

NORM_SPECS = [
    spec(f"norm-{name}", lambda x, o=o, ax=ax, kd=kd: la.norm(x, o, ax, kd), x)
    for name, x, o, ax, kd in [
        ("vector-default", rn(4), None, None, False),
        ("vector-inf", rn(4), onp.inf, None, False),
        ("vector-minus-inf", rn(4), -onp.inf, None, False),
        ("vector-1", rn(4), 1, None, True),
        ("vector-minus-1", rn(4), -1, None, False),
        ("vector-3", rn(4), 3, None, False),
        ("vector-0.5-axis", rn(3, 4), 0.5, 1, False),
        ("vector-minus-2-axis", rn(3, 4), -2, 0, True),
        ("vector-0", rn(4), 0, None, False),
        ("matrix-fro", rn(3, 4), "fro", None, False),
        ("matrix-nuc", rn(3, 4), "nuc", None, True),
        ("matrix-2", rn(3, 4), 2, None, False),
        ("matrix-minus-2", rn(4, 3), -2, None, False),
        ("matrix-1", rn(3, 4), 1, None, False),
        ("matrix-minus-1", rn(3, 4), -1, None, False),
        ("matrix-inf", rn(3, 4), onp.inf, None, False),
        ("matrix-minus-inf", rn(3, 4), -onp.inf, None, False),
        ("matrix-axes-2-0", rn(3, 2, 4), "nuc", (2, 0), True),
        ("matrix-axes-2-neg", rn(2, 3, 4), 2, (-1, 0), False),
        ("matrix-1-axes", rn(2, 3, 4), 1, (2, 1), False),
        ("matrix-inf-axes", rn(2, 3, 4), onp.inf, (0, 2), True),
        ("nd-default", rn(2, 3, 2), None, None, False),
        ("complex-fro", cn(3, 3), None, None, False),
        ("complex-nuc", cn(3, 3), "nuc", None, False),
        ("complex-vector-3", cn(4), 3, None, False),
    ]
]


@pytest.mark.parametrize("fun, args, kwargs", SPECS + NORM_SPECS)
def test_derivatives_match_finite_differences(fun, args, kwargs):
    check(fun, args, kwargs)


# -- batched Jacobians: jacfwd == jacrev == row by row, no slow fallbacks ----------------------

def _real_out(f):
    def g(*args, **kwargs):
        out = f(*args, **kwargs)
        if onp.iscomplexobj(wengert.core.getval(out)):
            out = np.stack([np.real(out), np.imag(out)])
        return out
    return g


def _jacobian_cases():
    cases = []
    for p in SPECS + NORM_SPECS[:8] + NORM_SPECS[9:22]:
        fun, args, kwargs = p.values
        for i, x in enumerate(args):
            if isinstance(x, onp.ndarray) and x.dtype.kind == "f":
                cases.append(pytest.param(fun, args, kwargs, i, id=f"{p.id}-arg{i}"))
    return cases


@pytest.mark.parametrize("fun, args, kwargs, i", _jacobian_cases())
def test_jacfwd_equals_jacrev(fun, args, kwargs, i, fallbacks):
    def f(x):
        full = list(args)
        full[i] = x
        return _real_out(fun)(*full, **kwargs)
    expected = rowwise_jacobian(f, args[i])
    onp.testing.assert_allclose(jacfwd(f)(args[i]), expected, rtol=1e-9, atol=1e-11)
    onp.testing.assert_allclose(jacrev(f)(args[i]), expected, rtol=1e-9, atol=1e-11)
    assert fallbacks == set()


@pytest.mark.parametrize("f, x", [
    pytest.param(lambda a: np.sum(np.sin(la.inv(a)) * la.det(a)), wellcond(3, 3), id="inv-det"),
    pytest.param(lambda a: np.sum(la.eigvalsh(a) ** 3) + np.sum(eigh_vecs_sq(a)[0]), rn(3, 3), id="eigh"),
    pytest.param(lambda a: np.sum(np.real(la.eigvals(a)) ** 2) + np.sum(eig_abs_vecs(a)), rn(3, 3), id="eig"),
    pytest.param(lambda a: np.sum(svd_recon(a) ** 3) + la.norm(a, "nuc") + np.sum(la.qr(a)[1] ** 2), rn(4, 3),
                 id="svd-qr"),
    pytest.param(lambda a: np.sum(la.pinv(a) ** 2) + np.sum(la.lstsq(a, a[:, :1])[0] ** 2), rn(4, 3), id="pinv-lstsq"),
    pytest.param(lambda a: np.sum(la.cholesky(a @ a.T + 3 * onp.eye(3)) ** 3) + la.slogdet(a @ a.T + onp.eye(3))[1],
                 rn(3, 3), id="cholesky-slogdet"),
])
def test_hessian_matches_reverse_over_reverse(f, x, fallbacks):
    H = hessian(f)(x)
    onp.testing.assert_allclose(H, jacrev(jacrev(f))(x), rtol=1e-8, atol=1e-9)
    n = x.size
    onp.testing.assert_allclose(H.reshape(n, n), H.reshape(n, n).T, rtol=1e-8, atol=1e-9)
    assert fallbacks == set()


# -- the batching rules on batched primal arguments --------------------------------------------

B = 3


def _stack(x):
    """B slightly different copies of x (square matrices shifted along the identity)."""
    shift = onp.eye(x.shape[-1]) if x.ndim >= 2 and x.shape[-1] == x.shape[-2] else 1.0
    return onp.stack([x * (1 + 0.1 * k) + 0.1 * k * shift for k in range(B)])


PRIMITIVE_CASES = [
    ("solve", wlinalg._solve_p, (wellcond(3, 3), rn(3, 2)), {}),
    ("solve-stacks", wlinalg._solve_p, (wellcond(2, 3, 3), rn(3, 1)), {}),
    ("lstsq", wlinalg._lstsq_p, (rn(4, 3), rn(4, 2), 1e-12), {}),
    ("inv", wlinalg._inv_p, (wellcond(3, 3),), {}),
    ("det", wlinalg._det_p, (rn(3, 3),), {}),
    ("logabsdet", wlinalg._logabsdet_p, (rn(3, 3),), {}),
    ("sign", wlinalg._sign_p, (cn(3, 3),), {}),
    ("cholesky", wlinalg._cholesky_p, (spd(3, 3),), dict(upper=True)),
    ("eigh_w", wlinalg._eigh_w_p, (rn(3, 3), "U"), {}),
    ("eigh_v", wlinalg._eigh_v_p, (rn(3, 3), "L"), {}),
    ("eig_w", wlinalg._eig_w_p, (cn(3, 3),), {}),
    ("eig_v", wlinalg._eig_v_p, (cn(3, 3),), {}),
    ("svals", wlinalg._svals_p, (rn(4, 3),), {}),
    ("svd_u", wlinalg._svd_u_p, (rn(4, 3),), {}),
    ("svd_vh", wlinalg._svd_vh_p, (rn(3, 4),), {}),
    ("svd_u_perp", wlinalg._svd_u_perp_p, (rn(4, 2),), {}),
    ("svd_vh_perp", wlinalg._svd_vh_perp_p, (rn(2, 4),), {}),
    ("qr_q", wlinalg._qr_q_p, (rn(4, 3),), {}),
    ("qr_r", wlinalg._qr_r_p, (rn(3, 4),), {}),
    ("qr_q_perp", wlinalg._qr_q_perp_p, (rn(4, 2),), {}),
    ("pinv", wlinalg._pinv_p, (rn(3, 4), 1e-15, False), {}),
    ("norm", wlinalg._norm_p, (rn(3, 4), 3, (1,), True), {}),
]


def _patterns(args):
    arrays = [i for i, a in enumerate(args) if isinstance(a, onp.ndarray)]
    out = [tuple(i in arrays for i in range(len(args)))]
    if len(arrays) > 1:
        out += [tuple(i == j for i in range(len(args))) for j in arrays]
    return out


@pytest.mark.parametrize("prim, args, kwargs, batched", [
    pytest.param(p, a, k, b, id=f"{name}-{''.join('b' if x else '-' for x in b)}")
    for name, p, a, k in PRIMITIVE_CASES for b in _patterns(a)])
def test_batching_rules_match_a_loop(prim, args, kwargs, batched, fallbacks):
    from wengert.transforms.batch import vmap_flat
    values = [_stack(a) if b else a for a, b in zip(args, batched)]
    out = vmap_flat(lambda *xs: prim(*xs, **kwargs), values, list(batched), B)
    expected = onp.stack([prim(*[v[k] if b else v for v, b in zip(values, batched)], **kwargs) for k in range(B)])
    onp.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    assert fallbacks == set()


TRANSPOSE_CASES = PRIMITIVE_CASES + [
    ("solve-complex", wlinalg._solve_p, (wellcond(3, 3, cplx=True), cn(3, 2)), {}),
    ("lstsq-complex-wide", wlinalg._lstsq_p, (cn(2, 4), cn(2, 2), 1e-12), {}),
    ("inv-complex", wlinalg._inv_p, (wellcond(3, 3, cplx=True),), {}),
    ("det-complex", wlinalg._det_p, (cn(3, 3),), {}),
    ("det-singular", wlinalg._det_p, (onp.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),), {}),
    ("logabsdet-complex", wlinalg._logabsdet_p, (cn(3, 3),), {}),
    ("cholesky-complex", wlinalg._cholesky_p, (spd(3, 3, cplx=True),), {}),
    ("eigh_w-complex", wlinalg._eigh_w_p, (cn(3, 3), "L"), {}),
    ("eigh_v-complex-upper", wlinalg._eigh_v_p, (cn(3, 3), "U"), {}),
    ("eigh_v-degenerate", wlinalg._eigh_v_p, (Q4 @ onp.diag([1.0, 1.0, 2.0, 3.0]) @ Q4.T, "L"), {}),
    ("eig_v-real", wlinalg._eig_v_p, (rn(4, 4),), {}),
    ("svd_u-complex-tall", wlinalg._svd_u_p, (cn(4, 3),), {}),
    ("svd_vh-complex-wide", wlinalg._svd_vh_p, (cn(3, 4),), {}),
    ("svd_u-rank-deficient", wlinalg._svd_u_p, (onp.outer(rn(4), rn(3)),), {}),
    ("svd_vh-tied", wlinalg._svd_vh_p, (Q4 @ onp.diag([2.0, 2.0, 1.0, 0.0]) @ Q4.T,), {}),
    ("svd_u_perp-complex", wlinalg._svd_u_perp_p, (cn(4, 2),), {}),
    ("svd_vh_perp-complex", wlinalg._svd_vh_perp_p, (cn(2, 4),), {}),
    ("qr_q-complex-wide", wlinalg._qr_q_p, (cn(3, 4),), {}),
    ("qr_r-complex-wide", wlinalg._qr_r_p, (cn(3, 4),), {}),
    ("qr_q_perp-complex", wlinalg._qr_q_perp_p, (cn(4, 2),), {}),
    ("pinv-complex-hermitian", wlinalg._pinv_p, (cn(3, 3), 1e-15, True), {}),
]


@pytest.mark.parametrize("prim, args, kwargs, argnum", [
    pytest.param(p, a, k, i, id=f"{name}-arg{i}") for name, p, a, k in TRANSPOSE_CASES
    for i, x in enumerate(a) if isinstance(x, onp.ndarray)])
def test_forward_rule_is_the_transposed_reverse_rule(prim, args, kwargs, argnum):
    from wengert.core import rules as core_rules
    ans = prim(*args, **kwargs)
    x = args[argnum]
    if prim.jvp_joint is not None:
        rule = lambda t, ans, *a, **k: prim.jvp_joint((argnum,), [t], ans, *a, **k)  # noqa: E731
    else:
        rule = prim.jvps[argnum]
    derived = core_rules.jvp_from_vjp(prim, argnum)
    t = cn(*x.shape) if onp.iscomplexobj(x) else rn(*x.shape)
    out = rule(t, ans, *args, **kwargs)
    out = onp.broadcast_to(out, onp.shape(ans)).astype(onp.result_type(ans), copy=False)
    onp.testing.assert_allclose(out, derived(t, ans, *args, **kwargs), rtol=1e-9, atol=1e-11)


def test_every_linalg_primitive_has_rules_of_both_modes_and_a_batching_rule():
    prims = [p for p in vars(wlinalg).values() if isinstance(p, wengert.core.Primitive)]
    assert len(prims) >= 22
    for p in prims:
        assert p.batch is not None, p.name
        assert (p.vjps and p.jvps) or (p.vjp_joint and p.jvp_joint), p.name
        assert set(p.vjps) == set(p.jvps), p.name


# -- NumPy's values, result types and errors -------------------------------------------------

VALUE_CASES = [
    ("inv", lambda m, a: m.linalg.inv(a), wellcond(2, 3, 3)),
    ("solve", lambda m, a: m.linalg.solve(a, onp.arange(3.0)), wellcond(2, 3, 3)),
    ("det", lambda m, a: m.linalg.det(a), rn(2, 3, 3)),
    ("slogdet", lambda m, a: m.linalg.slogdet(a), cn(3, 3)),
    ("cholesky", lambda m, a: m.linalg.cholesky(a, upper=True), spd(3, 3)),
    ("eigh", lambda m, a: m.linalg.eigh(a, "U"), cn(3, 3)),
    ("eigvalsh", lambda m, a: m.linalg.eigvalsh(a), rn(3, 3)),
    ("eig", lambda m, a: m.linalg.eig(a), rn(4, 4)),
    ("eigvals", lambda m, a: m.linalg.eigvals(a), rn(4, 4)),
    ("eig-real-spectrum", lambda m, a: m.linalg.eig(a), spd(3, 3) + 0.3 * rn(3, 3)),
    ("svd", lambda m, a: m.linalg.svd(a), cn(2, 3, 5)),
    ("svd-hermitian", lambda m, a: m.linalg.svd(a, hermitian=True), rn(3, 3)),
    ("qr", lambda m, a: m.linalg.qr(a, "complete"), rn(5, 3)),
    ("pinv", lambda m, a: m.linalg.pinv(a, rtol=None), rn(3, 4)),
    ("lstsq", lambda m, a: m.linalg.lstsq(a, onp.arange(5.0)), rn(5, 3)),
    ("lstsq-underdetermined", lambda m, a: m.linalg.lstsq(a, onp.ones((3, 2))), rn(3, 5)),
    ("matrix_power", lambda m, a: m.linalg.matrix_power(a, 6), rn(3, 3) / 2),
    ("matrix_power-0", lambda m, a: m.linalg.matrix_power(a, 0), rn(2, 3, 3)),
    ("multi_dot", lambda m, a: m.linalg.multi_dot([a, a.T, a, onp.ones(3)]), rn(3, 3)),
    ("cond", lambda m, a: m.linalg.cond(a, "nuc"), rn(3, 3)),
    ("matrix_rank", lambda m, a: m.linalg.matrix_rank(a), onp.outer(rn(4), rn(3))),
]


def _flat(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("f, x", [pytest.param(f, x, id=name) for name, f, x in VALUE_CASES])
def test_traced_calls_return_numpy_values_and_types(f, x):
    expected = f(onp, x)
    seen = {}

    def traced(a):
        seen["out"] = out = f(np, a)
        return np.sum(np.real(_flat(out)[0]))
    grad(traced)(x)
    out = seen["out"]
    if isinstance(expected, tuple):
        assert type(out) is type(expected)
    for o, e in zip(_flat(out), _flat(expected)):
        o = wengert.core.getval(o)
        assert onp.shape(o) == onp.shape(e) and onp.result_type(o) == onp.result_type(e)
        onp.testing.assert_allclose(o, e, rtol=1e-10, atol=1e-12)


def test_untraced_calls_are_numpy_itself():
    a = wellcond(3, 3)
    assert la.svd(a)[0].tobytes() == onp.linalg.svd(a)[0].tobytes()
    assert la.matrix_rank(a) == 3 and la.cond(a) == onp.linalg.cond(a)


def test_integer_results_and_non_differentiable_modes():
    x = onp.outer(rn(4), rn(3)) + onp.outer(rn(4), rn(3))             # rank 2
    seen = {}

    def f(a):
        seen["rank"] = la.matrix_rank(a)
        x, seen["res"], seen["lstsq_rank"], s = la.lstsq(a, a[:, 0])
        return np.sum(x) + np.sum(s)
    grad(f)(x)
    assert seen["rank"] == 2 and seen["lstsq_rank"] == 2 and seen["res"].shape == (0,)
    with pytest.raises(MissingRuleError, match="raw"):
        grad(lambda a: np.sum(la.qr(a, "raw")[0]))(rn(3, 3))
    with pytest.raises(ValueError, match="UPLO"):
        grad(lambda a: np.sum(la.eigh(a, "X")[0]))(rn(3, 3))
    with pytest.raises(onp.linalg.LinAlgError):
        grad(lambda a: la.det(a))(rn(2, 3))
    with pytest.raises(onp.linalg.LinAlgError):
        grad(lambda a: np.sum(la.lstsq(a, onp.ones(3))[0]))(rn(4, 2))


# -- degenerate eigenvalues and singular values -------------------------------------------------

DEGENERATE = Q4 @ onp.diag([-2.0, 1.0, 1.0, 3.0]) @ Q4.T      # eigenvalue 1 twice (columns 1, 2)
TIED_SVALS = Q4 @ onp.diag([2.0, 2.0, 1.0, 0.5]) @ Q4b.T


@pytest.mark.parametrize("f", [
    pytest.param(lambda a: np.sum(la.eigvalsh(a) ** 3), id="sum-w3"),
    pytest.param(lambda a: np.prod(la.eigh(a)[0]), id="prod-w"),
    pytest.param(lambda a: (lambda v: v[:, 1:3] @ v[:, 1:3].T)(la.eigh(a)[1]), id="projector-degenerate-space"),
    pytest.param(lambda a: (lambda v: v[:, 3:] @ v[:, 3:].T)(la.eigh(a)[1]), id="projector-simple-vector"),
    pytest.param(lambda a: np.sum(np.real(la.eigvals(a)) ** 2), id="eig-sum-w2"),
])
def test_degenerate_eigenvalues_first_derivatives(f):
    """At a repeated eigenvalue the first derivatives of symmetric functions of the
    eigenvalues and of eigenspace projectors are exact (F := 0 inside the tied group)."""
    check(f, (DEGENERATE,), order=1)


def test_degenerate_eigenvalue_rules_are_finite_and_split_the_trace():
    t = rn(4, 4)
    t = t + t.T
    _, dw = jvp(la.eigvalsh, (DEGENERATE,), (t,))
    v = onp.linalg.eigh(DEGENERATE)[1]
    onp.testing.assert_allclose(dw[1] + dw[2], onp.trace(v[:, 1:3].T @ t @ v[:, 1:3]), rtol=1e-10)
    for f in (lambda a: np.sum(np.abs(la.eigh(a)[1])), lambda a: np.sum(np.abs(la.eig(a)[1])),
              lambda a: np.sum(la.svd(a)[0] ** 3)):
        for g in (grad(f)(DEGENERATE), hessian(f)(DEGENERATE)):
            assert onp.isfinite(g).all()


@pytest.mark.parametrize("f, order", [
    pytest.param(lambda a: la.norm(a, "nuc"), 2, id="nuclear-norm"),
    pytest.param(lambda a: np.sum(la.svd(a, compute_uv=False) ** 3), 1, id="sum-s3"),
    pytest.param(svd_polar, 1, id="polar-factor"),
])
def test_tied_singular_values(f, order):
    check(f, (TIED_SVALS,), order=order)


# -- singular matrices: det's adjugate -----------------------------------------------------------

def _cofactors(a):
    n = a.shape[0]
    return onp.array([[(-1) ** (i + j) * onp.linalg.det(onp.delete(onp.delete(a, i, 0), j, 1))
                       for j in range(n)] for i in range(n)])


def _det_hessian(a):
    """The exact Hessian of det: det is affine in each entry, so a 4-point stencil is exact."""
    n = a.shape[0]
    h = onp.zeros((n, n, n, n))
    for i, j, k, l in onp.ndindex(n, n, n, n):
        if i != k and j != l:
            e1, e2 = onp.zeros((n, n)), onp.zeros((n, n))
            e1[i, j], e2[k, l] = 1.0, 1.0
            d = lambda s1, s2: onp.linalg.det(a + s1 * e1 + s2 * e2)
            h[i, j, k, l] = (d(1, 1) - d(1, -1) - d(-1, 1) + d(-1, -1)) / 4
    return h


def test_det_at_singular_matrices_is_the_adjugate():
    rank2 = onp.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])      # det == 0 exactly
    assert onp.linalg.det(rank2) == 0.0
    onp.testing.assert_allclose(grad(la.det)(rank2), _cofactors(rank2), atol=1e-13)
    t = rn(3, 3)
    onp.testing.assert_allclose(jvp(la.det, (rank2,), (t,))[1], onp.sum(_cofactors(rank2) * t), atol=1e-12)
    onp.testing.assert_allclose(hessian(la.det)(rank2), _det_hessian(rank2), atol=1e-12)
    stack = onp.stack([rank2, wellcond(3, 3)])
    onp.testing.assert_allclose(grad(lambda a: np.sum(la.det(a)))(stack)[1],
                                _cofactors(stack[1]), rtol=1e-10)
    rank1 = onp.outer([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])                           # adjugate 0
    onp.testing.assert_allclose(grad(la.det)(rank1), onp.zeros((3, 3)), atol=1e-14)
    onp.testing.assert_array_equal(grad(la.det)(onp.zeros((2, 2))), onp.zeros((2, 2)))


@pytest.mark.parametrize("smallest", [1e-3, 1e-8, 1e-12])
def test_det_second_derivatives_stay_accurate_near_singular_matrices(smallest):
    a = Q4 @ onp.diag([3.0, 2.0, 1.0, smallest]) @ Q4b.T
    onp.testing.assert_allclose(hessian(la.det)(a), _det_hessian(a), atol=1e-10)


# -- one triangle read, complex conventions -------------------------------------------------

@pytest.mark.parametrize("f", [la.cholesky, la.eigvalsh, lambda a: la.pinv(a, hermitian=True),
                               lambda a: la.svd(a, compute_uv=False, hermitian=True)],
                         ids=["cholesky", "eigvalsh", "pinv", "svd"])
def test_triangle_read_gets_the_whole_cotangent(f):
    a = spd(3, 3)
    g = grad(lambda x: np.sum(np.sin(f(x))))(a)
    assert onp.all(onp.triu(g, 1) == 0) and onp.any(onp.tril(g, -1) != 0)
    gu = grad(lambda x: np.sum(np.sin(la.eigvalsh(x, "U"))))(a)
    assert onp.all(onp.tril(gu, -1) == 0)


AUTOGRAD_CASES = [
    ("inv", "inv", (wellcond(3, 3, cplx=True),)),
    ("solve", "solve", (wellcond(3, 3, cplx=True), cn(3, 2))),
    ("det", "det", (cn(3, 3),)),
    ("logabsdet", lambda m: lambda a: m.linalg.slogdet(a)[1], (cn(3, 3),)),
    ("eigvalsh", lambda m: lambda a: m.linalg.eigh(a)[0], (spd(3, 3, cplx=True),)),
    ("eigh-abs-vectors", lambda m: lambda a: m.abs(m.linalg.eigh(a)[1]), (spd(3, 3, cplx=True),)),
    ("eigvals", lambda m: lambda a: m.linalg.eig(a)[0], (cn(3, 3),)),
    ("eigvals-real-input", lambda m: lambda a: m.linalg.eig(a)[0], (rn(3, 3),)),
    ("eig-abs-vectors", lambda m: lambda a: m.abs(m.linalg.eig(a)[1]), (cn(3, 3),)),
    ("svd-values", lambda m: lambda a: m.linalg.svd(a, compute_uv=False), (cn(3, 4),)),
    ("svd-reconstruct", lambda m: lambda a: (lambda u, s, vh: (u * s[None, :]) @ vh)(
        *m.linalg.svd(a, full_matrices=False)), (cn(4, 3),)),
    ("pinv-complex-square", "pinv", (cn(3, 3),)),     # (autograd's rule misses conjugations when rectangular)
    ("pinv-real-wide", "pinv", (rn(3, 4),)),
    ("norm", "norm", (cn(3, 4),)),
]


@pytest.mark.parametrize("f, args", [pytest.param(f, a, id=n) for n, f, a in AUTOGRAD_CASES])
def test_complex_cotangents_follow_autograd(f, args):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    ours = getattr(np.linalg, f) if isinstance(f, str) else f(np)
    theirs = getattr(anp.linalg, f) if isinstance(f, str) else f(anp)
    out, pull = vjp(ours, *args)
    g = R.standard_normal(onp.shape(out)) + (1j * R.standard_normal(onp.shape(out)) if onp.iscomplexobj(out) else 0)
    for k, c in enumerate(pull(g)):
        onp.testing.assert_allclose(c, autograd.make_vjp(theirs, argnum=k)(*args)[0](g), rtol=1e-9, atol=1e-12)
