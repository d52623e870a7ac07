"""Array construction from traced values: ``array``, ``asarray`` and friends."""
import numpy as _np

from ..core.tracer import Box, getval
from ._wrap import contains_box
from .shape import astype, stack


def _from_nested(obj):
    if isinstance(obj, Box):
        return obj
    if isinstance(obj, (list, tuple)) and contains_box(obj):
        return stack([_from_nested(o) for o in obj])
    return _np.asarray(obj)


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """``numpy.array``; a (nested) list holding traced values is stacked."""
    if not contains_box(object):
        return _np.array(object, dtype=dtype, copy=copy, order=order, subok=subok, ndmin=ndmin)
    out = _from_nested(object)
    if dtype is not None:
        out = astype(out, dtype)
    while len(_np.shape(getval(out))) < ndmin:
        from .shape import expand_dims
        out = expand_dims(out, 0)
    return out


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    if not contains_box(a):
        return _np.asarray(a, dtype=dtype, order=order)
    return array(a, dtype=dtype)


asanyarray = ascontiguousarray = asfortranarray = asarray


def copy(a, order="K", subok=False):
    return a if isinstance(a, Box) else _np.copy(a, order=order, subok=subok)
