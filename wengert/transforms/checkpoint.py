"""Checkpointing (rematerialization): trading recomputation for tape memory.

``checkpoint(f)`` makes a call of ``f`` one primitive. Its forward rule runs ``f`` on raw
values, so nothing computed inside ``f`` is recorded; the tape keeps only the inputs and
the output of the call. Its reverse rule runs ``f`` again, this time under a fresh
reverse trace, and pulls the cotangent back through that short tape. The rules are
written with wengert's own transforms (``trace_reverse``/``backward``,
``trace_forward``, ``vmap_flat``), so they are recorded by outer traces like any other
rule: a checkpoint can be nested in another, differentiated to any order, pushed
forward (forward mode runs ``f`` under a JVP trace) and batched.

``checkpoint_loop(step, carry, n_steps, snapshots=s)`` differentiates
``carry = step(carry)`` repeated ``n_steps`` times keeping at most ``s`` carries
(snapshots) in memory, by binomial checkpointing: the reversal schedule of Griewank and
Walther's *revolve* (ACM TOMS Algorithm 799), which evaluates ``step`` the minimal number
of times possible with ``s`` snapshots (``revolve_evaluations``).

Values a function closes over. A checkpointed function, or a loop step, may use
differentiated values it captures from an enclosing scope (``lambda x: W @ x`` with a
traced ``W``). At each call, the traced values reachable from the function (closure
cells, default arguments, ``functools.partial`` arguments, bound ``self``, attributes of
plain objects, containers, and the module globals its code names) become extra
arguments of the primitive, so their cotangents flow like those of explicit arguments.
While the function runs inside a rule, each such box is temporarily turned into an
*alias* of the value that rule gives it (a raw value, or a box of the rule's own trace):
a box of the alias trace, which sits above every real trace and simply substitutes
the value before the primitive is dispatched again. A traced value that cannot be
found this way (kept behind a C extension, say) is detected when it reaches the output
and reported with ``CapturedTracerError``. The plain ndarrays found the same way are
passed to the primitive too (its rules ignore them): the function reads them again when
it is recomputed, so the tape that records the call holds them read-only until the
derivative is done, like any constant (core/saved.py).

Values run again. The inputs of a checkpointed call, the snapshots of a loop and its
parameters are given to the user's function more than once, as raw arrays at the first
order. The function gets read-only views of them, so an in-place update (``x *= 2``,
harmless on a traced ``x``) raises ``SavedArrayWriteError`` instead of changing what the
next run starts from.
"""
import functools
import types
import weakref
from math import comb

import numpy as _np

from ..core.forward import trace_forward
from ..core.pytree import _node as _tree_node
from ..core.pytree import tree_flatten
from ..core.reverse import ReverseTrace, backward, trace_reverse
from ..core.rules import defjvp_argnums, defvjp_argnums
from ..core.saved import ExplainWrites, read_only, writeable_again
from ..core.tracer import Box, Primitive, Trace, box_class, enter_level, exit_level, getval
from ..core.vspace import accumulate, cast, densify, dtype_of, fit, is_differentiable, shape_of, zeros_like_value
from ..errors import WengertError
from .batch import vmap_flat

__all__ = ["CapturedTracerError", "checkpoint", "checkpoint_loop", "revolve_evaluations", "revolve_schedule"]


class CapturedTracerError(WengertError, RuntimeError):
    """A checkpointed function used a traced value that is neither an argument nor
    reachable from the function (so it could not be made an argument)."""

    def __init__(self, op):
        super().__init__(
            f"{op}: the function returned a traced value it did not receive as an argument and that "
            f"could not be found among the values it closes over (closure cells, defaults, partial "
            f"arguments, attributes of plain objects, module globals). Pass that value as an argument "
            f"(checkpoint_loop: through params=).")


# -- aliases: a captured box made to stand for another value while a rule runs ----------------

class _AliasTrace(Trace):
    """The trace of aliased boxes: above every real trace, it only substitutes each aliased
    box by the value it stands for and dispatches the primitive again."""

    __slots__ = ()

    def __init__(self):
        self.level = 1 << 62

    def process(self, prim, args, kwargs, nboxes):
        vals = [_resolve(a) for a in args]
        for v in vals:
            if isinstance(v, Box):          # a box of a real trace (an alias for one, or another argument)
                return prim(*vals, **kwargs)
        return prim.impl(*vals, **kwargs)   # raw values only: what prim(*vals) would run


_ALIAS = _AliasTrace()


def _resolve(x):
    while isinstance(x, Box) and x._trace is _ALIAS:
        x = x._value
    return x


class _Aliased:
    """Context: each box of ``boxes`` stands for the matching value of ``targets``."""

    __slots__ = ("boxes", "targets", "saved")

    def __init__(self, boxes, targets):
        self.boxes, self.targets = boxes, targets

    def __enter__(self):
        saved = self.saved = []
        cls = box_class[0]
        for b, t in zip(self.boxes, self.targets):
            saved.append((b, b.__class__, b._value, b._trace, b._node))
            if t is b:
                continue                 # the box already is the value it stands for
            x = t
            while isinstance(x, Box):    # a box cannot stand for a value it is part of
                if x is b:
                    self.__exit__()
                    raise RuntimeError("checkpoint: a captured traced value would stand for itself "
                                       "(please report this with the code that raised it)")
                x = x._value
            try:
                b.__class__ = cls        # shape, dtype, ... read through to the target
            except TypeError:
                pass
            b._value, b._trace, b._node = t, _ALIAS, None
        return self

    def __exit__(self, *exc):
        for b, c, v, t, n in reversed(self.saved):
            b._value, b._trace, b._node = v, t, n
            if b.__class__ is not c:
                b.__class__ = c
        return False


