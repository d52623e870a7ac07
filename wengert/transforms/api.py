"""The user-facing reverse-mode operators, each a thin layer over ``vjp_setup``."""
import functools

import numpy as _np

from ..core.pytree import tree_flatten, tree_map, treedef_leaves
from ..core.reverse import backward, trace_reverse
from ..core.tracer import Box, getval
from ..core.vspace import densify, dtype_of, fit, ones_like_value, shape_of, zeros_like_value
from ..errors import NonDifferentiableInputError, NonScalarOutputError, OutputTypeError
from .. import numpy as wnp


def _argnums_tuple(argnums, nargs, op):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{op}: argnums={argnums!r} is out of range for {nargs} positional arguments")
    return single, tuple(i % nargs for i in nums)


def _check_input(op, position, leaf):
    value = getval(leaf)
    try:
        dtype = dtype_of(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "fc" or isinstance(value, (bool, _np.bool_)):
        raise NonDifferentiableInputError(op, position, value, dtype if dtype is not None else type(value).__name__)


def _check_output(op, leaf):
    value = getval(leaf)
    if isinstance(value, (bool, _np.bool_)) or not isinstance(value, (int, float, complex, _np.ndarray, _np.generic)) \
            or (isinstance(value, (_np.ndarray, _np.generic)) and value.dtype.kind not in "biufc"):
        raise OutputTypeError(op, value)


class _VJP:
    """The result of tracing ``fun`` once: its output and a reusable backward pass."""

    def __init__(self, fun, args, kwargs, argnums, has_aux, op):
        self.op = op
        self.args_trees = [args[i] for i in argnums]
        leaves, self.in_tree = tree_flatten(self.args_trees)
        for k, leaf in enumerate(leaves):
            _check_input(op, _leaf_name(argnums, self.in_tree, k), leaf)
        self.in_leaves = leaves
        n = len(leaves)

        def flat_fun(*leaf_vals):
            new_args = list(args)
            for i, t in zip(argnums, self.in_tree.unflatten(leaf_vals)):
                new_args[i] = t
            return fun(*new_args, **kwargs)

        out, trace, self.records = trace_reverse(flat_fun, leaves, range(n))
        self.aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise OutputTypeError(op + " with has_aux=True (expected a pair (output, aux))", out)
            out, aux = out
            self.aux = tree_map(_strip(trace), aux)
        out_leaves, self.out_tree = tree_flatten(out)
        for leaf in out_leaves:
            _check_output(op, leaf)
        self.out_ids = [l._index if isinstance(l, Box) and l._trace is trace else None for l in out_leaves]
        strip = _strip(trace)
        self.out_leaves = [strip(l) for l in out_leaves]
        self.out = self.out_tree.unflatten(self.out_leaves)
        self.input_ids = list(range(n))

    def pull(self, cotangent_leaves, free=False):
        seeds = [(i, fit(self._checked(c, v), v)) for i, c, v in zip(self.out_ids, cotangent_leaves, self.out_leaves)
                 if i is not None and c is not None]
        grads = backward(self.records, seeds, self.input_ids, free)
        if free:
            self.records = None
        grads = [_as_input(g, x) for g, x in zip(grads, self.in_leaves)]
        return self.in_tree.unflatten(grads)

    def _checked(self, c, v):
        if shape_of(getval(c)) != shape_of(getval(v)):
            raise ValueError(f"{self.op}: the cotangent has shape {shape_of(getval(c))} but the output it "
                             f"pairs with has shape {shape_of(getval(v))}; they must be equal.")
        return c

    def __call__(self, cotangent):
        return tuple(self.pull(treedef_leaves(self.out_tree, cotangent)))


def _as_input(g, x):
    """The cotangent of input ``x`` in the form of ``x``: zeros if nothing reached it,
    a NumPy scalar for a Python scalar input."""
    if g is None:
        return zeros_like_value(getval(x))
    g = densify(g)
    if isinstance(x, (float, complex)) and g.__class__ is _np.ndarray and g.ndim == 0:
        return g[()]
    return g


def _strip(trace):
    def strip(x):
        return x._value if isinstance(x, Box) and x._trace is trace else x
    return strip


def _leaf_name(argnums, in_tree, k):
    sizes = [c.num_leaves for c in in_tree.children]
    for argnum, size in zip(argnums, sizes):
        if k < size:
            return f"{argnum}" if size == 1 and in_tree.children[argnums.index(argnum)].kind == "leaf" \
                else f"{argnum} (leaf {k} of its pytree)"
        k -= size
    return str(k)


def _select(grads, single):
    return grads[0] if single else tuple(grads)


def _nary(op):
    """Turn ``impl(fun, args, kwargs, argnums, single, **opts)`` into ``op(fun, argnums=0, **opts)``."""
    def decorate(impl):
        @functools.wraps(impl)
        def transform(fun, argnums=0, **opts):
            @functools.wraps(fun)
            def transformed(*args, **kwargs):
                single, nums = _argnums_tuple(argnums, len(args), op)
                return impl(fun, args, kwargs, nums, single, **opts)
            return transformed
        return transform
    return decorate


def _scalar_seed(op, vjp):
    if not vjp.out_leaves:
        raise OutputTypeError(op, vjp.out)
    if len(vjp.out_leaves) > 1:
        raise NonScalarOutputError(op, f"a pytree of {len(vjp.out_leaves)} arrays")
    out = getval(vjp.out_leaves[0])
    if shape_of(out) != ():
        raise NonScalarOutputError(op, f"an array of shape {shape_of(out)}")
    if dtype_of(out).kind == "c":
        raise OutputTypeError(op + " (complex output; use holomorphic differentiation or take the real part)", out)
    return [ones_like_value(out)]


@_nary("value_and_grad")
def _value_and_grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "value_and_grad")
    grads = _select(v.pull(_scalar_seed("value_and_grad", v), free=True), single)
    return ((v.out, v.aux), grads) if has_aux else (v.out, grads)


