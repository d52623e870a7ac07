"""``wengert.numpy.linalg``: NumPy's linalg namespace, wrapped.

``norm`` is differentiable to any order for every order NumPy accepts. Kinks:
- the norm of a zero vector/matrix has the subgradient 0 (never NaN); for ``p``-norms
  a zero entry gets 0 as well;
- ``ord=inf``/``-inf`` (and matrix 1/-1/inf/-inf) go through ``max``/``min``: ties
  split the cotangent equally;
- matrix 2/-2/'nuc' use the singular values. Their derivatives come from the SVD
  (``u1 v1^T`` for the largest singular value, ``U V^T`` for the nuclear norm); tied
  singular values split the cotangent like ``max``; zero singular values get 0;
- ``ord=0`` counts nonzeros: piecewise constant, so its result is a constant.
"""
import numpy as _np
from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index

from ..core import Primitive as _Primitive, defjvp as _defjvp, defvjp as _defvjp
from ..core.tracer import Box as _Box, getval as _getval
from ..core.vspace import add as _add, dtype_of as _dtype_of, shape_of as _shape_of
from ..errors import MissingRuleError as _MissingRuleError
from ._box import handled as _handled
from ._helpers import reduced_shape as _reduced_shape
from ._wrap import contains_box as _contains_box, wrap_namespace
from . import elementwise as _ew
from .products import _mT, matmul as _matmul
from .reductions import _arr, _expand, amax as _amax, amin as _amin, sum as _sum
from .shape import reshape as _reshape, transpose as _transpose

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


# -- singular values, with the SVD's derivative written out --------------------------
# Reduced SVD of (..., m, n), k = min(m, n). The singular values, U and Vh are three
# primitives whose rules are written with each other, so derivatives of any order
# follow. F[i, j] = 1 / (s_j^2 - s_i^2), 0 on the diagonal and at ties.

def _svals(x):
    return _np.linalg.svd(x, compute_uv=False)


def _svd_u(x):
    return _np.linalg.svd(x, full_matrices=False)[0]


def _svd_vh(x):
    return _np.linalg.svd(x, full_matrices=False)[2]


_svals_p = _Primitive(_svals, "svd_singular_values")
_svd_u_p = _Primitive(_svd_u, "svd_u")
_svd_vh_p = _Primitive(_svd_vh, "svd_vh")


def _as_row(v):
    """(..., k) -> (..., 1, k): scales the columns of a (..., r, k) matrix."""
    shape = _shape_of(v)
    return _reshape(v, shape[:-1] + (1, shape[-1]))


def _as_col(v):
    """(..., k) -> (..., k, 1): scales the rows of a (..., k, r) matrix."""
    return _reshape(v, _shape_of(v) + (1,))


def _real_only(x, name, mode="reverse"):
    if _dtype_of(x).kind == "c":
        raise _MissingRuleError(name + " (complex input)", 0, mode)


def _svd_f(s):
    s2 = _ew.multiply(s, s)
    return _ew._safe_div(1.0, _ew.subtract(_as_row(s2), _as_col(s2)))


def _svals_vjp(g, ans, x):
    # d s_i = Re(u_i^H dA v_i)  ->  A-cotangent U diag(g) Vh (conjugated for complex A)
    out = _matmul(_ew.multiply(_svd_u_p(x), _as_row(g)), _svd_vh_p(x))
    return _ew.conjugate(out) if _dtype_of(x).kind == "c" else out


def _svd_u_vjp(g, ans, x):
    _real_only(x, "svd_u")
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), ans, _svd_vh_p(x)
    utg = _matmul(_mT(u), g)
    j = _ew.multiply(_svd_f(s), utg)
    out = _matmul(_matmul(u, _ew.multiply(_add(j, _mT(j)), _as_row(s))), vh)
    if m > n:        # the part of g outside span(U): (I - U U^T) g S^-1 Vh
        rest = _ew.subtract(g, _matmul(u, utg))
        out = _add(out, _matmul(_ew.multiply(rest, _as_row(_ew._safe_div(1.0, s))), vh))
    return out


