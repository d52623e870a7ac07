"""Small helpers shared by the rule families (no primitives of their own: ``_as_array``
stacks through ``constructors.array``, imported when it is needed)."""
import numpy as _np

from ..core.vspace import shape_of
from ._wrap import contains_box


def normalize_axes(axis, ndim):
    """``axis`` (None, int or tuple, possibly negative) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, _np.integer)):
        axis = (axis,)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axis))


def reduced_shape(shape, axis, keepdims):
    """The shape a reduction over ``axis`` with ``keepdims`` produces: used to bring a
    cotangent back to a shape that broadcasts against the input."""
    axes = normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _as_array(a):
    """A traced value as is; a (nested) list or tuple holding traced values stacked."""
    if isinstance(a, (list, tuple)) and contains_box(a):
        from .constructors import array
        return array(a)
    return a


def _ndim(a):
    return len(shape_of(a))


def _along(axis, index):
    """An index selecting ``index`` along ``axis`` (all of every earlier axis)."""
    return (slice(None),) * axis + (index,)
