"""``wengert.numpy.linalg``: NumPy's linalg namespace, wrapped.

Differentiable, to any order and in both modes, on stacks of matrices ``(..., m, n)``
wherever NumPy accepts them: ``inv``, ``solve``, ``det``, ``slogdet``, ``cholesky``,
``eigh``, ``eigvalsh``, ``eig``, ``eigvals``, ``svd`` (every option), ``svdvals``, ``qr``
(modes 'reduced', 'complete', 'r'), ``norm`` (every ord/axis), ``matrix_norm``,
``vector_norm``, ``pinv``, ``matrix_power``, ``lstsq``, ``multi_dot``, ``cond``, and the
array-API names ``matmul``, ``matrix_transpose``, ``tensordot``, ``vecdot``, ``outer``,
``diagonal``, ``trace``, ``cross``, ``tensorinv``, ``tensorsolve``. ``matrix_rank`` is an
integer: traced values are read as constants.

Every decomposition or solver is a primitive (one per output) whose forward and
reverse rules are written with wengert functions, so that they are recorded by an
outer trace, and each has a batching rule (NumPy's linalg functions are generalized
ufuncs: a leading batch axis is one more stack axis). The rest are compositions.

Complex values follow HIPS autograd's convention: the reverse rule is the transpose,
not the conjugate transpose, of the forward rule under the pairing
``Re(sum(cotangent * tangent))``, so a holomorphic function (``inv``, ``solve``, ``det``,
``eigvals``, ``matrix_power``) gets ``g * f'(z)`` without conjugation; the others
(``cholesky``, ``eigh``, ``svd``, ``qr``, ``pinv``, ``lstsq``, eigenvector normalization)
get the transpose of their real-linear forward rule.

Numerics:
- ``solve``: the reverse rule is one solve with the transposed matrix
  (``b_bar = solve(A^T, g)``, ``A_bar = -b_bar x^T``), the forward rule one solve for both
  arguments (``dx = solve(A, db - dA x)``); ``lstsq`` likewise needs only least-squares
  solves. ``inv`` uses its own result (``dX = -X dA X``).
- ``det``: ``d det = det * trace(solve(A, dA))``, and the cotangent ``g det A^-T`` is one
  solve with a multiple of the identity as right-hand side. Where ``det == 0`` exactly
  the derivative is the adjugate, which is finite (nonzero at rank n-1, zero below), and
  is computed from the SVD: ``adj(A) = det(U) det(Vh) Vh^H diag(prod_{j!=i} s_j) U^H``.
  The adjugate is also used for ill-conditioned matrices whose smallest singular value is
  simple, where it is the more accurate (``_use_adjugate``): the second derivatives of
  ``det * A^-1`` lose about eps * cond^2 to cancellation. Second derivatives through the
  SVD are exact where the singular values are distinct, except at a numerically singular
  complex matrix, where they miss a term (first derivatives are exact).
- ``slogdet``: the sign of a real matrix is piecewise constant (no derivative); the sign
  of a complex one and ``logabsdet`` have ``trace(solve(A, dA))`` rules. At a singular
  matrix ``logabsdet`` is -inf with no finite derivative, and the rules' solve raises
  ``LinAlgError``.
- ``cholesky``, ``eigh``, ``eigvalsh`` and ``svd``/``pinv`` with ``hermitian=True`` read one
  triangle of their input (and the real part of its diagonal), as LAPACK does. Their
  derivatives are those of that function: the cotangent lives on that triangle and the
  other one gets 0 (HIPS autograd's ``eigh`` does the same; its ``cholesky`` returns the
  symmetrized cotangent instead). For the gradient with respect to a symmetric matrix,
  symmetrize: ``(G + G^H) / 2``.
- Ties. ``eigh``/``eig``/``svd`` are differentiable where the eigenvalues (singular values)
  are distinct. Eigenvalues (singular values) within ``64 n eps max|w|`` of each other
  count as tied, and singular values below it as zero: the terms ``1 / (w_j - w_i)``
  (``1 / (s_j - s_i)``, ``1 / s``) are then 0. At ties, the first derivatives of
  symmetric functions of the eigenvalues (``sum(w**k)``, ``prod(w)``, the nuclear norm) and of the
  projectors onto eigenspaces (or singular subspaces, or the polar factor ``U Vh``) are
  exact and finite; individual eigenvalues and vectors of a degenerate eigenspace have
  no derivative, and matrix functions ``V diag(f(w)) V^H`` or second derivatives are not
  exact there (everything stays finite).
- Eigenvector gauges. Real eigenvectors are fixed up to a sign, which NumPy keeps
  continuous except for ``eig`` of a real matrix with complex eigenvalues (LAPACK's
  rotation that makes the largest component real can flip their sign); derivatives
  follow the continuous branch. Complex eigenvectors are fixed up to a phase: ``eig``
  follows LAPACK's normalization (unit norm, the largest component real and positive)
  and ``eigh`` LAPACK's (the first component real for UPLO='L', the last for 'U'), so
  their derivatives match NumPy's output. Complex singular vectors are differentiated in
  the gauge ``Im(u_i^H du_i) = -Im(v_i^H dv_i)``: only functions invariant under
  ``(u_i, v_i) -> e^{i phi} (u_i, v_i)`` (``U diag(s) Vh``, ``abs(U)``, ``U Vh``) have
  meaningful derivatives. The complement columns of ``svd(full_matrices=True)`` and
  ``qr(mode='complete')`` are differentiated in the gauge ``Q_perp^H dQ_perp = 0``: only
  functions of the subspace they span have meaningful derivatives.
- ``eig`` needs a diagonalizable matrix (the rules solve with the eigenvector matrix).
- ``qr`` needs the leading ``min(m, n)`` columns to have full rank; R's diagonal stays
  real (LAPACK's convention), so the derivatives of Q and R match NumPy's output.
- ``pinv``/``lstsq``: the derivative of the pseudo-inverse at constant rank, exact for
  matrices of full rank; singular values cut off by ``rcond`` are treated as exactly 0.
- ``cond``: a singular matrix gives NumPy's inf as a constant.

``norm`` kinks:
- the norm of a zero vector/matrix has the subgradient 0 (never NaN); for ``p``-norms
  a zero entry gets 0 as well;
- ``ord=inf``/``-inf`` (and matrix 1/-1/inf/-inf) go through ``max``/``min``: ties
  split the cotangent equally;
- matrix 2/-2/'nuc' use the singular values: tied singular values split the cotangent
  like ``max``; zero singular values get 0;
- ``ord=0`` counts nonzeros: piecewise constant, so its result is a constant.
"""
import operator as _operator

import numpy as _np
from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index

from ..core import Primitive as _Primitive, defjvp as _defjvp, defvjp as _defvjp, defvjp_argnums as _defvjp_argnums
from ..core.rules import defjvp_argnums as _defjvp_argnums
from ..core.tracer import Box as _Box, getval as _getval
from ..core.vspace import add as _add, dtype_of as _dtype_of, shape_of as _shape_of
from ..errors import MissingRuleError as _MissingRuleError
from ._box import handled as _handled
from ._helpers import reduced_shape as _reduced_shape
from ._wrap import contains_box as _contains_box, nondiff as _nondiff, wrap_namespace
from . import elementwise as _ew
from .indexing import diagonal as _diagonal, sort as _sort, take_along_axis as _take_along_axis
from .products import _mT, dot as _dot, matmul as _matmul, tensordot as _tensordot
from .reductions import _arr, _expand, _prod_others, amax as _amax, amin as _amin, sum as _sum
from .shape import (concatenate as _concatenate, reshape as _reshape, transpose as _transpose,
                    tril as _tril, triu as _triu)

_NoValue = _np._NoValue
_EighResult = type(_np.linalg.eigh(_np.eye(1)))
_EigResult = type(_np.linalg.eig(_np.eye(1)))
_SVDResult = type(_np.linalg.svd(_np.eye(1)))
_QRResult = type(_np.linalg.qr(_np.eye(1)))
_SlogdetResult = type(_np.linalg.slogdet(_np.eye(1)))


# -- helpers ---------------------------------------------------------------------------------

def _traced(*args):
    return _contains_box(args)


def _cplx(x):
    return _dtype_of(x).kind == "c"


def _conj(x):
    return _ew.conjugate(x) if _cplx(x) else x


def _re(x):
    return _ew.real(x) if _cplx(x) else x


def _mH(x):
    return _conj(_mT(x))


def _as_row(v):
    """(..., k) -> (..., 1, k): scales the columns of a (..., r, k) matrix."""
    shape = _shape_of(v)
    return _reshape(v, shape[:-1] + (1, shape[-1]))


def _as_col(v):
    """(..., k) -> (..., k, 1): scales the rows of a (..., k, r) matrix."""
    return _reshape(v, _shape_of(v) + (1,))


def _as_mat(v):
    """(...) -> (..., 1, 1): scales whole matrices."""
    return _reshape(v, _shape_of(v) + (1, 1))


def _real_dtype(x):
    d = _dtype_of(x)
    return _np.finfo(d).dtype if d.kind in "fc" else _np.dtype(_np.float64)


