"""Reverse mode for users: grad, value_and_grad, vjp, elementwise_grad, stop_gradient.

Each is a thin layer over ``_VJP``: one traced run of the function, and a backward
pass that can be run for any cotangent.
"""
import numpy as _np

from ..core.pytree import tree_flatten, tree_map, treedef_leaves
from ..core.reverse import backward, trace_reverse
from ..core.tracer import Box, getval
from ..core.vspace import densify, dtype_of, fit, ones_like_value, shape_of, zeros_like_value
from ..errors import NonScalarOutputError, OutputTypeError
from .common import Selected, check_output, nary, select, split_aux, strip_trace


class _VJP:
    """The result of tracing ``fun`` once: its output and a reusable backward pass."""

    def __init__(self, fun, args, kwargs, argnums, has_aux, op):
        self.op = op
        self.sel = Selected(op, args, kwargs, argnums)
        self.in_tree, self.in_leaves = self.sel.tree, self.sel.leaves
        n = len(self.in_leaves)
        out, trace, self.records = trace_reverse(lambda *xs: self.sel.call(fun, xs), self.in_leaves, range(n))
        strip = strip_trace(trace)
        out, self.aux = split_aux(op, out, has_aux, strip)
        out_leaves, self.out_tree = tree_flatten(out)
        for leaf in out_leaves:
            check_output(op, leaf)
        self.out_ids = [l._node if isinstance(l, Box) and l._trace is trace else None for l in out_leaves]
        self.out_leaves = [strip(l) for l in out_leaves]
        for leaf in self.out_leaves:       # the backward pass may read them (tanh's output...)
            if isinstance(leaf, _np.ndarray):
                self.records.hold(leaf)
        self.out = self.out_tree.unflatten(self.out_leaves)
        self.input_ids = list(range(n))

    def pull(self, cotangent_leaves, free=False):
        try:
            seeds = [(i, fit(self._checked(c, v), v)) for i, c, v in
                     zip(self.out_ids, cotangent_leaves, self.out_leaves) if i is not None and c is not None]
            grads = backward(self.records, seeds, self.input_ids, free)
        finally:
            if free:        # release the held arrays now, even if a traceback keeps this frame
                self.records.release()
                self.records = None
        grads = [_as_input(g, x) for g, x in zip(grads, self.in_leaves)]
        return self.in_tree.unflatten(grads)

    def _checked(self, c, v):
        if shape_of(c) != shape_of(v):
            raise ValueError(f"{self.op}: the cotangent has shape {shape_of(c)} but the output it "
                             f"pairs with has shape {shape_of(v)}; they must be equal.")
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


def _scalar_seed(op, vjp):
    if not vjp.out_leaves:
        raise OutputTypeError(op, vjp.out)
    if len(vjp.out_leaves) > 1:
        raise NonScalarOutputError(op, f"a pytree of {len(vjp.out_leaves)} arrays")
    out = vjp.out_leaves[0]
    if shape_of(out) != ():          # the shape seen by this level (a batched value shows one element's)
        raise NonScalarOutputError(op, f"an array of shape {shape_of(out)}")
    if dtype_of(out).kind == "c":
        raise OutputTypeError(op + " (complex output; use holomorphic differentiation or take the real part)", out)
    value = getval(out)
    return [ones_like_value(value) if shape_of(value) == () else _np.ones((), dtype_of(out))]


@nary("value_and_grad")
def _value_and_grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "value_and_grad")
    grads = select(v.pull(_scalar_seed("value_and_grad", v), free=True), single)
    return ((v.out, v.aux), grads) if has_aux else (v.out, grads)


@nary("grad")
def _grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "grad")
    grads = select(v.pull(_scalar_seed("grad", v), free=True), single)
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


@nary("elementwise_grad")
def _elementwise_grad(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "elementwise_grad")
    seeds = [ones_like_value(getval(o)) for o in v.out_leaves]
    grads = select(v.pull(seeds, free=True), single)
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


def stop_gradient(x):
    """``x`` with every trace removed: a constant for all derivatives (any pytree).

    A traced array comes back as a read-only view: its value belongs to the tape, whose
    backward pass may still read it."""
    if x.__class__ is _np.ndarray:
        return x
    return tree_map(_detached, x)


def _detached(x):
    value = getval(x)
    if value is not x and value.__class__ is _np.ndarray:
        value = value.view()
        value.setflags(write=False)
    return value