@_nary("grad")
def _grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "grad")
    grads = _select(v.pull(_scalar_seed("grad", v), free=True), single)
    return (grads, v.aux) if has_aux else grads


def grad(fun, argnums=0, has_aux=False):
    """The gradient of scalar-valued ``fun`` with respect to the arguments ``argnums``.

    ``grad(f)(x)`` has the structure of ``x``; with a tuple ``argnums`` it is a tuple of
    such gradients. With ``has_aux=True``, ``fun`` returns ``(out, aux)`` and the
    transformed function returns ``(gradient, aux)``.
    """
    return _grad(fun, argnums, has_aux=has_aux)


def value_and_grad(fun, argnums=0, has_aux=False):
    """Like ``grad``, but returns ``(value, gradient)`` (``((value, aux), gradient)`` with has_aux)."""
    return _value_and_grad(fun, argnums, has_aux=has_aux)


@_nary("elementwise_grad")
def _elementwise_grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "elementwise_grad")
    seeds = [ones_like_value(getval(o)) for o in v.out_leaves]
    grads = _select(v.pull(seeds, free=True), single)
    return (grads, v.aux) if has_aux else grads


def elementwise_grad(fun, argnums=0, has_aux=False):
    """The vector-Jacobian product with a cotangent of ones: for a function that acts
    elementwise this is the derivative of each output element by its own input."""
    return _elementwise_grad(fun, argnums, has_aux=has_aux)


def vjp(fun, *primals, has_aux=False):
    """``(out, vjp_fn)`` where ``vjp_fn(cotangent)`` returns one cotangent per primal.

    ``vjp_fn`` may be called many times; the tape is kept until it is garbage-collected.
    """
    v = _VJP(fun, primals, {}, tuple(range(len(primals))), has_aux, "vjp")
    return (v.out, v, v.aux) if has_aux else (v.out, v)


@_nary("jacrev")
def _jacrev(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "jacrev")
    outs = [getval(o) for o in v.out_leaves]
    in_leaves = tree_flatten(v.args_trees)[0]
    per_out = []
    for k, o in enumerate(outs):
        oshape = shape_of(o)
        rows = []
        for e in range(int(_np.prod(oshape, dtype=int))):
            seed = _np.zeros(oshape, dtype_of(o)).ravel()
            seed[e] = 1
            cts = [None] * len(outs)
            cts[k] = seed.reshape(oshape)
            rows.append(tree_flatten(v.pull(cts))[0])
        leaf_jacs = []
        for j, x in enumerate(in_leaves):
            xshape = shape_of(getval(x))
            col = [r[j] for r in rows]
            leaf_jacs.append(wnp.reshape(wnp.stack(col), oshape + xshape) if col
                             else _np.zeros(oshape + xshape, dtype_of(getval(x))))
        per_out.append(_select(v.in_tree.unflatten(leaf_jacs), single))
    jac = v.out_tree.unflatten(per_out)
    v.records = None
    return (jac, v.aux) if has_aux else jac


def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian of ``fun`` by reverse mode, one row per output element.

    For an array input of shape ``S`` and output of shape ``T`` the result has shape
    ``T + S``; pytrees give the output's structure of the arguments' structures.
    """
    return _jacrev(fun, argnums, has_aux=has_aux)


def stop_gradient(x):
    """``x`` with every trace removed: a constant for all derivatives (any pytree)."""
    return tree_map(getval, x)