def _eye(n, x):
    return _np.eye(n, dtype=_real_dtype(x))


def _diag_part(x):
    """The diagonals of a stack of square matrices, (..., n, n) -> (..., n)."""
    return _diagonal(x, 0, -2, -1)


def _diag_embed(v):
    """(..., n) -> the stack of diagonal matrices (..., n, n)."""
    return _ew.multiply(_as_row(v), _eye(_shape_of(v)[-1], v))


def _trace2(x):
    return _sum(_diag_part(x), axis=-1)


# Ties. Eigenvalues (singular values) closer than _TIE * n * eps * max|w| count as equal,
# and singular values under it as zero: LAPACK computes an exactly repeated eigenvalue
# only to about n * eps * |A|, and eigenvectors to eps |A| / gap, so below this gap the
# vectors are arbitrary within the near-degenerate subspace and 1 / gap is rounding noise.
_TIE = 64


def _tie_tol(w):
    """The tie threshold of each matrix of a stack, shaped (..., 1, 1) (w: (..., n))."""
    ww = _np.abs(_np.asarray(_getval(w)))
    eps = _np.finfo(ww.dtype if ww.dtype.kind == "f" else _np.float64).eps
    return (_TIE * ww.shape[-1] * eps) * ww.max(axis=-1, keepdims=True, initial=0)[..., None]


def _inv_above(den, tol):
    """1 / den, with 0 where |den| <= tol (a constant threshold, broadcast)."""
    small = _np.abs(_np.asarray(_getval(den))) <= tol
    return _ew.where(small, 0.0, _ew.divide(1.0, _ew.where(small, 1.0, den)))


def _safe_inv(s):
    """1 / s for singular values s, with 0 for those that are numerically zero."""
    return _inv_above(s, _tie_tol(s)[..., 0])


def _gap_inverse(w):
    """F[..., i, j] = 1 / (w_j - w_i), 0 on the diagonal and at (numerical) ties."""
    return _inv_above(_ew.subtract(_as_row(w), _as_col(w)), _tie_tol(w))


def _herm(t, lower):
    """The Hermitian matrix LAPACK reads from one triangle of ``t`` (and the real part of
    its diagonal): the input ``cholesky``/``eigh`` actually see."""
    strict = _tril(t, -1) if lower else _triu(t, 1)
    return _add(_add(strict, _mH(strict)), _diag_embed(_re(_diag_part(t))))


def _herm_T(g, lower):
    """The transpose of ``_herm``: the cotangent of the triangle read."""
    both = _add(g, _mH(g))
    strict = _tril(both, -1) if lower else _triu(both, 1)
    return _add(strict, _diag_embed(_re(_diag_part(g))))


def _phase_mask(v, rows):
    """For a complex eigenvector matrix ``v``: a constant mask (..., n, n) marking, in
    column i, the component ``rows[..., i]`` at which LAPACK made eigenvector i real (None
    if no column qualifies: that component must be real and nonzero)."""
    vv = _np.asarray(_getval(v))
    if vv.dtype.kind != "c":
        return None
    mask = _np.arange(vv.shape[-2])[:, None] == rows[..., None, :]
    comp = _np.sum(_np.where(mask, vv, 0), axis=-2)
    ok = (comp.imag == 0) & (comp.real != 0)
    if not ok.any():
        return None
    return mask & ok[..., None, :]


def _phase_fix(dv, v, mask):
    """``dv + i v diag(phi)``: the eigenvector tangents with the phases chosen to keep the
    masked component of each eigenvector real."""
    if mask is None:
        return dv
    vk = _as_row(_re(_sum(_ew.multiply(v, mask), axis=-2)))
    vk = _ew.where(mask.any(axis=-2, keepdims=True), vk, 1.0)
    phi = _ew.divide(_ew.imag(_sum(_ew.multiply(dv, mask), axis=-2, keepdims=True)), vk)
    return _ew.subtract(dv, _ew.multiply(1j, _ew.multiply(v, phi)))


def _phase_fix_T(g, v, mask):
    """The transpose of ``_phase_fix`` (with respect to ``dv``)."""
    if mask is None:
        return g
    vk = _as_row(_re(_sum(_ew.multiply(v, mask), axis=-2)))
    vk = _ew.where(mask.any(axis=-2, keepdims=True), vk, 1.0)
    phibar = _ew.negative(_ew.imag(_sum(_ew.multiply(v, g), axis=-2, keepdims=True)))
    return _ew.add(g, _ew.multiply(mask, _ew.multiply(1j, _ew.divide(phibar, vk))))


def _stack_rule(prim):
    """NumPy's linalg functions work on stacks of matrices: the batch axis is one more
    stack axis of the single array argument."""
    def rule(size, batched, x, *args, **kwargs):
        return prim(x, *args, **kwargs)
    return rule


def _gufunc_rule(prim, narrays):
    """For a generalized ufunc of ``narrays`` stacked array arguments: the batch axis goes
    in front of every batched argument's own stack axes, aligned with the others."""
    def rule(size, batched, *args, **kwargs):
        from .batching import _lift
        arrays = args[:narrays]
        nd = max(_np.ndim(_getval(a)) - b for a, b in zip(arrays, batched))
        arrays = [_lift(a, nd, size) if b else a for a, b in zip(arrays, batched)]
        return prim(*arrays, *args[narrays:], **kwargs)
    return rule


def _square(a):
    shape = _shape_of(a)
    if len(shape) < 2:
        raise _np.linalg.LinAlgError(
            f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if shape[-1] != shape[-2]:
        raise _np.linalg.LinAlgError("Last 2 dimensions of the array must be square")


def _stacked2d(a):
    if len(_shape_of(a)) < 2:
        raise _np.linalg.LinAlgError(
            f"{len(_shape_of(a))}-dimensional array given. Array must be at least two-dimensional")


# -- vector p-norms and the Frobenius norm: one primitive, NumPy's own values ---------


def _norm_impl(x, ord=None, axis=None, keepdims=False):
    return _np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


_norm_p = _Primitive(_norm_impl, "norm")


def _norm_axes(axis, nd):
    if axis is None:
        return tuple(range(nd))
    return tuple(_normalize_axis_index(a, nd) for a in (axis if isinstance(axis, tuple) else (axis,)))


def _norm_weight(ans, x, ord, axes):
    """The derivative of the norm by each element of ``x``, conjugated for complex ``x``:
    the cotangent is ``g * weight`` and the tangent ``Re(sum(t * weight))``."""
    n = _reshape(ans, _reduced_shape(_shape_of(x), axes, False))
    xc = _ew.conjugate(x) if _dtype_of(x).kind == "c" else x
    if ord is None or (isinstance(ord, str) and ord in ("fro", "f")) or ord == 2:
        return _ew._safe_div(xc, n)                                 # x / |x|, 0 at x == 0
    # d/dx_i (sum |x|^p)^(1/p) = sign(x_i) (|x_i| / norm)^(p - 1); 0 at x_i == 0 or norm == 0
    ax = _ew.absolute(x)
    nv = _getval(n)
    zero = (_getval(ax) == 0) | (nv == 0)
    ratio = _ew.divide(ax, _ew.where(nv == 0, 1.0, n))
    scale = _ew.power(_ew.where(zero, 1.0, ratio), ord - 1)
    return _ew.where(zero, 0.0, _ew.multiply(_ew._safe_div(xc, ax), scale))


def _norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    shape = _shape_of(x)
    axes = _norm_axes(axis, len(shape))
    return _ew.multiply(_expand(g, shape, axes, keepdims), _norm_weight(ans, x, ord, axes))


def _norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    axes = _norm_axes(axis, len(_shape_of(x)))
    out = _sum(_ew.multiply(t, _norm_weight(ans, x, ord, axes)), axis=axes, keepdims=keepdims)
    return _ew.real(out) if _dtype_of(out).kind == "c" else out


_defvjp(_norm_p, _norm_vjp)
_defjvp(_norm_p, _norm_jvp)


# -- the SVD: one primitive per output, rules written with each other ------------------
# Reduced SVD A = U diag(s) Vh of (..., m, n), k = min(m, n), V = Vh^H. With
# P = U^H dA V (k x k), its Hermitian and antihermitian parts P+ = (P + P^H) / 2 and
# P- = (P - P^H) / 2, F+[i, j] = 1 / (s_j - s_i) and F-[i, j] = 1 / (s_i + s_j):
#   ds = Re diag(P),
#   dU = U (F+ o P+ + F- o P-) + (I - U U^H) dA V S^-1                           (m > n),
#   dVh = -(F+ o P+ - F- o P-) Vh + S^-1 U^H dA (I - Vh^H Vh)                    (n > m).
# (The usual F o (P S + S P^H) with F = 1 / (s_j^2 - s_i^2), split so that only F+
# is singular at tied singular values.) F+ is 0 on the diagonal and at ties, F- where
# s_i + s_j == 0, and 1/s := 0 at zero singular values. F-'s diagonal 1 / (2 s_i) splits
# the free phase of a complex pair (u_i, v_i) evenly between U and V: the gauge is
# Im(u_i^H du_i) = -Im(v_i^H dv_i). The reverse rules are the transposes of these maps
# under Re(sum(g * t)).

def _svals(x):
    return _np.linalg.svd(x, compute_uv=False)


def _svd_u(x):
    return _np.linalg.svd(x, full_matrices=False)[0]


def _svd_vh(x):
    return _np.linalg.svd(x, full_matrices=False)[2]


def _svd_u_perp(x):
    """The last m - n columns of the full U of a tall matrix (an orthonormal basis of the
    complement of range(A))."""
    return _np.linalg.svd(x, full_matrices=True)[0][..., :, _np.shape(x)[-1]:]


def _svd_vh_perp(x):
    """The last n - m rows of the full Vh of a wide matrix (a basis of null(A))."""
    return _np.linalg.svd(x, full_matrices=True)[2][..., _np.shape(x)[-2]:, :]


_svals_p = _Primitive(_svals, "svd_singular_values")
_svd_u_p = _Primitive(_svd_u, "svd_u")
_svd_vh_p = _Primitive(_svd_vh, "svd_vh")
_svd_u_perp_p = _Primitive(_svd_u_perp, "svd_u_complement")
_svd_vh_perp_p = _Primitive(_svd_vh_perp, "svd_vh_complement")


def _svd_gaps(s):
    """(F+, F-): 1 / (s_j - s_i) (0 on the diagonal and at ties) and 1 / (s_i + s_j)."""
    row, col, tol = _as_row(s), _as_col(s), _tie_tol(s)
    return _inv_above(_ew.subtract(row, col), tol), _inv_above(_add(row, col), tol)


def _svd_omega(p, s, sign):
    """F+ o P+ + sign * F- o P-: U^H dU (sign 1) or V^H dV (sign -1)."""
    fp, fm = _svd_gaps(s)
    ph = _mH(p)
    herm = _ew.multiply(fp, _ew.multiply(0.5, _add(p, ph)))
    anti = _ew.multiply(fm, _ew.multiply(0.5, _ew.subtract(p, ph)))
    return _add(herm, anti) if sign > 0 else _ew.subtract(herm, anti)


def _svd_omega_T(d, s, sign):
    """The transpose of ``_svd_omega`` (the cotangent of P given that of Omega)."""
    fp, fm = _svd_gaps(s)
    m, n = _ew.multiply(fp, d), _ew.multiply(fm, d)
    herm = _ew.multiply(0.5, _add(m, _mH(m)))
    anti = _ew.multiply(0.5, _ew.subtract(n, _mH(n)))
    return _add(herm, anti) if sign > 0 else _ew.subtract(herm, anti)


def _svals_vjp(g, ans, x):
    # d s_i = Re(u_i^H dA v_i)  ->  A-cotangent U diag(g) Vh (conjugated for complex A)
    return _conj(_matmul(_ew.multiply(_svd_u_p(x), _as_row(g)), _svd_vh_p(x)))


def _svals_jvp(t, ans, x):
    u, vh = _conj(_svd_u_p(x)), _conj(_svd_vh_p(x))
    return _re(_sum(_ew.multiply(u, _matmul(t, _mT(vh))), axis=-2))     # Re diag(U^H dA V)


def _svd_u_jvp(t, ans, x):
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), ans, _svd_vh_p(x)
    tv = _matmul(t, _mH(vh))                                       # dA V
    p = _matmul(_mH(u), tv)                                        # P
    out = _matmul(u, _svd_omega(p, s, 1))
    if m > n:
        out = _add(out, _ew.multiply(_ew.subtract(tv, _matmul(u, p)), _as_row(_safe_inv(s))))
    return out


