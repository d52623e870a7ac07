"""Shape functions: linear maps that move elements around.

Each is declared linear (its JVP is itself applied to the tangent), and its VJP is
the inverse movement applied to the cotangent.
"""
import numpy as _np

from ..core import Primitive, def_linear, defvjp
from ..core.tracer import Box, getval
from ..core.vspace import cast, dtype_of, shape_of


def _linear(impl, name):
    return def_linear(Primitive(impl, name))


def _reshape(a, shape, order="C"):
    return _np.reshape(a, shape, order=order)


reshape_p = _linear(_reshape, "reshape")
defvjp(reshape_p, lambda g, ans, a, shape, order="C": _reshape_back(g, a, order))


def _reshape_back(g, a, order):
    return reshape_p(g, shape_of(a), order=order)


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = newshape if shape is None else shape
    if isinstance(shape, (int, _np.integer)):
        shape = (int(shape),)
    return reshape_p(a, tuple(shape), order=order)


def _transpose(a, axes=None):
    return _np.transpose(a, axes)


transpose_p = _linear(_transpose, "transpose")
defvjp(transpose_p, lambda g, ans, a, axes=None: transpose_p(g, None if axes is None else tuple(_np.argsort(axes))))


def transpose(a, axes=None):
    return transpose_p(a, None if axes is None else tuple(axes))


def ravel(a, order="C"):
    return reshape_p(a, (-1,), order=order)


def astype(x, dtype, copy=True):
    """``x.astype(dtype)``: a cast between float/complex types keeps the derivative; a
    cast to an integer or boolean type drops it (the result is piecewise constant)."""
    dtype = _np.dtype(dtype)
    if dtype.kind not in "fc":
        return _np.asarray(getval(x)).astype(dtype)
    if dtype_of(x) == dtype and not copy:
        return x
    return cast(x, dtype) if isinstance(x, Box) else _np.asarray(x).astype(dtype, copy=copy)


def _concatenate(axis, *arrays):
    return _np.concatenate(arrays, axis=axis)


concatenate_p = Primitive(_concatenate, "concatenate")
concatenate_p.linear = True


def _concatenate_vjp(argnum):
    def vjp(g, ans, axis, *arrays):
        ax = axis % len(shape_of(ans))
        start = sum(shape_of(a)[ax] for a in arrays[:argnum - 1])
        stop = start + shape_of(arrays[argnum - 1])[ax]
        from .indexing import getitem
        return getitem(g, (slice(None),) * ax + (slice(start, stop),))
    return vjp


class _ConcatVJPs(dict):
    """Rules for any number of arrays, made on first use."""

    def __missing__(self, argnum):
        if argnum == 0:
            raise KeyError(argnum)
        rule = self[argnum] = _concatenate_vjp(argnum)
        return rule

    def get(self, argnum, default=None):
        try:
            return self[argnum]
        except KeyError:
            return default


concatenate_p.vjps = _ConcatVJPs()


def concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    out = concatenate_p(axis, *arrays)
    return out if dtype is None else astype(out, dtype)


def expand_dims(a, axis):
    shape = shape_of(a)
    return reshape_p(a, _np.expand_dims(_np.empty(shape, dtype=[]), axis).shape)


def stack(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    nd = len(shape_of(arrays[0])) + 1
    ax = axis % nd
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax, dtype=dtype)
