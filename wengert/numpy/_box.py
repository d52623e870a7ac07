"""``ArrayBox``: a traced value that behaves like an ndarray.

Operators and methods call this package's functions; ``__array_ufunc__`` and
``__array_function__`` (NEP 13/18) route plain-NumPy calls (``numpy.sin(x)``,
``x @ W`` with an ndarray ``W``, ``numpy.concatenate([...])``) to the same primitives.
Conversions that would silently drop the derivative (``float(x)``, ``numpy.asarray(x)``,
writing ``x`` into an ndarray) raise ``TracedConversionError`` instead.
"""
import weakref

import numpy as _np

from ..core.batching import BatchTrace
from ..core.tracer import Box, Primitive, getval
from ..errors import InPlaceUpdateError, MissingRuleError, TracedConversionError
from ._wrap import refuse_write

ns = {}                     # the wrapped namespace, filled in by wengert.numpy
handled = {}                # real NumPy function -> wrapper, for __array_function__
_INTERNAL_UFUNCS = frozenset({"clip"})     # NumPy-internal ufuncs (ndarray.clip calls one), by name
_UFUNC_METHODS = {("add", "reduce"): "sum", ("multiply", "reduce"): "prod",
                  ("maximum", "reduce"): "amax", ("minimum", "reduce"): "amin",
                  ("add", "accumulate"): "cumsum", ("multiply", "accumulate"): "cumprod"}


# -- views ----------------------------------------------------------------------------
# NumPy's basic indexing, and reshapes and transposes that need no copy, return views:
# writing into ``b = a[0]`` writes into ``a``, and writing into ``a`` shows in ``b``. A
# traced update is a new value (copy-on-write), so the link is kept here: a view box holds
# its base box (``_view_of``: base, kind, arg), as a NumPy view holds its base, and a base
# has weak references to its views (in ``_views``, by id: boxes are unhashable). After an
# in-place update of a box, its base is re-pointed at the base with the view's part
# replaced, and its views at the same views of the new value, up and down the chains of
# views, each an operation on the tape like any other.

_ndarray = _np.ndarray
_SCALARS = (_np.float64, _np.float32, float)      # what x[i] of a vector gives: never a view
_views = {}     # id(base box) -> (weak reference to the base, [weak references to its views])
_purge_at = [4096]
# Entries of bases that are gone, and references to views that are gone, are dropped in
# sweeps when _views' lists have grown (a callback per box would cost more than the link);
# an id reused by a new box is told apart by the identity check of the weak reference.
_linked = [0]


def _basic(idx):
    for i in (idx if idx.__class__ is tuple else (idx,)):
        if not (i is None or i is Ellipsis or isinstance(i, (int, _np.integer, slice))) or isinstance(i, bool):
            return False
    return True


def link_view(base, view, kind, arg):
    """Link ``view``, a box whose raw value NumPy made a view of ``base``'s by a reshape
    (``kind`` "reshape", ``arg`` (shape, order)) or a transpose ("transpose", axes), so
    in-place updates go both ways."""
    if isinstance(view, ArrayBox) and isinstance(base, ArrayBox) and \
            _np.may_share_memory(getval(view), getval(base)):
        _link(base, view, kind, arg)
    return view


def _link(base, view, kind, arg):
    view._view_of = (base, kind, arg)
    kb = id(base)
    entry = _views.get(kb)
    if entry is None or entry[0]() is not base:
        entry = _views[kb] = (weakref.ref(base), [])
    entry[1].append(weakref.ref(view))
    _linked[0] += 1
    if _linked[0] > _purge_at[0]:
        _purge()


def _purge():
    """Drop the entries of boxes that are gone."""
    for k in [k for k, e in _views.items() if e[0]() is None]:
        del _views[k]
    n = 0
    for entry in _views.values():
        entry[1][:] = [r for r in entry[1] if r() is not None]
        n += len(entry[1])
    _linked[0] = n
    _purge_at[0] = max(4096, 2 * n)


def copy_of(box):
    """A copy of a traced array: a box of its own for the same value. A traced value is
    never written in place (updates are copies), so the raw value is shared; what makes it a
    copy is that an in-place update of either box re-points that box alone."""
    new = object.__new__(box.__class__)
    new._value, new._trace, new._node = box._value, box._trace, box._node
    return new


