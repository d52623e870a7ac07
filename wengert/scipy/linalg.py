"""``wengert.scipy.linalg``: SciPy's linalg namespace, wrapped (see wengert/numpy/_wrap.py).

Differentiable, with SciPy's signatures (each a primitive with explicit reverse and
forward rules written with wengert functions, so derivatives nest to any order, and a
batching rule):

- ``solve_triangular(a, b, trans, lower, unit_diagonal)``: in ``a`` (only the triangle
  SciPy reads; not the diagonal with ``unit_diagonal``) and ``b``;
- ``cho_factor(a, lower)`` -> ``(c, lower)`` and ``cho_solve((c, lower), b)``: in ``a``,
  ``c`` and ``b``. ``c`` holds the factor in one triangle and, like SciPy's result,
  ``a``'s entries in the other (whose derivative is the identity; ``cho_solve`` ignores
  them);
- ``lu_factor(a)`` -> ``(lu, piv)`` and ``lu_solve((lu, piv), b, trans)``: in ``a``
  (square), ``lu`` and ``b``; ``piv`` is an integer constant;
- ``expm(A)``: the Frechet derivative from the block matrix ``expm([[A, E], [0, A]])``;
- ``sqrtm(A)``: ``X dX + dX X = dA``, solved with ``solve_sylvester``;
- ``solve_sylvester(a, b, q)``: in all three;
- ``solve_banded((l, u), ab, b)``: in ``ab`` (the entries inside the matrix) and ``b``;
- ``block_diag(*arrs)``: linear in every block.

Complex values follow wengert's (autograd's) convention: a reverse rule applies the
transpose, not the conjugate transpose, of the derivative of a holomorphic map (so the
reverse rule of ``expm`` is the Frechet derivative at ``A^T``, i.e. at ``conj(A^H)``).
Cholesky is not holomorphic (``A = L L^H``); its rules are written for that.

Stacked matrices (``(..., n, n)``, SciPy >= 1.15) work wherever SciPy accepts them, and
the batching rules pass the batch to SciPy as one more stack axis. SciPy itself loops
over stacks in Python for all of these but ``expm``, ``sqrtm`` and ``block_diag``. A
solve with one matrix and a batch of right-hand sides (what Jacobians produce) is one
call with the batch as more columns, and ``solve_sylvester`` with one ``a``, ``b`` and
a batch of ``q`` computes the two Schur decompositions once.

Limitations: a batch over the *matrix* of ``lu_factor``/``lu_solve`` (a ``vmap`` of a
primal, not what Jacobians and Hessians do) evaluates correctly, but differentiating
inside such a batch reads the pivots as constants; ``lu_factor`` is differentiable
for square matrices only; ``sqrtm`` of a 0-d or 1-d value is refused when traced
(SciPy returns ``[[exp(a)]]`` there).
"""
import warnings as _warnings

import numpy as _np
import scipy.linalg as _src

from .. import numpy as _wnp
from ..core import Primitive as _Primitive, defjvp as _defjvp, defvjp as _defvjp
from ..core.rules import defjvp_argnums as _defjvp_argnums, defvjp_argnums as _defvjp_argnums
from ..core.tracer import Box as _Box, getval as _getval
from ..core.vspace import broadcast_to as _broadcast_to, cast as _cast, dtype_of as _dtype_of, \
    shape_of as _shape_of
from ..errors import MissingRuleError as _MissingRuleError
from ..numpy._box import handled as _handled
from ..numpy._wrap import contains_box as _contains_box, wrap_namespace

_NoValue = _np._NoValue
_add, _mul, _neg, _matmul = _wnp.add, _wnp.multiply, _wnp.negative, _wnp.matmul
_tril, _triu = _wnp.tril, _wnp.triu


# -- helpers -------------------------------------------------------------------------------

def _traced(*args):
    return _contains_box(args)


def _arr(x):
    """An array argument: a traced value as is, a list holding traced values stacked."""
    if isinstance(x, _Box):
        return x
    return _wnp.array(x) if _contains_box(x) else _np.asarray(x)


def _is_complex(x):
    return _dtype_of(x).kind == "c"


def _mT(x):
    return _wnp.swapaxes(x, -1, -2)


def _conj(x):
    return _wnp.conj(x) if _is_complex(x) else x


def _H(x):
    return _conj(_mT(x))


def _sum(*terms):
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else _add(out, t)
    return out


def _outer(p, q):
    """``p q^T`` for columns: the outer product of vectors, ``p @ q^T`` of matrices."""
    sp, sq = _shape_of(p), _shape_of(q)
    if len(sp) == 1:
        return _mul(_wnp.reshape(p, sp + (1,)), _wnp.reshape(q, (1,) + sq))
    return _matmul(p, _mT(q))


