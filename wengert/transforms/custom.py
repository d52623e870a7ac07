"""Custom derivative rules with JAX's user API: ``custom_vjp`` and ``custom_jvp``.

    @custom_vjp
    def f(x, y):
        return np.sin(x) * y

    def f_fwd(x, y):                    # same signature as f: (output, residuals)
        return f(x, y), (np.cos(x), np.sin(x), y)

    def f_bwd(res, g):                  # one cotangent per argument, as a tuple
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    f.defvjp(f_fwd, f_bwd)

    @custom_jvp
    def h(x):
        return np.log1p(np.exp(x))

    @h.defjvp
    def h_jvp(primals, tangents):        # (primal_out, tangent_out)
        (x,), (t,) = primals, tangents
        return h(x), t * np.exp(x - h(x))

How it works. Called without traced arguments, the function simply runs. Called with
traced arguments, the arguments are flattened to leaves and a fresh ``Primitive`` is
built for the call: its ``impl`` runs the function (``fwd`` for a ``custom_vjp``, keeping
the residuals) and its rules call the user's rules, so every mode and every level of
nesting goes through the ordinary machinery of the core:

- ``custom_vjp``: the reverse rule is ``bwd``; the forward rule is ``bwd`` transposed
  (one reverse pass through ``bwd``, which is linear in the cotangent). Under an outer
  trace (second derivatives) the residuals are recomputed by running ``fwd`` on the
  traced arguments, so the outer trace sees how they depend on the inputs: ``fwd`` and
  ``bwd`` must be written with ``wengert.numpy`` to be differentiable themselves.
- ``custom_jvp``: the forward rule is the user's rule; the reverse rule is its transpose.

Outputs of several leaves travel through the primitive as one flat vector (a primitive
has one output) and are unpacked with differentiable slicing. A primitive built per
call has no batching rule, so a Jacobian whose batch reaches the primitive itself falls
back to a loop over the batch (correct, slower); batches of tangents or cotangents
(``jacfwd``/``jacrev`` of the function) go through the rules without a loop.

``nondiff_argnums`` follows JAX: those arguments (not arrays to differentiate: callables,
shapes, flags) keep their place in the calls of the function and of ``fwd``, and come
first in the calls of ``bwd(*nondiff, res, g)`` and of the JVP rule
``rule(*nondiff, primals, tangents)``; ``bwd`` returns cotangents for the other
arguments only, and ``primals``/``tangents`` hold only those.
"""
import functools
import inspect

import numpy as _np

from ..core.pytree import _node, tree_flatten
from ..core.reverse import backward, trace_reverse
from ..core.tracer import Box, Primitive, getval
from ..core.vspace import cast, densify, dtype_of, shape_of, zeros_like_value
from ..errors import CustomRuleError

__all__ = ["custom_jvp", "custom_vjp"]


# -- a pytree of arrays as the single value of a primitive --------------------------------