def _svd_u_vjp(g, ans, x):
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), ans, _svd_vh_p(x)
    pbar = _svd_omega_T(_matmul(_mT(u), g), s, 1)
    inner = _matmul(_conj(u), pbar)
    if m > n:
        h = _ew.multiply(g, _as_row(_safe_inv(s)))
        inner = _add(inner, _ew.subtract(h, _matmul(_conj(u), _matmul(_mT(u), h))))
    return _matmul(inner, _conj(vh))


def _svd_vh_jvp(t, ans, x):
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), _svd_u_p(x), ans
    ut = _matmul(_mH(u), t)                                        # U^H dA
    p = _matmul(ut, _mH(vh))
    out = _ew.negative(_matmul(_svd_omega(p, s, -1), vh))
    if n > m:
        out = _add(out, _ew.multiply(_as_col(_safe_inv(s)), _ew.subtract(ut, _matmul(p, vh))))
    return out


def _svd_vh_vjp(g, ans, x):
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), _svd_u_p(x), ans
    pbar = _svd_omega_T(_ew.negative(_matmul(g, _mT(vh))), s, -1)
    inner = _matmul(pbar, _conj(vh))
    if n > m:
        h = _ew.multiply(_as_col(_safe_inv(s)), g)
        inner = _add(inner, _ew.subtract(h, _matmul(_matmul(h, _mT(vh)), _conj(vh))))
    return _matmul(_conj(u), inner)


def _u_over_s(x):
    """U S^-1 Vh (the pseudo-inverse's conjugate transpose), used by the complement rules."""
    return _matmul(_ew.multiply(_svd_u_p(x), _as_row(_safe_inv(_svals_p(x)))), _svd_vh_p(x))


# dU_perp = -U S^-1 V^H dA^H U_perp and dVh_perp = -Vh_perp dA^H U S^-1 Vh: the complement
# moves only as far as orthogonality to U (Vh) requires (gauge U_perp^H dU_perp = 0).

def _svd_u_perp_jvp(t, ans, x):
    return _ew.negative(_matmul(_matmul(_u_over_s(x), _mH(t)), ans))


def _svd_u_perp_vjp(g, ans, x):
    return _ew.negative(_conj(_matmul(_matmul(ans, _mT(g)), _u_over_s(x))))


def _svd_vh_perp_jvp(t, ans, x):
    return _ew.negative(_matmul(_matmul(ans, _mH(t)), _u_over_s(x)))


def _svd_vh_perp_vjp(g, ans, x):
    return _ew.negative(_conj(_matmul(_matmul(_u_over_s(x), _mT(g)), ans)))


_defvjp(_svals_p, _svals_vjp)
_defvjp(_svd_u_p, _svd_u_vjp)
_defvjp(_svd_vh_p, _svd_vh_vjp)
_defvjp(_svd_u_perp_p, _svd_u_perp_vjp)
_defvjp(_svd_vh_perp_p, _svd_vh_perp_vjp)
_defjvp(_svals_p, _svals_jvp)
_defjvp(_svd_u_p, _svd_u_jvp)
_defjvp(_svd_vh_p, _svd_vh_jvp)
_defjvp(_svd_u_perp_p, _svd_u_perp_jvp)
_defjvp(_svd_vh_perp_p, _svd_vh_perp_jvp)


def _svd_norm(x, row, col, ord):
    nd = len(_shape_of(x))
    perm = tuple(i for i in range(nd) if i not in (row, col)) + (row, col)
    s = _svals_p(_transpose(x, perm))
    s = _ew.multiply(s, _getval(s) > 0)      # zero singular values get no cotangent
    if ord == 2:
        return _amax(s, axis=-1, initial=0)
    if ord == -2:
        return _amin(s, axis=-1)
    return _sum(s, axis=-1)


# -- norm --------------------------------------------------------------------------------