def _raw(box):
    v = box._value
    while isinstance(v, Box):
        v = v._value
    return v


def _swap(box, new):
    if not isinstance(new, Box):
        raise InPlaceUpdateError("An in-place update that drops the trace")
    box.__class__ = new.__class__
    box._value, box._trace, box._node = new._value, new._trace, new._node


def _spread(box):
    """Re-point the base and the views of ``box``, just updated in place."""
    _spread_down(box, None)
    while True:                                  # up the chain of bases
        link = getattr(box, "_view_of", None)
        if link is None:
            return
        _refuse_part(link)
        base, kind, arg = link
        _swap(base, _up(kind, arg, base, box))
        _spread_down(base, box)
        box = base


def _up(kind, arg, base, view):
    """``base`` with the part ``view`` shows replaced by ``view``'s value."""
    if kind == "item":
        return ns["_setitem"](base, arg, view)
    if kind == "reshape":
        return ns["_reshape_p"](view, base.shape, order=arg[1])    # (a batched box's own shape)
    return ns["_transpose_p"](view, None if arg is None else tuple(_np.argsort(arg)))


def _down(kind, arg, base):
    """The view of ``base`` that (``kind``, ``arg``) describe, taken again."""
    if kind == "item":
        return ns["_getitem"](base, arg)
    if kind == "reshape":
        return ns["_reshape_p"](base, arg[0], order=arg[1])
    return ns["_transpose_p"](base, arg)


def _spread_down(box, skip):
    entry = _views.get(id(box))
    if entry is None or entry[0]() is not box:
        return
    refs = entry[1]
    live = [r for r in refs if r() is not None]
    if len(live) < len(refs):               # views that are gone: dropped here, so each is scanned once
        _linked[0] -= len(refs) - len(live)
        refs[:] = live
    for ref in live:
        view = ref()
        if view is not None and view is not skip:
            link = getattr(view, "_view_of", None)
            if link is not None and link[0] is box:
                _swap(view, _down(link[1], link[2], box))
                _spread_down(view, None)


def _part(box, name):
    """``x.real`` / ``x.imag``: views in NumPy. That of a real array shows the array itself
    (linked like a reshape to the same shape); the parts of a complex array are detached:
    writing into one raises (a traced complex array is updated as a whole)."""
    out = ns[name](box)
    if isinstance(out, ArrayBox):
        if box.dtype.kind != "c":
            if name == "real":
                _link(box, out, "reshape", (box.shape, "C"))
        elif _raw(box).__class__ is _ndarray:
            out._view_of = (None, "part", name)
    return out


def _refuse_part(link):
    if link is not None and link[1] == "part":
        raise InPlaceUpdateError(f"Writing into x.{link[2]} (a view of the complex array x in NumPy)")


def _batched(x):
    while isinstance(x, Box):
        if x._trace.__class__ is BatchTrace:
            return True
        x = x._value
    return False


def _compare(ufunc, box, other):
    """``box <op> other`` as a constant; on a batched value (a tangent or cotangent in a
    rule under a Jacobian), per element, as the value shows one (see _wrap.nondiff)."""
    if _batched(box) or _batched(other):
        return ns[ufunc.__name__](box, other)
    return ufunc(box._value, getval(other))


def _method(name):
    def method(self, *args, **kwargs):
        return ns[name](self, *args, **kwargs)
    method.__name__ = name
    return method


def _constant(name):
    def method(self, *args, **kwargs):
        return getattr(_np.asarray(self._value), name)(*args, **kwargs)
    method.__name__ = name
    return method


def _refuse(what, error=TracedConversionError):
    def method(self, *args, **kwargs):
        raise error(what)
    return method


