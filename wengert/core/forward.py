"""Forward mode: dual numbers. Each box carries its tangent beside its value.

A primitive applied to this trace's boxes computes its value and, from the JVP rules,
the output tangent. No tape is kept. A tangent of ``None`` is a symbolic zero: values
that do not depend on the inputs carry no tangent and cost nothing.

``push_tangents`` is shared with ``linearize``, which replays a recorded tape forward
instead of re-running the program.
"""
from ..errors import EscapedTracerError
from .saved import raise_explained
from .tracer import Box, Trace, box_class, enter_level, exit_level
from .vspace import add, fit_tangent, is_differentiable


def push_tangents(prim, argnums, tangents, ans, vals, kwargs):
    """The output tangent of ``prim(*vals, **kwargs) = ans`` given the tangents of the
    arguments ``argnums`` (None entries are zero); None if it is zero."""
    if prim.jvp_joint is not None:
        live = [(a, t) for a, t in zip(argnums, tangents) if t is not None]
        if not live:
            return None
        out = prim.jvp_joint(tuple(a for a, _ in live), [t for _, t in live], ans, *vals, **kwargs)
        return fit_tangent(out, ans)
    out = None
    for argnum, t in zip(argnums, tangents):
        if t is None:
            continue
        rule = prim.jvps.get(argnum) or prim.jvp_rule(argnum)
        c = rule(t, ans, *vals, **kwargs) if kwargs else rule(t, ans, *vals)
        if c is not None:
            out = c if out is None else add(out, c)
    return fit_tangent(out, ans)


class JVPTrace(Trace):
    __slots__ = ("closed",)

    def __init__(self, level):
        self.level = level
        self.closed = False

    def new_input(self, value, tangent):
        return box_class[0](value, self, tangent)

    def process(self, prim, args, kwargs, nboxes):
        if self.closed:
            raise EscapedTracerError(prim.name)
        if prim.jvp_primal is not None:
            out = self._primal_and_tangent(prim, args, kwargs)
            if out is not _LOWER:
                return out
        ans, vals, argnums, tangents = self.apply(prim, args, kwargs, nboxes)
        if not is_differentiable(ans):
            return ans
        t = push_tangents(prim, argnums, tangents, ans, vals, kwargs)
        if t is None:
            return ans
        return box_class[0](ans, self, t)

    def _primal_and_tangent(self, prim, args, kwargs):
        """``prim`` applied by its ``jvp_primal`` rule; ``_LOWER`` if a lower trace's box is
        among the arguments (that trace must see the primitive: the usual path)."""
        vals, argnums, tangents = list(args), [], []
        for i, a in enumerate(args):
            if isinstance(a, Box):
                if a._trace is not self or isinstance(a._value, Box):
                    return _LOWER
                vals[i] = a._value
                if a._node is not None:
                    argnums.append(i)
                    tangents.append(a._node)
        ans, t = prim.jvp_primal(tuple(argnums), tangents, *vals, **kwargs)
        if t is None or not is_differentiable(ans):
            return ans
        return box_class[0](ans, self, fit_tangent(t, ans))


_LOWER = object()


def trace_forward(fun, values, tangents):
    """Run ``fun(*values)`` with each value paired with its tangent; returns (output,
    trace). The output's boxes of ``trace`` hold (value, tangent)."""
    level, token = enter_level()
    trace = JVPTrace(level)
    try:
        out = fun(*[trace.new_input(v, t) for v, t in zip(values, tangents)])
    except ValueError as e:
        raise_explained(e)
        raise
    finally:
        exit_level(token)
        trace.closed = True
    return out, trace