class Packing:
    """How the output leaves of a call travel through a primitive as one value: a single
    float leaf as itself, the float and complex leaves as one flat vector of their common
    dtype. Integer and boolean leaves have no derivative and would not survive a float
    vector (int64 above 2**53): they travel beside it, as the raw values of the evaluation
    (``others``). Built from the raw leaves of the first evaluation; ``unpack`` and
    ``pack`` are differentiable."""

    def __init__(self, leaves, treedef, owner):
        self.treedef, self.owner = treedef, owner
        self.shapes, self.dtypes = [], []
        for k, leaf in enumerate(leaves):
            value = getval(leaf)
            try:
                dtype = dtype_of(value)
            except TypeError:
                dtype = None
            if dtype is None or dtype.kind not in "biufc":
                raise CustomRuleError(f"{owner}: output leaf {k} is {type(value).__name__} {value!r:.60}; "
                                      f"a function with a custom rule must return arrays or numbers "
                                      f"(or pytrees of them).")
            self.shapes.append(shape_of(value))
            self.dtypes.append(dtype)
        self.diff = [k for k, d in enumerate(self.dtypes) if d.kind in "fc"]
        self.others_at = [k for k, d in enumerate(self.dtypes) if d.kind not in "fc"]
        self.single = len(leaves) == 1 and len(self.diff) == 1
        self.dtype = _np.result_type(*[self.dtypes[k] for k in self.diff]) if self.diff else _np.dtype(float)
        sizes = [int(_np.prod(self.shapes[k], dtype=int)) for k in self.diff]
        self.offsets = _np.cumsum([0] + sizes).tolist()
        self.others = None

    def matches(self, leaves, treedef):
        return treedef == self.treedef and all(
            shape_of(getval(l)) == s and dtype_of(getval(l)) == d for l, s, d in zip(leaves, self.shapes, self.dtypes))

    def pack_raw(self, leaves):
        """The packed raw value of an evaluation's output ``leaves``, keeping its others."""
        others = [getval(leaves[k]) for k in self.others_at]
        if self.others is None:
            self.others = others
        elif any(not _np.array_equal(a, b) for a, b in zip(others, self.others)):
            raise CustomRuleError(f"{self.owner}: the integer or boolean outputs differ between two evaluations "
                                  f"of the same call ({self.others} then {others}); they travel beside the "
                                  f"derivative and must be the same (under jacfwd/jacrev, for every element of "
                                  f"the batch).")
        if self.single:
            return leaves[0]
        if not self.diff:
            return _np.zeros(0, self.dtype)
        return _np.concatenate([_np.ravel(_np.asarray(leaves[k])).astype(self.dtype, copy=False) for k in self.diff])

    def pack(self, leaves):
        """The packed value of the tangents or cotangents ``leaves``, one per output leaf
        (traced or not; ``None`` is zero; those of integer and boolean leaves are
        ignored), or None if all are zero."""
        leaves = [leaves[k] for k in self.diff]
        if all(l is None for l in leaves):
            return None
        leaves = [_np.zeros(self.shapes[k], self.dtypes[k]) if l is None else l for k, l in zip(self.diff, leaves)]
        if self.single:
            return leaves[0]
        from ..numpy import concatenate, ravel
        return concatenate([ravel(l if dtype_of(l) == self.dtype else cast(l, self.dtype)) for l in leaves])

    def unpack(self, v, primal=True):
        """The output leaves from the packed ``v``: a value (``primal``: the integer and
        boolean leaves are the evaluation's) or a tangent or cotangent (they are zeros)."""
        if self.single:
            return [v]
        from ..numpy import reshape
        out, others, diff = [], iter(self.others or ()), iter(zip(self.offsets, self.offsets[1:]))
        for shape, dtype in zip(self.shapes, self.dtypes):
            if dtype.kind not in "fc":
                out.append(next(others) if primal else _np.zeros(shape, dtype))
                continue
            a, b = next(diff)
            leaf = reshape(v[a:b], shape)
            out.append(leaf if dtype == self.dtype else cast(leaf, dtype))
        return out


def contains_box(leaves):
    return any(isinstance(l, Box) for l in leaves)


# -- matching a rule's result to the arguments or output it belongs to ----------------------

def leaves_like(treedef, tree):
    """The leaves of ``tree`` in the layout of ``treedef``; ``None`` stands for a zero
    subtree (a leaf or a whole container). Raises ValueError on another structure."""
    if treedef.kind == "leaf":
        return [tree]
    if tree is None:
        return [None] * treedef.num_leaves
    node = _node(tree)
    if node is None:
        raise ValueError(f"a leaf where the structure {treedef} was expected")
    kind, meta, children = node
    if kind == "dict" and treedef.kind == "dict" and set(meta) == set(treedef.meta):
        children = [tree[k] for k in treedef.meta]
    elif kind != treedef.kind or kind == "dict" or len(children) != len(treedef.children) or \
            (kind in ("namedtuple", "dataclass") and meta != treedef.meta):
        raise ValueError(f"the structure {tree_flatten(tree)[1]} where {treedef} was expected")
    out = []
    for child_def, child in zip(treedef.children, children):
        out.extend(leaves_like(child_def, child))
    return out