def _triangle(x, lower, strict=False):
    return _tril(x, -1 if strict else 0) if lower else _triu(x, 1 if strict else 0)


def _diag_real(x):
    """The real part of the diagonal of (stacked) square ``x``, as a matrix."""
    n = _shape_of(x)[-1]
    return _mul(_wnp.real(x) if _is_complex(x) else x, _np.eye(n))


def _trans_code(trans):
    codes = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2, "n": 0, "t": 1, "c": 2}
    try:
        return codes[trans]
    except (KeyError, TypeError):
        raise ValueError("Invalid values for trans keyword, must be 0, 1, 2, 'N', 'T' or 'C'") from None


# -- batching helpers ------------------------------------------------------------------------
# Inside a batching rule a value's shape is read with shape_of, which is the shape this
# trace level sees even when the value is a box of an enclosing trace.

def _own(x, batched):
    s = _shape_of(x)
    return s[1:] if batched else s


def _lift(x, ndim, size):
    """Batched ``x`` with unit axes after the batch axis, so its own shape has ``ndim`` axes."""
    own = _shape_of(x)[1:]
    if len(own) >= ndim:
        return x
    return _wnp.reshape(x, (size,) + (1,) * (ndim - len(own)) + own)


def _with_batch(x, batched, size):
    return x if batched else _broadcast_to(x, (size,) + _shape_of(x))


def _stacked_batch(prim):
    """For primitives of one (stacked) matrix: the batch axis is one more stack axis."""
    def rule(size, batched, x, *rest):
        return prim(x, *rest)
    return rule


def _rhs_batch(size, mats, mbatched, cores, b, bb, call):
    """Batching of ``x = call(*mats, b)``: a solve with SciPy's stacking rules (``mats[0]``
    a (stacked) matrix, ``b`` a vector -- only next to a single matrix -- or a (stacked)
    matrix of right-hand sides). One matrix and a batch of right-hand sides: one solve
    with the batch as more columns."""
    mb = any(mbatched)
    m_own = _own(mats[0], mbatched[0])
    b_own = _own(b, bb)
    vec = len(b_own) == 1
    if not mb and len(m_own) == cores[0] and len(b_own) <= 2:
        if vec:                                              # (B, n) -> (n, B)
            return _mT(call(*mats, _mT(b)))
        n, k = b_own                                         # (B, n, k) -> (n, B * k)
        cols = _wnp.reshape(_wnp.transpose(b, (1, 0, 2)), (n, size * k))
        return _wnp.transpose(_wnp.reshape(call(*mats, cols), (n, size, k)), (1, 0, 2))
    depth = max(len(m_own) - cores[0], 0 if vec else len(b_own) - 2)
    if mb:
        mats = [_lift(_with_batch(m, bm, size), depth + core, size) for m, bm, core in zip(mats, mbatched, cores)]
    if vec:                                                  # as a column of a stacked solve
        b = _wnp.reshape(b, _shape_of(b) + (1,))
        if bb:
            b = _lift(b, depth + 2, size)
        x = call(*mats, b)
        return _wnp.reshape(x, _shape_of(x)[:-1])
    if bb:
        b = _lift(b, depth + 2, size)
    return call(*mats, b)


def _lift_all_batch(prim, core=2):
    """Batching for primitives whose arguments all have ``core`` axes and broadcast their
    stacks (solve_sylvester, block_diag)."""
    def rule(size, batched, *args):
        depth = max(len(_own(a, b)) - core for a, b in zip(args, batched))
        return prim(*[_lift(a, depth + core, size) if b else a for a, b in zip(args, batched)])
    return rule


def _column_form(b, mat_ndim):
    """SciPy reads a 1-d ``b`` next to a stacked matrix as one vector for every matrix;
    the primitives see it as a column (and a 1-d ``b`` only next to a single matrix)."""
    return len(_shape_of(b)) == 1 and mat_ndim > 2


# -- solve_triangular ------------------------------------------------------------------------

def _solve_triangular_impl(a, b, trans=0, lower=False, unit_diagonal=False):
    return _src.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


_solve_triangular_p = _Primitive(_solve_triangular_impl, "solve_triangular")


def _st(a, b, trans, lower, unit=False):
    return _solve_triangular_p(a, b, trans, lower, unit)


# x = op(T)^-1 b with T the triangle of a (op: identity for trans 0, transpose for 1):
# dx = op(T)^-1 (db - op(dT) x); the cotangents are y = op(T)^-T g and -y x^T (trans 0)
# or -x y^T (trans 1), restricted to the triangle.

