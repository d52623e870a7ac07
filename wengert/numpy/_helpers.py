"""Small helpers shared by the rule families (raw NumPy only, no primitives)."""
import numpy as _np

from ..core.tracer import getval


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


def static(x):
    """A value that must not be traced (an index, a shape, an axis)."""
    return getval(x)