def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm``, differentiable (see the module docstring for kinks)."""
    if not isinstance(x, _Box) and not _contains_box(x):
        return _np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    x = _arr(x)
    nd = len(_shape_of(x))
    if axis is None:
        if ord is None or (isinstance(ord, str) and ord in ("f", "fro") and nd == 2) or \
                (not isinstance(ord, str) and ord == 2 and nd == 1):
            return _norm_p(x, ord, None, keepdims)
        axes = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axes = (int(axis),)
        except Exception as e:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from e
    else:
        axes = axis
    is_str = isinstance(ord, str)
    if len(axes) == 1:
        if is_str:
            raise ValueError(f"Invalid norm order '{ord}' for vectors")
        if ord is None or ord == 2:
            return _norm_p(x, ord, axes, keepdims)
        if ord == _np.inf:
            return _amax(_ew.absolute(x), axis=axes, keepdims=keepdims, initial=0)
        if ord == -_np.inf:
            return _amin(_ew.absolute(x), axis=axes, keepdims=keepdims)
        if ord == 0:       # counts nonzeros: piecewise constant
            return _np.linalg.norm(_getval(x), ord=0, axis=axes, keepdims=keepdims)
        if ord == 1:
            return _sum(_ew.absolute(x), axis=axes, keepdims=keepdims)
        return _norm_p(x, ord, axes, keepdims)
    if len(axes) == 2:
        row, col = _normalize_axis_index(axes[0], nd), _normalize_axis_index(axes[1], nd)
        if row == col:
            raise ValueError("Duplicate axes given.")
        if not is_str and ord in (2, -2):
            ret = _svd_norm(x, row, col, ord)
        elif not is_str and ord in (1, -1):
            if col > row:
                col -= 1
            red = _amax if ord == 1 else _amin
            ret = red(_sum(_ew.absolute(x), axis=row), axis=col, **({"initial": 0} if ord == 1 else {}))
        elif not is_str and ord in (_np.inf, -_np.inf):
            if row > col:
                row -= 1
            red = _amax if ord == _np.inf else _amin
            ret = red(_sum(_ew.absolute(x), axis=col), axis=row, **({"initial": 0} if ord > 0 else {}))
        elif ord is None or (is_str and ord in ("fro", "f")):
            ret = _norm_p(x, ord, axes, False)
        elif is_str and ord == "nuc":
            ret = _svd_norm(x, row, col, "nuc")
        else:
            raise ValueError("Invalid norm order for matrices.")
        if keepdims:
            ret_shape = list(_shape_of(x))
            ret_shape[axes[0]] = 1
            ret_shape[axes[1]] = 1
            ret = _reshape(ret, tuple(ret_shape))
        return ret
    raise ValueError("Improper number of dimensions to norm.")


# -- inv and solve -----------------------------------------------------------------------------

def _inv(a):
    return _np.linalg.inv(a)


_inv_p = _Primitive(_inv, "inv")
_defjvp(_inv_p, lambda t, ans, a: _ew.negative(_matmul(_matmul(ans, t), ans)))
_defvjp(_inv_p, lambda g, ans, a: _ew.negative(_matmul(_matmul(_mT(ans), g), _mT(ans))))


def _solve(a, b):
    """``solve`` with ``b`` a (stack of) matrix (..., m, k): the vector case is a reshape."""
    return _np.linalg.solve(a, b)


_solve_p = _Primitive(_solve, "solve")


def _solve_vjp(argnums, g, ans, a, b):
    gb = _solve_p(_mT(a), g)                            # one solve with the transpose
    return [_ew.negative(_matmul(gb, _mT(ans))) if i == 0 else gb for i in argnums]


def _solve_jvp(argnums, tangents, ans, a, b):
    rhs = None                                          # d x = A^-1 (db - dA x): one solve
    for i, t in zip(argnums, tangents):
        term = t if i == 1 else _ew.negative(_matmul(t, ans))
        rhs = term if rhs is None else _add(rhs, term)
    return _solve_p(a, rhs)


_defvjp_argnums(_solve_p, _solve_vjp)
_defjvp_argnums(_solve_p, _solve_jvp)


# -- det and slogdet ---------------------------------------------------------------------------

def _det(a):
    return _np.linalg.det(a)


def _logabsdet(a):
    return _np.linalg.slogdet(a)[1]


def _slogdet_sign(a):
    return _np.linalg.slogdet(a)[0]


_det_p = _Primitive(_det, "det")
_logabsdet_p = _Primitive(_logabsdet, "slogdet_logabsdet")
_sign_p = _Primitive(_slogdet_sign, "slogdet_sign")      # complex matrices (a unit complex number)


def _adjugate(a):
    """adj(A) = det(U) det(Vh) Vh^H diag(prod_{j != i} s_j) U^H: defined (and finite) for
    singular matrices too."""
    u, s, vh = _svd_u_p(a), _svals_p(a), _svd_vh_p(a)
    c = _ew.multiply(_det_p(u), _det_p(vh))
    pi = _ew.multiply(_prod_others(s, -1), _as_col(c) if len(_shape_of(c)) else c)
    return _matmul(_ew.multiply(_mH(vh), _as_row(pi)), _mH(u))


def _use_adjugate(a, ans):
    """Whether det's rules go through the SVD's adjugate rather than a solve: where
    det == 0 (no solve exists), and where the adjugate's rules are the more accurate.
    The solve's second derivatives lose about eps * cond^2 to cancellation between
    ``d det * A^-1`` and ``det * d A^-1``; the SVD's are exact up to eps * s_max / gap at
    near-ties of singular values, and at ties lose a term proportional to s_min / s_max.
    Well-conditioned matrices (cond < 1e3) always use the solve. (For a complex matrix
    with a numerically zero singular value s_n, the adjugate's second derivatives miss
    the term i Im(u_n^H dA v_n) prod_{k != i, n} s_k, which the phase of det(U) det(Vh)
    carries as 0 * inf; the solve is worse there.)"""
    if _np.any(_np.asarray(_getval(ans)) == 0):
        return True
    s = _np.linalg.svd(_np.asarray(_getval(a)), compute_uv=False)
    if s.shape[-1] < 2:
        return False
    eps = _np.finfo(s.dtype).eps
    with _np.errstate(divide="ignore", invalid="ignore"):
        solve_err = _np.max((s[..., 0] / s[..., -1]) ** 2)
        if not solve_err > 1e6:
            return False
        gaps = s[..., :-1] - s[..., 1:]
        tie = gaps <= _tie_tol(s)[..., 0]
        if _np.any(tie[..., -1]):                   # the smallest singular value is repeated
            return False
        svd_err = _np.where(tie, (s[..., -1:] / s[..., :1]) / eps, s[..., :1] / _np.where(tie, 1.0, gaps))
    return bool(_np.max(svd_err) < solve_err)


def _scaled_inverse_T(a, scale):
    """``scale * A^-T`` for a stack of scalars ``scale``: one solve."""
    n = _shape_of(a)[-1]
    return _solve_p(_mT(a), _ew.multiply(_as_mat(scale), _eye(n, a)))


def _det_jvp(t, ans, a):
    if _use_adjugate(a, ans):
        return _sum(_ew.multiply(_mT(_adjugate(a)), t), axis=(-2, -1))
    return _ew.multiply(ans, _trace2(_solve_p(a, t)))


def _det_vjp(g, ans, a):
    if _use_adjugate(a, ans):
        return _ew.multiply(_as_mat(g), _mT(_adjugate(a)))
    return _scaled_inverse_T(a, _ew.multiply(g, ans))


_defjvp(_det_p, _det_jvp)
_defvjp(_det_p, _det_vjp)
_defjvp(_logabsdet_p, lambda t, ans, a: _re(_trace2(_solve_p(a, t))))
_defvjp(_logabsdet_p, lambda g, ans, a: _scaled_inverse_T(a, g))
# sign = det / |det|: d sign = sign * i Im(trace(A^-1 dA)); its transpose is i Im(g sign) A^-T.
_defjvp(_sign_p, lambda t, ans, a: _ew.multiply(_ew.multiply(ans, 1j), _ew.imag(_trace2(_solve_p(a, t)))))
_defvjp(_sign_p, lambda g, ans, a: _scaled_inverse_T(a, _ew.multiply(1j, _ew.imag(_ew.multiply(g, ans)))))


# -- cholesky ----------------------------------------------------------------------------------
# A = L L^H reads the lower triangle of A (the upper one for upper=True, which returns
# L^H). With X = L^-1 dA L^-H: dL = L Phi(X), Phi = the strictly lower part plus half the
# (real) diagonal. The triangular solves are LU solves (NumPy has no triangular solve
# for stacks); they are exact for triangular matrices up to rounding.

def _cholesky(a, upper=False):
    return _np.linalg.cholesky(a, upper=upper) if upper else _np.linalg.cholesky(a)


_cholesky_p = _Primitive(_cholesky, "cholesky")


def _phi(x):
    return _add(_tril(x, -1), _diag_embed(_ew.multiply(0.5, _re(_diag_part(x)))))


def _chol_lower_jvp(t, low):
    y = _herm(t, True)
    z = _solve_p(low, y)                                            # L^-1 dA
    x = _mH(_solve_p(low, _mH(z)))                                  # L^-1 dA L^-H
    return _matmul(low, _phi(x))


def _chol_lower_vjp(g, low):
    xbar = _phi(_matmul(_mT(low), g))
    w = _solve_p(_mT(low), xbar)                                    # L^-T Xbar
    ybar = _mT(_solve_p(_mH(low), _mT(w)))                          # L^-T Xbar conj(L)^-1
    return _herm_T(ybar, True)


def _cholesky_jvp(t, ans, a, upper=False):
    if upper:                                  # upper(a) = lower(a^H)^H
        return _mH(_chol_lower_jvp(_mH(t), _mH(ans)))
    return _chol_lower_jvp(t, ans)


def _cholesky_vjp(g, ans, a, upper=False):
    if upper:
        return _mH(_chol_lower_vjp(_mH(g), _mH(ans)))
    return _chol_lower_vjp(g, ans)


_defjvp(_cholesky_p, _cholesky_jvp)
_defvjp(_cholesky_p, _cholesky_vjp)


# -- eigh / eigvalsh ---------------------------------------------------------------------------
# A = V diag(w) V^H, read from one triangle (Y = the Hermitian matrix read from the
# tangent). dw = Re diag(V^H Y V), dV = V (F o (V^H Y V)) with F[i, j] = 1 / (w_j - w_i)
# (0 at ties), then for complex V the phases LAPACK fixes (see _phase_mask).

def _eigh_w(a, UPLO="L"):
    return _np.linalg.eigh(a, UPLO)[0]


def _eigh_v(a, UPLO="L"):
    return _np.linalg.eigh(a, UPLO)[1]


_eigh_w_p = _Primitive(_eigh_w, "eigh_eigenvalues")
_eigh_v_p = _Primitive(_eigh_v, "eigh_eigenvectors")


def _eigh_mask(v, UPLO):
    """LAPACK's ?heevd returns each eigenvector with its first (UPLO='L') or last ('U')
    component real: the tridiagonal reduction leaves that row of Q alone."""
    shape = _np.shape(_getval(v))
    row = 0 if UPLO == "L" else shape[-2] - 1
    return _phase_mask(v, _np.full(shape[:-2] + shape[-1:], row))


def _eigh_w_jvp(t, ans, a, UPLO="L"):
    v = _eigh_v_p(a, UPLO)
    y = _herm(t, UPLO == "L")
    return _re(_sum(_ew.multiply(_conj(v), _matmul(y, v)), axis=-2))


def _eigh_w_vjp(g, ans, a, UPLO="L"):
    v = _eigh_v_p(a, UPLO)
    return _herm_T(_matmul(_ew.multiply(_conj(v), _as_row(g)), _mT(v)), UPLO == "L")


def _eigh_v_jvp(t, ans, a, UPLO="L"):
    v, w = ans, _eigh_w_p(a, UPLO)
    p = _matmul(_mH(v), _matmul(_herm(t, UPLO == "L"), v))
    return _phase_fix(_matmul(v, _ew.multiply(_gap_inverse(w), p)), v, _eigh_mask(v, UPLO))


def _eigh_v_vjp(g, ans, a, UPLO="L"):
    v, w = ans, _eigh_w_p(a, UPLO)
    g = _phase_fix_T(g, v, _eigh_mask(v, UPLO))
    pbar = _ew.multiply(_gap_inverse(w), _matmul(_mT(v), g))
    return _herm_T(_matmul(_matmul(_conj(v), pbar), _mT(v)), UPLO == "L")


_defjvp(_eigh_w_p, _eigh_w_jvp)
_defvjp(_eigh_w_p, _eigh_w_vjp)
_defjvp(_eigh_v_p, _eigh_v_jvp)
_defvjp(_eigh_v_p, _eigh_v_vjp)


# -- eig / eigvals -----------------------------------------------------------------------------
# A = V diag(w) V^-1. With C = V^-1 dA V (one solve): dw = diag(C); the eigenvectors move
# by V (F o C) (F[i, j] = 1 / (w_j - w_i), 0 at ties), minus the part that would change
# their norm (NumPy's are unit vectors), with the phases LAPACK fixes (largest component
# real). The reverse rules are the transposes: one solve with V^T.

def _eig_w(a):
    return _np.linalg.eig(a)[0]


def _eig_v(a):
    return _np.linalg.eig(a)[1]


_eig_w_p = _Primitive(_eig_w, "eig_eigenvalues")
_eig_v_p = _Primitive(_eig_v, "eig_eigenvectors")


def _eig_mask(v):
    """?geev scales each eigenvector to unit norm with its largest component real."""
    vv = _np.asarray(_getval(v))
    if vv.dtype.kind != "c":
        return None
    return _phase_mask(v, _np.argmax(_np.abs(vv), axis=-2))


def _eig_w_jvp(t, ans, a):
    v = _eig_v_p(a)
    return _diag_part(_solve_p(v, _matmul(t, v)))


def _eig_w_vjp(g, ans, a):
    v = _eig_v_p(a)
    return _solve_p(_mT(v), _ew.multiply(_as_col(g), _mT(v)))


def _eig_v_jvp(t, ans, a):
    v, w = ans, _eig_w_p(a)
    c = _solve_p(v, _matmul(t, v))
    dv = _matmul(v, _ew.multiply(_gap_inverse(w), c))
    norm = _re(_sum(_ew.multiply(_conj(v), dv), axis=-2))          # Re(v_i^H dv_i)
    dv = _ew.subtract(dv, _ew.multiply(v, _as_row(norm)))
    return _phase_fix(dv, v, _eig_mask(v))


def _eig_v_vjp(g, ans, a):
    v, w = ans, _eig_w_p(a)
    g = _phase_fix_T(g, v, _eig_mask(v))
    nbar = _ew.negative(_re(_sum(_ew.multiply(v, g), axis=-2)))
    g = _add(g, _ew.multiply(_conj(v), _as_row(nbar)))
    cbar = _ew.multiply(_gap_inverse(w), _matmul(_mT(v), g))
    return _solve_p(_mT(v), _matmul(cbar, _mT(v)))


_defjvp(_eig_w_p, _eig_w_jvp)
_defvjp(_eig_w_p, _eig_w_vjp)
_defjvp(_eig_v_p, _eig_v_jvp)
_defvjp(_eig_v_p, _eig_v_vjp)


# -- qr ----------------------------------------------------------------------------------------
# A = Q R with k = min(m, n), A = [A1 A2] (A1: the first k columns), R = [R1 R2]. With
# X = dA1 R1^-1 and C = Q^H X, the antihermitian Q^H dQ is Omega = tril(C, -1) - its
# conjugate transpose + i Im diag(C) (the last keeps R's diagonal real, as LAPACK does):
#   dQ = Q (Omega - C) + X,  dR1 = (C - Omega) R1,  dR2 = dQ^H A2 + Q^H dA2,
# and the complement of mode='complete' moves by dQ_perp = -Q X^H Q_perp.

def _qr_q(a):
    return _np.linalg.qr(a)[0]


def _qr_r(a):
    return _np.linalg.qr(a)[1]


def _qr_q_perp(a):
    return _np.linalg.qr(a, "complete")[0][..., :, _np.shape(a)[-1]:]


_qr_q_p = _Primitive(_qr_q, "qr_q")
_qr_r_p = _Primitive(_qr_r, "qr_r")
_qr_q_perp_p = _Primitive(_qr_q_perp, "qr_q_complement")


def _qr_split(x, k, n):
    return (x, None) if n == k else (x[..., :, :k], x[..., :, k:])


def _qr_tangent_parts(t, a):
    """(Q, R1, X, Omega - C) for the tangent t."""
    m, n = _shape_of(a)[-2:]
    k = min(m, n)
    q, r1 = _qr_q_p(a), _qr_split(_qr_r_p(a), k, n)[0]
    x = _mT(_solve_p(_mT(r1), _mT(_qr_split(t, k, n)[0])))          # dA1 R1^-1
    c = _matmul(_mH(q), x)
    low = _tril(c, -1)
    om = _ew.subtract(low, _mH(low))
    if _cplx(c):
        om = _add(om, _diag_embed(_ew.multiply(1j, _ew.imag(_diag_part(c)))))
    return q, r1, x, _ew.subtract(om, c)


def _qr_cotangent(d, xbar, q, r1, k, n, t2bar=None):
    """The A-cotangent given the cotangent ``d`` of Omega - C and ``xbar`` of X (direct)."""
    cbar = _add(_ew.negative(d), _tril(_ew.subtract(d, _mH(d)), -1))
    if _cplx(d):
        cbar = _add(cbar, _diag_embed(_ew.multiply(1j, _ew.imag(_diag_part(d)))))
    xbar = _add(xbar, _matmul(_conj(q), cbar))
    t1bar = _mT(_solve_p(r1, _mT(xbar)))                              # Xbar R1^-T
    if n == k:
        return t1bar
    if t2bar is None:
        t2bar = _np.zeros(_shape_of(t1bar)[:-1] + (n - k,), _dtype_of(t1bar))
    return _concatenate([t1bar, t2bar], axis=-1)


def _qr_q_jvp(t, ans, a):
    q, r1, x, om_c = _qr_tangent_parts(t, a)
    return _add(_matmul(q, om_c), x)


def _qr_q_vjp(g, ans, a):
    m, n = _shape_of(a)[-2:]
    k = min(m, n)
    q, r1 = ans, _qr_split(_qr_r_p(a), k, n)[0]
    return _qr_cotangent(_matmul(_mT(q), g), g, q, r1, k, n)


def _qr_r_jvp(t, ans, a):
    m, n = _shape_of(a)[-2:]
    k = min(m, n)
    q, r1, x, om_c = _qr_tangent_parts(t, a)
    dr1 = _matmul(_ew.negative(om_c), r1)
    if n == k:
        return dr1
    a2, t2 = _qr_split(a, k, n)[1], _qr_split(t, k, n)[1]
    dq = _add(_matmul(q, om_c), x)
    dr2 = _add(_matmul(_mH(dq), a2), _matmul(_mH(q), t2))
    return _concatenate([dr1, dr2], axis=-1)


def _qr_r_vjp(g, ans, a):
    m, n = _shape_of(a)[-2:]
    k = min(m, n)
    q, r1 = _qr_q_p(a), _qr_split(ans, k, n)[0]
    g1, g2 = _qr_split(g, k, n)
    d = _ew.negative(_matmul(g1, _mT(r1)))
    if n == k:
        return _qr_cotangent(d, _np.zeros((), _dtype_of(d)), q, r1, k, n)
    qbar = _conj(_matmul(_qr_split(a, k, n)[1], _mT(g2)))           # from dR2 = dQ^H A2
    d = _add(d, _matmul(_mT(q), qbar))
    return _qr_cotangent(d, qbar, q, r1, k, n, _matmul(_conj(q), g2))


def _qr_q_perp_jvp(t, ans, a):
    q, r1, x, _ = _qr_tangent_parts(t, a)
    return _ew.negative(_matmul(_matmul(q, _mH(x)), ans))


def _qr_q_perp_vjp(g, ans, a):
    q, r1 = _qr_q_p(a), _qr_r_p(a)
    xbar = _ew.negative(_conj(_matmul(_matmul(ans, _mT(g)), q)))
    return _mT(_solve_p(r1, _mT(xbar)))


_defjvp(_qr_q_p, _qr_q_jvp)
_defvjp(_qr_q_p, _qr_q_vjp)
_defjvp(_qr_r_p, _qr_r_jvp)
_defvjp(_qr_r_p, _qr_r_vjp)
_defjvp(_qr_q_perp_p, _qr_q_perp_jvp)
_defvjp(_qr_q_perp_p, _qr_q_perp_vjp)


# -- pinv --------------------------------------------------------------------------------------
# At constant rank (P = A^+): dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P.
# hermitian=True reads the lower triangle, like eigh.

def _pinv(a, rcond, hermitian=False):
    return _np.linalg.pinv(a, rcond, hermitian)


_pinv_p = _Primitive(_pinv, "pinv")


def _pinv_jvp(t, ans, a, rcond, hermitian=False):
    if hermitian:
        a, t = _herm(a, True), _herm(t, True)
    m, n = _shape_of(a)[-2:]
    p, th = ans, _mH(t)
    out = _ew.negative(_matmul(_matmul(p, t), p))
    left = _ew.subtract(_eye(m, a), _matmul(a, p))                  # I - A P
    right = _ew.subtract(_eye(n, a), _matmul(p, a))                 # I - P A
    out = _add(out, _matmul(_matmul(p, _mH(p)), _matmul(th, left)))
    return _add(out, _matmul(right, _matmul(th, _matmul(_mH(p), p))))


def _pinv_vjp(g, ans, a, rcond, hermitian=False):
    a_eff = _herm(a, True) if hermitian else a
    m, n = _shape_of(a)[-2:]
    p, gt = ans, _mT(g)
    left = _ew.subtract(_eye(m, a), _matmul(a_eff, p))
    right = _ew.subtract(_eye(n, a), _matmul(p, a_eff))
    out = _ew.negative(_matmul(_matmul(_mT(p), g), _mT(p)))
    out = _add(out, _conj(_matmul(_matmul(left, gt), _matmul(p, _mH(p)))))
    out = _add(out, _conj(_matmul(_matmul(_mH(p), p), _matmul(gt, right))))
    return _herm_T(out, True) if hermitian else out


_defjvp(_pinv_p, _pinv_jvp)
_defvjp(_pinv_p, _pinv_vjp)


# -- lstsq -------------------------------------------------------------------------------------
# x = A^+ b for b (..., m, k); every rule is a few more least-squares solves, with
# (A^+)^T = (A^T)^+ and (A^+)^H = (A^H)^+. With r = b - A x:
#   dx = A^+ (db - dA x + (A^H)^+ dA^H r - A u) + u,  u = dA^H (A^H)^+ x,
#   b_bar = (A^T)^+ g,
#   a_bar = -y x^T + conj(r) z^T + w (conj(g) - A^H conj(y))^T
#           with y = (A^T)^+ g, z = A^+ conj(y), w = (A^T)^+ conj(x).

def _lstsq_raise(err, flag):
    raise _np.linalg.LinAlgError("SVD did not converge in Linear Least Squares")


def _lstsq(a, b, rcond):
    """The least-squares solution of NumPy's lstsq, for stacks of matrices too (NumPy's
    gufunc behind ``lstsq`` broadcasts; the Python function accepts 2-d arrays only)."""
    a, b = _np.asarray(a), _np.asarray(b)
    if a.ndim == 2 and b.ndim == 2:
        return _np.linalg.lstsq(a, b, rcond)[0]
    rtype = _np.result_type(a.dtype, b.dtype, _np.float32)
    shape = _np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, n, k = a.shape[-2], a.shape[-1], b.shape[-1]
    if m == 0 or k == 0:
        return _np.zeros(shape + (n, k), rtype)
    try:
        from numpy.linalg import _umath_linalg
        sig = "DDd->Ddid" if rtype.kind == "c" else "ddd->ddid"
        with _np.errstate(call=_lstsq_raise, invalid="call", over="ignore", divide="ignore", under="ignore"):
            x = _umath_linalg.lstsq(a, b, rcond, signature=sig)[0]
        return x.astype(rtype, copy=False)
    except ImportError:                                          # pragma: no cover
        a = _np.broadcast_to(a, shape + (m, n))
        b = _np.broadcast_to(b, shape + (m, k))
        out = _np.empty(shape + (n, k), rtype)
        for i in _np.ndindex(*shape):
            out[i] = _np.linalg.lstsq(a[i], b[i], rcond)[0]
        return out


_lstsq_p = _Primitive(_lstsq, "lstsq")


def _lstsq_vjp(argnums, g, ans, a, b, rcond):
    y = _lstsq_p(_mT(a), g, rcond)                                  # (A^T)^+ g
    out = []
    for i in argnums:
        if i == 1:
            out.append(y)
            continue
        x = ans
        r = _ew.subtract(b, _matmul(a, x))
        cy = _conj(y)
        z = _lstsq_p(a, cy, rcond)
        w = _lstsq_p(_mT(a), _conj(x), rcond)
        abar = _ew.negative(_matmul(y, _mT(x)))
        abar = _add(abar, _matmul(_conj(r), _mT(z)))
        out.append(_add(abar, _matmul(w, _mT(_ew.subtract(_conj(g), _matmul(_mH(a), cy))))))
    return out


def _lstsq_jvp(argnums, tangents, ans, a, b, rcond):
    rhs = None
    u = None
    for i, t in zip(argnums, tangents):
        if i == 1:
            term = t
        else:
            x = ans
            r = _ew.subtract(b, _matmul(a, x))
            th = _mH(t)
            u = _matmul(th, _lstsq_p(_mH(a), x, rcond))
            term = _ew.subtract(_add(_ew.negative(_matmul(t, x)), _lstsq_p(_mH(a), _matmul(th, r), rcond)),
                                _matmul(a, u))
        rhs = term if rhs is None else _add(rhs, term)
    out = _lstsq_p(a, rhs, rcond)
    return out if u is None else _add(out, u)


_defvjp_argnums(_lstsq_p, _lstsq_vjp)
_defjvp_argnums(_lstsq_p, _lstsq_jvp)


# -- the public functions ------------------------------------------------------------------
# Each calls NumPy itself when no traced value reaches it (NumPy's exact results and
# errors), and otherwise validates like NumPy and applies the primitives.

def inv(a):
    """``numpy.linalg.inv``, differentiable: ``d inv(A) = -inv(A) dA inv(A)``."""
    if not _traced(a):
        return _np.linalg.inv(a)
    a = _arr(a)
    _square(a)
    return _inv_p(a)


def solve(a, b):
    """``numpy.linalg.solve`` (``b`` is a vector only if it is 1-d, as in NumPy 2)."""
    if not _traced(a, b):
        return _np.linalg.solve(a, b)
    a, b = _arr(a), _arr(b)
    _square(a)
    if len(_shape_of(b)) == 1:
        x = _solve_p(a, _reshape(b, (-1, 1)))
        return _reshape(x, _shape_of(x)[:-1])
    return _solve_p(a, b)


def det(a):
    """``numpy.linalg.det``; finite derivative (the adjugate) at singular matrices."""
    if not _traced(a):
        return _np.linalg.det(a)
    a = _arr(a)
    _square(a)
    return _det_p(a)


def slogdet(a):
    """``numpy.linalg.slogdet``: (sign, logabsdet). A real sign is piecewise constant."""
    if not _traced(a):
        return _np.linalg.slogdet(a)
    a = _arr(a)
    _square(a)
    sign = _sign_p(a) if _cplx(a) else _np.linalg.slogdet(_getval(a))[0]
    return _SlogdetResult(sign, _logabsdet_p(a))


def cholesky(a, /, *, upper=False):
    """``numpy.linalg.cholesky``: reads the lower (upper) triangle of ``a``."""
    if not _traced(a):
        return _np.linalg.cholesky(a, upper=upper) if upper else _np.linalg.cholesky(a)
    a = _arr(a)
    _square(a)
    return _cholesky_p(a, upper=True) if upper else _cholesky_p(a)


def _uplo(UPLO):
    UPLO = UPLO.upper()
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return UPLO


def eigh(a, UPLO="L"):
    """``numpy.linalg.eigh``: (eigenvalues, eigenvectors) of the Hermitian matrix read
    from one triangle of ``a``."""
    if not _traced(a):
        return _np.linalg.eigh(a, UPLO)
    a, UPLO = _arr(a), _uplo(UPLO)
    _square(a)
    return _EighResult(_eigh_w_p(a, UPLO), _eigh_v_p(a, UPLO))


def eigvalsh(a, UPLO="L"):
    """``numpy.linalg.eigvalsh`` (traced: the eigenvalues ``eigh`` computes)."""
    if not _traced(a):
        return _np.linalg.eigvalsh(a, UPLO)
    a, UPLO = _arr(a), _uplo(UPLO)
    _square(a)
    return _eigh_w_p(a, UPLO)


def eig(a):
    """``numpy.linalg.eig``: complex results unless every eigenvalue is real (NumPy's rule)."""
    if not _traced(a):
        return _np.linalg.eig(a)
    a = _arr(a)
    _square(a)
    return _EigResult(_eig_w_p(a), _eig_v_p(a))


def eigvals(a):
    """``numpy.linalg.eigvals`` (traced: the eigenvalues ``eig`` computes, in its order)."""
    if not _traced(a):
        return _np.linalg.eigvals(a)
    a = _arr(a)
    _square(a)
    return _eig_w_p(a)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``numpy.linalg.svd``, every option. ``hermitian=True`` follows NumPy: singular
    values and vectors from ``eigh`` of the lower triangle."""
    if not _traced(a):
        return _np.linalg.svd(a, full_matrices, compute_uv, hermitian)
    a = _arr(a)
    if hermitian:
        if not compute_uv:
            return _sort(_ew.absolute(eigvalsh(a)), axis=-1)[..., ::-1]
        s, u = eigh(a)
        sv = _np.asarray(_getval(s))
        sgn = _np.copysign(1.0, sv)
        order = _np.argsort(_np.abs(sv), axis=-1)[..., ::-1]
        sgn = _np.take_along_axis(sgn, order, axis=-1)
        s = _take_along_axis(_ew.absolute(s), order, axis=-1)
        u = _take_along_axis(u, _np.broadcast_to(order[..., None, :], _np.shape(_getval(u))), axis=-1)
        return _SVDResult(u, s, _mH(_ew.multiply(u, sgn[..., None, :])))
    _stacked2d(a)
    if not compute_uv:
        return _svals_p(a)
    m, n = _shape_of(a)[-2:]
    u, s, vh = _svd_u_p(a), _svals_p(a), _svd_vh_p(a)
    if full_matrices and m > n:
        u = _concatenate([u, _svd_u_perp_p(a)], axis=-1)
    if full_matrices and n > m:
        vh = _concatenate([vh, _svd_vh_perp_p(a)], axis=-2)
    return _SVDResult(u, s, vh)


def svdvals(x, /):
    """``numpy.linalg.svdvals``."""
    if not _traced(x):
        return _np.linalg.svdvals(x)
    return svd(x, compute_uv=False)


def qr(a, mode="reduced"):
    """``numpy.linalg.qr`` for modes 'reduced', 'complete' and 'r' ('raw' is not
    differentiable: Householder reflectors)."""
    if not _traced(a):
        return _np.linalg.qr(a, mode)
    if mode in ("f", "full"):
        import warnings
        warnings.warn("The 'full' option is deprecated in favor of 'reduced'.\n"
                      "For backward compatibility let mode default.", DeprecationWarning, stacklevel=2)
        mode = "reduced"
    if mode in ("raw", "e", "economic"):
        raise _MissingRuleError(f"numpy.linalg.qr(mode={mode!r})",
                                hint="Use mode='reduced', 'complete' or 'r'.")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    a = _arr(a)
    _stacked2d(a)
    if mode == "r":
        return _qr_r_p(a)
    shape = _shape_of(a)
    m, n = shape[-2:]
    q, r = _qr_q_p(a), _qr_r_p(a)
    if mode == "complete" and m > n:
        q = _concatenate([q, _qr_q_perp_p(a)], axis=-1)
        r = _concatenate([r, _np.zeros(shape[:-2] + (m - n, n), _dtype_of(r))], axis=-2)
    return _QRResult(q, r)


def pinv(a, rcond=None, hermitian=False, *, rtol=_NoValue):
    """``numpy.linalg.pinv``; the derivative at constant rank (exact for full rank)."""
    if not _traced(a):
        return _np.linalg.pinv(a, rcond, hermitian, rtol=rtol)
    a = _arr(a)
    if rcond is None:
        if rtol is _NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(_shape_of(a)[-2:]) * _np.finfo(_dtype_of(a)).eps
        else:
            rcond = rtol
    elif rtol is not _NoValue:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    return _pinv_p(a, _getval(rcond), bool(hermitian))


def matrix_power(a, n):
    """``numpy.linalg.matrix_power``: NumPy's sequence of products (and ``inv`` for n < 0)."""
    if not _traced(a):
        return _np.linalg.matrix_power(a, n)
    a = _arr(a)
    _square(a)
    try:
        n = _operator.index(n)
    except TypeError as e:
        raise TypeError("exponent must be an integer") from e
    if n == 0:                                  # constant: the identities
        shape = _shape_of(a)
        return _np.broadcast_to(_np.eye(shape[-2], dtype=_dtype_of(a)), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a
    if n == 2:
        return _matmul(a, a)
    if n == 3:
        return _matmul(_matmul(a, a), a)
    z = result = None
    while n > 0:
        z = a if z is None else _matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else _matmul(result, z)
    return result


def lstsq(a, b, rcond=None):
    """``numpy.linalg.lstsq``: (x, residuals, rank, s), with x, residuals and s
    differentiable (x by the pseudo-inverse's derivative at constant rank)."""
    if not _traced(a, b):
        return _np.linalg.lstsq(a, b, rcond)
    a, b = _arr(a), _arr(b)
    is_1d = len(_shape_of(b)) == 1
    b2 = _reshape(b, (-1, 1)) if is_1d else b
    for x in (a, b2):
        if len(_shape_of(x)) != 2:
            raise _np.linalg.LinAlgError(
                f"{len(_shape_of(x))}-dimensional array given. Array must be two-dimensional")
    m, n = _shape_of(a)
    if m != _shape_of(b2)[0]:
        raise _np.linalg.LinAlgError("Incompatible dimensions")
    t = _np.result_type(_dtype_of(a), _dtype_of(b2), _np.float64)
    if rcond is None:
        rcond = _np.finfo(t).eps * max(n, m)
    x = _lstsq_p(a, b2, rcond)
    s = _svals_p(a)
    sv = _np.asarray(_getval(s))
    cut = (_np.finfo(t).eps if rcond < 0 else rcond) * sv.max(axis=-1, initial=0)
    rank = _np.count_nonzero(sv > _np.expand_dims(cut, -1), axis=-1)
    real_t = _np.finfo(t).dtype
    if _np.all(rank == n) and m > n:
        r = _ew.subtract(b2, _matmul(a, x))
        resids = _sum(_re(_ew.multiply(_conj(r), r)), axis=0)
    else:
        resids = _np.array([], real_t)
    if is_1d:
        x = _reshape(x, (n,))
    return x, resids, _np.int32(rank) if _np.ndim(rank) == 0 else rank, s


def _chain_order(shapes):
    """NumPy's matrix-chain order for ``multi_dot`` (the split point of each sub-chain)."""
    n = len(shapes)
    p = [s[0] for s in shapes] + [shapes[-1][1]]
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = _np.inf
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if q < cost[i][j]:
                    cost[i][j] = q
                    split[i][j] = k
    return split


def multi_dot(arrays, *, out=None):
    """``numpy.linalg.multi_dot``: the products in NumPy's cheapest order."""
    if not _contains_box(arrays):
        return _np.linalg.multi_dot(arrays, out=out)
    if out is not None:
        from ..errors import InPlaceUpdateError
        raise InPlaceUpdateError("multi_dot(..., out=...)")
    n = len(arrays)
    if n < 2:
        raise ValueError("Expecting at least two arrays.")
    if n == 2:
        return _dot(arrays[0], arrays[1])
    arrays = [_arr(x) for x in arrays]
    nd_first, nd_last = len(_shape_of(arrays[0])), len(_shape_of(arrays[-1]))
    if nd_first == 1:
        arrays[0] = _reshape(arrays[0], (1, -1))
    if nd_last == 1:
        arrays[-1] = _reshape(arrays[-1], (-1, 1))
    for x in arrays:
        if len(_shape_of(x)) != 2:
            raise _np.linalg.LinAlgError(
                f"{len(_shape_of(x))}-dimensional array given. Array must be two-dimensional")
    if n == 3:
        (a0, a1b0), (b1c0, c1) = _shape_of(arrays[0]), _shape_of(arrays[2])
        A, B, C = arrays
        result = _dot(_dot(A, B), C) if a0 * b1c0 * (a1b0 + c1) < a1b0 * c1 * (a0 + b1c0) else _dot(A, _dot(B, C))
    else:
        split = _chain_order([_shape_of(x) for x in arrays])

        def chain(i, j):
            if i == j:
                return arrays[i]
            return _dot(chain(i, split[i][j]), chain(split[i][j] + 1, j))
        result = chain(0, n - 1)
    if nd_first == 1 and nd_last == 1:
        return result[0, 0]
    if nd_first == 1 or nd_last == 1:
        return _reshape(result, (-1,))
    return result


def cond(x, p=None):
    """``numpy.linalg.cond``: a ratio of singular values (p None, 2, -2) or
    ``norm(x, p) * norm(inv(x), p)``. Singular matrices: inf, as in NumPy, without a
    derivative (the value is returned as a constant)."""
    if not _traced(x):
        return _np.linalg.cond(x, p)
    x = _arr(x)
    shape = _shape_of(x)
    if len(shape) >= 2 and _np.prod(shape[-2:]) == 0:
        raise _np.linalg.LinAlgError("cond is not defined on empty arrays")
    if p is None or (not isinstance(p, str) and p in (2, -2)):
        s = _svals_p(x)
        if _np.any(_np.asarray(_getval(s))[..., -1] == 0):
            return _np.linalg.cond(_getval(x), p)
        if p == -2:
            return _ew.divide(s[..., -1], s[..., 0])
        return _ew.divide(s[..., 0], s[..., -1])
    _square(x)
    try:
        xi = inv(x)
    except _np.linalg.LinAlgError:
        return _np.linalg.cond(_getval(x), p)
    return _ew.multiply(norm(x, p, axis=(-2, -1)), norm(xi, p, axis=(-2, -1)))


matrix_rank = _nondiff(_np.linalg.matrix_rank)


# -- array-API names: compositions of the above and of wengert.numpy ----------------------------

def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm``."""
    if not _traced(x):
        return _np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    return norm(x, axis=(-2, -1), keepdims=keepdims, ord=ord)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """``numpy.linalg.vector_norm``: any number of axes, flattened into one."""
    if not _traced(x):
        return _np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    from numpy.lib.array_utils import normalize_axis_tuple
    x = _arr(x)
    shape = list(_shape_of(x))
    if axis is None:
        x, ax = _reshape(x, (-1,)), 0
    elif isinstance(axis, tuple):
        nax = normalize_axis_tuple(axis, len(shape))
        rest = tuple(i for i in range(len(shape)) if i not in nax)
        x = _reshape(_transpose(x, axis + rest),
                     (int(_np.prod([shape[i] for i in axis], dtype=int)),) + tuple(shape[i] for i in rest))
        ax = 0
    else:
        ax = axis
    res = norm(x, axis=ax, ord=ord)
    if keepdims:
        from numpy.lib.array_utils import normalize_axis_tuple as _nat
        for i in _nat(range(len(shape)) if axis is None else axis, len(shape)):
            shape[i] = 1
        res = _reshape(res, tuple(shape))
    return res


def matmul(x1, x2, /):
    """``numpy.linalg.matmul``."""
    return _matmul(x1, x2)


def matrix_transpose(x, /):
    """``numpy.linalg.matrix_transpose``."""
    if not _traced(x):
        return _np.linalg.matrix_transpose(x)
    if len(_shape_of(x)) < 2:
        raise ValueError("Input array must be at least 2-dimensional")
    return _mT(_arr(x))


def tensordot(x1, x2, /, *, axes=2):
    """``numpy.linalg.tensordot``."""
    return _tensordot(x1, x2, axes)


def outer(x1, x2, /):
    """``numpy.linalg.outer`` (1-d arrays only)."""
    if not _traced(x1, x2):
        return _np.linalg.outer(x1, x2)
    x1, x2 = _arr(x1), _arr(x2)
    d1, d2 = len(_shape_of(x1)), len(_shape_of(x2))
    if d1 != 1 or d2 != 1:
        raise ValueError(f"Input arrays must be one-dimensional, but they are x1.ndim={d1} and x2.ndim={d2}.")
    return _ew.multiply(_as_col(x1), x2)


def vecdot(x1, x2, /, *, axis=-1):
    """``numpy.linalg.vecdot``: ``sum(conj(x1) * x2)`` over ``axis`` of each argument."""
    if not _traced(x1, x2):
        return _np.linalg.vecdot(x1, x2, axis=axis)
    from .shape import moveaxis
    x1, x2 = _arr(x1), _arr(x2)
    if _shape_of(x1)[axis] != _shape_of(x2)[axis]:
        raise ValueError("vecdot: the axes to contract differ in length")
    return _sum(_ew.multiply(_conj(moveaxis(x1, axis, -1)), moveaxis(x2, axis, -1)), axis=-1)


def diagonal(x, /, *, offset=0):
    """``numpy.linalg.diagonal``: the diagonals of the last two axes."""
    if not _traced(x):
        return _np.linalg.diagonal(x, offset=offset)
    return _diagonal(_arr(x), offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """``numpy.linalg.trace``: the traces of the last two axes."""
    if not _traced(x):
        return _np.linalg.trace(x, offset=offset, dtype=dtype)
    from .reductions import trace as _np_trace
    return _np_trace(_arr(x), offset, -2, -1, dtype)


def cross(x1, x2, /, *, axis=-1):
    """``numpy.linalg.cross`` (3-vectors only)."""
    if not _traced(x1, x2):
        return _np.linalg.cross(x1, x2, axis=axis)
    from .products import cross as _cross
    x1, x2 = _arr(x1), _arr(x2)
    n1, n2 = _shape_of(x1)[axis], _shape_of(x2)[axis]
    if n1 != 3 or n2 != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, "
                         f"but they are {n1} and {n2} dimensional instead.")
    return _cross(x1, x2, axis=axis)


def tensorinv(a, ind=2):
    """``numpy.linalg.tensorinv``: ``inv`` of ``a`` reshaped to a square matrix."""
    if not _traced(a):
        return _np.linalg.tensorinv(a, ind)
    a = _arr(a)
    old = _shape_of(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    size = int(_np.prod(old[ind:], dtype=int))
    return _reshape(inv(_reshape(a, (size, -1))), old[ind:] + old[:ind])


def tensorsolve(a, b, axes=None):
    """``numpy.linalg.tensorsolve``: ``solve`` of the reshaped problem."""
    if not _traced(a, b):
        return _np.linalg.tensorsolve(a, b, axes)
    a, b = _arr(a), _arr(b)
    an = len(_shape_of(a))
    if axes is not None:
        allaxes = list(range(an))
        for k in axes:
            allaxes.remove(k)
            allaxes.insert(an, k)
        a = _transpose(a, tuple(allaxes))
    old = _shape_of(a)[-(an - len(_shape_of(b))):]
    size = int(_np.prod(old, dtype=int))
    if int(_np.prod(_shape_of(a), dtype=int)) != size ** 2:
        raise _np.linalg.LinAlgError(
            "Input arrays must satisfy the requirement prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])")
    return _reshape(solve(_reshape(a, (size, size)), _reshape(b, (-1,))), old)


# -- batching rules ------------------------------------------------------------------------

def _norm_batch(size, batched, x, ord=None, axis=None, keepdims=False):
    nd = _np.ndim(_getval(x)) - 1
    is_str = isinstance(ord, str)
    if axis is None:
        if ord is None or (is_str and ord in ("fro", "f") and nd == 2) or (not is_str and ord == 2 and nd == 1):
            # the 2-norm of the flattened element (NumPy takes no more than two axes)
            r = _norm_p(_reshape(x, (size, -1)), None, 1, False)
            return _reshape(r, (size,) + (1,) * nd) if keepdims else r
        axis = tuple(range(nd))                      # a vector or matrix norm of the whole element
    axes = axis if isinstance(axis, tuple) else (axis,)
    return _norm_p(x, ord, tuple(_normalize_axis_index(a, nd) + 1 for a in axes), keepdims)


_norm_p.batch = _norm_batch
for _prim in (_svals_p, _svd_u_p, _svd_vh_p, _svd_u_perp_p, _svd_vh_perp_p, _inv_p, _det_p, _logabsdet_p,
              _sign_p, _cholesky_p, _eigh_w_p, _eigh_v_p, _eig_w_p, _eig_v_p, _qr_q_p, _qr_r_p, _qr_q_perp_p,
              _pinv_p):
    _prim.batch = _stack_rule(_prim)
del _prim
_solve_p.batch = _gufunc_rule(_solve_p, 2)
_lstsq_p.batch = _gufunc_rule(_lstsq_p, 2)

_defined = {
    "norm": norm, "inv": inv, "solve": solve, "det": det, "slogdet": slogdet, "cholesky": cholesky,
    "eigh": eigh, "eigvalsh": eigvalsh, "eig": eig, "eigvals": eigvals, "svd": svd, "svdvals": svdvals,
    "qr": qr, "pinv": pinv, "matrix_power": matrix_power, "lstsq": lstsq, "multi_dot": multi_dot,
    "cond": cond, "matrix_norm": matrix_norm, "vector_norm": vector_norm, "matmul": matmul,
    "matrix_transpose": matrix_transpose, "tensordot": tensordot, "outer": outer, "vecdot": vecdot,
    "diagonal": diagonal, "trace": trace, "cross": cross, "tensorinv": tensorinv, "tensorsolve": tensorsolve,
}
DIFFERENTIABLE = sorted(_defined)
_defined["matrix_rank"] = matrix_rank          # an integer: traced values are constants

globals().update(wrap_namespace(_np.linalg, _defined, "numpy.linalg.", _handled))
