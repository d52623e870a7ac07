"""Wrapping a NumPy namespace: every public name resolves.

A name is one of four things:
- a differentiable function defined by a family module (a primitive or a composition
  of primitives);
- a non-differentiable function (``NONDIFF``): traced arguments are read as constants;
- any other function: it passes through for plain values, and raises
  ``MissingRuleError`` naming itself when a traced value reaches it, so a missing rule
  is never a silent zero gradient;
- anything else (types, constants, submodules we do not wrap) is re-exported as is.
"""
import functools
import types

import numpy as _np

from ..core.batching import DIAG, BatchTrace, expand_diagonal
from ..core.tracer import Box, batch_box_class, getval
from ..errors import InPlaceUpdateError, MissingRuleError, TracedConversionError

# Functions whose derivative is zero wherever it exists, or whose output is not a
# function of the input's values (shapes, dtypes, indices, predicates, sampling).
NONDIFF = frozenset("""
    shape ndim size result_type min_scalar_type can_cast promote_types common_type isscalar
    iscomplexobj isrealobj iscomplex isreal isfinite isinf isnan isneginf isposinf isnat signbit
    issubdtype isdtype may_share_memory shares_memory
    argmax argmin nanargmax nanargmin argsort argpartition argwhere nonzero flatnonzero
    searchsorted digitize count_nonzero histogram histogram_bin_edges histogramdd histogram2d
    floor ceil round around rint trunc fix sign floor_divide heaviside
    equal not_equal less less_equal greater greater_equal isclose allclose array_equal array_equiv
    logical_and logical_or logical_not logical_xor all any
    bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_invert bitwise_count invert
    left_shift right_shift bitwise_left_shift bitwise_right_shift gcd lcm
    zeros_like ones_like empty_like full_like
    isin in1d unravel_index ravel_multi_index indices tril_indices_from triu_indices_from
    diag_indices_from mask_indices
""".split())


def contains_box(obj):
    """Whether a traced value is ``obj`` or inside its lists, tuples and dicts. (Wrappers
    call this on every argument tuple, so the common cases return early.)"""
    if isinstance(obj, Box):
        return True
    if isinstance(obj, (list, tuple)):
        for o in obj:
            if isinstance(o, Box) or (isinstance(o, (list, tuple, dict)) and contains_box(o)):
                return True
        return False
    if isinstance(obj, dict):
        return contains_box(list(obj.values())) if obj else False
    return False


def strip_boxes(obj):
    """``obj`` with every box (inside lists, tuples and dicts too) replaced by its value."""
    if isinstance(obj, Box):
        return getval(obj)
    if isinstance(obj, (list, tuple)) and contains_box(obj):
        return type(obj)(strip_boxes(o) for o in obj) if type(obj) in (list, tuple) else \
            type(obj)(*[strip_boxes(o) for o in obj])
    if isinstance(obj, dict) and contains_box(obj):
        return {k: strip_boxes(v) for k, v in obj.items()}
    return obj


# NONDIFF functions that read only shapes and dtypes
_SHAPE_ONLY = frozenset("""
    shape ndim size result_type min_scalar_type can_cast promote_types common_type isscalar iscomplexobj
    isrealobj issubdtype isdtype zeros_like ones_like empty_like full_like
""".split())


def nondiff(func, name=None):
    """``func`` reading traced arguments as constants. A batched value (a tangent or
    cotangent of a Jacobian, in a custom rule) shows one element, as its box does: the
    functions of shapes see the element's shape, the others run per element."""
    by_shape = (name or getattr(func, "__name__", "")) in _SHAPE_ONLY

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        # (on hot paths: plain arguments go straight through, a box costs one more walk)
        if not (contains_box(args) or kwargs and contains_box(kwargs)):
            return func(*args, **kwargs)
        trace = _batch_trace(args) or (_batch_trace(kwargs) if kwargs else None)
        if trace is not None:
            if by_shape:
                return func(*_elements(args, _element_like), **_elements(kwargs, _element_like))
            return _per_element(func, trace, args, kwargs)
        return func(*[getval(a) if isinstance(a, Box) else strip_boxes(a) for a in args], **strip_boxes(kwargs))
    return wrapped


def _batch_trace(obj):
    """The batch trace of the first batched box in ``obj`` (and its lists, tuples, dicts)."""
    if isinstance(obj, Box):
        while isinstance(obj, Box):
            if isinstance(obj._trace, BatchTrace):
                return obj._trace
            obj = obj._value
        return None
    if isinstance(obj, (list, tuple)):
        for o in obj:
            if isinstance(o, (Box, list, tuple, dict)):
                t = _batch_trace(o)
                if t is not None:
                    return t
    elif isinstance(obj, dict):
        return _batch_trace(list(obj.values()))
    return None


