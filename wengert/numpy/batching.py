"""Batching rules: how each primitive acts on values with a leading batch axis.

Jacobians and Hessians run their rules once on a batch of basis tangents or
cotangents (``core/batching.py``). A rule receives raw values (``batched[i]``: has the
batch axis of ``size`` in front) and returns the result with the batch axis in front.
Rules call primitives, not raw NumPy, so they are recorded by any outer trace.

Elementwise primitives share one rule: align each batched argument's own axes to the
right and let broadcasting do the rest. A primitive without a rule falls back to a loop
over the batch, which is always correct and slower; the primitives that dominate
Jacobians and Hessians (products, reshapes, reductions, indexing) have rules.
"""
import numpy as _np

from ..core import batching as _core_batching
from ..core.tracer import getval
from ..core.vspace import broadcast_to, cast, sum_to
from . import elementwise as _elementwise
from ._box import ArrayBox


class BatchArrayBox(ArrayBox):
    """A batched traced value: the raw value has a leading batch axis, the box shows
    the shape of one element of the batch."""
    __slots__ = ()
    shape = property(lambda self: _np.shape(self._value)[1:])
    ndim = property(lambda self: _np.ndim(self._value) - 1)
    size = property(lambda self: int(_np.prod(_np.shape(self._value)[1:], dtype=int)))

    def __len__(self):
        return _np.shape(self._value)[1]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def own_shape(x, batched):
    """The shape of one element of ``x`` (all of ``x`` if it is not batched)."""
    s = _np.shape(getval(x))
    return s[1:] if batched else s


def with_batch(x, batched, size):
    """``x`` with the batch axis in front, broadcasting an unbatched ``x`` to it."""
    if batched:
        return x
    return broadcast_to(x, (size,) + _np.shape(getval(x)))


def elementwise_rule(prim):
    def rule(size, batched, *args, **kwargs):
        nd = max(len(own_shape(a, b)) for a, b in zip(args, batched))
        args = [_lift(a, nd, size) if b else a for a, b in zip(args, batched)]
        return prim(*args, **kwargs)
    return rule


def _lift(x, nd, size):
    """Batched ``x`` with unit axes after the batch axis, so its own axes line up with
    the last ``nd`` axes of the other arguments."""
    from .shape import reshape_p
    shape = _np.shape(getval(x))[1:]
    if len(shape) == nd:
        return x
    return reshape_p(x, (size,) + (1,) * (nd - len(shape)) + shape)


def loop_rule(prim):
    def rule(size, batched, *args, **kwargs):
        from .shape import stack
        outs = [prim(*[a[i] if b else a for a, b in zip(args, batched)], **kwargs) for i in range(size)]
        return stack(outs)
    return rule


def default_rule(prim):
    return elementwise_rule(prim) if prim.derivs else loop_rule(prim)


def _sum_to_rule(size, batched, x, shape):
    from .reductions import _sum_p
    from .shape import reshape_p
    own = own_shape(x, True)
    lead = len(own) - len(shape)
    axes = tuple(1 + i for i in range(lead)) + tuple(
        1 + lead + i for i, n in enumerate(shape) if n == 1 and own[lead + i] != 1)
    return reshape_p(_sum_p(x, axes, True), (size,) + tuple(shape)) if axes else x


def _broadcast_to_rule(size, batched, x, shape):
    return broadcast_to(_lift(x, len(shape), size), (size,) + tuple(shape))


_core_batching.default_rule[0] = default_rule
sum_to.batch = _sum_to_rule
broadcast_to.batch = _broadcast_to_rule
cast.batch = elementwise_rule(cast)
# Elementwise but declared linear rather than by a partial derivative (conj is antilinear).
for _prim in (_elementwise.real, _elementwise.imag, _elementwise.conjugate):
    _prim.batch = elementwise_rule(_prim)
del _prim