class ArrayBox(Box):
    __slots__ = ("_view_of",)      # (base box, kind, arg) for a view of another box (see below)
    __array_priority__ = 100.0
    __hash__ = None

    # -- arithmetic: the binary operators are installed by ``bind`` ------------------
    def __divmod__(self, other):
        return ns["divmod"](self, other)

    def __rdivmod__(self, other):
        return ns["divmod"](other, self)

    def __neg__(self):               # replaced by ``bind``
        return ns["negative"](self)

    def __pos__(self):
        return copy_of(self)

    def __abs__(self):
        return ns["absolute"](self)

    # -- comparisons read values only --------------------------------------------------
    def __eq__(self, other):
        return _compare(_np.equal, self, other)

    def __ne__(self, other):
        return _compare(_np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(_np.less, self, other)

    def __le__(self, other):
        return _compare(_np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(_np.greater, self, other)

    def __ge__(self, other):
        return _compare(_np.greater_equal, self, other)

    def __bool__(self):
        return bool(self._value)

    # -- array protocol ---------------------------------------------------------------
    shape = property(lambda self: _np.shape(self._value))
    ndim = property(lambda self: _np.ndim(self._value))
    size = property(lambda self: _np.size(self._value))
    dtype = property(lambda self: _np.result_type(self._value))
    T = property(lambda self: ns["transpose"](self))
    mT = property(lambda self: ns["matrix_transpose"](self))
    real = property(lambda self: _part(self, "real"))
    imag = property(lambda self: _part(self, "imag"))

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        return (self[i] for i in range(len(self._value)))

    def __getitem__(self, idx):
        out = ns["_getitem"](self, idx)
        if isinstance(out, Box) and out._value.__class__ not in _SCALARS and _basic(idx) and \
                (out.ndim or _raw(out).__class__ is _ndarray and _raw(out).ndim == 0):
            _link(self, out, "item", idx)   # a view in NumPy (a 0-d one too): in-place updates go both ways
        return out

    # -- in-place updates: the box is re-pointed at a functionally updated copy, so every
    # name bound to this array sees the change (NumPy's semantics) while the values the
    # tape saved stay intact. Views taken by basic indexing (b = a[0], b = a[1:, ::2]) are
    # linked to their base: updating either re-points the other (see _views below).
    def _become(self, new):
        _refuse_part(getattr(self, "_view_of", None))
        _swap(self, new)
        if _views or getattr(self, "_view_of", None) is not None:
            _spread(self)
        return self

    def __setitem__(self, idx, value):
        self._become(ns["_setitem"](self, idx, value))

    def _update(self, new, ufunc):
        """``self op= other`` with ``new = self op other``, by NumPy's rules: a scalar is
        immutable (the name is rebound, other names keep the old value); an array keeps its
        shape and dtype (a result of another shape, or of a dtype NumPy would not cast back
        with casting='same_kind', raises as in NumPy)."""
        raw = _raw(self)
        if raw.__class__ is not _ndarray:
            return new
        if not isinstance(new, Box):         # x //= y: the values no longer depend on x's
            new = ns["_setitem"](self, Ellipsis, new)
        shape, dtype = self.shape, self.dtype
        if new.shape != shape:
            raise ValueError(f"non-broadcastable output operand with shape {shape} doesn't match the broadcast "
                             f"shape {new.shape} (in-place {ufunc} of a traced array)")
        if new.dtype != dtype:
            if not _np.can_cast(new.dtype, dtype, "same_kind"):
                raise TypeError(f"Cannot cast ufunc '{ufunc}' output from {new.dtype!r} to {dtype!r} with "
                                f"casting rule 'same_kind' (in-place update of a traced array)")
            new = ns["astype"](new, dtype)
        return self._become(new)

    def __iadd__(self, other):
        return self._update(self + other, "add")

    def __isub__(self, other):
        return self._update(self - other, "subtract")

    def __imul__(self, other):
        return self._update(self * other, "multiply")

    def __itruediv__(self, other):
        return self._update(self / other, "divide")

    def __ifloordiv__(self, other):
        return self._update(self // other, "floor_divide")

    def __imod__(self, other):
        return self._update(self % other, "remainder")

    def __ipow__(self, other):
        return self._update(self ** other, "power")

    def __imatmul__(self, other):
        return self._update(self @ other, "matmul")
    __float__ = _refuse("float()")
    __int__ = _refuse("int()")
    __complex__ = _refuse("complex()")
    __index__ = _refuse("Using as an index (operator.index)")
    __array__ = _refuse("numpy.asarray()/numpy.array() (or storing into an ndarray)")
    item = _refuse(".item()")
    tolist = _refuse(".tolist()")
    fill = _refuse(".fill()", InPlaceUpdateError)
    sort = _refuse(".sort() (in place; use np.sort(x))", InPlaceUpdateError)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:     # ``ndarray @ box``, ``ndarray * box``: the hot path
            func = handled.get(ufunc)
            if func is not None:
                return func(*inputs)
        if method == "at":
            refuse_write(f"numpy.{ufunc.__name__}.at", inputs[0])
        out = kwargs.get("out")
        if out is not None:
            if not any(isinstance(o, Box) for o in (out if isinstance(out, tuple) else (out,))):
                # a plain ndarray receiving a traced value (``out += x``, ``out[idx] += x``)
                raise TracedConversionError(f"Storing in place into a plain ndarray (out += x, or "
                                            f"numpy.{ufunc.__name__}(..., out=out))")
            raise InPlaceUpdateError(f"numpy.{ufunc.__name__}(..., out=...)")
        kwargs.pop("out", None)
        if method == "__call__":
            func = handled.get(ufunc)
            if func is None and ufunc.__name__ in _INTERNAL_UFUNCS:
                func = ns[ufunc.__name__]
        else:
            name = _UFUNC_METHODS.get((ufunc.__name__, method))
            func = ns[name] if name else None
            if method == "reduce":
                kwargs.setdefault("axis", 0)
            if method == "accumulate":
                kwargs.setdefault("axis", 0)
        if func is None:
            raise MissingRuleError(f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        return func(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        wrapper = handled.get(func)
        if wrapper is None:
            raise MissingRuleError(f"numpy.{getattr(func, '__name__', func)}")
        return wrapper(*args, **kwargs)

    # -- ndarray methods --------------------------------------------------------------
    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 else shape
        return ns["reshape"](self, shape, order=order)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 else (axes or None)
        return ns["transpose"](self, axes)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return ns["astype"](self, dtype, copy=copy)

    def flatten(self, order="C"):
        return copy_of(ns["ravel"](self, order))     # a copy, never a linked view

    def copy(self, order="K"):
        return copy_of(self)

    def conj(self):
        return ns["conjugate"](self)

    conjugate = conj

    def __repr__(self):
        return f"ArrayBox(level={self._trace.level}, value={self._value!r})"


_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
              "floordiv": "floor_divide", "mod": "mod", "pow": "power", "matmul": "matmul"}


def _operators(f):
    """``__op__`` and ``__rop__`` applying ``f``. When ``f`` is a primitive and the other
    operand is not traced, ``self`` is the only box, so its trace is the one that
    processes the operation: it is called directly (what ``Primitive.__call__`` would
    find), saving a call and a scan of the arguments on the hot path of scalar code."""
    if not isinstance(f, Primitive):
        return (lambda self, other: f(self, other)), (lambda self, other: f(other, self))

    def op(self, other):
        if isinstance(other, Box):
            return f(self, other)
        return self._trace.process(f, (self, other), {}, 1)

    def rop(self, other):
        if isinstance(other, Box):
            return f(other, self)
        return self._trace.process(f, (other, self), {}, 1)
    return op, rop


def bind(namespace):
    """Fill ``ns`` and install the operators, each calling its function directly
    (operators are the hot path of scalar code)."""
    ns.update(namespace)
    for op, name in _OPERATORS.items():
        forward, reflected = _operators(ns[name])
        forward.__name__, reflected.__name__ = f"__{op}__", f"__r{op}__"
        setattr(ArrayBox, f"__{op}__", forward)
        setattr(ArrayBox, f"__r{op}__", reflected)
    negative = ns["negative"]
    ArrayBox.__neg__ = lambda self: self._trace.process(negative, (self,), {}, 1)


for _name in ("sum", "mean", "prod", "max", "min", "std", "var", "ravel", "squeeze", "dot", "clip",
              "cumsum", "cumprod", "swapaxes", "repeat", "take", "trace", "diagonal", "round",
              "all", "any", "argmax", "argmin", "argsort", "nonzero", "ptp"):
    setattr(ArrayBox, _name, _method(_name))