def _svd_vh_vjp(g, ans, x):
    _real_only(x, "svd_vh")
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), _svd_u_p(x), ans
    k = _ew.multiply(_svd_f(s), _matmul(vh, _mT(g)))
    out = _matmul(_matmul(u, _ew.multiply(_as_col(s), _add(k, _mT(k)))), vh)
    if n > m:        # the part of g outside span(Vh): U S^-1 g (I - Vh^T Vh)
        rest = _ew.subtract(g, _matmul(_matmul(g, _mT(vh)), vh))
        out = _add(out, _matmul(_ew.multiply(u, _as_row(_ew._safe_div(1.0, s))), rest))
    return out


# Forward rules. With P = U^H dA V (k x k): ds = Re diag(P); U^T dU and V^T dV are
# antisymmetric, dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1 and
# dVh = -(F o (S P + P^T S)) Vh + S^-1 U^T dA (I - Vh^T Vh) (the last terms only for a
# tall, resp. wide, matrix). Ties and zero singular values are treated as in the
# reverse rules (F and S^-1 are 0 there).

def _svals_jvp(t, ans, x):
    u, vh = _svd_u_p(x), _svd_vh_p(x)
    if _dtype_of(x).kind == "c":
        u, vh = _ew.conjugate(u), _ew.conjugate(vh)
    ds = _sum(_ew.multiply(u, _matmul(t, _mT(vh))), axis=-2)     # diag(U^T dA V)
    return _ew.real(ds) if _dtype_of(ds).kind == "c" else ds


def _svd_u_jvp(t, ans, x):
    _real_only(x, "svd_u", "forward")
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), ans, _svd_vh_p(x)
    tv = _matmul(t, _mT(vh))                                      # dA V
    p = _matmul(_mT(u), tv)
    ps = _ew.multiply(p, _as_row(s))                              # P S
    out = _matmul(u, _ew.multiply(_svd_f(s), _add(ps, _mT(ps))))
    if m > n:
        out = _add(out, _ew.multiply(_ew.subtract(tv, _matmul(u, p)), _as_row(_ew._safe_div(1.0, s))))
    return out


def _svd_vh_jvp(t, ans, x):
    _real_only(x, "svd_vh", "forward")
    m, n = _shape_of(x)[-2:]
    s, u, vh = _svals_p(x), _svd_u_p(x), ans
    ut = _matmul(_mT(u), t)                                       # U^T dA
    p = _matmul(ut, _mT(vh))
    sp = _ew.multiply(_as_col(s), p)                              # S P
    out = _ew.negative(_matmul(_ew.multiply(_svd_f(s), _add(sp, _mT(sp))), vh))
    if n > m:
        out = _add(out, _ew.multiply(_as_col(_ew._safe_div(1.0, s)), _ew.subtract(ut, _matmul(p, vh))))
    return out


_defvjp(_svals_p, _svals_vjp)
_defvjp(_svd_u_p, _svd_u_vjp)
_defvjp(_svd_vh_p, _svd_vh_vjp)
_defjvp(_svals_p, _svals_jvp)
_defjvp(_svd_u_p, _svd_u_jvp)
_defjvp(_svd_vh_p, _svd_vh_jvp)


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


def _stacked_batch(prim):
    """NumPy's SVD works on stacks of matrices: the batch axis is one more stack axis."""
    def rule(size, batched, x):
        return prim(x)
    return rule


_norm_p.batch = _norm_batch
_svals_p.batch = _stacked_batch(_svals_p)
_svd_u_p.batch = _stacked_batch(_svd_u_p)
_svd_vh_p.batch = _stacked_batch(_svd_vh_p)

_defined = {"norm": norm}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_np.linalg, _defined, "numpy.linalg.", _handled))