def _aliased(boxes, targets):
    return _Aliased(boxes, targets) if boxes else _NoAlias


class _NoAliasType:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NoAlias = _NoAliasType()


# -- finding the traced values a function closes over ----------------------------------------

_LIBRARIES = frozenset({"wengert", "numpy", "scipy", "builtins", "functools", "itertools", "operator", "math",
                        "typing", "abc", "collections", "contextlib", "contextvars", "dataclasses", "enum"})
_ATOMS = (str, bytes, int, float, complex, bool, _np.ndarray, _np.generic, range, slice, type(Ellipsis),
          types.ModuleType, type, types.BuiltinFunctionType, types.CodeType, Primitive)
_WALK_LIMIT = 100_000


def _library(obj):
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and module.split(".", 1)[0] in _LIBRARIES


@functools.lru_cache(maxsize=1024)
def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return frozenset(names)


def _live(box):
    trace = box._trace
    if isinstance(trace, ReverseTrace):
        return trace.records is not None
    return not getattr(trace, "closed", False)


def _captured(fun):
    """The live boxes and the plain ndarrays reachable from ``fun`` (see the module
    docstring), each once. The arrays are passed to the primitive as constants, so that a
    tape recording it holds them read-only (core/saved.py): they are read again when
    ``fun`` is recomputed in the backward pass."""
    found, arrays, seen_boxes, seen = [], [], set(), set()
    stack = [fun]
    visits = 0
    while stack and visits < _WALK_LIMIT:
        obj = stack.pop()
        visits += 1
        if isinstance(obj, Box):
            if id(obj) not in seen_boxes and _live(obj):
                seen_boxes.add(id(obj))
                found.append(obj)
            continue
        if obj.__class__ is _np.ndarray:
            if id(obj) not in seen:
                seen.add(id(obj))
                arrays.append(obj)
            continue
        if obj is None or isinstance(obj, _ATOMS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:       # an empty cell
                    pass
            stack.extend(obj.__defaults__ or ())
            stack.extend((obj.__kwdefaults__ or {}).values())
            if not _library(obj):
                g = obj.__globals__
                stack.extend(g[name] for name in _global_names(obj.__code__) if name in g)
        elif isinstance(obj, types.MethodType):
            stack.append(obj.__func__)
            stack.append(obj.__self__)
        elif isinstance(obj, functools.partial):
            stack.append(obj.func)
            stack.extend(obj.args)
            stack.extend(obj.keywords.values())
        elif isinstance(obj, (tuple, list, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif not _library(type(obj)):
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                stack.extend(attrs.values())
            for klass in type(obj).__mro__:
                for name in getattr(klass, "__slots__", ()):
                    if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                        try:
                            stack.append(getattr(obj, name))
                        except AttributeError:
                            pass
            call = getattr(type(obj), "__call__", None)
            if isinstance(call, types.FunctionType):
                stack.append(call)
    return found, arrays


def _check_untraced(op, leaves):
    for leaf in leaves:
        if isinstance(leaf, Box):
            raise CapturedTracerError(op)


# -- one array for a pytree of outputs --------------------------------------------------------

class _Packer:
    """A primitive returns one value, so the differentiable leaves of a function's output
    are packed into one array (raveled and concatenated, in their common dtype; a single
    leaf is passed as it is) and unpacked by differentiable slices. Leaves that are not
    differentiable (integers, booleans, strings) are kept aside, raw."""

    def __init__(self, leaves, tree):
        self.tree = tree
        self.diff = [k for k, leaf in enumerate(leaves) if is_differentiable(leaf)]
        diff = set(self.diff)
        self.shapes = [tuple(shape_of(leaves[k])) for k in self.diff]
        self.dtypes = [dtype_of(leaves[k]) for k in self.diff]
        self.other = {k: getval(leaf) for k, leaf in enumerate(leaves) if k not in diff}
        self.single = len(self.diff) == 1
        self.dtype = _np.result_type(*self.dtypes) if self.diff else _np.dtype(float)
        sizes = [int(_np.prod(s, dtype=int)) for s in self.shapes]
        self.bounds = list(zip(_np.cumsum([0] + sizes[:-1]).tolist(), _np.cumsum(sizes).tolist()))

    def pack(self, leaves):
        """The packed value of the differentiable ``leaves`` (given in ``self.diff`` order)."""
        if self.single:
            return leaves[0]
        if not leaves:
            return _np.zeros(0)
        from .. import numpy as wnp
        return wnp.concatenate([_cast(wnp.ravel(x), self.dtype) for x in leaves])

    def unpack(self, flat):
        """The differentiable leaves of the packed value ``flat``."""
        if self.single:
            return [flat]
        from .. import numpy as wnp
        out = []
        for (a, b), shape, dtype in zip(self.bounds, self.shapes, self.dtypes):
            x = flat[a] if shape == () else wnp.reshape(flat[a:b], shape)
            out.append(_cast(x, dtype))
        return out

    def unflatten(self, flat):
        leaves = [None] * (len(self.diff) + len(self.other))
        for k, x in zip(self.diff, self.unpack(flat)):
            leaves[k] = x
        for k, x in self.other.items():
            leaves[k] = x
        return self.tree.unflatten(leaves)


def _cast(x, dtype):
    return x if dtype_of(x) == dtype else cast(x, dtype)


def _diff_leaves(packer, leaves):
    return [leaves[k] for k in packer.diff]


# -- checkpoint -------------------------------------------------------------------------------

_DOTS = frozenset({"matmul", "dot", "tensordot", "einsum", "inner", "vdot", "outer", "kron"})


def _policy(policy):
    """``policy`` as a predicate on primitive names, or None (save nothing)."""
    if policy is None or policy == "save_nothing":
        return None
    if policy == "save_dots":
        return _DOTS.__contains__
    if isinstance(policy, str):
        raise ValueError(f"checkpoint: unknown policy {policy!r}; use 'save_nothing', 'save_dots', a set of "
                         f"primitive names or a predicate on primitive names")
    if isinstance(policy, (set, frozenset, list, tuple)):
        return frozenset(policy).__contains__
    if callable(policy):
        return policy
    raise TypeError(f"checkpoint: policy must be None, a string, a set of primitive names or a callable, "
                    f"not {type(policy).__name__}")


class _CallSpec:
    """What a checkpointed call needs besides its arguments: passed to the primitive as a
    keyword argument, so it travels with the tape record to the rules."""

    __slots__ = ("fun", "in_tree", "n_in", "boxes", "policy", "packer", "saved")

    def __init__(self, fun, in_tree, n_in, boxes, policy):
        self.fun, self.in_tree, self.n_in, self.boxes, self.policy = fun, in_tree, n_in, boxes, policy
        self.packer = None
        self.saved = None

    def call(self, vals):
        """``fun`` at ``vals`` (the flat arguments, then the captured values): its output leaves."""
        n = self.n_in
        inputs = read_only(vals[:n])            # the same values are used again: see core/saved.py
        args, kwargs = self.in_tree.unflatten(inputs)
        with _aliased(self.boxes, vals[n:]), ExplainWrites("checkpoint", _name(self.fun)):
            out = self.fun(*args, **kwargs)
            leaves, tree = tree_flatten(out)
            leaves = writeable_again([_resolve(x) for x in leaves], inputs, vals[:n])
        if self.packer is None:
            self.packer = _Packer(leaves, tree)
        elif tree != self.packer.tree:
            raise ValueError(f"checkpoint: {_name(self.fun)} returned a different structure when run again "
                             f"({tree} instead of {self.packer.tree})")
        return leaves


def _name(fun):
    return getattr(fun, "__qualname__", None) or getattr(fun, "__name__", None) or repr(fun)


class _SaveTrace(Trace):
    """Runs ``fun`` once on its inputs and keeps the results of the primitives the
    policy names, in order of execution."""

    __slots__ = ("policy", "saved")

    def __init__(self, level, policy):
        self.level, self.policy, self.saved = level, policy, []

    def process(self, prim, args, kwargs, nboxes):
        vals = [a._value if isinstance(a, Box) and a._trace is self else a for a in args]
        ans = prim(*vals, **kwargs)
        if prim.saveable and self.policy(prim.name):
            self.saved.append((prim, ans))
        if not is_differentiable(ans):
            return ans
        return box_class[0](ans, self, None)


class _ReplayTrace(Trace):
    """Runs ``fun`` again and, for the primitives the policy names, uses the saved results
    instead of computing them (the primitive is still recorded by the traces below, with
    its own rules)."""

    __slots__ = ("policy", "saved", "pos")

    def __init__(self, level, policy, saved):
        self.level, self.policy, self.saved, self.pos = level, policy, saved, 0

    def process(self, prim, args, kwargs, nboxes):
        vals = [a._value if isinstance(a, Box) and a._trace is self else a for a in args]
        if prim.saveable and self.policy(prim.name):
            if self.pos >= len(self.saved) or self.saved[self.pos][0] is not prim:
                raise RuntimeError(f"checkpoint: the function ran a different sequence of operations when "
                                   f"recomputed (at {prim.name}); a policy needs a deterministic function")
            value = self.saved[self.pos][1]
            self.pos += 1
            ans = _Saved(prim, value)(*vals, **kwargs)
        else:
            ans = prim(*vals, **kwargs)
        if not is_differentiable(ans):
            return ans
        return box_class[0](ans, self, None)


class _Saved(Primitive):
    """``prim`` with a known result: its impl returns the saved value, its rules are prim's."""

    def __init__(self, prim, value):
        Primitive.__init__(self, lambda *args, **kwargs: value, prim.name)
        self.original = prim
        self.vjps, self.vjp_joint, self.jvps, self.jvp_joint = prim.vjps, prim.vjp_joint, prim.jvps, prim.jvp_joint
        self.derivs, self.linear = prim.derivs, prim.linear

    def vjp_rule(self, argnum):
        return self.original.vjp_rule(argnum)

    def jvp_rule(self, argnum):
        return self.original.jvp_rule(argnum)


def _under(trace_cls, spec, vals, *extra):
    """``spec.call(vals)`` with the differentiable values boxed by a new ``trace_cls``
    trace; returns (output leaves with that trace removed, trace)."""
    level, token = enter_level()
    trace = trace_cls(level, spec.policy, *extra)
    try:
        boxed = [box_class[0](v, trace, None) if is_differentiable(v) else v for v in vals]
        leaves = spec.call(boxed)
    finally:
        exit_level(token)
    return [x._value if isinstance(x, Box) and x._trace is trace else x for x in leaves], trace


def _checkpoint_impl(*vals, spec):
    if spec.policy is None:
        leaves = spec.call(list(vals))
    else:
        leaves, trace = _under(_SaveTrace, spec, list(vals))
        spec.saved = trace.saved
    _check_untraced("checkpoint", leaves)
    return spec.packer.pack(_diff_leaves(spec.packer, leaves))


_checkpoint_p = Primitive(_checkpoint_impl, "checkpoint")


def _checkpoint_vjp(argnums, g, ans, *vals, spec):
    vals = list(vals)
    replay = spec.saved is not None and not any(isinstance(v, Box) for v in vals)
    if replay:
        def run(*xs):
            return _diff_leaves(spec.packer, _under(_ReplayTrace, spec, list(xs), spec.saved)[0])
    else:
        def run(*xs):
            return _diff_leaves(spec.packer, spec.call(list(xs)))
    out, trace, records = trace_reverse(run, vals, argnums)
    gs = spec.packer.unpack(g)
    seeds = [(o._node, fit(gk, o._value)) for o, gk in zip(out, gs) if isinstance(o, Box) and o._trace is trace]
    if not seeds:
        return [None] * len(argnums)
    cts = backward(records, seeds, list(range(len(argnums))), free=True)
    return [None if c is None else densify(c) for c in cts]


def _tangents_out(out, trace):
    return [o._node if isinstance(o, Box) and o._trace is trace else None for o in out]


def _pack_tangents(packer, out, touts):
    if all(t is None for t in touts):
        return None
    touts = [zeros_like_value(getval(o)) if t is None else t for o, t in zip(out, touts)]
    return packer.pack(touts)


def _forward(run, vals, argnums, tangents):
    """``run(vals)`` under a JVP trace, with the values at ``argnums`` paired with
    ``tangents``: (its output leaves, the trace)."""
    def boxed(*xs):
        full = list(vals)
        for a, x in zip(argnums, xs):
            full[a] = x
        return run(full)
    return trace_forward(boxed, [vals[a] for a in argnums], list(tangents))


def _value_and_tangent(op, spec, out, trace, tree=None):
    """The packed value and tangent of the output leaves ``out`` of ``trace`` (making
    ``spec``'s packer, of structure ``tree``, if no evaluation has made it yet)."""
    values = [o._value if isinstance(o, Box) and o._trace is trace else o for o in out]
    _check_untraced(op, values)
    if spec.packer is None:
        spec.packer = _Packer(values, tree)
    packer = spec.packer
    diff = _diff_leaves(packer, out)
    return packer.pack(_diff_leaves(packer, values)), _pack_tangents(packer, diff, _tangents_out(diff, trace))


def _checkpoint_jvp(argnums, tangents, ans, *vals, spec):
    out, trace = _forward(lambda full: _diff_leaves(spec.packer, spec.call(full)), vals, argnums, tangents)
    return _pack_tangents(spec.packer, out, _tangents_out(out, trace))


def _checkpoint_jvp_primal(argnums, tangents, *vals, spec):
    """Forward mode at the first order: one run of ``fun`` gives the value and the tangent
    (the impl and the rule would run it once each)."""
    out, trace = _forward(spec.call, vals, argnums, tangents)
    return _value_and_tangent("checkpoint", spec, out, trace)


def _checkpoint_batch(size, batched, *vals, spec):
    def run(*xs):
        leaves = spec.call(list(xs))
        if spec.packer.other:
            raise NotImplementedError("checkpoint: a function with non-float outputs cannot be batched (vmap)")
        return spec.packer.pack(_diff_leaves(spec.packer, leaves))
    return vmap_flat(run, list(vals), list(batched), size)


defvjp_argnums(_checkpoint_p, _checkpoint_vjp)
defjvp_argnums(_checkpoint_p, _checkpoint_jvp)
_checkpoint_p.batch = _checkpoint_batch
_checkpoint_p.saveable = False
_checkpoint_p.jvp_primal = _checkpoint_jvp_primal


def checkpoint(fun, policy=None):
    """``fun`` with its intermediate values recomputed instead of stored.

    ``checkpoint(f)(*args, **kwargs)`` returns ``f(*args, **kwargs)``; under reverse mode
    the tape keeps only the inputs and the output of the call, and the backward pass runs
    ``f`` a second time to differentiate it. Arguments and outputs may be pytrees; ``f``
    may close over differentiated values (they become arguments of the call, see the
    module docstring). Nesting, higher derivatives, forward mode and batching work.

    ``policy`` says which intermediate values to keep after all (their primitives are not
    recomputed in the backward pass): None or ``'save_nothing'`` (the default),
    ``'save_dots'`` (the results of matrix products: matmul, dot, tensordot, einsum), a
    set of primitive names, or a predicate ``policy(name) -> bool``. The saved values are
    used by a first-order backward pass; under higher derivatives everything is
    recomputed. ``f`` must then be deterministic. Nested ``checkpoint``s and
    ``checkpoint_loop``s, ``fixed_point`` and custom rules are always recomputed, whatever
    the policy names (their evaluation prepares what their own rules need).

    Costs and limits: reverse mode runs ``f`` twice (the forward pass, then once per use of
    the pullback), forward mode once (at the first order; under a lower trace, twice: the
    value that trace records, then under the JVP trace). Under higher
    derivatives the outer trace records the recomputation, so memory is saved at the first
    order only. Values ``f`` closes over are found by a search of its closure (see the
    module docstring); while ``f`` runs, such a value stands for another box, so ``f``
    must not update it in place, and another thread must not use it at the same time.
    ``f`` gets its array inputs as read-only views (it runs from them again), and the
    arrays it closes over stay read-only until the derivative is done.
    """
    pred = _policy(policy)

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        leaves, in_tree = tree_flatten((args, kwargs))
        boxes, arrays = _captured(fun)
        spec = _CallSpec(fun, in_tree, len(leaves), boxes, pred)
        flat = _checkpoint_p(*leaves, *boxes, *arrays, spec=spec)   # (the rules ignore the arrays)
        return spec.packer.unflatten(flat)
    return checkpointed


# -- binomial checkpointing (revolve) ---------------------------------------------------------
#
# beta(s, r) = C(s + r, s) is the largest number of steps that s snapshots can reverse when
# no step is evaluated more than r times in the advances (Griewank 1992). For n steps, with
# r the least integer such that beta(s, r) >= n, the minimal number of advances (forward
# step evaluations that are not the taped evaluation of the step being reversed) is
#     t(n, s) = r n - beta(s + 1, r - 1),
# and a first snapshot at m is optimal iff the head [0, m) (reversed with s snapshots) and
# the tail [m, n) (reversed with s - 1) each fit their budget:
#     max(beta(s, r-2), n - beta(s-1, r)) <= m <= min(beta(s, r-1), n - beta(s-1, r-1)).

def _beta(s, r):
    if r < 0:
        return 0
    return comb(s + r, s)


def _repetitions(n, s):
    """The least r with beta(s, r) >= n."""
    r, b = 0, 1
    while b < n:
        r += 1
        b = b * (s + r) // r
    return r


def _advances(n, s):
    if n <= 1:
        return 0
    if s == 1:
        return n * (n - 1) // 2
    r = _repetitions(n, s)
    return r * n - _beta(s + 1, r - 1)


@functools.lru_cache(maxsize=4096)
def _split(n, s):
    """Where to put the next snapshot: ``m`` steps into a range of ``n`` steps reversed with
    ``s`` snapshots (the largest optimal ``m``)."""
    r = _repetitions(n, s)
    hi = min(n - 1, _beta(s, r - 1), n - _beta(s - 1, r - 1))
    return max(hi, 1)


def revolve_evaluations(n_steps, snapshots):
    """The number of step evaluations of one gradient through ``checkpoint_loop``: the
    binomial optimum ``t(n, s) = r n - C(s + r, r - 1)`` of advances (r the least integer
    with ``C(s + r, s) >= n``) plus the ``n`` taped evaluations, one per step reversed.
    The forward pass is included: it is the first descent of the schedule."""
    _check_loop_args(n_steps, snapshots)
    return n_steps + _advances(n_steps, snapshots) if n_steps else 0


def revolve_schedule(n_steps, snapshots):
    """The optimal reversal schedule for ``n_steps`` steps and ``snapshots`` snapshots, as
    an iterator of actions: ``('advance', i, j)`` (run steps i..j-1 from the state at i,
    nothing recorded), ``('store', j)`` (keep the current state, at j, as a snapshot),
    ``('turn', i)`` (run step i on the current state, at i, under a tape and pull the
    cotangent back through it), ``('restore', i)`` (make the snapshot at i current) and
    ``('free', j)``. The initial state (position 0) is a snapshot throughout and counts as
    one; at most ``snapshots`` are held at any time. Steps are reversed from the last to
    the first, and the advances add up to the binomial optimum. (``checkpoint_loop`` runs
    the same schedule, by ``_reversal``.)"""
    _check_loop_args(n_steps, snapshots)
    return _schedule(int(n_steps), int(snapshots))


def _schedule(n_steps, snapshots):
    if not n_steps:
        return
    pending = []                                # heads still to reverse: (i, m, s, snapshot to free)
    i, n, s = 0, n_steps, snapshots             # reverse steps i..i+n-1 from the state at i, with s snapshots
    while True:
        while n > 1 and s > 1:
            m = _split(n, s)
            yield ("advance", i, i + m)
            yield ("store", i + m)
            pending.append((i, m, s, i + m))
            i, n, s = i + m, n - m, s - 1      # the tail first, with one snapshot fewer
        if n == 1:
            yield ("turn", i)
        else:                                   # one snapshot: re-run from it for each step
            for j in range(n - 1, 0, -1):
                yield ("advance", i, i + j)
                yield ("turn", i + j)
                yield ("restore", i)
            yield ("turn", i)
        if not pending:
            return
        i, n, s, stored = pending.pop()
        yield ("free", stored)
        yield ("restore", i)


def _reversal(advance, n, s, state, consts):
    """``revolve_schedule`` for ``n`` steps and ``s`` snapshots carried out, by
    ``advance(state, consts, k)``: from ``state``, the carry before step 0, yields the
    carry before each step, last step first, at the moment that step is to be reversed
    (the consumer tapes and reverses it before asking for the next one).

    The snapshots are the carries this generator holds: the base of the current range
    (``state``) and those of the heads still to reverse (``pending``). Each descent adds one
    to ``pending`` and takes one from ``s``, so ``len(pending) + s`` is the snapshot budget
    throughout and at most ``snapshots`` carries are held (a carry being advanced or turned
    is the current state, not a snapshot)."""
    pending = []                                # heads still to reverse: (steps, snapshots, carry at their start)
    while True:
        while n > 1 and s > 1:
            m = _split(n, s)
            pending.append((m, s, state))
            state = advance(state, consts, m)   # stored: the base of the tail
            n -= m
            s -= 1
        if n == 1:
            yield state
        else:                                   # one snapshot: re-run from it for each step
            for j in range(n - 1, 0, -1):
                yield advance(state, consts, j)
            yield state
        if not pending:
            return
        n, s, state = pending.pop()             # the tail's base is freed here


def _weak_method(method):
    ref = weakref.WeakMethod(method)
    return lambda *args: ref()(*args)


def _check_loop_args(n_steps, snapshots):
    if not isinstance(n_steps, (int, _np.integer)) or isinstance(n_steps, bool) or n_steps < 0:
        raise ValueError(f"checkpoint_loop: n_steps must be an int >= 0, not {n_steps!r}")
    if not isinstance(snapshots, (int, _np.integer)) or isinstance(snapshots, bool) or snapshots < 1:
        raise ValueError(f"checkpoint_loop: snapshots must be an int >= 1, not {snapshots!r}")


_ndarray = _np.ndarray
_FIRST = (0,)


class _LoopSpec:
    """What the loop primitive needs besides its arguments (a keyword argument of the call).

    A *state* is the carry between two steps. In a ``simple`` loop (the carry is one leaf,
    no ``params``, nothing captured) it is that leaf itself, and a step is a bare call of
    ``step``; otherwise it is the list of the carry's leaves."""

    __slots__ = ("step", "carry_tree", "n_carry", "params_tree", "n_params", "boxes", "n_steps", "snapshots",
                 "packer", "store", "simple", "name", "__weakref__")

    def __init__(self, step, carry_tree, n_carry, params_tree, n_params, boxes, n_steps, snapshots):
        self.step, self.carry_tree, self.n_carry = step, carry_tree, n_carry
        self.params_tree, self.n_params, self.boxes = params_tree, n_params, boxes
        self.n_steps, self.snapshots = n_steps, snapshots
        self.packer = None
        self.store = None
        self.simple = carry_tree.kind == "leaf" and params_tree is None and not boxes
        self.name = _name(step)

    def state_of(self, leaves):
        return leaves[0] if self.simple else list(leaves)

    def leaves_of(self, state):
        return [state] if self.simple else state

    def advance(self, state, consts, k):
        """The state ``k`` steps after ``state``. Nothing is recorded here: on raw values the
        steps run on raw values (NumPy and nothing else); on the boxes of an enclosing trace
        (higher derivatives), that trace records them. A general loop enters the aliases of
        its captured values and builds its parameters once per call, not once per step, and
        keeps the carry in the user's structure between the steps, as a plain loop does."""
        if not k:
            return state
        with ExplainWrites("checkpoint_loop", self.name):
            return self._advance(state, consts, k)

    def _advance(self, state, consts, k):
        # ``state`` is a snapshot (and the parameters serve every step): the step gets them
        # read-only (core/saved.py); the states it returns are its own
        step = self.step
        if self.simple:
            (x,) = read_only((state,))
            out = step(x)
            for _ in range(k - 1):
                if out.__class__ is not _ndarray:
                    self.check_leaf(out)
                out = step(out)
            if out.__class__ is not _ndarray:
                self.check_leaf(out)
            return state if out is x else out
        npar = self.n_params
        with _aliased(self.boxes, consts[npar:]):
            inputs = read_only(state)           # (leaves not traced here, in a turn, are snapshots too)
            carry = self.carry_tree.unflatten(inputs)
            params = () if self.params_tree is None else (self.params_tree.unflatten(read_only(consts[:npar])),)
            carry = step(carry, *params)
            if k > 1:
                self.check_tree(tree_flatten(carry)[1])     # the first step's structure, then the last's
                for _ in range(k - 1):
                    carry = step(carry, *params)
            leaves, tree = tree_flatten(carry)
            leaves = writeable_again([_resolve(x) for x in leaves], inputs, state)
        self.check_tree(tree)
        return leaves

    def check_leaf(self, out):
        if not isinstance(out, Box) and _tree_node(out) is not None:
            self.check_tree(tree_flatten(out)[1])

    def check_tree(self, tree):
        if tree != self.carry_tree:
            raise TypeError(f"checkpoint_loop: step must return a carry of the structure it receives: "
                            f"got {tree}, expected {self.carry_tree}")


# -- turns: one step taped and reversed at once ------------------------------------------------
#
# The step tapes do not make the arrays they read read-only (core/saved.py): a turn's tape is
# reversed as soon as the step has run, inside the same rule call, so no user code runs
# between its recording and its backward pass but the rest of the step itself. The tape of
# the forward pass's last step is kept for the backward pass, while user code runs; what it
# reads is the carry (internal to the loop: user code sees only boxes of it), the
# parameters and captured values (arguments of the loop's primitive), and the arrays the
# step closes over (found by ``_captured`` and passed to the primitive too): the tape that
# records the loop holds those, and releases them, with the rest of its holds, when the
# derivative is done or fails.

def _tape_leaf(spec, x):
    """A simple loop's step taped at ``x``: (records, output's node or None, output value)."""
    c = x.__class__
    differentiable = (c is _ndarray and x.dtype.kind in "fc") or c is float or is_differentiable(x)
    values, positions = ((x,), _FIRST) if differentiable else (read_only((x,)), ())   # (a raw x is a snapshot)
    with ExplainWrites("checkpoint_loop", spec.name):
        out, trace, records = trace_reverse(spec.step, values, positions, hold=False)
    if isinstance(out, Box) and out._trace is trace:
        return records, out._node, out._value
    spec.check_leaf(out)
    return None, None, out


def _turn_leaf(spec, x, g):
    """One turn of a simple loop: its step taped at ``x`` and ``g`` pulled back at once."""
    return _pull_leaf(_tape_leaf(spec, x), g)


def _pull_leaf(tape, g):
    """The cotangent of a simple loop's carry before the taped step, from ``g`` after it."""
    records, node, value = tape
    if node is None or g is None:
        return None
    (c,) = backward(records, [(node, fit(g, value))], _FIRST, True)
    return None if c is None else densify(c)


class _Tape:
    """A general loop's step taped at ``state`` (with the constants at ``const_pos`` as
    inputs too), and pulled back once."""

    __slots__ = ("records", "nodes", "values", "carry_pos")

    def __init__(self, spec, state, consts, const_pos):
        n = len(state)
        self.carry_pos = carry_pos = [k for k, v in enumerate(state) if is_differentiable(v)]
        positions = carry_pos + [n + j for j in const_pos]
        out, trace, self.records = trace_reverse(
            lambda *xs: spec.advance(list(xs[:n]), list(xs[n:]), 1), state + consts, positions, hold=False)
        self.nodes = [o._node if isinstance(o, Box) and o._trace is trace else None for o in out]
        self.values = [o._value if isinstance(o, Box) and o._trace is trace else o for o in out]

    def pull(self, g_out, n_pos):
        """(cotangents of the carry leaves, of the ``n_pos - len(carry_pos)`` constants)."""
        seeds = [(i, fit(densify(g), v)) for i, g, v in zip(self.nodes, g_out, self.values)
                 if i is not None and g is not None]
        records, self.records = self.records, None
        cts = [None] * n_pos
        if seeds:
            # inputs recorded after the last seed cannot reach it (and are not in backward's range)
            reach = min(n_pos, max(i for i, _ in seeds) + 1)
            cts[:reach] = backward(records, seeds, list(range(reach)), True)
        records = None
        g_in = [None] * len(g_out)
        for k, p in enumerate(self.carry_pos):
            c = cts[k]
            if c is not None:
                g_in[p] = densify(c)
        return g_in, cts[len(self.carry_pos):]


def _accumulate(acc, owned, positions, cts):
    """Add the cotangents ``cts`` of the constants at ``positions`` into ``acc``. Lazy ones
    stay lazy: the rank-1 terms of a matrix that multiplies the carry at every step
    (``LowRank``) are only collected, and formed in blocks by one matrix product."""
    for j, c in zip(positions, cts):
        if c is None:
            continue
        prev = acc.get(j)
        if prev is None:
            # a copy of our own (then added to in place): two arrays of this size live at a
            # time, the sum and the next step's term, where adding into an array we may not
            # modify would make three
            acc[j], owned[j] = (c.copy(), True) if c.__class__ is _ndarray else (c, False)
        else:
            acc[j], owned[j] = accumulate(prev, c, owned[j])


def _reverse(spec, rev, consts, const_pos, g, acc, owned):
    """Tape and reverse each carry ``rev`` yields (the rest of the schedule), pulling the
    cotangent ``g`` (per carry leaf) back to the initial carry and adding those of the
    constants at ``const_pos`` into ``acc``."""
    if spec.simple:
        g0 = g[0]
        for x in rev:
            g0 = _turn_leaf(spec, x, g0)
            x = None                            # hold no carry longer than needed
        return [g0]
    for state in rev:
        tape = _Tape(spec, state, consts, const_pos)
        state = None
        g, cts = tape.pull(g, len(tape.carry_pos) + len(const_pos))
        tape = None
        _accumulate(acc, owned, const_pos, cts)
    return g


def _loop_impl(*vals, spec):
    """The forward pass: the schedule's first descent (advances placing the snapshots it
    needs, then the last step, taped), so the backward pass can start at once."""
    n = spec.n_carry
    consts = list(vals[n:])
    # (the generator stays on ``spec`` for the backward pass: it must not refer back to
    # spec, or the cycle would keep the snapshots alive, if no backward pass comes, until
    # the cycle collector runs)
    rev = _reversal(_weak_method(spec.advance), spec.n_steps, spec.snapshots, spec.state_of(vals[:n]), consts)
    last = next(rev)
    if spec.simple:
        const_pos = ()
        tape = _tape_leaf(spec, last)
        out = [tape[2]]
    else:
        const_pos = [j for j, v in enumerate(consts[:spec.n_params + len(spec.boxes)]) if is_differentiable(v)]
        tape = _Tape(spec, last, consts, const_pos)
        out = tape.values
    last = None
    _check_untraced("checkpoint_loop", out)
    if spec.packer is None:
        spec.packer = _Packer(out, spec.carry_tree)
    spec.store = (rev, tape, const_pos)
    return spec.packer.pack(_diff_leaves(spec.packer, out))


_loop_p = Primitive(_loop_impl, "checkpoint_loop")


def _loop_vjp(argnums, g, ans, *vals, spec):
    n = spec.n_carry
    consts = list(vals[n:])
    const_pos = [a - n for a in argnums if a >= n]
    g_state = [None] * n
    for k, gk in zip(spec.packer.diff, spec.packer.unpack(g)):
        g_state[k] = gk
    store, spec.store = spec.store, None         # the stored descent serves one backward pass
    acc, owned = {}, {}
    if store is not None and not any(isinstance(v, Box) for v in vals):
        rev, tape, tape_pos = store             # continue from the forward pass's first turn
        store = None
        if spec.simple:
            g_state = [_pull_leaf(tape, g_state[0])]
        else:
            g_state, cts = tape.pull(g_state, len(tape.carry_pos) + len(tape_pos))
            wanted = set(const_pos)
            _accumulate(acc, owned, [j for j in tape_pos if j in wanted],
                        [c for j, c in zip(tape_pos, cts) if j in wanted])
            cts = None
        tape = None
    else:                                       # run it again (higher derivatives, or a second pull)
        rev = _reversal(spec.advance, spec.n_steps, spec.snapshots, spec.state_of(vals[:n]), consts)
    g_state = _reverse(spec, rev, consts, const_pos, g_state, acc, owned)
    out = []
    for a in argnums:
        c = g_state[a] if a < n else acc.get(a - n)
        out.append(None if c is None else densify(c))
    return out


def _loop_run(spec, vals):
    n = spec.n_carry
    return spec.leaves_of(spec.advance(spec.state_of(vals[:n]), list(vals[n:]), spec.n_steps))


def _loop_jvp(argnums, tangents, ans, *vals, spec):
    out, trace = _forward(lambda full: _diff_leaves(spec.packer, _loop_run(spec, full)), vals, argnums, tangents)
    return _pack_tangents(spec.packer, out, _tangents_out(out, trace))


def _loop_jvp_primal(argnums, tangents, *vals, spec):
    """Forward mode at the first order: the loop runs once, under the JVP trace (the impl
    would also run the reverse pass's first descent, which nothing would use)."""
    out, trace = _forward(lambda full: _loop_run(spec, full), vals, argnums, tangents)
    return _value_and_tangent("checkpoint_loop", spec, out, trace, spec.carry_tree)


def _loop_batch(size, batched, *vals, spec):
    def run(*xs):
        leaves = _loop_run(spec, list(xs))
        if spec.packer is None:
            spec.packer = _Packer(leaves, spec.carry_tree)
        if spec.packer.other:
            raise NotImplementedError("checkpoint_loop: a carry with non-float leaves cannot be batched (vmap)")
        return spec.packer.pack(_diff_leaves(spec.packer, leaves))
    return vmap_flat(run, list(vals), list(batched), size)


defvjp_argnums(_loop_p, _loop_vjp)
defjvp_argnums(_loop_p, _loop_jvp)
_loop_p.batch = _loop_batch
_loop_p.saveable = False
_loop_p.jvp_primal = _loop_jvp_primal


def checkpoint_loop(step, carry, n_steps, snapshots=None, params=None):
    """``carry = step(carry)`` (or ``step(carry, params)``) repeated ``n_steps`` times,
    differentiated by binomial checkpointing.

    Reverse mode keeps at most ``snapshots`` carries (the initial one included; default
    ``ceil(sqrt(n_steps))``) and one step's tape, instead of a tape of all ``n_steps``
    steps, and re-runs steps from the snapshots by the optimal schedule (revolve, Griewank
    and Walther's Algorithm 799): a gradient costs ``revolve_evaluations(n_steps,
    snapshots)`` evaluations of ``step``, the fewest possible with that many snapshots
    (the forward pass is the schedule's first descent: it places the first snapshots and
    tapes the last step; using the same pullback a second time runs the whole schedule
    again from the initial carry). At the first order the re-runs call ``step`` on raw
    values, with no trace.

    ``carry`` and ``params`` are pytrees; ``step`` returns a carry of the same structure.
    The carry's initial value, ``params`` and differentiated values ``step`` closes over
    are all differentiated; the cotangents of ``params`` and of captured values
    accumulate over the steps (a matrix multiplying the carry gets rank-1 terms, formed in
    blocks). Forward mode runs the loop once under a JVP trace; under higher derivatives
    the rules stay differentiable (the outer trace then records the recomputation, so only
    the first order saves memory). When nothing is traced, this is the plain loop.

    ``step`` receives the stored carries and the parameters as read-only views at the first
    order, since it runs from them again: write ``x = x * 2``, not ``x *= 2`` (which raises
    ``SavedArrayWriteError``). The arrays it closes over stay read-only until the gradient
    is done.
    """
    if snapshots is None:
        valid = isinstance(n_steps, (int, _np.integer)) and n_steps > 0
        snapshots = max(1, int(_np.ceil(_np.sqrt(n_steps)))) if valid else 1
    _check_loop_args(n_steps, snapshots)
    if n_steps == 0:
        return carry
    snapshots = int(min(snapshots, n_steps))
    leaves, carry_tree = tree_flatten(carry)
    if params is None:
        p_leaves, p_tree = [], None
    else:
        p_leaves, p_tree = tree_flatten(params)
    boxes, arrays = _captured(step)
    if not boxes and not any(isinstance(x, Box) for x in leaves) and not any(isinstance(x, Box) for x in p_leaves):
        for _ in range(int(n_steps)):           # nothing to differentiate: the loop itself
            carry = step(carry) if p_tree is None else step(carry, params)
        leaves, tree = tree_flatten(carry)
        _check_untraced("checkpoint_loop", leaves)
        if tree != carry_tree:
            raise TypeError(f"checkpoint_loop: step must return a carry of the structure it receives: "
                            f"got {tree}, expected {carry_tree}")
        return carry
    spec = _LoopSpec(step, carry_tree, len(leaves), p_tree, len(p_leaves), boxes, int(n_steps), snapshots)
    flat = _loop_p(*leaves, *p_leaves, *boxes, *arrays, spec=spec)   # (the rules ignore the arrays)
    return spec.packer.unflatten(flat)
