"""Shape functions: linear maps that move elements around.

Only four primitives move elements: ``reshape``, ``transpose``, ``concatenate`` and
``getitem`` (in ``indexing``), plus the core's ``broadcast_to``. Each is declared
linear (its JVP is itself applied to the tangent), and its VJP is the inverse
movement applied to the cotangent. Everything else here is a composition of them:
flips and splits are slices, rolls are concatenations of slices, ``moveaxis`` and
friends are transposes, ``squeeze``/``expand_dims``/``atleast_*`` are reshapes, and
``tile``/``repeat`` are a reshape, a broadcast and a reshape. So all of them are
differentiable to any order without further rules.

Every public function calls NumPy itself when no traced value reaches it, so plain
inputs get NumPy's exact results (views, integer dtypes, error messages).
"""
import functools
import itertools
import operator

import numpy as _np

from ..core import Primitive, def_linear, defvjp, defvjp_argnums
from ..core.rules import defjvp_argnums
from ..core.tracer import Box, getval
from ..core.vspace import broadcast_to as _broadcast_to_p, cast, dtype_of, shape_of
from ..errors import InPlaceUpdateError, MissingRuleError
from ._box import ArrayBox, copy_of, link_view
from ._helpers import _along, _as_array, _ndim
from ._wrap import contains_box
from .elementwise import where as _where
from .indexing import getitem

try:                                         # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple
except ImportError:                          # pragma: no cover - NumPy 1.26
    from numpy.core.multiarray import normalize_axis_index
    from numpy.core.numeric import normalize_axis_tuple

__all__ = [
    "reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes", "moveaxis",
    "rollaxis", "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays", "astype",
    "concatenate", "concat", "stack", "unstack", "hstack", "vstack", "dstack", "column_stack", "append",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "flip", "fliplr",
    "flipud", "roll", "rot90", "pad", "triu", "tril", "atleast_1d", "atleast_2d", "atleast_3d",
]


def _linear(impl, name):
    return def_linear(Primitive(impl, name))


# -- helpers --------------------------------------------------------------------------