def _solve_triangular_jvp(argnums, tangents, ans, a, b, trans=0, lower=False, unit_diagonal=False):
    rhs = None
    for k, t in zip(argnums, tangents):
        if k == 0:
            dt = _triangle(t, lower, unit_diagonal)
            rhs = _sum(rhs, _neg(_matmul(_mT(dt) if trans else dt, ans)))
        elif k == 1:
            rhs = _sum(rhs, t)
    return None if rhs is None else _st(a, rhs, trans, lower, unit_diagonal)


def _solve_triangular_vjp(argnums, g, ans, a, b, trans=0, lower=False, unit_diagonal=False):
    y = _st(a, g, 1 - trans, lower, unit_diagonal)
    out = []
    for k in argnums:
        if k == 0:
            gt = _outer(y, ans) if trans == 0 else _outer(ans, y)
            out.append(_neg(_triangle(gt, lower, unit_diagonal)))
        else:
            out.append(y if k == 1 else None)
    return out


def _solve_triangular_batch(size, batched, a, b, trans=0, lower=False, unit_diagonal=False):
    return _rhs_batch(size, [a], batched[:1], (2,), b, batched[1],
                      lambda a_, b_: _st(a_, b_, trans, lower, unit_diagonal))


_defjvp_argnums(_solve_triangular_p, _solve_triangular_jvp)
_defvjp_argnums(_solve_triangular_p, _solve_triangular_vjp)
_solve_triangular_p.batch = _solve_triangular_batch


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_triangular``, differentiable in ``a`` and ``b``."""
    if not _traced(a, b):
        return _src.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal,
                                     overwrite_b=overwrite_b, check_finite=check_finite)
    a, b = _arr(a), _arr(b)
    trans = _trans_code(trans)
    if trans == 2:                  # op(T) = T^H = conj(T)^T
        a, trans = _conj(a), 1
    lower, unit_diagonal = bool(lower), bool(unit_diagonal)
    if _column_form(b, len(_shape_of(a))):
        x = _st(a, _wnp.reshape(b, _shape_of(b) + (1,)), trans, lower, unit_diagonal)
        return _wnp.reshape(x, _shape_of(x)[:-1])
    return _st(a, b, trans, lower, unit_diagonal)


# -- Cholesky: cho_factor / cho_solve ------------------------------------------------------
# With L the lower factor (A = L L^H; the upper case is the same for U = L^H, through the
# real-linear involution h(X) = conj(X^T), which is its own adjoint):
#   dA = tril(da, -1) + tril(da, -1)^H + Re diag(da)     (the triangle SciPy reads)
#   S = L^-1 dA L^-H,  dL = L Phi(S),  Phi(S) = tril(S, -1) + Re diag(S) / 2
# and the other triangle of c is a's. The reverse rule is the transpose of each step.

def _cho_factor_impl(a, lower=False):
    return _src.cho_factor(a, lower=lower)[0]


_cho_factor_p = _Primitive(_cho_factor_impl, "cho_factor")


def _phi(s):
    return _add(_tril(s, -1), _mul(_diag_real(s), 0.5))


def _cho_factor_jvp(t, ans, a, lower=False):
    if not lower:
        return _H(_cho_factor_jvp(_H(t), _H(ans), None, True))
    lo = _tril(t, -1)
    da = _sum(lo, _H(lo), _diag_real(t))
    x = _st(ans, da, 0, True)                           # L^-1 dA
    s = _H(_st(ans, _H(x), 0, True))                    # L^-1 dA L^-H
    return _add(_matmul(_tril(ans), _phi(s)), _triu(t, 1))


def _cho_factor_vjp(g, ans, a, lower=False):
    if not lower:
        return _H(_cho_factor_vjp(_H(g), _H(ans), None, True))
    gs = _phi(_matmul(_mT(_tril(ans)), _tril(g)))       # Phi(L^T gL)
    y = _st(ans, gs, 1, True)                           # L^-T gS
    ga = _mT(_st(_conj(ans), _mT(y), 1, True))          # L^-T gS conj(L)^-1
    return _sum(_tril(_add(ga, _H(ga)), -1), _diag_real(ga), _triu(g, 1))


_defjvp(_cho_factor_p, _cho_factor_jvp)
_defvjp(_cho_factor_p, _cho_factor_vjp)
_cho_factor_p.batch = _stacked_batch(_cho_factor_p)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: ``(c, lower)``, ``c`` differentiable in ``a``."""
    if not _traced(a):
        return _src.cho_factor(a, lower=lower, overwrite_a=overwrite_a, check_finite=check_finite)
    return _cho_factor_p(_arr(a), bool(lower)), lower


def _cho_solve_impl(c, b, lower=False):
    return _src.cho_solve((c, lower), b)


_cho_solve_p = _Primitive(_cho_solve_impl, "cho_solve")


def _lower_factor(c, lower):
    """L with A = L L^H, from the triangle of c that SciPy reads."""
    return _tril(c) if lower else _H(_triu(c))


