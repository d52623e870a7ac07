"""Boxes, trace levels and primitives: the part of wengert every mode shares.

A *trace* is one interpretation of a program in progress (today: a reverse-mode
tape). While a function runs under a trace, its differentiated inputs are wrapped in
a ``Box`` that remembers the trace and the box's position in it. A ``Primitive`` is a
function wengert knows the derivative of: when it is called with boxes, the boxes of
the highest-level trace are unwrapped, the primitive is applied to the raw values and
the trace records (or propagates) the operation.

Levels keep nested derivatives apart. ``grad(grad(f))`` runs ``f`` under two traces:
the outer one at level 1, the inner at level 2. A primitive seeing boxes of both
levels handles only the level-2 boxes; level-1 boxes are treated as constants by
the inner trace and are passed through to a recursive call of the primitive, which
the outer trace then records. Without this, ``d/dx [x * d/dy (x + y)]`` would
wrongly mix the two perturbations ("perturbation confusion") and return 2 instead of 1.

The current level lives in a ``ContextVar``, so threads and asyncio tasks each
differentiate independently.
"""
from contextvars import ContextVar

from ..errors import MissingRuleError, last_refused_conversion

_depth = ContextVar("wengert_trace_depth", default=0)


class Trace:
    """Base class of traces. Subclasses implement ``process``."""

    __slots__ = ("level",)

    def process(self, prim, args, kwargs, nboxes):  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, prim, args, kwargs, nboxes):
        """Apply ``prim`` with this trace's boxes unwrapped. Returns (output, raw
        arguments, positions of this trace's boxes, their ``_node`` data). Boxes of
        lower levels, also inside an unwrapped value, make the primitive recurse so that
        their traces see the operation too."""
        vals = list(args)
        argnums = []
        nodes = []
        nested = False
        for i, a in enumerate(args):
            if isinstance(a, Box) and a._trace is self:
                v = vals[i] = a._value
                nested = nested or isinstance(v, Box)
                argnums.append(i)
                nodes.append(a._node)
        if nested or len(argnums) < nboxes:
            return prim(*vals, **kwargs), vals, argnums, nodes
        return prim.impl(*vals, **kwargs), vals, argnums, nodes


class Box:
    """A traced value: the raw value, its trace, and the trace's own datum for it
    (``_node``: the tape index in reverse mode, the tangent in forward mode)."""

    __slots__ = ("_value", "_trace", "_node", "__weakref__")

    def __init__(self, value, trace, node):
        self._value = value
        self._trace = trace
        self._node = node

    def __repr__(self):
        return f"Traced<level {self._trace.level}>({self._value!r})"


# The classes used for new boxes; ``wengert.numpy`` installs ones with array methods.
# ``batch_box_class`` is for values carrying a leading batch axis (see batching.py).
box_class = [Box]
batch_box_class = [Box]


def set_box_class(cls, batch_cls=None):
    box_class[0] = cls
    batch_box_class[0] = batch_cls or cls


def getval(x):
    """The raw value under any number of boxes."""
    while isinstance(x, Box):
        x = x._value
    return x


def enter_level():
    """Open a new, deeper trace level; returns (level, token for ``exit_level``)."""
    level = _depth.get() + 1
    last_refused_conversion()      # forget an earlier one: saved.explain_numpy_error must see only this run's
    return level, _depth.set(level)


def exit_level(token):
    _depth.reset(token)


