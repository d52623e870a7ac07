"""Batching: running a function once on a whole batch of values (``vmap``).

Jacobians and Hessians push a batch of basis tangents or cotangents through the rules
in one pass. Those batched values are boxes of a ``BatchTrace``: the raw value has a
leading batch axis, but the box shows the shape of one element, so rules written for
one tangent run unchanged. A primitive applied to batched boxes calls its batching
rule ``prim.batch(size, batched, *args, **kwargs)``, which receives the raw values
(``batched[i]`` says whether argument i has the leading axis) and returns the result
with the batch axis first. Primitives without a rule get ``default_rule[0](prim)``,
installed by ``wengert.numpy``: the elementwise rule or, failing that, a loop.

Diagonal batches. The identity basis a Jacobian starts from is a batch whose element
``b`` is zero except at position ``b``. Such a batch is stored as its diagonal alone
(the box's ``_node`` is ``DIAG`` and its value has the shape of one element), and
primitives that keep the structure or can exploit it say so with
``prim.batch_diag(size, batched, diagonal, *args, **kwargs)``, returning ``(value,
is_diagonal)`` or ``NotImplemented``. A diagonal scaled elementwise stays diagonal, and
a matrix times a diagonal is a scaled matrix: the Jacobian of ``tanh(W @ x)`` then costs
O(n^2) instead of the O(n^3) of a product with a dense identity. Everywhere else the
diagonal is expanded first (``expand_diagonal[0]``, installed by ``wengert.numpy``).
"""
from ..errors import EscapedTracerError
from .saved import raise_explained
from .tracer import Box, Trace, batch_box_class, enter_level, exit_level

DIAG = "diagonal"
default_rule = [None]
expand_diagonal = [None]


class BatchTrace(Trace):
    __slots__ = ("size", "closed")

    def __init__(self, level, size):
        self.level = level
        self.size = size
        self.closed = False

    def process(self, prim, args, kwargs, nboxes):
        if self.closed:
            raise EscapedTracerError(prim.name)
        vals = list(args)
        batched = [False] * len(args)
        diagonal = None
        for i, a in enumerate(args):
            if isinstance(a, Box) and a._trace is self:
                vals[i] = a._value
                batched[i] = True
                if a._node is DIAG:
                    diagonal = diagonal or [False] * len(args)
                    diagonal[i] = True
        if diagonal is not None:
            out = NotImplemented
            if prim.batch_diag is not None:
                out = prim.batch_diag(self.size, batched, diagonal, *vals, **kwargs)
            if out is not NotImplemented:
                value, is_diagonal = out
                return batch_box_class[0](value, self, DIAG if is_diagonal else None)
            vals = [expand_diagonal[0](v, self.size) if d else v for v, d in zip(vals, diagonal)]
        rule = prim.batch
        if rule is None:
            rule = prim.batch = default_rule[0](prim)
        return batch_box_class[0](rule(self.size, batched, *vals, **kwargs), self, None)


def trace_batched(fun, values, batched, size, diagonal=None):
    """Run ``fun`` once on a batch: ``values[i]`` has a leading axis of ``size`` where
    ``batched[i]``, or is the diagonal of a diagonal batch where ``diagonal[i]``.
    Returns (output, trace)."""
    diagonal = diagonal or [False] * len(values)
    level, token = enter_level()
    trace = BatchTrace(level, size)
    try:
        out = fun(*[batch_box_class[0](v, trace, DIAG if d else None) if b or d else v
                    for v, b, d in zip(values, batched, diagonal)])
    except ValueError as e:
        raise_explained(e)
        raise
    finally:
        exit_level(token)
        trace.closed = True
    return out, trace