# x = A^-1 b: dx = A^-1 (db - (dL L^H + L dL^H) x). Reverse, with y = A^-1 conj(g):
# g_b = conj(y) and g_L = -tril((conj(y) x^T + conj(x) y^T) conj(L)).

def _cho_solve_jvp(argnums, tangents, ans, c, b, lower=False):
    rhs = None
    for k, t in zip(argnums, tangents):
        if k == 0:
            fl, dl = _lower_factor(c, lower), _lower_factor(t, lower)
            dax = _add(_matmul(dl, _matmul(_H(fl), ans)), _matmul(fl, _matmul(_H(dl), ans)))
            rhs = _sum(rhs, _neg(dax))
        elif k == 1:
            rhs = _sum(rhs, t)
    return None if rhs is None else _cho_solve_p(c, rhs, lower)


def _cho_solve_vjp(argnums, g, ans, c, b, lower=False):
    y = _cho_solve_p(c, _conj(g), lower)
    yc = _conj(y)
    out = []
    for k in argnums:
        if k == 0:
            m = _add(_outer(yc, ans), _outer(_conj(ans), y))
            gl = _neg(_tril(_matmul(m, _conj(_lower_factor(c, lower)))))
            out.append(gl if lower else _H(gl))
        else:
            out.append(yc if k == 1 else None)
    return out


def _cho_solve_batch(size, batched, c, b, lower=False):
    return _rhs_batch(size, [c], batched[:1], (2,), b, batched[1], lambda c_, b_: _cho_solve_p(c_, b_, lower))


_defjvp_argnums(_cho_solve_p, _cho_solve_jvp)
_defvjp_argnums(_cho_solve_p, _cho_solve_vjp)
_cho_solve_p.batch = _cho_solve_batch


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``, differentiable in ``c`` and ``b``."""
    c, lower = c_and_lower
    if not _traced(c, b):
        return _src.cho_solve((c, lower), b, overwrite_b=overwrite_b, check_finite=check_finite)
    c, b, lower = _arr(c), _arr(b), bool(lower)
    if _column_form(b, len(_shape_of(c))):
        x = _cho_solve_p(c, _wnp.reshape(b, _shape_of(b) + (1,)), lower)
        return _wnp.reshape(x, _shape_of(x)[:-1])
    return _cho_solve_p(c, b, lower)


# -- LU: lu_factor / lu_solve ----------------------------------------------------------------
# One primitive computes the packed factors and the pivots at once: its value is the
# (..., n + 1, n) array of lu with the pivots as one more row (a constant row, with no
# derivative), so that a factorisation is computed once and the rules find the pivots in
# their ``ans``. With A = P L U (L unit lower, U upper, packed in lu) and
# X = L^-1 P^T dA U^-1: dlu = L tril(X, -1) + triu(X) U.

def _lu_factor_impl(a):
    lu, piv = _src.lu_factor(a)
    return _np.concatenate([lu, piv[..., None, :].astype(lu.dtype)], axis=-2)


_lu_factor_p = _Primitive(_lu_factor_impl, "lu_factor")


def _perm_from_piv(piv):
    """The row permutation ``perm`` with ``a[..., perm, :] = L U`` (LAPACK's pivots are
    successive row swaps)."""
    piv = _np.asarray(_getval(piv))
    n = piv.shape[-1]
    flat = piv.reshape(-1, n)
    perm = _np.tile(_np.arange(n), (flat.shape[0], 1))
    r = _np.arange(flat.shape[0])
    for i in range(n):
        j = flat[:, i]
        tmp = perm[r, i].copy()
        perm[r, i] = perm[r, j]
        perm[r, j] = tmp
    return perm.reshape(piv.shape)


def _rows(x, perm, vec):
    """``x`` with its rows (the last axis of a vector, the second-to-last of a matrix)
    gathered by ``perm``, a permutation per matrix of the stack: ``x[..., perm, :]``."""
    if perm.ndim == 1:
        return x[(Ellipsis, perm) if vec else (Ellipsis, perm, slice(None))]
    xs = _shape_of(x)
    core = xs[-1:] if vec else xs[-2:]
    stack = _np.broadcast_shapes(xs[:len(xs) - len(core)], perm.shape[:-1])
    if stack + core != xs:
        x = _wnp.broadcast_to(x, stack + core)
    d = len(stack)
    idx = tuple(_np.arange(s).reshape((s,) + (1,) * (d - i)) for i, s in enumerate(stack))
    idx += (_np.broadcast_to(perm, stack + perm.shape[-1:]),)
    return x[idx if vec else idx + (slice(None),)]


def _unit_lower_mul(ls, x, transpose=False):
    """``L x`` (or ``L^T x``) for L = I + ls, ls strictly lower."""
    return _add(_matmul(_mT(ls) if transpose else ls, x), x)


def _piv_of(packed):
    v = _getval(packed)
    return _np.real(v[..., -1, :]).astype(_np.intp)


def _pad_row(d):
    s = _shape_of(d)
    return _wnp.concatenate([d, _np.zeros(s[:-2] + (1, s[-1]), _dtype_of(d))], axis=-2)


def _lu_factor_jvp(t, ans, a):
    n = _shape_of(a)[-1]
    lu = ans[..., :n, :]
    perm = _perm_from_piv(_piv_of(ans))
    y = _st(lu, _rows(t, perm, False), 0, True, True)        # L^-1 P^T dA
    x = _mT(_st(lu, _mT(y), 1, False))                       # ... U^-1
    dlu = _add(_unit_lower_mul(_tril(lu, -1), _tril(x, -1)), _matmul(_triu(x), _triu(lu)))
    return _pad_row(dlu)


def _lu_factor_vjp(g, ans, a):
    n = _shape_of(a)[-1]
    lu, g = ans[..., :n, :], g[..., :n, :]
    perm = _perm_from_piv(_piv_of(ans))
    m = _add(_tril(_unit_lower_mul(_tril(lu, -1), _tril(g, -1), transpose=True), -1),
             _triu(_matmul(_triu(g), _mT(_triu(lu)))))
    z = _st(lu, m, 1, True, True)                             # L^-T M
    w = _mT(_st(lu, _mT(z), 0, False))                        # ... U^-T
    return _rows(w, _np.argsort(perm, axis=-1), False)        # P W


_defjvp(_lu_factor_p, _lu_factor_jvp)
_defvjp(_lu_factor_p, _lu_factor_vjp)
_lu_factor_p.batch = _stacked_batch(_lu_factor_p)


def lu_factor(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.lu_factor``: ``(lu, piv)``, ``lu`` differentiable in a square ``a``."""
    if not _traced(a):
        return _src.lu_factor(a, overwrite_a=overwrite_a, check_finite=check_finite)
    a = _arr(a)
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise _MissingRuleError("scipy.linalg.lu_factor (non-square matrix)", 0,
                                hint="Only the LU factorisation of square matrices is differentiable.")
    n = shape[-1]
    packed = _lu_factor_p(a)
    piv = packed[..., n, :]
    return packed[..., :n, :], _cast(_wnp.real(piv) if _is_complex(piv) else piv, _np.dtype(_np.int32))