def check_leaf(owner, what, value, pshape, pdtype):
    """``value`` as the cotangent/tangent of a primal of shape ``pshape`` and dtype
    ``pdtype``: same shape and dtype (a Python number is accepted for any dtype of its
    kind and converted). None (zero) passes."""
    if value is None:
        return None
    if not isinstance(value, (Box, _np.ndarray, _np.generic, int, float, complex)):
        raise CustomRuleError(f"{owner}: {what} is {type(value).__name__} {value!r:.60}, not an array.")
    shape, dtype = shape_of(value), dtype_of(value)
    if shape != pshape:
        raise CustomRuleError(f"{owner}: {what} has shape {shape}, but it must have the shape of its primal, "
                              f"{pshape}.")
    if dtype != pdtype:
        raw = getval(value)
        weak = type(raw) in (int, float, complex)       # a Python number: weakly typed
        if not weak or (dtype.kind == "c" and pdtype.kind != "c"):
            raise CustomRuleError(f"{owner}: {what} has dtype {dtype}, but its primal has dtype {pdtype}; "
                                  f"return it in the primal's dtype (e.g. ct.astype(x.dtype)).")
        value = cast(value, pdtype) if isinstance(value, Box) else pdtype.type(value)   # a Python number
    return value


# -- the arguments of one call -----------------------------------------------------------------

