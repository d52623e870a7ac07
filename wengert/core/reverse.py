"""Reverse mode: the tape (a Wengert list) and the backward pass.

A record is appended for every primitive applied to this trace's boxes, in execution
order. Execution order is already a topological order, so the backward pass is one
loop over the records in reverse: no graph search, no recursion, no depth limit.
Records hold raw values only (never this trace's boxes), so a finished tape holds no
reference cycles and is freed as soon as the last reference to it goes. The plain
ndarrays a tape will read again are read-only while it lives (see saved.py).
"""
import numpy as _np

from ..errors import EscapedTracerError
from .saved import Tape, UnheldTape, hold_constants, raise_explained
from .tracer import Trace, box_class, enter_level, exit_level
from .vspace import _LAZY, accumulate, fit, is_differentiable

_LEAF = None  # the primitive slot of an input record
_ndarray = _np.ndarray
_NP_FLOATS = (_np.float64, _np.float32, _np.complex128, _np.complex64)


class ReverseTrace(Trace):
    """Records primitive applications on ``records``: (prim, args, kwargs, ans, argnums, ids)."""

    __slots__ = ("records",)

    def __init__(self, level, hold=True):
        self.level = level
        self.records = Tape() if hold else UnheldTape()

    def new_input(self, value):
        records = self.records
        if isinstance(value, _ndarray):
            records.hold(value)
        records.append((_LEAF, None, None, value, (), ()))
        return box_class[0](value, self, len(records) - 1)

    def process(self, prim, args, kwargs, nboxes):
        ans, vals, argnums, ids = self.apply(prim, args, kwargs, nboxes)
        c = ans.__class__
        if c is _ndarray:
            if ans.dtype.kind not in "fc":
                return ans                    # integer or boolean results carry no derivative
        elif c is not float and c not in _NP_FLOATS and not is_differentiable(ans):
            return ans
        records = self.records
        kept = ans
        if prim.shape_only is not None:
            for k in prim.shape_only:
                if k < 0:
                    if c is _ndarray and ans.size >= _STAND_IN_MIN:
                        kept = stand_in(ans)
                elif vals[k].__class__ is _ndarray and vals[k].size >= _STAND_IN_MIN:
                    vals[k] = stand_in(vals[k])
        try:
            records.append((prim, vals, kwargs, kept, argnums, ids))
        except AttributeError:
            raise EscapedTracerError(prim.name) from None
        if (len(argnums) < len(vals) or kwargs) and records.holding:
            for v in vals:          # (a scan here is cheaper than a call, in scalar code)
                if v.__class__ is _ndarray:
                    hold_constants(records, prim, vals, kwargs, argnums)
                    break
            else:
                if kwargs:
                    hold_constants(records, prim, vals, kwargs, argnums)
        if prim.also_reads is not None:
            for v in prim.also_reads():
                if v.__class__ is _ndarray:
                    records.hold(v)
        return box_class[0](ans, self, len(records) - 1)


_STAND_IN_MIN = 64              # smaller arrays cost less to keep than to stand in for
_stand_ins = {}
_NO_DATA = bytes(64)


def stand_in(a):
    """An array of ``a``'s shape and dtype that holds no memory (every stride 0, read-only):
    what the tape keeps of a value its rules need only the shape and dtype of."""
    key = (a.shape, a.dtype)
    s = _stand_ins.get(key)
    if s is None:
        if a.dtype.itemsize > len(_NO_DATA) or a.dtype.hasobject:
            return a
        if len(_stand_ins) >= 1024:
            _stand_ins.clear()
        s = _stand_ins[key] = _np.ndarray(a.shape, a.dtype, buffer=_NO_DATA, strides=(0,) * a.ndim)
    return s


def trace_reverse(fun, values, positions, hold=True):
    """Run ``fun(*values)`` with ``values[i]`` boxed for ``i`` in ``positions``. Without
    ``hold``, the tape does not keep the arrays it reads read-only: for a tape reversed
    before any other code runs.

    Returns (output, input box indices, records). The trace is closed before this
    returns: a box that escapes and is used later raises ``EscapedTracerError``.
    """
    level, token = enter_level()
    trace = ReverseTrace(level, hold)
    try:
        args = list(values)
        for i in positions:
            args[i] = trace.new_input(values[i])
        out = fun(*args)
    except BaseException as e:
        try:
            raise_explained(e)
            raise
        finally:
            trace.records.release()
    finally:
        exit_level(token)
        records, trace.records = trace.records, None
    return out, trace, records


def backward(records, seeds, inputs, free):
    """Propagate cotangents from ``seeds`` [(index, cotangent)] back to the records at
    ``inputs``; returns their cotangents (None where no path leads). With ``free``, each
    record and adjoint is dropped as soon as the loop has passed it."""
    if not seeds:
        return [None] * len(inputs)
    start = max(i for i, _ in seeds)
    adj = [None] * (start + 1)
    owned = [False] * (start + 1)
    for i, c in seeds:
        if adj[i] is None:
            adj[i] = c
        else:
            adj[i], owned[i] = accumulate(adj[i], c, owned[i])
    first_input = min(inputs) if inputs else 0
    for i in range(start, first_input - 1, -1):
        g = adj[i]
        if g is None:
            if free:
                records[i] = None
            continue
        prim, args, kwargs, ans, argnums, ids = records[i]
        if prim is _LEAF:
            continue
        if free:
            records[i] = None
            adj[i] = None
        if g.__class__ in _LAZY:
            g = g.dense()
        joint = prim.vjp_joint
        if joint is None:
            vjps = prim.vjps
            cts = []
            for argnum in argnums:
                rule = vjps.get(argnum) or prim.vjp_rule(argnum)
                cts.append(rule(g, ans, *args, **kwargs) if kwargs else rule(g, ans, *args))
        else:
            cts = joint(argnums, g, ans, *args, **kwargs)
        for argnum, j, c in zip(argnums, ids, cts):
            if c is None:
                continue
            c = fit(c, args[argnum])
            prev = adj[j]
            if prev is None:
                adj[j] = c
            else:
                adj[j], owned[j] = accumulate(prev, c, owned[j])
    return [adj[i] if i < len(adj) else None for i in inputs]
