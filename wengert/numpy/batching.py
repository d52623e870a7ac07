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
from ..core.batching import DIAG
from ..core.tracer import getval
from ..core.vspace import broadcast_to, cast, shape_of, sum_to
from . import elementwise as _elementwise
from ._box import ArrayBox


class BatchArrayBox(ArrayBox):
    """A batched traced value: the raw value has a leading batch axis (or, for a
    diagonal batch, is the diagonal), the box shows the shape of one element."""
    __slots__ = ()

    @property
    def shape(self):
        s = shape_of(self._value)
        return s if self._node is DIAG else s[1:]

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(_np.prod(self.shape, dtype=int)))

    def __len__(self):
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def own_shape(x, batched):
    """The shape of one element of ``x`` (all of ``x`` if it is not batched)."""
    s = shape_of(x)
    return s[1:] if batched else s


def with_batch(x, batched, size):
    """``x`` with the batch axis in front, broadcasting an unbatched ``x`` to it."""
    if batched:
        return x
    return broadcast_to(x, (size,) + shape_of(x))


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
    shape = shape_of(x)[1:]
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


# -- diagonal batches (see core/batching.py) ---------------------------------------------

def expand_diagonal(d, size):
    """The dense batch ``(size,) + shape(d)`` whose element b is ``d`` at flat position b
    and zero elsewhere."""
    from .indexing import untake
    from .shape import reshape_p
    shape = shape_of(d)
    dtype = _np.result_type(getval(d))
    n = _np.arange(size)
    return reshape_p(untake(reshape_p(d, (size,)), (n, n), (size, size), dtype), (size,) + shape)


def _linear_unary_diag(prim):
    """Elementwise maps that send 0 to 0 keep a diagonal batch diagonal."""
    def rule(size, batched, diagonal, x, *args, **kwargs):
        if any(batched[1:]):
            return NotImplemented
        return prim(x, *args, **kwargs), True
    return rule


def _scale_diag(prim, either_side):
    """``d * c`` (or ``d / c``) for a diagonal d and an unbatched c of no larger shape."""
    def rule(size, batched, diagonal, x, y):
        if diagonal[0] and not batched[1]:
            d, out = x, prim(x, y)
        elif either_side and diagonal[1] and not batched[0]:
            d, out = y, prim(x, y)
        else:
            return NotImplemented
        return (out, True) if shape_of(out) == shape_of(d) else NotImplemented
    return rule


def _sum_diag(prim):
    def rule(size, batched, diagonal, x, y):
        if diagonal[0] and diagonal[1] and shape_of(x) == shape_of(y):
            return prim(x, y), True
        return NotImplemented
    return rule


def _matmul_diag(size, batched, diagonal, a, b):
    """A matrix times the vectors of a diagonal batch is the matrix scaled by the diagonal."""
    from .shape import reshape_p, transpose_p
    na, nb = len(shape_of(a)), len(shape_of(b))
    if diagonal[1] and not batched[0] and na == 2 and nb == 1:     # (W @ e_b) d_b = W[:, b] d_b
        return transpose_p(a * b, (1, 0)), False
    if diagonal[0] and not batched[1] and na == 1 and nb == 2:     # d_b e_b @ W = d_b W[b, :]
        return reshape_p(a, (size, 1)) * b, False
    return NotImplemented


def _tensordot_diag(size, batched, diagonal, a, b, axes):
    """Contracting the one axis of a diagonal batch with an axis of an unbatched array."""
    from .shape import moveaxis, reshape_p
    (ax_a,), (ax_b,) = axes if len(axes[0]) == 1 else ((None,), (None,))
    if ax_a is None:
        return NotImplemented
    if diagonal[1] and not batched[0] and len(shape_of(b)) == 1:
        other, ax, d = a, ax_a, b
    elif diagonal[0] and not batched[1] and len(shape_of(a)) == 1:
        other, ax, d = b, ax_b, a
    else:
        return NotImplemented
    nd = len(shape_of(other))
    scale = reshape_p(d, tuple(size if i == ax else 1 for i in range(nd)))
    return moveaxis(other * scale, ax, 0), False


def _install_diagonal_rules():
    from .elementwise import add, conjugate, divide, imag, multiply, negative, positive, real, subtract
    from .products import matmul, tensordot_p
    for prim in (negative, positive, real, imag, conjugate, cast):
        prim.batch_diag = _linear_unary_diag(prim)
    multiply.batch_diag = _scale_diag(multiply, either_side=True)
    divide.batch_diag = _scale_diag(divide, either_side=False)
    add.batch_diag = _sum_diag(add)
    subtract.batch_diag = _sum_diag(subtract)
    matmul.batch_diag = _matmul_diag
    tensordot_p.batch_diag = _tensordot_diag


_core_batching.expand_diagonal[0] = expand_diagonal
_install_diagonal_rules()