def _elements(obj, element):
    """``obj`` with each box replaced by ``element(box)``."""
    if isinstance(obj, Box):
        return element(obj)
    if isinstance(obj, dict):
        return {k: _elements(v, element) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and contains_box(obj):
        items = [_elements(o, element) for o in obj]
        return items if type(obj) is list else tuple(items) if type(obj) is tuple else type(obj)(*items)
    return obj


def _element_like(box):
    """A plain value of the shape and dtype ``box`` shows."""
    dtype = _np.result_type(getval(box))
    shape = box.shape
    return _np.zeros(shape, dtype) if shape or isinstance(getval(box), _np.ndarray) else dtype.type(0)


def _per_element(func, trace, args, kwargs):
    def batch_of(box):
        v = box
        while isinstance(v, Box) and v._trace is not trace:
            v = v._value
        if not isinstance(v, Box):
            return None                          # not batched by this trace: the same for every element
        raw = getval(v._value)
        return expand_diagonal[0](raw, trace.size) if v._node is DIAG else raw
    batches = {}

    def element(b):
        def pick(box):
            key = id(box)
            if key not in batches:
                batches[key] = batch_of(box)
            raw = batches[key]
            return getval(box) if raw is None else raw[b]
        return pick
    outs = [func(*_elements(args, element(b)), **_elements(kwargs, element(b))) for b in range(trace.size)]
    try:
        stacked = _np.stack([_np.asarray(o) for o in outs])
    except (ValueError, TypeError):
        raise ValueError(f"numpy.{getattr(func, '__name__', func)} of a batched value (a tangent or cotangent "
                         f"inside jacfwd, jacrev or hessian) gives results of different shapes for different "
                         f"elements; compute it outside the rule, or with grad/jvp one vector at a time") from None
    return batch_box_class[0](stacked, trace, None)


# NumPy functions that write into their first argument: a traced value reaching one is an
# in-place update (of a traced array) or a store into a plain ndarray, not a missing rule
WRITERS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"})


def refuse_write(name, dest):
    """The error for ``name`` writing in place into ``dest`` with a traced value involved."""
    if isinstance(dest, Box):
        raise InPlaceUpdateError(f"{name}(x, ...)")
    raise TracedConversionError(f"Storing in place into a plain ndarray with {name}")


def guarded(func, name):
    """``func`` for plain values; a clear error when a traced value reaches it."""
    writer = name.rsplit(".", 1)[-1] in WRITERS

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if contains_box(args) or contains_box(kwargs):
            if writer:
                refuse_write(name, args[0] if args else next(iter(kwargs.values()), None))
            raise MissingRuleError(name)
        return func(*args, **kwargs)
    return wrapped


def _is_function(obj):
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, _np.ufunc)) or (
        callable(obj) and type(obj).__name__ in ("_ArrayFunctionDispatcher", "cython_function_or_method"))


def wrap_namespace(src, defined, prefix, handled, nondiff_names=NONDIFF):
    """The public namespace of module ``src``: ``defined`` names first, then the rest
    as described in the module docstring. Registers the real function -> wrapper pairs
    in ``handled`` for ``__array_function__`` / ``__array_ufunc__`` dispatch."""
    aliases = {}                      # NumPy object -> our function, so aliases (asin) follow arcsin
    for name, ours in defined.items():
        try:
            aliases[getattr(src, name)] = ours
        except (AttributeError, TypeError):
            pass
    ns = {}
    for name in dir(src):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(src, name)
        except AttributeError:
            continue
        if name in defined:
            ns[name] = defined[name]
        elif _hashable(obj) and obj in aliases:
            ns[name] = aliases[obj]
        elif _is_function(obj):
            ns[name] = nondiff(obj, name) if name in nondiff_names else guarded(obj, prefix + name)
        else:
            ns[name] = obj
            continue
        # A stub never replaces a real handler: SciPy re-exports some NumPy functions
        # (scipy.special.sinc is numpy.sinc), and NumPy's rule must keep answering for them.
        if _hashable(obj) and (name in defined or obj in aliases or obj not in handled):
            handled[obj] = ns[name]
    for name, obj in defined.items():
        ns.setdefault(name, obj)
    return ns


def _hashable(obj):
    try:
        hash(obj)
    except TypeError:
        return False
    return True