def _lu_solve_impl(lu, piv, b, trans=0):
    return _src.lu_solve((lu, piv), b, trans=trans)


_lu_solve_p = _Primitive(_lu_solve_impl, "lu_solve")


def _lu_solve_dx(t, x, lu, piv, b, trans):
    """The tangent of x = op(A)^-1 b caused by the tangent t of the packed lu."""
    dls, du = _tril(t, -1), _triu(t)
    if trans == 0:          # dx = -U^-1 (L^-1 dL (U x) + dU x)
        z = _st(lu, _matmul(dls, _matmul(_triu(lu), x)), 0, True, True)
        return _neg(_st(lu, _add(z, _matmul(du, x)), 0, False))
    # trans 1: dx = -P L^-T (dL^T v + U^-T dU^T L^T v), v = P^T x
    perm = _perm_from_piv(piv)
    vec = len(_shape_of(b)) == 1
    v = _rows(x, perm, vec)
    w = _st(lu, _matmul(_mT(du), _unit_lower_mul(_tril(lu, -1), v, transpose=True)), 1, False)
    z = _st(lu, _add(w, _matmul(_mT(dls), v)), 1, True, True)
    return _neg(_rows(z, _np.argsort(perm, axis=-1), vec))


def _lu_solve_jvp(argnums, tangents, ans, lu, piv, b, trans=0):
    out = None
    for k, t in zip(argnums, tangents):
        if k == 2:
            out = _sum(out, _lu_solve_p(lu, piv, t, trans))
        elif k == 0:
            out = _sum(out, _lu_solve_dx(t, ans, lu, piv, b, trans))
    return out


def _lu_solve_vjp(argnums, g, ans, lu, piv, b, trans=0):
    # gA = -p q^T with (p, q) = (A^-T g, x) for trans 0 and (x, A^-1 g) for trans 1;
    # g_lu = tril(P^T gA U^T, -1) + triu(L^T P^T gA).
    y = _lu_solve_p(lu, piv, g, 1 - trans)
    out = []
    for k in argnums:
        if k == 0:
            p, q = (y, ans) if trans == 0 else (ans, y)
            pp = _rows(p, _perm_from_piv(piv), len(_shape_of(b)) == 1)
            gl = _tril(_outer(pp, _matmul(_triu(lu), q)), -1)
            gu = _triu(_outer(_unit_lower_mul(_tril(lu, -1), pp, transpose=True), q))
            out.append(_neg(_add(gl, gu)))
        else:
            out.append(y if k == 2 else None)
    return out


