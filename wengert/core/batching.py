"""Batching: running a function once on a whole batch of values (``vmap``).

Jacobians and Hessians push a batch of basis tangents or cotangents through the rules
in one pass. Those batched values are boxes of a ``BatchTrace``: the raw value has a
leading batch axis, but the box shows the shape of one element, so rules written for
one tangent run unchanged. A primitive applied to batched boxes calls its batching
rule ``prim.batch(size, batched, *args, **kwargs)``, which receives the raw values
(``batched[i]`` says whether argument i has the leading axis) and returns the result
with the batch axis first. Primitives without a rule get ``default_rule[0](prim)``,
installed by ``wengert.numpy``: the elementwise rule or, failing that, a loop.
"""
from ..errors import EscapedTracerError
from .tracer import Box, Trace, batch_box_class, enter_level, exit_level

default_rule = [None]


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
        for i, a in enumerate(args):
            if isinstance(a, Box) and a._trace is self:
                vals[i] = a._value
                batched[i] = True
        rule = prim.batch
        if rule is None:
            rule = prim.batch = default_rule[0](prim)
        return batch_box_class[0](rule(self.size, batched, *vals, **kwargs), self, None)


def trace_batched(fun, values, batched, size):
    """Run ``fun`` once on a batch: ``values[i]`` has a leading axis of ``size`` where
    ``batched[i]``. Returns (output, trace)."""
    level, token = enter_level()
    trace = BatchTrace(level, size)
    try:
        out = fun(*[batch_box_class[0](v, trace, None) if b else v for v, b in zip(values, batched)])
    finally:
        exit_level(token)
        trace.closed = True
    return out, trace