class _Signature:
    """Positional resolution of a call (keyword arguments and defaults, as in JAX) and
    the names used in error messages."""

    def __init__(self, fun, nondiff_argnums):
        self.name = getattr(fun, "__name__", repr(fun))
        try:
            self.sig = inspect.signature(fun)
        except (TypeError, ValueError):
            self.sig = None
        self.nondiff_argnums = tuple(nondiff_argnums)

    def resolve(self, args, kwargs, kind):
        if self.sig is not None:
            try:
                bound = self.sig.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{kind} {self.name}: {e}") from None
            bound.apply_defaults()
            if bound.kwargs:
                raise TypeError(f"{kind} {self.name}: keyword-only arguments {sorted(bound.kwargs)} cannot be "
                                f"passed to a function with a custom rule; make them positional.")
            args = bound.args
        elif kwargs:
            raise TypeError(f"{kind} {self.name}: keyword arguments need a function with an inspectable signature.")
        n = len(args)
        nondiff = []
        for i in self.nondiff_argnums:
            if not isinstance(i, int) or not -n <= i < n:
                raise ValueError(f"{kind} {self.name}: nondiff_argnums={self.nondiff_argnums} is out of range for "
                                 f"a call with {n} arguments")
            nondiff.append(i % n)
        return tuple(args), sorted(set(nondiff))

    def argname(self, i):
        if self.sig is not None:
            params = [p for p in self.sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if i < len(params):
                return f"argument {i} ({params[i].name!r})"
        return f"argument {i}"


class _Call:
    """What the rules of one call need: the non-differentiated arguments, where the
    differentiated ones go, and (once the function has run) the output's packing.
    It holds no traced values, so a tape that records the call has no cycle through it."""

    def __init__(self, kind, sig, args, nondiff, intree):
        self.kind, self.sig, self.intree = kind, sig, intree
        self.owner = f"{kind} function {sig.name}"
        self.nargs = len(args)
        self.nondiff = {i: args[i] for i in nondiff}
        self.diff = [i for i in range(len(args)) if i not in self.nondiff]
        for i, value in self.nondiff.items():
            if contains_box(tree_flatten(value)[0]):
                raise TypeError(f"{self.owner}: {sig.argname(i)} is in nondiff_argnums but is a traced value. "
                                f"nondiff_argnums is for static values (functions, shapes, flags); pass arrays as "
                                f"ordinary arguments and return None as their cotangent.")
        self.packing = None

    def also_reads(self):
        """The plain arrays the rules will read besides the primitive's arguments, for the
        tape recording the call to hold read-only (core/saved.py) until then: those among
        the non-differentiated arguments. (Not those the rules close over: a rule may keep
        its own buffers there, which it must be able to write while it runs.)"""
        return [v for v in tree_flatten(list(self.nondiff.values()))[0] if v.__class__ is _np.ndarray]

    def nondiff_values(self):
        return [self.nondiff[i] for i in sorted(self.nondiff)]

    def diff_trees(self, leaves):
        return self.intree.unflatten(leaves)

    def args_from(self, leaves):
        args = [None] * self.nargs
        for i, v in self.nondiff.items():
            args[i] = v
        for i, t in zip(self.diff, self.diff_trees(leaves)):
            args[i] = t
        return args

    def record_output(self, out, what):
        """The packed raw output of one evaluation (checking that nothing traced leaked in)."""
        leaves, treedef = tree_flatten(out)
        if contains_box(leaves):
            raise TypeError(f"{self.owner}: {what} returned a traced value that is not computed from its "
                            f"arguments: the function closes over a traced variable. Pass that value as an "
                            f"argument instead.")
        if self.packing is None:
            self.packing = Packing(leaves, treedef, self.owner)
        elif not self.packing.matches(leaves, treedef):
            raise CustomRuleError(f"{self.owner}: {what} returned outputs of another structure, shape or dtype "
                                  f"than before ({treedef} vs {self.packing.treedef}).")
        return self.packing.pack_raw(leaves)

    def split_output(self, value, what):
        """The leaves of a rule's output-shaped value ``value`` (cotangent or tangent)."""
        try:
            leaves = leaves_like(self.packing.treedef, value)
        except ValueError as e:
            raise CustomRuleError(f"{self.owner}: {what} has the wrong structure: {e}.") from None
        return leaves

    def leaf_name(self, k):
        """Which argument flat leaf ``k`` belongs to, with its path inside a pytree argument."""
        for i, child in zip(self.diff, self.intree.children):
            if k < child.num_leaves:
                name = self.sig.argname(i)
                return name if child.kind == "leaf" else f"{name} at {_leaf_paths(child)[k]}"
            k -= child.num_leaves
        return f"leaf {k}"


def _leaf_paths(treedef, prefix=""):
    """The path of each leaf of ``treedef``, as in ``p['w'][0]`` or ``p.field``."""
    if treedef.kind == "leaf":
        return [prefix or "the root"]
    if treedef.kind == "dict":
        steps = [f"[{k!r}]" for k in treedef.meta]
    elif treedef.kind == "namedtuple":
        steps = [f".{name}" for name in treedef.meta._fields]
    elif treedef.kind == "dataclass":
        steps = [f".{name}" for name in treedef.meta[1]]
    else:
        steps = [f"[{i}]" for i in range(len(treedef.children))]
    return [path for step, child in zip(steps, treedef.children) for path in _leaf_paths(child, prefix + step)]


def _transpose_to_inputs(lin, points, seed):
    """Run ``lin`` (a linear function of ``points``) on a reverse trace and pull ``seed``
    back: the cotangents of ``points`` (None where zero). ``seed`` pairs with the output
    of ``lin``, a list of values (None: zero)."""
    outs, trace, records = trace_reverse(lin, points, range(len(points)))
    seeds = [(o._node, s) for o, s in zip(outs, seed)
             if isinstance(o, Box) and o._trace is trace and s is not None]
    if not seeds:
        return [None] * len(points)
    cts = backward(records, seeds, list(range(len(points))), free=True)
    return [None if c is None else densify(c) for c in cts]


class _Custom:
    """What ``custom_vjp`` and ``custom_jvp`` share: the call. Without traced arguments
    the function just runs; with them, a primitive built for this call applies the rules."""

    kind = call_class = None

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self._sig = _Signature(fun, self.nondiff_argnums)

    def __call__(self, *args, **kwargs):
        if not self.has_rule():
            raise TypeError(f"{self.kind} function {self._sig.name} has no rule: call {self.how_to_define()} first.")
        args, nondiff = self._sig.resolve(args, kwargs, f"{self.kind} function")
        leaves, intree = tree_flatten([a for i, a in enumerate(args) if i not in nondiff])
        if not contains_box(leaves):
            return self.fun(*args)
        call = self.call_class(self, args, nondiff, intree)
        prim = Primitive(call.impl, self._sig.name)
        prim.vjp_joint, prim.jvp_joint = call.vjp, call.jvp
        prim.also_reads = call.also_reads
        prim.saveable = False
        packed = prim(*leaves)                        # runs the function, which fixes the packing
        return call.packing.treedef.unflatten(call.packing.unpack(packed))

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)