def _lu_solve_batch(size, batched, lu, piv, b, trans=0):
    return _rhs_batch(size, [lu, piv], batched[:2], (2, 1), b, batched[2],
                      lambda lu_, piv_, b_: _lu_solve_p(lu_, piv_, b_, trans))


_defjvp_argnums(_lu_solve_p, _lu_solve_jvp)
_defvjp_argnums(_lu_solve_p, _lu_solve_vjp)
_lu_solve_p.batch = _lu_solve_batch


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``scipy.linalg.lu_solve``, differentiable in ``lu`` and ``b``."""
    lu, piv = lu_and_piv
    if not _traced(lu, b, piv):
        return _src.lu_solve((lu, piv), b, trans=trans, overwrite_b=overwrite_b, check_finite=check_finite)
    lu, b = _arr(lu), _arr(b)
    trans = _trans_code(trans)
    if trans == 2:              # A^H = conj(A)^T, and conj(A) = P conj(L) conj(U)
        lu, trans = _conj(lu), 1
    if _column_form(b, len(_shape_of(lu))):
        x = _lu_solve_p(lu, piv, _wnp.reshape(b, _shape_of(b) + (1,)), trans)
        return _wnp.reshape(x, _shape_of(x)[:-1])
    return _lu_solve_p(lu, piv, b, trans)


# -- expm ------------------------------------------------------------------------------------
# The Frechet derivative L(A, E) is the upper right block of expm([[A, E], [0, A]]); the
# reverse rule is its transpose, L(A^T, G).

_expm_p = _Primitive(_src.expm, "expm")


def _frechet_expm(a, e):
    n = _shape_of(a)[-1]
    shape = _np.broadcast_shapes(_shape_of(a), _shape_of(e))
    a = a if _shape_of(a) == shape else _wnp.broadcast_to(a, shape)
    e = e if _shape_of(e) == shape else _wnp.broadcast_to(e, shape)
    zero = _np.zeros(shape, _np.result_type(_dtype_of(a), _dtype_of(e)))
    top = _wnp.concatenate([a, e], axis=-1)
    bottom = _wnp.concatenate([zero, a], axis=-1)
    return _expm_p(_wnp.concatenate([top, bottom], axis=-2))[..., :n, n:]


_defjvp(_expm_p, lambda t, ans, a: _frechet_expm(a, t))
_defvjp(_expm_p, lambda g, ans, a: _frechet_expm(_mT(a), g))
_expm_p.batch = _stacked_batch(_expm_p)


def expm(A):
    """``scipy.linalg.expm``, differentiable."""
    if not _traced(A):
        return _src.expm(A)
    a = _arr(A)
    if len(_shape_of(a)) < 2 and _np.prod(_shape_of(a)) == 1:     # SciPy: [[exp(a)]]
        a = _wnp.reshape(a, (1, 1))
    return _expm_p(a)


# -- solve_sylvester -----------------------------------------------------------------------------
# a X + X b = q. With S(X) = a X + X b: dX = S^-1(dq - da X - X db); the reverse rules
# use S^T(Y) = a^T Y + Y b^T: g_q = S^-T(g), g_a = -g_q X^T, g_b = -X^T g_q.

def _sylvester_impl(a, b, q):
    a, b, q = _np.asarray(a), _np.asarray(b), _np.asarray(q)
    dtype = _np.result_type(a, b, q)
    if dtype.kind == "c":
        # SciPy's real Schur forms of real a, b are wrong for LAPACK's complex trsyl
        a, b, q = a.astype(dtype, copy=False), b.astype(dtype, copy=False), q.astype(dtype, copy=False)
    if a.ndim == 2 and b.ndim == 2 and q.ndim > 2 and a.size and b.size:
        return _sylvester_shared(a, b, q)
    return _src.solve_sylvester(a, b, q)


def _sylvester_shared(a, b, q):
    """SciPy's algorithm for one a, b and a stack of q: the Schur forms computed once."""
    r, u = _src.schur(a, output="real")
    s, v = _src.schur(b.conj().T, output="real")
    f = u.conj().T @ q @ v
    trsyl, = _src.get_lapack_funcs(("trsyl",), (r, s, f))
    y = _np.empty(f.shape, trsyl.dtype)
    for idx in _np.ndindex(f.shape[:-2]):
        yi, scale, info = trsyl(r, s, f[idx], tranb="C")
        if info < 0:
            raise _np.linalg.LinAlgError(f"Illegal value encountered in the {-info} term")
        y[idx] = scale * yi
    return u @ y @ v.conj().T


_sylvester_p = _Primitive(_sylvester_impl, "solve_sylvester")


