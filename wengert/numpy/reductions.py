"""Reductions: sums, means, extrema, products, moments, cumulative operations.

A reduction's cotangent is reshaped so it broadcasts against the input and then
broadcast to it (``_expand``).
"""
import numpy as _np

from ..core import Primitive, def_linear, defvjp
from ..core.vspace import broadcast_to, shape_of
from ._helpers import reduced_shape
from .shape import reshape


def _expand(g, shape, axis, keepdims):
    """Broadcast a reduction's cotangent ``g`` back to the input ``shape``."""
    if not keepdims:
        g = reshape(g, reduced_shape(shape, axis, False))
    return broadcast_to(g, shape)


def _sum(x, axis=None, keepdims=False):
    return _np.sum(x, axis=axis, keepdims=keepdims)


_sum_p = def_linear(Primitive(_sum, "sum"))
defvjp(_sum_p, lambda g, ans, x, axis=None, keepdims=False: _expand(g, shape_of(x), axis, keepdims))


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_np._NoValue, where=_np._NoValue):
    """``numpy.sum``; ``initial`` is added to the result, ``where`` masks the input."""
    _no_out(out, "sum")
    if where is not _np._NoValue:
        from .elementwise import where as _where
        a = _where(where, a, 0.0)
    if dtype is not None:
        from .shape import astype
        a = astype(a, dtype)
    s = _sum_p(a, axis=axis, keepdims=keepdims)
    return s if initial is _np._NoValue else s + initial


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_np._NoValue):
    _no_out(out, "mean")
    shape = shape_of(a)
    if where is not _np._NoValue:
        from .elementwise import where as _where
        count = _np.sum(_np.broadcast_to(where, shape), axis=axis, keepdims=keepdims)
        return sum(_where(where, a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims) / count
    n = _np.prod([shape[i] for i in _np.atleast_1d(range(len(shape)) if axis is None else axis)], dtype=int) \
        if shape else 1
    return sum(a, axis=axis, dtype=dtype, keepdims=keepdims) / n


def _no_out(out, name):
    if out is not None:
        from ..errors import InPlaceUpdateError
        raise InPlaceUpdateError(f"{name}(..., out=...)")