# -- custom_vjp ------------------------------------------------------------------------------

class _VJPCall(_Call):
    def __init__(self, cv, args, nondiff, intree):
        super().__init__("custom_vjp", cv._sig, args, nondiff, intree)
        self.fwd, self.bwd = cv.fwd, cv.bwd
        self.saved = {}

    def run_fwd(self, leaves):
        r = self.fwd(*self.args_from(leaves))
        if not (isinstance(r, (tuple, list)) and len(r) == 2):
            raise CustomRuleError(f"{self.owner}: fwd must return a pair (output, residuals), "
                                  f"not {type(r).__name__}.")
        return r

    def impl(self, *leaves):
        out, res = self.run_fwd(leaves)
        packed = self.record_output(out, "fwd")
        if contains_box(tree_flatten(res)[0]):
            raise TypeError(f"{self.owner}: fwd returned traced residuals that are not computed from its "
                            f"arguments: it closes over a traced variable. Pass that value as an argument.")
        self.saved[tuple(map(id, leaves))] = (leaves, res)
        return packed

    def also_reads(self):
        """Also the arrays among the residuals ``impl`` saved, until ``bwd`` has read them:
        they may be the caller's own arrays (a global that ``fwd`` returned, say)."""
        return [x for _, res in self.saved.values() for x in tree_flatten(res)[0]] + super().also_reads()

    def residuals(self, leaves):
        """The residuals of ``fwd`` at ``leaves``: those saved by ``impl`` when the leaves
        are the raw values it ran on; otherwise (traced leaves: an outer derivative needs
        to see how the residuals depend on them) ``fwd`` runs again."""
        if not contains_box(leaves):
            hit = self.saved.get(tuple(map(id, leaves)))
            if hit is not None and all(a is b for a, b in zip(hit[0], leaves)):
                return hit[1]
        return self.run_fwd(leaves)[1]

    def cotangents(self, res, g, leaves):
        """The checked result of ``bwd``: one cotangent per leaf (None: zero)."""
        gs = self.packing.treedef.unflatten(self.packing.unpack(g, primal=False))
        cts = self.bwd(*self.nondiff_values(), res, gs)
        n = len(self.diff)
        names = ", ".join(self.sig.argname(i) for i in self.diff)
        if not isinstance(cts, (tuple, list)):
            raise CustomRuleError(f"{self.owner}: bwd must return a tuple with one cotangent per differentiated "
                                  f"argument ({n}: {names}), not {type(cts).__name__}"
                                  + (" (for one argument, return (ct,))" if n == 1 else "") + ".")
        if len(cts) != n:
            raise CustomRuleError(f"{self.owner}: bwd returned {len(cts)} cotangents, but the function has {n} "
                                  f"differentiated arguments ({names}).")
        flat = []
        for i, child, ct in zip(self.diff, self.intree.children, cts):
            try:
                flat.extend(leaves_like(child, ct))
            except ValueError as e:
                raise CustomRuleError(f"{self.owner}: bwd returned a cotangent for {self.sig.argname(i)} "
                                      f"with the wrong structure: {e}.") from None
        out = []
        for k, (c, x) in enumerate(zip(flat, leaves)):
            if c is None:
                out.append(None)
                continue
            x = getval(x)
            try:
                kind = dtype_of(x).kind
            except TypeError:                  # a string, a callable: not differentiable
                raise CustomRuleError(f"{self.owner}: bwd returned a cotangent for {self.leaf_name(k)}, which "
                                      f"is {type(x).__name__} {x!r:.40}, not an array: return None for it, or "
                                      f"list it in nondiff_argnums.") from None
            if kind not in "fc":
                out.append(None)               # an integer or boolean argument has no cotangent
                continue
            out.append(check_leaf(self.owner, f"the cotangent bwd returned for {self.leaf_name(k)}", c,
                                  shape_of(x), dtype_of(x)))
        return out

    def vjp(self, argnums, g, ans, *leaves):
        cts = self.cotangents(self.residuals(leaves), g, leaves)
        return [cts[a] for a in argnums]

    def jvp(self, argnums, tangents, ans, *leaves):
        """``bwd`` transposed: one reverse pass through ``bwd`` for all tangents at once."""
        res = self.residuals(leaves)

        def lin(g):
            cts = self.cotangents(res, g, leaves)
            return [cts[a] for a in argnums]

        return _transpose_to_inputs(lin, [zeros_like_value(getval(ans))], tangents)[0]


