"""Plumbing shared by the transforms: argnums, the differentiated arguments as a flat
list of leaves, and the checks on inputs and outputs."""
import functools

import numpy as _np

from ..core.pytree import tree_flatten, tree_map
from ..core.tracer import Box, getval
from ..core.vspace import dtype_of
from ..errors import NonDifferentiableInputError, OutputTypeError


def argnums_tuple(argnums, nargs, op):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{op}: argnums={argnums!r} is out of range for {nargs} positional arguments")
    return single, tuple(i % nargs for i in nums)


def check_input(op, position, leaf):
    """``position`` names the argument in the error: a string, or a function giving one."""
    value = getval(leaf)
    if value.__class__ is float or (value.__class__ is _np.ndarray and value.dtype.kind in "fc"):
        return
    try:
        dtype = dtype_of(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "fc" or isinstance(value, (bool, _np.bool_)):
        position = position() if callable(position) else position
        raise NonDifferentiableInputError(op, position, value, dtype if dtype is not None else type(value).__name__)


def check_output(op, leaf):
    value = getval(leaf)
    if isinstance(value, (bool, _np.bool_)) or not isinstance(value, (int, float, complex, _np.ndarray, _np.generic)) \
            or (isinstance(value, (_np.ndarray, _np.generic)) and value.dtype.kind not in "biufc"):
        raise OutputTypeError(op, value)


class Selected:
    """The arguments ``argnums`` of a call, flattened to leaves, checked to be floats."""

    def __init__(self, op, args, kwargs, argnums):
        self.args, self.kwargs, self.argnums = args, kwargs, argnums
        self.trees = [args[i] for i in argnums]
        self.leaves, self.tree = tree_flatten(self.trees)
        for k, leaf in enumerate(self.leaves):
            check_input(op, lambda k=k: self._leaf_name(k), leaf)

    def call(self, fun, leaf_values):
        """``fun`` applied to the arguments with the selected leaves replaced."""
        args = list(self.args)
        for i, t in zip(self.argnums, self.tree.unflatten(leaf_values)):
            args[i] = t
        return fun(*args, **self.kwargs)

    def _leaf_name(self, k):
        for argnum, child in zip(self.argnums, self.tree.children):
            if k < child.num_leaves:
                return f"{argnum}" if child.kind == "leaf" else f"{argnum} (leaf {k} of its pytree)"
            k -= child.num_leaves
        return str(k)


def strip_trace(trace):
    """A function removing ``trace``'s box from a value (boxes of other traces stay)."""
    def strip(x):
        return x._value if isinstance(x, Box) and x._trace is trace else x
    return strip


def split_aux(op, out, has_aux, strip):
    """(output, aux) of a function called with ``has_aux``; aux has this trace removed."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise OutputTypeError(op + " with has_aux=True (expected a pair (output, aux))", out)
    out, aux = out
    return out, tree_map(strip, aux)


def select(values, single):
    return values[0] if single else tuple(values)


def nary(op):
    """Turn ``impl(fun, args, kwargs, argnums, single, **opts)`` into ``op(fun, argnums=0, **opts)``."""
    def decorate(impl):
        @functools.wraps(impl)
        def transform(fun, argnums=0, **opts):
            @functools.wraps(fun)
            def transformed(*args, **kwargs):
                single, nums = argnums_tuple(argnums, len(args), op)
                return impl(fun, args, kwargs, nums, single, **opts)
            return transformed
        return transform
    return decorate


