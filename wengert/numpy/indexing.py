"""Indexing. ``x[idx]`` is a primitive whose cotangent is sparse: zero except at
``idx``. Outside higher-order differentiation the backward pass keeps it as a
``Sparse`` cotangent and adds it in place, so reading an array element by element in
a loop stays O(n) overall instead of O(n^2).

Every NumPy index works: slices (negative steps too), integers, integer arrays
(repeated indices accumulate their cotangents, through ``numpy.add.at``), boolean
masks, ``Ellipsis``, ``None`` and any mixture. The functions below (``take``,
``take_along_axis``, ``diagonal``, ``sort``, ...) are ``x[idx]`` with a computed index,
and ``diag`` of a vector is ``untake``, the transpose of indexing.
"""
import operator

import numpy as _np

from ..core import Primitive, def_linear, defvjp
from ..core.rules import defjvp_argnums
from ..core.tracer import Box, getval
from ..core.vspace import Sparse, dtype_of, shape_of
from ..errors import InPlaceUpdateError
from ._helpers import _along, _as_array, _ndim
from ._wrap import contains_box, strip_boxes

try:                                         # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:                          # pragma: no cover - NumPy 1.26
    from numpy.core.multiarray import normalize_axis_index

__all__ = ["take", "take_along_axis", "diagonal", "diag", "diagflat", "sort", "compress", "extract"]


def _array_index(value):
    a = _np.asarray(value)
    if a.size == 0 and a.dtype.kind == "f":      # x[[]]: NumPy reads an empty list as intp
        return a.astype(_np.intp)
    return a


def _static_index(idx):
    if isinstance(idx, tuple):
        return tuple(_static_index(i) for i in idx)
    if isinstance(idx, Box):
        value = getval(idx)
        if _np.asarray(value).dtype.kind in "fc":
            raise TypeError("array indices must be integers or booleans, got a traced float array")
        return value
    if isinstance(idx, list):
        return _array_index(strip_boxes(idx))
    return _own(idx)


def _own(idx):
    """An index array the tape can keep: a copy of a writeable one (the user may reuse the
    array, and the backward pass reads it; small next to the values indexed)."""
    return idx.copy() if idx.__class__ is _np.ndarray and idx.flags.writeable else idx


def _getitem(x, idx):
    return x[idx]


def _untake(g, idx, shape, dtype):
    return Sparse(shape, dtype, idx, g).dense()


getitem_p = def_linear(Primitive(_getitem, "getitem"))
untake = def_linear(Primitive(_untake, "untake"))


def _getitem_vjp(g, ans, x, idx):
    if isinstance(g, Box):             # higher order: stay inside differentiable primitives
        return untake(g, idx, shape_of(x), dtype_of(x))
    return Sparse(shape_of(x), dtype_of(x), idx, g)


defvjp(getitem_p, _getitem_vjp)
getitem_p.shape_only = (0, -1)
defvjp(untake, lambda g, ans, c, idx, shape, dtype: getitem_p(g, idx))


def getitem(x, idx):
    return getitem_p(x, _static_index(idx))


# -- functions that are x[idx] for a computed idx ------------------------------------------

def _int_indices(indices):
    idx = _array_index(getval(indices))
    return idx.astype(_np.intp, casting="same_kind" if idx.dtype.kind in "iu" else "safe")    # (a copy)


