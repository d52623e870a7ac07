"""Array construction from traced values: ``array``, ``asarray`` and friends.

A (nested) list or tuple holding traced values is stacked (``np.array([x, y])`` has
the derivative of ``np.stack([x, y])``); a traced value passes through (cast if a
``dtype`` is given). Without traced values these are NumPy's own functions.
"""
import numpy as _np

from ..core.tracer import Box, getval
from ._box import copy_of
from ._wrap import contains_box
from .shape import astype, expand_dims, stack

__all__ = ["array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "copy"]


def _from_nested(obj):
    if isinstance(obj, Box):
        return obj
    if isinstance(obj, (list, tuple)) and contains_box(obj):
        return stack([_from_nested(o) for o in obj])
    return _np.asarray(obj)


def _traced_array(obj, dtype=None, ndmin=0, copy=False):
    out = _from_nested(obj)
    if copy and out is obj:
        out = copy_of(out)          # an array of its own: in-place updates must not reach obj
    if dtype is not None:
        out = astype(out, dtype, copy=False)
    nd = len(_np.shape(getval(out)))
    if nd < ndmin:
        out = expand_dims(out, tuple(range(ndmin - nd)))
    return out


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, ndmax=0, like=None):
    """``numpy.array``; a (nested) list holding traced values is stacked."""
    if not contains_box(object):
        extra = {"ndmax": ndmax} if ndmax else {}
        extra.update({"like": like} if like is not None else {})
        return _np.array(object, dtype=dtype, copy=copy, order=order, subok=subok, ndmin=ndmin, **extra)
    return _traced_array(object, dtype, ndmin, copy=bool(copy))


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    if not contains_box(a):
        extra = {"like": like} if like is not None else {}
        if copy is not None:
            extra["copy"] = copy
        return _np.asarray(a, dtype=dtype, order=order, **extra)
    return _traced_array(a, dtype)


def asanyarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    if not contains_box(a):
        extra = {"like": like} if like is not None else {}
        if copy is not None:
            extra["copy"] = copy
        return _np.asanyarray(a, dtype=dtype, order=order, **extra)
    return _traced_array(a, dtype)


def ascontiguousarray(a, dtype=None, *, like=None):
    if not contains_box(a):
        return _np.ascontiguousarray(a, dtype=dtype, **({"like": like} if like is not None else {}))
    return _traced_array(a, dtype, ndmin=1)


def asfortranarray(a, dtype=None, *, like=None):
    if not contains_box(a):
        return _np.asfortranarray(a, dtype=dtype, **({"like": like} if like is not None else {}))
    return _traced_array(a, dtype, ndmin=1)


def copy(a, order="K", subok=False):
    if not contains_box(a):
        return _np.copy(a, order=order, subok=subok)
    return _traced_array(a, copy=True)