class Primitive:
    """A function with derivative rules.

    ``vjps[argnum](g, ans, *args, **kwargs)`` returns the cotangent of argument
    ``argnum`` given the output cotangent ``g``. ``jvps[argnum](t, ans, *args,
    **kwargs)`` returns the output tangent caused by tangent ``t`` of that argument.
    ``derivs[argnum](ans, *args, **kwargs)`` (elementwise primitives only) is the
    partial derivative both of those are built from. ``vjp_joint(argnums, g, ans, *args,
    **kwargs)``, when set, returns the cotangents of all ``argnums`` at once, and
    ``jvp_joint(argnums, tangents, ans, *args, **kwargs)`` the output tangent caused by
    all of them (for primitives of many arguments, such as concatenate). ``batch`` is
    the batching rule and ``batch_diag`` the optional one for diagonal batches (see
    batching.py). Only one of the two modes' rules is needed:
    the other is derived by transposition (rules.py). Rules are written with
    differentiable functions, so they are themselves recorded under an outer trace.
    """

    __slots__ = ("name", "impl", "vjps", "vjp_joint", "jvps", "jvp_joint", "derivs", "linear", "batch",
                 "batch_diag", "__dict__")
    # Whether the rules read the values of untraced array arguments; the tape holds
    # those read-only (core/saved.py) unless a primitive says it needs only their shapes.
    reads_constants = True
    # A callable returning more arrays the rules will read (a custom_vjp's residuals), for
    # the tape to hold with the constants; None for almost every primitive.
    also_reads = None
    # Whether a checkpoint policy may keep this primitive's result instead of running it
    # again: not for primitives whose impl prepares what their rules use (checkpoint,
    # checkpoint_loop), nor for those built afresh for each call (custom rules,
    # fixed_point), which a recomputation could not match to the saved result.
    saveable = True
    # ``jvp_primal(argnums, tangents, *args, **kwargs) -> (value, tangent)``: both from one
    # evaluation, for primitives whose impl and forward rule would each run a user function
    # (checkpoint, checkpoint_loop); forward mode uses it when no lower trace is involved.
    jvp_primal = None
    # Positions of the arguments (-1: the output) whose values the rules never read, only
    # their shape and dtype: the tape keeps a stand-in that holds no memory (reverse.py), so
    # the copies a chain of updates makes (a[i] = v cell by cell) are freed as it goes.
    shape_only = None

    def __init__(self, impl, name=None):
        self.impl = impl
        self.name = name or getattr(impl, "__name__", repr(impl))
        self.vjps = {}
        self.vjp_joint = None
        self.jvps = {}
        self.jvp_joint = None
        self.batch = None
        self.batch_diag = None
        self.derivs = {}
        self.linear = False
        self.__doc__ = getattr(impl, "__doc__", None)
        self.__name__ = self.name
        self.__wrapped__ = impl

    def __call__(self, *args, **kwargs):
        trace = None
        level = -1
        nboxes = 0
        for a in args:
            if isinstance(a, Box):
                nboxes += 1
                t = a._trace
                if t.level > level:
                    level = t.level
                    trace = t
        if trace is None:
            return self.impl(*args, **kwargs)
        return trace.process(self, args, kwargs, nboxes)

    def vjp_rule(self, argnum):
        """The reverse rule for ``argnum``, derived from the forward rule if need be."""
        rule = self.vjps.get(argnum)
        if rule is None:
            if argnum not in self.jvps and self.jvp_joint is None:
                raise MissingRuleError(self.name, argnum, "reverse")
            from .rules import vjp_from_jvp
            rule = self.vjps[argnum] = vjp_from_jvp(self, argnum)
        return rule

    def jvp_rule(self, argnum):
        """The forward rule for ``argnum``, derived from the reverse rule if need be."""
        rule = self.jvps.get(argnum)
        if rule is None:
            if argnum not in self.vjps and self.vjp_joint is None:
                raise MissingRuleError(self.name, argnum, "forward")
            from .rules import jvp_from_vjp
            rule = self.jvps[argnum] = jvp_from_vjp(self, argnum)
        return rule

    def __getattr__(self, name):
        # Attributes of the wrapped function (ufunc.nin, .reduce, ...) for untraced use.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.impl, name)

    def __repr__(self):
        return f"<wengert primitive {self.name}>"


def primitive(impl=None, name=None):
    """Make ``impl`` a primitive; usable as ``@primitive`` or ``primitive(f, name)``."""
    if impl is None:
        return lambda f: Primitive(f, name)
    return Primitive(impl, name)