def _numpy_if_untraced(np_func):
    """Call ``np_func`` itself when no traced value is among the arguments."""
    def decorate(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            if contains_box(args) or contains_box(kwargs):
                return func(*args, **kwargs)
            return np_func(*args, **kwargs)
        return wrapped
    return decorate


def _dummy(shape):
    """A zero-byte array of ``shape``: NumPy's shape functions applied to it give the
    output shape (and NumPy's own errors) without touching any data."""
    return _np.empty(shape, dtype=[])


# -- reshape, ravel, transpose -------------------------------------------------------

def _reshape(a, shape, order="C"):
    return _np.reshape(a, shape, order=order)


reshape_p = _linear(_reshape, "reshape")
defvjp(reshape_p, lambda g, ans, a, shape, order="C": _reshape_back(g, a, order))
reshape_p.shape_only = (0, -1)


def _reshape_back(g, a, order):
    return reshape_p(g, shape_of(a), order=order)


def _memory_order(a, order):
    """'A' as 'C' or 'F' for this value: the backward pass reshapes the cotangent,
    whose memory layout may differ from the primal's, so it needs an explicit order."""
    if order in ("A", "a", "K", "k"):
        return "F" if _np.isfortran(_np.asarray(getval(a))) else "C"
    return order


@_numpy_if_untraced(_np.reshape)
def reshape(a, /, shape, order="C", *, copy=None):
    a = _as_array(a)
    shape = getval(shape)
    shape = (operator.index(shape),) if isinstance(shape, (int, _np.integer)) else \
        tuple(operator.index(s) for s in shape)
    out = _reshaped(a, shape, _memory_order(a, order))
    return copy_of(out) if copy and out is not None and isinstance(out, Box) else out


def _reshaped(a, shape, order):
    """``reshape_p``, linked to ``a`` when NumPy's result is a view (in-place updates of
    either then show in the other, see _box.py)."""
    out = reshape_p(a, shape, order=order)
    return link_view(a, out, "reshape", (shape, order))


def _item_view(a, idx):
    """``a[idx]`` for a basic index: a view in NumPy, linked as ``a[idx]`` links it."""
    return a[idx] if isinstance(a, ArrayBox) else getitem(a, idx)


def _transposed(a, axes):
    return link_view(a, transpose_p(a, axes), "transpose", axes)


@_numpy_if_untraced(_np.ravel)
def ravel(a, order="C"):
    a = _as_array(a)
    if order in ("K", "k"):
        v = _np.asarray(getval(a))
        if not (v.flags.c_contiguous or v.flags.f_contiguous):
            # Memory order of a strided view: read it off an index array of the same layout.
            ids = _np.empty_like(v, dtype=_np.intp, order="K")
            ids[...] = _np.arange(v.size).reshape(v.shape)
            return getitem(reshape_p(a, (-1,)), _np.ravel(ids, order="K"))
    return _reshaped(a, (-1,), _memory_order(a, order))


def _transpose(a, axes=None):
    return _np.transpose(a, axes)


transpose_p = _linear(_transpose, "transpose")
defvjp(transpose_p, lambda g, ans, a, axes=None: transpose_p(g, None if axes is None else tuple(_np.argsort(axes))))
transpose_p.shape_only = (0, -1)


@_numpy_if_untraced(_np.transpose)
def transpose(a, axes=None):
    a = _as_array(a)
    if axes is None:
        return _transposed(a, None)
    nd = _ndim(a)
    axes = getval(axes)
    axes = (axes,) if isinstance(axes, (int, _np.integer)) else axes
    return _transposed(a, tuple(normalize_axis_index(operator.index(ax), nd) for ax in axes))


def permute_dims(a, axes=None):
    return transpose(a, axes)


def matrix_transpose(x, /):
    nd = _ndim(x)
    if nd < 2:
        raise ValueError(f"Input array must be at least 2-dimensional, but it is {nd}")
    return swapaxes(x, -1, -2)


@_numpy_if_untraced(_np.swapaxes)
def swapaxes(a, axis1, axis2):
    a = _as_array(a)
    nd = _ndim(a)
    i, j = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    perm = list(range(nd))
    perm[i], perm[j] = j, i
    return _transposed(a, tuple(perm))


@_numpy_if_untraced(_np.moveaxis)
def moveaxis(a, source, destination):
    a = _as_array(a)
    nd = _ndim(a)
    source = normalize_axis_tuple(source, nd, "source")
    destination = normalize_axis_tuple(destination, nd, "destination")
    if len(source) != len(destination):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [n for n in range(nd) if n not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return _transposed(a, tuple(order))


@_numpy_if_untraced(_np.rollaxis)
def rollaxis(a, axis, start=0):
    a = _as_array(a)
    n = _ndim(a)
    axis = normalize_axis_index(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise _np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    axes = list(range(n))
    axes.remove(axis)
    axes.insert(start, axis)
    return transpose_p(a, tuple(axes))


# -- adding and removing unit axes, broadcasting ---------------------------------------

@_numpy_if_untraced(_np.expand_dims)
def expand_dims(a, axis):
    a = _as_array(a)
    return _reshaped(a, _np.expand_dims(_dummy(shape_of(a)), getval(axis)).shape, "C")


@_numpy_if_untraced(_np.squeeze)
def squeeze(a, axis=None):
    a = _as_array(a)
    return _reshaped(a, _np.squeeze(_dummy(shape_of(a)), getval(axis)).shape, "C")


def _atleast(np_func, arys):
    res = []
    for a in arys:
        if contains_box(a):
            a = _as_array(a)
            shape = np_func(_dummy(shape_of(a))).shape
            res.append(a if shape == shape_of(a) else _reshaped(a, shape, "C"))
        else:
            res.append(np_func(a))
    return res[0] if len(res) == 1 else tuple(res)


def atleast_1d(*arys):
    return _atleast(_np.atleast_1d, arys)


def atleast_2d(*arys):
    return _atleast(_np.atleast_2d, arys)


def atleast_3d(*arys):
    return _atleast(_np.atleast_3d, arys)


def _shape_tuple(shape):
    shape = getval(shape)
    return (operator.index(shape),) if isinstance(shape, (int, _np.integer)) else \
        tuple(operator.index(s) for s in shape)


@_numpy_if_untraced(_np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    array = _as_array(array)
    shape = _shape_tuple(shape)
    if shape_of(array) == shape:
        return array
    return _broadcast_to_p(array, shape)


@_numpy_if_untraced(_np.broadcast_arrays)
def broadcast_arrays(*args, subok=False):
    args = [_as_array(a) for a in args]
    shape = _np.broadcast_shapes(*[shape_of(a) for a in args])
    return tuple(broadcast_to(a, shape) for a in args)


def astype(x, dtype, /, *, copy=True, device=None):
    """``x.astype(dtype)``: a cast between float/complex types keeps the derivative; a
    cast to an integer or boolean type drops it (the result is piecewise constant)."""
    dtype = _np.dtype(dtype)
    if dtype.kind not in "fc":
        return _np.asarray(getval(x)).astype(dtype)
    if dtype_of(x) == dtype and not copy:
        return x
    return cast(x, dtype) if isinstance(x, Box) else _np.asarray(x).astype(dtype, copy=copy)


# -- joining --------------------------------------------------------------------------

def _concatenate(axis, *arrays, offsets=None):
    return _np.concatenate(arrays, axis=axis)


concatenate_p = Primitive(_concatenate, "concatenate")
concatenate_p.linear = True


def _concatenate_vjp(argnums, g, ans, axis, *arrays, offsets=None):
    ax = axis % len(shape_of(ans))
    if offsets is None:
        offsets = tuple(itertools.accumulate((shape_of(a)[ax] for a in arrays), initial=0))
    # argnum k >= 1 is arrays[k - 1]
    return [getitem(g, _along(ax, slice(offsets[k - 1], offsets[k]))) for k in argnums]


defvjp_argnums(concatenate_p, _concatenate_vjp)


def _concat(axis, arrays):
    """``concatenate_p`` with each array's start along ``axis`` computed once, so that
    the backward pass of ``np.array([many traced scalars])`` stays linear."""
    try:
        sizes = [shape_of(a)[axis] for a in arrays]
    except IndexError:             # 0-d arrays: let NumPy raise its own error
        return concatenate_p(axis, *arrays)
    return concatenate_p(axis, *arrays, offsets=tuple(itertools.accumulate(sizes, initial=0)))


def _cast_all(arrays, dtype, casting):
    if dtype is None:
        return arrays
    dtype = _np.dtype(dtype)
    for a in arrays:
        if not _np.can_cast(dtype_of(getval(a)), dtype, casting=casting):
            raise TypeError(f"Cannot cast array data from {dtype_of(getval(a))!r} to {dtype!r} "
                            f"according to the rule {casting!r}")
    return [astype(a, dtype, copy=False) for a in arrays]


@_numpy_if_untraced(_np.concatenate)
def concatenate(arrays, /, axis=0, out=None, *, dtype=None, casting="same_kind"):
    if out is not None:
        raise InPlaceUpdateError("concatenate(..., out=...)")
    arrays = [_as_array(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    arrays = _cast_all(arrays, dtype, casting)
    return _concat(operator.index(axis), arrays)


concat = concatenate


@_numpy_if_untraced(_np.stack)
def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    if out is not None:
        raise InPlaceUpdateError("stack(..., out=...)")
    arrays = [_as_array(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    shape = shapes.pop()
    ax = normalize_axis_index(axis, len(shape) + 1)
    shape = shape[:ax] + (1,) + shape[ax:]
    return concatenate([reshape_p(a, shape) for a in arrays], axis=ax, dtype=dtype, casting=casting)


def _as_tuple(arrs):
    return arrs if isinstance(arrs, tuple) else (arrs,)


@_numpy_if_untraced(_np.hstack)
def hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = _as_tuple(atleast_1d(*tup))
    axis = 0 if arrs and _ndim(arrs[0]) == 1 else 1
    return concatenate(arrs, axis, dtype=dtype, casting=casting)


@_numpy_if_untraced(_np.vstack)
def vstack(tup, *, dtype=None, casting="same_kind"):
    return concatenate(_as_tuple(atleast_2d(*tup)), 0, dtype=dtype, casting=casting)


@_numpy_if_untraced(_np.dstack)
def dstack(tup):
    return concatenate(_as_tuple(atleast_3d(*tup)), 2)


@_numpy_if_untraced(_np.column_stack)
def column_stack(tup):
    arrays = []
    for v in tup:
        v = _as_array(v)
        if _ndim(v) < 2:
            v = reshape(v, (-1, 1))
        arrays.append(v)
    return concatenate(arrays, 1)


@_numpy_if_untraced(_np.append)
def append(arr, values, axis=None):
    arr = _as_array(arr)
    values = _as_array(values)
    if axis is None:
        if _ndim(arr) != 1:
            arr = ravel(arr)
        values = ravel(values)
        axis = _ndim(arr) - 1
    return concatenate((arr, values), axis=axis)


@_numpy_if_untraced(getattr(_np, "unstack", lambda x, /, *, axis=0: tuple(_np.moveaxis(x, axis, 0))))
def unstack(x, /, *, axis=0):
    x = _as_array(x)
    nd = _ndim(x)
    if nd == 0:
        raise ValueError("Input array must be at least 1-d.")
    ax = normalize_axis_index(axis, nd)
    return tuple(getitem(x, _along(ax, i)) for i in range(shape_of(x)[ax]))


# -- splitting ------------------------------------------------------------------------

def _div_points(n, indices_or_sections):
    try:
        points = [operator.index(i) for i in getval(indices_or_sections)]
        return [0] + points + [n]
    except TypeError:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.") from None
        each, extras = divmod(n, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        return [int(p) for p in _np.cumsum(sizes)]


@_numpy_if_untraced(_np.array_split)
def array_split(ary, indices_or_sections, axis=0):
    ary = _as_array(ary)
    ax = normalize_axis_index(axis, _ndim(ary))
    points = _div_points(shape_of(ary)[ax], indices_or_sections)
    return [_item_view(ary, _along(ax, slice(start, stop))) for start, stop in zip(points[:-1], points[1:])]


@_numpy_if_untraced(_np.split)
def split(ary, indices_or_sections, axis=0):
    ary = _as_array(ary)
    try:
        len(indices_or_sections)
    except TypeError:
        n = shape_of(ary)[normalize_axis_index(axis, _ndim(ary))]
        if n % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division") from None
    return array_split(ary, indices_or_sections, axis)


@_numpy_if_untraced(_np.hsplit)
def hsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if _ndim(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim(ary) > 1 else 0)


@_numpy_if_untraced(_np.vsplit)
def vsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if _ndim(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


@_numpy_if_untraced(_np.dsplit)
def dsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if _ndim(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


# -- repeating ------------------------------------------------------------------------

def _repeat_axes(a, shape, reps):
    """``a`` of ``shape`` with axis i repeated ``reps[i]`` times as whole blocks
    (``tile``): reshape to (1, s0, 1, s1, ...), broadcast, reshape."""
    if all(r == 1 for r in reps):
        return a if shape_of(a) == tuple(shape) else reshape_p(a, tuple(shape))
    x = reshape_p(a, tuple(d for s in shape for d in (1, s)))
    x = _broadcast_to_p(x, tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return reshape_p(x, tuple(r * s for r, s in zip(reps, shape)))


@_numpy_if_untraced(_np.tile)
def tile(A, reps):
    A = _as_array(A)
    try:
        reps = tuple(operator.index(r) for r in reps)
    except TypeError:
        reps = (operator.index(reps),)
    if any(r < 0 for r in reps):
        raise ValueError("negative dimensions are not allowed")
    shape = shape_of(A)
    nd = max(len(reps), len(shape))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    return _repeat_axes(A, shape, reps)


@_numpy_if_untraced(_np.repeat)
def repeat(a, repeats, axis=None):
    a = _as_array(a)
    if axis is None:
        a, ax = ravel(a), 0
    else:
        ax = normalize_axis_index(axis, _ndim(a))
    shape = shape_of(a)
    n = shape[ax]
    reps = _np.asarray(getval(repeats))
    if reps.size == 1 and reps.ndim <= 1:     # every element the same number of times
        r = operator.index(reps.reshape(())[()])
        if r < 0:
            raise ValueError("negative dimensions are not allowed")
        x = reshape_p(a, shape[:ax + 1] + (1,) + shape[ax + 1:])
        x = _broadcast_to_p(x, shape[:ax + 1] + (r,) + shape[ax + 1:])
        return reshape_p(x, shape[:ax] + (n * r,) + shape[ax + 1:])
    return getitem(a, _along(ax, _np.repeat(_np.arange(n), reps)))


# -- reversing and rotating -------------------------------------------------------------

@_numpy_if_untraced(_np.flip)
def flip(m, axis=None):
    m = _as_array(m)
    nd = _ndim(m)
    axes = range(nd) if axis is None else normalize_axis_tuple(axis, nd)
    return _item_view(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(nd)))


@_numpy_if_untraced(_np.fliplr)
def fliplr(m):
    m = _as_array(m)
    if _ndim(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return _item_view(m, (slice(None), slice(None, None, -1)))


@_numpy_if_untraced(_np.flipud)
def flipud(m):
    m = _as_array(m)
    if _ndim(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return _item_view(m, (slice(None, None, -1), Ellipsis))


@_numpy_if_untraced(_np.roll)
def roll(a, shift, axis=None):
    a = _as_array(a)
    if axis is None:
        return reshape_p(roll(ravel(a), shift, 0), shape_of(a))
    shape = shape_of(a)
    axes = normalize_axis_tuple(axis, len(shape), allow_duplicate=True)
    pairs = _np.broadcast(getval(shift), axes)
    if pairs.ndim > 1:
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
    shifts = {}
    for sh, ax in pairs:
        shifts[ax] = shifts.get(ax, 0) + int(sh)
    out = a
    for ax, sh in sorted(shifts.items()):
        n = shape[ax]
        s = sh % n if n else 0
        if s:
            out = _concat(ax, [getitem(out, _along(ax, slice(n - s, None))),
                               getitem(out, _along(ax, slice(None, n - s)))])
    return out


@_numpy_if_untraced(_np.rot90)
def rot90(m, k=1, axes=(0, 1)):
    m = _as_array(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    nd = _ndim(m)
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if axes[0] >= nd or axes[0] < -nd or axes[1] >= nd or axes[1] < -nd:
        raise ValueError(f"Axes={axes} out of range for array of ndim={nd}.")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(nd))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), perm)
    return flip(transpose(m, perm), axes[1])


# -- padding and triangles --------------------------------------------------------------

def _pairs(x, ndim):
    """NumPy's ``(before, after)`` pairs per axis (``numpy.pad``'s ``_as_pairs``), as an
    array of shape (ndim, 2); traced constants stay traced."""
    if isinstance(x, Box):
        if x.size == 1:
            x = reshape_p(x, ())
        return _broadcast_to_p(x, (ndim, 2)) if shape_of(x) != (ndim, 2) else x
    x = _np.asarray(x)
    if x.size == 1:
        x = x.reshape(())
    return _np.broadcast_to(x, (ndim, 2))


def pad(array, pad_width, mode="constant", **kwargs):
    if not (contains_box(array) or contains_box(kwargs)):
        return _np.pad(array, pad_width, mode=mode, **kwargs)
    if mode != "constant":
        raise MissingRuleError(f"numpy.pad(mode={mode!r})")
    unsupported = set(kwargs) - {"constant_values"}
    if unsupported:
        raise ValueError(f"unsupported keyword arguments for mode 'constant': {unsupported}")
    array = _as_array(array)
    shape, dtype = shape_of(array), dtype_of(array)
    nd = len(shape)
    widths = _np.asarray(getval(pad_width))
    if widths.dtype.kind not in "iu":
        raise TypeError("`pad_width` must be of integral type.")
    widths = _pairs(widths, nd)
    if (widths < 0).any():
        raise ValueError("index can't contain negative values")
    values = _pairs(_as_array(kwargs.get("constant_values", 0)), nd)
    out = array
    for ax in range(nd):
        before, after = int(widths[ax, 0]), int(widths[ax, 1])
        if not (before or after):
            continue
        cur = shape_of(out)
        parts = [out]
        if before:
            parts.insert(0, _block(values, ax, 0, cur[:ax] + (before,) + cur[ax + 1:], dtype))
        if after:
            parts.append(_block(values, ax, 1, cur[:ax] + (after,) + cur[ax + 1:], dtype))
        out = _concat(ax, parts)
    return out


def _block(values, ax, side, shape, dtype):
    if isinstance(values, Box):
        return _broadcast_to_p(astype(getitem(values, (ax, side)), dtype, copy=False), shape)
    return _np.full(shape, values[ax, side], dtype)


def _triangle(m, mask):
    return _where(mask, m, _np.zeros(1, dtype_of(m)))


@_numpy_if_untraced(_np.tril)
def tril(m, k=0):
    m = _as_array(m)
    return _triangle(m, _np.tri(*shape_of(m)[-2:], k=k, dtype=bool))


@_numpy_if_untraced(_np.triu)
def triu(m, k=0):
    m = _as_array(m)
    return _triangle(m, ~_np.tri(*shape_of(m)[-2:], k=k - 1, dtype=bool))


# -- forward rule and batching rules of the movement primitives ----------------------------

def _concatenate_jvp(argnums, tangents, ans, axis, *arrays, offsets=None):
    from .elementwise import zeros_like_traced
    ts = dict(zip(argnums, tangents))
    return concatenate_p(axis, *[ts[k + 1] if k + 1 in ts else zeros_like_traced(a)
                                 for k, a in enumerate(arrays)], offsets=offsets)


defjvp_argnums(concatenate_p, _concatenate_jvp)


def _reshape_batch(size, batched, a, shape, order="C"):
    if order in ("F", "f"):
        # Fortran order is C order on the reversed axes: reverse the element's own
        # axes, reshape in C order to the reversed shape, and reverse back.
        nd = len(shape_of(a)) - 1
        a = transpose_p(a, (0,) + tuple(range(nd, 0, -1)))
        out = reshape_p(a, (size,) + tuple(shape)[::-1])
        return transpose_p(out, (0,) + tuple(range(len(shape), 0, -1)))
    return reshape_p(a, (size,) + tuple(shape))     # reshape() resolves 'A'/'K' to 'C'/'F'


def _transpose_batch(size, batched, a, axes=None):
    nd = len(shape_of(a)) - 1
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(i) % nd for i in axes)
    return transpose_p(a, (0,) + tuple(i + 1 for i in axes))


def _concatenate_batch(size, batched, axis, *arrays, offsets=None):
    from .batching import own_shape, with_batch
    nd = len(own_shape(arrays[0], batched[1]))
    arrays = [with_batch(a, b, size) for a, b in zip(arrays, batched[1:])]
    return concatenate_p(axis % nd + 1, *arrays, offsets=offsets)


reshape_p.batch = _reshape_batch
transpose_p.batch = _transpose_batch
concatenate_p.batch = _concatenate_batch