class custom_vjp(_Custom):
    """A function with a user-defined reverse rule (JAX's ``jax.custom_vjp``).

    ``f.defvjp(fwd, bwd)``: ``fwd(*args)`` returns ``(output, residuals)``;
    ``bwd(*nondiff_args, residuals, g)`` returns one cotangent per differentiated
    argument, as a tuple (``None`` for a zero cotangent, whole or per leaf). Forward mode
    is obtained by transposing ``bwd``. Write ``fwd`` and ``bwd`` with ``wengert.numpy``
    so that they can be differentiated again (second derivatives)."""

    kind, call_class = "custom_vjp", _VJPCall
    fwd = bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def has_rule(self):
        return self.fwd is not None

    def how_to_define(self):
        return f"{self._sig.name}.defvjp(fwd, bwd)"


# -- custom_jvp ------------------------------------------------------------------------------

def _zero_tangent(v):
    """The tangent the JVP rule sees for an argument leaf that is not differentiated:
    zeros for a number or an array, None for anything else (a string, a callable), as
    its zeros would be meaningless ('' for a string)."""
    if isinstance(v, (int, float, complex)) or (isinstance(v, (_np.ndarray, _np.generic)) and v.dtype.kind in "biufc"):
        return zeros_like_value(v)
    return None


class _JVPCall(_Call):
    def __init__(self, cj, args, nondiff, intree):
        super().__init__("custom_jvp", cj._sig, args, nondiff, intree)
        self.fun, self.rule = cj.fun, cj.jvp

    def impl(self, *leaves):
        return self.record_output(self.fun(*self.args_from(leaves)), "the function")

    def tangent_out(self, leaves, tangents):
        """The packed output tangent the user's rule gives for ``tangents`` (one per leaf)."""
        r = self.rule(*self.nondiff_values(), tuple(self.diff_trees(leaves)), tuple(self.diff_trees(tangents)))
        if not (isinstance(r, (tuple, list)) and len(r) == 2):
            raise CustomRuleError(f"{self.owner}: the JVP rule must return a pair (primal_out, tangent_out), "
                                  f"not {type(r).__name__}.")
        touts = self.split_output(r[1], "the tangent the JVP rule returned")
        touts = [check_leaf(self.owner, f"output tangent {k} of the JVP rule", t, shape, dtype)
                 if dtype.kind in "fc" else None      # (an integer or boolean output has no tangent)
                 for k, (t, shape, dtype) in enumerate(zip(touts, self.packing.shapes, self.packing.dtypes))]
        return self.packing.pack(touts)

    def jvp(self, argnums, tangents, ans, *leaves):
        full = [_zero_tangent(getval(l)) for l in leaves]
        for a, t in zip(argnums, tangents):
            full[a] = t
        return self.tangent_out(leaves, full)

    def vjp(self, argnums, g, ans, *leaves):
        """The JVP rule transposed: one reverse pass for all arguments at once."""
        return _transpose_to_inputs(lambda *ts: [self.jvp(argnums, ts, ans, *leaves)],
                                    [zeros_like_value(getval(leaves[a])) for a in argnums], [g])


class custom_jvp(_Custom):
    """A function with a user-defined forward rule (JAX's ``jax.custom_jvp``).

    ``f.defjvp(rule)`` (usable as a decorator): ``rule(*nondiff_args, primals, tangents)``
    returns ``(primal_out, tangent_out)``, where ``primals`` and ``tangents`` are tuples of
    the differentiated arguments. Reverse mode is obtained by transposing the rule, which
    must therefore be linear in the tangents and written with ``wengert.numpy``."""

    kind, call_class = "custom_jvp", _JVPCall
    jvp = None

    def defjvp(self, rule):
        self.jvp = rule
        return rule

    def has_rule(self):
        return self.jvp is not None

    def how_to_define(self):
        return f"{self._sig.name}.defjvp(rule)"