def _sylvester_jvp(argnums, tangents, ans, a, b, q):
    rhs = None
    for k, t in zip(argnums, tangents):
        term = _neg(_matmul(t, ans)) if k == 0 else _neg(_matmul(ans, t)) if k == 1 else t
        rhs = _sum(rhs, term)
    return _sylvester_p(a, b, rhs)


def _sylvester_vjp(argnums, g, ans, a, b, q):
    gq = _sylvester_p(_mT(a), _mT(b), g)
    return [_neg(_matmul(gq, _mT(ans))) if k == 0 else _neg(_matmul(_mT(ans), gq)) if k == 1 else gq
            for k in argnums]


_defjvp_argnums(_sylvester_p, _sylvester_jvp)
_defvjp_argnums(_sylvester_p, _sylvester_vjp)
_sylvester_p.batch = _lift_all_batch(_sylvester_p)


def solve_sylvester(a, b, q):
    """``scipy.linalg.solve_sylvester``, differentiable in ``a``, ``b`` and ``q`` (complex
    ``q`` with real ``a``, ``b`` is solved in complex arithmetic, where SciPy's own
    result is wrong)."""
    return _sylvester_p(_arr(a), _arr(b), _arr(q))


# -- sqrtm -----------------------------------------------------------------------------------
# X dX + dX X = dA: dX = solve_sylvester(X, X, dA); reverse: solve_sylvester(X^T, X^T, G).

_sqrtm_p = _Primitive(lambda a: _src.sqrtm(a), "sqrtm")
_defjvp(_sqrtm_p, lambda t, ans, a: _sylvester_p(ans, ans, t))
_defvjp(_sqrtm_p, lambda g, ans, a: _sylvester_p(_mT(ans), _mT(ans), g))
_sqrtm_p.batch = _stacked_batch(_sqrtm_p)


def sqrtm(A, disp=_NoValue, blocksize=_NoValue):
    """``scipy.linalg.sqrtm``, differentiable (a real matrix with eigenvalues on the
    negative real axis has a complex square root, as in SciPy)."""
    if not _traced(A):
        kwargs = {k: v for k, v in (("disp", disp), ("blocksize", blocksize)) if v is not _NoValue}
        return _src.sqrtm(A, **kwargs)
    if disp is not _NoValue:
        _warnings.warn("The `disp` argument is deprecated and will be removed in SciPy 1.18.0.",
                       DeprecationWarning, stacklevel=2)
    if blocksize is not _NoValue:
        _warnings.warn("The `blocksize` argument is deprecated and will be removed in SciPy 1.18.0.",
                       DeprecationWarning, stacklevel=2)
    a = _arr(A)
    if len(_shape_of(a)) < 2:
        raise _np.linalg.LinAlgError("sqrtm of a traced value: the input array must be at least "
                                     "two-dimensional")
    x = _sqrtm_p(a)
    if disp is False:
        xv, av = _np.asarray(_getval(x)), _np.asarray(_getval(a))
        try:
            err = _np.linalg.norm(xv @ xv - av, "fro") ** 2 / _np.linalg.norm(av, "fro")
        except ValueError:
            err = _np.inf
        return x, err
    return x


# -- solve_banded ------------------------------------------------------------------------------
# A[i, j] = ab[u + i - j, j]. dx = A^-1 (db - dA x) with dA x a sum over the bands; the
# reverse rules solve with A^T (its band form is a gather of ab) and read the cotangent
# of ab off the bands of -y x^T.

def _banded_impl(ab, b, l, u):
    return _src.solve_banded((l, u), ab, b)


_banded_p = _Primitive(_banded_impl, "solve_banded")


def _band_index(n, l, u, sign):
    """(K, J, valid): for band row k and position i, J = i - sign * (k - u), clipped."""
    k = _np.arange(l + u + 1)[:, None]
    j = _np.arange(n)[None, :] - sign * (k - u)
    valid = (j >= 0) & (j < n)
    return k, _np.clip(j, 0, n - 1), valid


def _band_matvec(t, x, l, u, vec):
    """dA x for dA in band form ``t``: (dA x)_i = sum_k t[k, i - k + u] x[i - k + u]."""
    n = _shape_of(t)[-1]
    k, j, valid = _band_index(n, l, u, 1)
    tt = _mul(t[..., k, j], valid)                            # (..., w, n)
    if vec:
        return _wnp.sum(_mul(tt, x[..., j]), axis=-2)
    tt = _wnp.reshape(tt, _shape_of(tt) + (1,))
    return _wnp.sum(_mul(tt, x[..., j, :]), axis=-3)