def _traced_along(a, axis, out, name):
    """A traced ``a`` and the axis to work along (``axis=None``: along the flattened array)."""
    if out is not None:
        raise InPlaceUpdateError(f"{name}(..., out=...)")
    from .shape import ravel
    a = _as_array(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis_index(axis, _ndim(a))


def take(a, indices, axis=None, out=None, mode="raise"):
    if not contains_box(a):
        return _np.take(a, indices, axis=axis, out=out, mode=mode)
    a, ax = _traced_along(a, axis, out, "take")
    n = shape_of(a)[ax]
    idx = _int_indices(indices)
    if mode == "wrap":
        idx = idx % n if n else idx
    elif mode == "clip":
        idx = _np.clip(idx, 0, n - 1) if n else idx
    elif mode != "raise":
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    return getitem_p(a, _along(ax, idx))


def take_along_axis(arr, indices, axis=-1):
    if not contains_box(arr):
        return _np.take_along_axis(arr, indices, axis)
    from .shape import ravel
    arr = _as_array(arr)
    indices = _own(_np.asarray(getval(indices)))
    if indices.dtype.kind not in "iu":
        raise IndexError("`indices` must be an integer array")
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr, axis = ravel(arr), 0
    shape = shape_of(arr)
    nd = len(shape)
    axis = normalize_axis_index(axis, nd)
    if indices.ndim != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    idx = tuple(indices if d == axis else _np.arange(n).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1))
                for d, n in enumerate(shape))
    return getitem_p(arr, idx)


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``numpy.sort``: ``a`` gathered through its ``argsort`` permutation, so the
    cotangent is scattered back through the same permutation."""
    extra = {} if stable is None else {"stable": stable}
    if not contains_box(a):
        return _np.sort(a, axis=axis, kind=kind, order=order, **extra)
    from .shape import ravel
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), -1
    perm = _np.argsort(getval(a), axis=axis, kind=kind, order=order, **extra)
    return take_along_axis(a, perm, axis)


def diagonal(a, offset=0, axis1=0, axis2=1):
    if not contains_box(a):
        return _np.diagonal(a, offset, axis1, axis2)
    from .shape import transpose_p
    a = _as_array(a)
    shape = shape_of(a)
    nd = len(shape)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    i1, i2 = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    if i1 == i2:
        raise ValueError("axis1 and axis2 cannot be the same")
    perm = tuple(d for d in range(nd) if d not in (i1, i2)) + (i1, i2)
    if perm != tuple(range(nd)):
        a = transpose_p(a, perm)
    rows, cols = _diagonal_indices(shape[i1], shape[i2], operator.index(offset))
    return getitem_p(a, (Ellipsis, rows, cols))


def _diagonal_indices(n1, n2, offset):
    if offset >= 0:
        i = _np.arange(max(0, min(n1, n2 - offset)))
        return i, i + offset
    i = _np.arange(max(0, min(n1 + offset, n2)))
    return i - offset, i


def diag(v, k=0):
    if not contains_box(v):
        return _np.diag(v, k)
    v = _as_array(v)
    shape = shape_of(v)
    if len(shape) == 1:
        k = operator.index(k)
        n = shape[0] + abs(k)
        rows, cols = _diagonal_indices(n, n, k)
        return untake(v, (rows, cols), (n, n), dtype_of(v))
    if len(shape) == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def diagflat(v, k=0):
    if not contains_box(v):
        return _np.diagflat(v, k)
    from .shape import ravel
    return diag(ravel(_as_array(v)), k)


def compress(condition, a, axis=None, out=None):
    if not contains_box(a):
        return _np.compress(condition, a, axis=axis, out=out)
    a, ax = _traced_along(a, axis, out, "compress")
    cond = _np.asarray(getval(condition))
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    idx = _np.nonzero(cond)[0]
    if idx.size and idx[-1] >= shape_of(a)[ax]:
        raise IndexError(f"index {idx[-1]} is out of bounds for axis {ax} with size {shape_of(a)[ax]}")
    return getitem_p(a, _along(ax, idx))


def extract(condition, arr):
    if not contains_box(arr):
        return _np.extract(condition, arr)
    from .shape import ravel
    return take(ravel(_as_array(arr)), _np.nonzero(_np.ravel(getval(condition)))[0])


# -- batching rules ---------------------------------------------------------------------

def _advanced_first(items):
    """(whether NumPy puts the advanced-index axes first, their number) for index ``items``.

    NumPy moves the broadcast axes of advanced indices (arrays, lists and scalar
    booleans, with integers counted among them once there is one) to the front when
    they are separated by a slice, Ellipsis or None. A boolean mask, of any number of
    dimensions, gives one axis (of its number of True entries); a scalar boolean is a
    0-d mask (one axis of length 1 or 0)."""
    arrays = [i for i in items if isinstance(i, (_np.ndarray, list, bool, _np.bool_))]
    if not arrays:
        return False, 0
    positions = [k for k, i in enumerate(items) if isinstance(i, (_np.ndarray, list, int, _np.integer, _np.bool_))]
    separated = positions != list(range(positions[0], positions[-1] + 1))
    shapes = [(int(_np.count_nonzero(i)),) if _np.asarray(i).dtype == bool else _np.shape(i)
              for k, i in enumerate(items) if k in positions]
    return separated, len(_np.broadcast_shapes(*shapes))


def _items(idx):
    return idx if isinstance(idx, tuple) else (idx,)


def _getitem_batch(size, batched, x, idx):
    from .shape import moveaxis
    items = _items(idx)
    out = getitem_p(x, (slice(None),) + items)
    first, n = _advanced_first(items)
    return moveaxis(out, n, 0) if first and n else out


def _untake_batch(size, batched, g, idx, shape, dtype):
    from .shape import moveaxis
    items = _items(idx)
    first, n = _advanced_first(items)
    if first and n:
        g = moveaxis(g, 0, n)
    return untake(g, (slice(None),) + items, (size,) + tuple(shape), dtype)


getitem_p.batch = _getitem_batch
untake.batch = _untake_batch


# -- functional item assignment: what ``a[idx] = v`` on a traced array records ------------
# The primitive copies: the value the tape saved for ``a`` stays intact (copy-on-write),
# so an update can never corrupt what the backward pass reads. The box of ``a`` is then
# pointed at the result (``ArrayBox.__setitem__``), which gives NumPy's semantics for
# every name bound to that array.

def _setitem(x, idx, v):
    out = _np.array(x, copy=True)
    out[idx] = v
    return out


setitem_p = Primitive(_setitem, "setitem")
setitem_p.linear = True
setitem_p.shape_only = (0, 2, -1)      # (each update is a copy: the tape keeps none of them)


def _kept_writes(shape, idx):
    """Where ``x[idx] = v`` has repeated positions (integer-array indices can repeat one),
    NumPy keeps the last write to each: a boolean mask over ``x[idx]``'s shape, True for
    the elements kept; None when every element is kept."""
    if not any(isinstance(i, _np.ndarray) and i.dtype.kind in "iu" for i in _items(idx)):
        return None                          # ints, slices and masks never repeat a position
    marker = _np.full(shape, -1, dtype=_np.intp)
    target = marker[idx].shape
    order = _np.arange(_np.prod(target, dtype=_np.intp)).reshape(target)
    marker[idx] = order
    kept = marker[idx] == order
    return None if kept.all() else kept


def _setitem_vjp_v(g, ans, x, idx, v):
    # each element of v written lands in the output unless a later write to the same position
    # replaced it: only the kept ones get a cotangent (fit sums it over v's broadcast axes)
    ct = getitem_p(g, idx)
    kept = _kept_writes(shape_of(x), idx)
    return ct if kept is None else ct * kept


defvjp(setitem_p, lambda g, ans, x, idx, v: setitem_p(g, idx, 0.0),
       None,
       _setitem_vjp_v)


def _setitem_jvp(argnums, tangents, ans, x, idx, v):
    from .elementwise import zeros_like_traced
    ts = dict(zip(argnums, tangents))
    tx = ts[0] if 0 in ts else zeros_like_traced(x)
    tv = ts[2] if 2 in ts else zeros_like_traced(v)
    return setitem_p(tx, idx, tv)


defjvp_argnums(setitem_p, _setitem_jvp)


def _setitem_batch(size, batched, x, idx, v):
    from .batching import loop_rule, own_shape, with_batch
    from .shape import reshape_p
    items = _items(idx)
    first, n = _advanced_first(items)
    if first and n:
        return loop_rule(setitem_p)(size, batched, x, idx, v)
    xb = with_batch(x, batched[0], size)
    target = _np.shape(_np.empty(own_shape(x, batched[0]), dtype=[])[idx])
    if batched[2]:       # v's own axes line up with the last axes of the target
        vs = own_shape(v, True)
        v = reshape_p(v, (size,) + (1,) * (len(target) - len(vs)) + vs)
    return setitem_p(xb, (slice(None),) + items, v)


setitem_p.batch = _setitem_batch


def setitem(x, idx, v):
    """``x`` with ``x[idx]`` replaced by ``v``, as a new array (for traced values)."""
    return setitem_p(x, _static_index(idx), v)