def _band_outer(y, x, l, u, vec):
    """The band form of y x^T: out[k, j] = sum_m y[j + k - u, m] x[j, m]."""
    n = _shape_of(x)[-1 if vec else -2]
    k, i, valid = _band_index(n, l, u, -1)
    if vec:
        out = _mul(y[..., i], _wnp.reshape(x, _shape_of(x)[:-1] + (1, n)))
    else:
        xs = _shape_of(x)
        out = _wnp.sum(_mul(y[..., i, :], _wnp.reshape(x, xs[:-2] + (1,) + xs[-2:])), axis=-1)
    return _mul(out, valid)


def _band_transpose(ab, l, u):
    """The band form (u lower, l upper diagonals) of A^T: abT[k, j] = ab[l + u - k, j + k - l]."""
    n = _shape_of(ab)[-1]
    k = _np.arange(l + u + 1)[:, None]
    j = _np.arange(n)[None, :] + k - l
    valid = (j >= 0) & (j < n)
    return _mul(ab[..., l + u - k, _np.clip(j, 0, n - 1)], valid)


def _banded_jvp(argnums, tangents, ans, ab, b, l, u):
    rhs = None
    for k, t in zip(argnums, tangents):
        if k == 0:
            rhs = _sum(rhs, _neg(_band_matvec(t, ans, l, u, len(_shape_of(b)) == 1)))
        elif k == 1:
            rhs = _sum(rhs, t)
    return None if rhs is None else _banded_p(ab, rhs, l, u)


def _banded_vjp(argnums, g, ans, ab, b, l, u):
    y = _banded_p(_band_transpose(ab, l, u), g, u, l)
    return [_neg(_band_outer(y, ans, l, u, len(_shape_of(b)) == 1)) if k == 0 else y if k == 1 else None
            for k in argnums]


def _banded_batch(size, batched, ab, b, l, u):
    return _rhs_batch(size, [ab], batched[:1], (2,), b, batched[1], lambda ab_, b_: _banded_p(ab_, b_, l, u))


_defjvp_argnums(_banded_p, _banded_jvp)
_defvjp_argnums(_banded_p, _banded_vjp)
_banded_p.batch = _banded_batch


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_banded``, differentiable in ``ab`` and ``b``."""
    if not _traced(ab, b):
        return _src.solve_banded(l_and_u, ab, b, overwrite_ab=overwrite_ab, overwrite_b=overwrite_b,
                                 check_finite=check_finite)
    l, u = (int(_getval(v)) for v in l_and_u)
    ab, b = _arr(ab), _arr(b)
    if _shape_of(ab)[-2] != l + u + 1:
        raise ValueError("invalid values for the number of lower and upper diagonals: "
                         f"l+u+1 ({l + u + 1}) does not equal ab.shape[-2] ({_shape_of(ab)[-2]})")
    if _column_form(b, len(_shape_of(ab))):
        x = _banded_p(ab, _wnp.reshape(b, _shape_of(b) + (1,)), l, u)
        return _wnp.reshape(x, _shape_of(x)[:-1])
    return _banded_p(ab, b, l, u)


# -- block_diag --------------------------------------------------------------------------------

_block_diag_p = _Primitive(_src.block_diag, "block_diag")
_block_diag_p.linear = True


def _block_diag_jvp(argnums, tangents, ans, *arrs):
    ts = dict(zip(argnums, tangents))
    return _block_diag_p(*[ts[k] if k in ts else _np.zeros(_shape_of(a), _dtype_of(a))
                           for k, a in enumerate(arrs)])


def _block_diag_vjp(argnums, g, ans, *arrs):
    starts = _np.cumsum([(0, 0)] + [_shape_of(a)[-2:] for a in arrs], axis=0)
    out = []
    for k in argnums:
        (r, c), (rr, cc) = starts[k], _shape_of(arrs[k])[-2:]
        out.append(g[..., r:r + rr, c:c + cc])
    return out


_defjvp_argnums(_block_diag_p, _block_diag_jvp)
_defvjp_argnums(_block_diag_p, _block_diag_vjp)
_block_diag_p.batch = _lift_all_batch(_block_diag_p)


def block_diag(*arrs):
    """``scipy.linalg.block_diag``, linear in every block."""
    if not _traced(*arrs):
        return _src.block_diag(*arrs)
    blocks = []
    for a in arrs:
        a = _arr(a)
        s = _shape_of(a)
        blocks.append(_wnp.reshape(a, (1,) * (2 - len(s)) + s) if len(s) < 2 else a)
    return _block_diag_p(*blocks)


_defined = {
    "solve_triangular": solve_triangular,
    "cho_factor": cho_factor,
    "cho_solve": cho_solve,
    "lu_factor": lu_factor,
    "lu_solve": lu_solve,
    "expm": expm,
    "sqrtm": sqrtm,
    "solve_sylvester": solve_sylvester,
    "solve_banded": solve_banded,
    "block_diag": block_diag,
}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.linalg.", _handled))
