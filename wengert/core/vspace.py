"""Cotangent arithmetic: matching a cotangent to its primal, adding cotangents, lazy
cotangents (``Sparse`` from indexing, ``LowRank`` from matrix-vector products, formed
only when needed), and zeros.

The backward pass calls ``fit`` on every cotangent a rule returns, so broadcasting is
undone and the primal's dtype restored in exactly one place (float32 in, float32 out;
a real primal gets the real part of a complex cotangent). The operations used here
are primitives of the core with their own rules, so they are recorded like anything
else when the backward pass itself runs under an outer trace.
"""
import operator

import numpy as _np

from .rules import def_linear, defvjp
from .tracer import Box, Primitive, getval

_ndarray = _np.ndarray
_NP_SCALARS = (_np.float32, _np.float64, _np.complex64, _np.complex128, _np.float16)


def shape_of(x):
    return x.shape if isinstance(x, (_ndarray, Box, _np.generic)) else _np.shape(x)


def dtype_of(x):
    if isinstance(x, (_ndarray, _np.generic, Box)):
        return x.dtype
    return _np.result_type(x)


def is_differentiable(value):
    """Whether ``value`` (under any boxes) is a float or complex scalar or array: only such
    values carry derivatives."""
    value = getval(value)
    if isinstance(value, (float, complex)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and dtype.kind in "fc"


# -- linear core primitives, each the transpose of another ---------------------------

def _sum_to(x, shape):
    """Sum ``x`` over broadcast dimensions so that it has ``shape``."""
    if x.__class__ is _ndarray:
        return _sum_to_array(x, shape)
    xshape = _np.shape(x)
    lead = len(xshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and xshape[lead + i] != 1)
    if axes:
        x = _np.sum(x, axis=axes, keepdims=True)
    if lead:
        x = _np.reshape(x, shape)
    return x


_add_reduce = _np.add.reduce
_BLAS_DTYPES = frozenset(map(_np.dtype, ("float32", "float64", "complex64", "complex128")))


def _sum_to_array(x, shape):
    """``_sum_to`` for an ndarray ``x`` (what ``numpy.sum`` does, without its Python layer).

    The sums of a C-contiguous float matrix over its rows (the cotangent of a bias added
    to a batch) or over short rows are a matrix-vector product with a vector of ones:
    BLAS does them two or three times faster than ``numpy.add.reduce``, accumulating in
    the same precision (NumPy adds rows one by one there as well)."""
    xshape = x.shape
    lead = len(xshape) - len(shape)
    if len(xshape) == 2 and x.dtype in _BLAS_DTYPES and x.flags.c_contiguous:
        n, k = xshape
        if lead == 1:
            if shape[0] == k and n <= 16384:
                return _np.matmul(_ones(n, x.dtype), x)
        elif shape == (n, 1) and k != 1 and k <= 128:
            return _np.matmul(x, _ones(k, x.dtype)).reshape(n, 1)
    if lead == 1 and xshape[1:] == shape:
        return _add_reduce(x, axis=0) if shape else _np.asarray(_add_reduce(x, axis=0))
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and xshape[lead + i] != 1)
    if axes:
        x = _add_reduce(x, axis=axes, keepdims=True)
    if lead:
        x = x.reshape(shape)
    return x


_ONES = {}


def _ones(n, dtype):
    """A read-only vector of ``n`` ones (cached: used by ``_sum_to_array`` at every step)."""
    key = (n, dtype.char)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:
            _ONES.clear()
        v = _np.ones(n, dtype)
        v.setflags(write=False)
        _ONES[key] = v
    return v


def _broadcast_to(x, shape):
    """``numpy.broadcast_to``. A float or complex ndarray (a cotangent: reductions broadcast
    theirs at every step of the backward pass) gets the same read-only zero-stride view
    built directly, without numpy.broadcast_to's Python layer."""
    if x.__class__ is _ndarray and x.dtype.kind in "fc":
        xshape = x.shape
        lead = len(shape) - len(xshape)
        if lead >= 0 and xshape != shape and min(shape) > 0:
            if not xshape:
                strides = (0,) * lead
            elif x.flags.c_contiguous:       # the buffer starts at x's first element
                strides = [0] * lead
                for m, n, st in zip(xshape, shape[lead:], x.strides):
                    if m == n:
                        strides.append(st)
                    elif m == 1:
                        strides.append(0)
                    else:
                        return _np.broadcast_to(x, shape)     # NumPy's error
                strides = tuple(strides)
            else:
                return _np.broadcast_to(x, shape)
            out = _ndarray(shape, x.dtype, x, 0, strides)
            out.setflags(write=False)
            return out
    return _np.broadcast_to(x, shape)


def _cast(x, dtype):
    if x.__class__ is _ndarray:
        if x.dtype.kind == "c" and _np.dtype(dtype).kind != "c":
            x = x.real
        return x.astype(dtype, copy=False)
    if _np.iscomplexobj(x) and _np.dtype(dtype).kind != "c":
        x = _np.real(x)
    return _np.asarray(x).astype(dtype, copy=False)


sum_to = Primitive(_sum_to, "sum_to")
broadcast_to = Primitive(_broadcast_to, "broadcast_to")
cast = Primitive(_cast, "cast")
def scalar_fast(ufunc, op):
    """``ufunc`` computed by the Python operator when an argument is a Python float and
    the other a Python int or float: same value, but scalar loops run several times
    faster on Python floats than on NumPy scalars."""
    def impl(x, y, **kwargs):
        if not kwargs and (x.__class__ is float or y.__class__ is float) and \
                x.__class__ in _PY_REAL and y.__class__ in _PY_REAL:
            try:
                return op(x, y)
            except ArithmeticError:     # 1.0 / 0.0 and friends: NumPy's inf/nan semantics
                pass
        return ufunc(x, y, **kwargs)
    impl.__name__ = ufunc.__name__
    impl.__doc__ = ufunc.__doc__
    return impl


_PY_REAL = (float, int)
add = Primitive(scalar_fast(_np.add, operator.add), "add")

defvjp(sum_to, lambda g, ans, x, shape: broadcast_to(g, shape_of(x)))
defvjp(broadcast_to, lambda g, ans, x, shape: sum_to(g, shape_of(x)))
defvjp(cast, lambda g, ans, x, dtype: cast(g, dtype_of(x)))
defvjp(add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
for _p in (sum_to, broadcast_to, cast):
    def_linear(_p)
# Their rules read only the shapes and dtypes of untraced arguments, never their values:
# the tape need not hold such constants read-only (saved.py).
for _p in (sum_to, broadcast_to, cast, add):
    _p.reads_constants = False


def fit(c, x):
    """Reduce cotangent ``c`` to the shape of primal ``x`` and give it x's dtype."""
    if c.__class__ is _ndarray:
        # A plain array: sum_to and cast would not be recorded by any trace, so they are
        # applied directly (the common case of the backward pass: no outer trace).
        if x.__class__ is _ndarray:
            xs, xd = x.shape, x.dtype
        else:
            xs, xd = shape_of(x), dtype_of(x)
        if c.shape != xs:
            c = _sum_to_array(c, xs)
        if c.dtype != xd:
            c = _cast(c, xd)
        return c
    elif isinstance(c, float) and isinstance(x, float):   # Python float or numpy float64
        return c
    elif c.__class__ is x.__class__ and c.__class__ in _NP_SCALARS:
        return c
    if c.__class__ in _LAZY:
        return c                  # built with x's shape and dtype
    xs = shape_of(x)
    if shape_of(c) != xs:
        c = sum_to(c, xs)
    xd = dtype_of(x)
    if dtype_of(c) != xd:
        c = cast(c, xd)
    return c


def fit_tangent(t, ans):
    """Broadcast output tangent ``t`` to the shape of ``ans`` and give it ans's dtype."""
    if t is None:
        return None
    if t.__class__ is _ndarray:
        if ans.__class__ is _ndarray and t.shape == ans.shape and t.dtype == ans.dtype:
            return t
    elif isinstance(t, float) and isinstance(ans, float):
        return t
    shape = shape_of(ans)
    if shape_of(t) != shape:
        t = broadcast_to(t, shape)
    dtype = dtype_of(ans)
    if dtype_of(t) != dtype:
        t = cast(t, dtype)
    return t


class Sparse:
    """A cotangent that is zero except at ``index`` (from indexing ``x[index]``).

    Indexing an array element by element in a loop would otherwise create a full
    zero array per element in the backward pass: O(n^2) work for an O(n) program.
    """

    __slots__ = ("shape", "dtype", "index", "values")

    def __init__(self, shape, dtype, index, values):
        self.shape, self.dtype, self.index, self.values = shape, dtype, index, values

    def dense(self):
        out = _np.zeros(self.shape, self.dtype)
        self.add_into(out)
        return out

    def add_into(self, out):
        values = self.values
        if _np.iscomplexobj(values) and out.dtype.kind != "c":
            values = _np.real(values)
        if _is_basic(self.index):
            out[self.index] += values      # basic indices cannot repeat an element
        else:
            _np.add.at(out, self.index, values)
        return out


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, _np.integer)) for i in items)


class LowRank:
    """A cotangent that is a sum of outer products ``sum_i u_i v_i^T`` (from ``W @ x``),
    kept as its factors and formed with one matrix product when it is needed.

    A weight used at every step of a loop gets one rank-1 term per step; adding each as a
    full matrix costs an n x k allocation and addition per step. The factors are folded
    into a dense part in blocks, whenever they would take more than a quarter of the
    matrix's memory: the dense part, one block of factors and its stacked copy are all
    that is held (BLAS adds a block into the dense part in place, with no n x k temporary)."""

    __slots__ = ("shape", "dtype", "us", "vs", "base", "lent")

    def __init__(self, shape, dtype, u, v):
        self.shape, self.dtype, self.us, self.vs, self.base = shape, dtype, [u], [v], None
        self.lent = False           # whether ``dense`` handed ``base`` out (then never add into it)

    def extend(self, other):
        self.us += other.us
        self.vs += other.vs
        if other.base is not None:
            self._fold(other.base)
        n, k = self.shape
        if 4 * len(self.us) * (n + k) > n * k:
            self._fold(None)
        return self

    def _fold(self, extra):
        if self.us:
            U, V = _np.stack(self.us), _np.stack(self.vs)
            self.us, self.vs = [], []
            if self.base is None:
                self.base = U.T @ V
            elif self.lent:
                self.base = self.base + U.T @ V
            else:
                _add_products(self.base, U, V)  # in place: a loop's weight cotangent stays one matrix
            self.lent = False
        if extra is not None:
            if self.base is None or self.lent:
                self.base = extra.copy() if self.base is None else self.base + extra
                self.lent = False
            else:
                self.base += extra

    def dense(self):
        if self.us or self.base is None:
            self._fold(None)
        self.lent = True
        return self.base.astype(self.dtype, copy=False)

    def add_into(self, out):
        out += self.dense()
        return out


_GEMM = {}


def _add_products(base, U, V):
    """``base += U.T @ V`` in place: by BLAS gemm into ``base`` when the types allow (no
    temporary of base's size), else by NumPy."""
    code = base.dtype.char
    if code in "fdFD" and U.dtype == base.dtype and V.dtype == base.dtype and base.flags.c_contiguous:
        gemm = _GEMM.get(code)
        if gemm is None:
            from scipy.linalg import get_blas_funcs
            gemm = _GEMM[code] = get_blas_funcs("gemm", dtype=base.dtype)
        # base.T (Fortran order) += V.T @ U, with U passed as U.T (Fortran order) transposed back
        out = gemm(1.0, V.T, U.T, beta=1.0, c=base.T, trans_b=1, overwrite_c=1)
        if not _np.may_share_memory(out, base):
            base[...] = out.T       # (gemm made a copy after all)
        return
    base += U.T @ V


_LAZY = (Sparse, LowRank)


def accumulate(prev, c, owned):
    """``prev + c`` for cotangents. ``owned`` says ``prev`` is a fresh array of ours
    that may be updated in place (it avoids one full-array allocation per term)."""
    if prev.__class__ is LowRank and c.__class__ is LowRank:
        return prev.extend(c), owned
    if prev.__class__ in _LAZY:
        prev = prev.dense()
        owned = True
    if c.__class__ in _LAZY:
        if prev.__class__ is _ndarray:
            if not owned:
                prev = prev.copy()
            return c.add_into(prev), True
        c = c.dense()
    if prev.__class__ is _ndarray and c.__class__ is _ndarray:
        if owned and prev.shape == c.shape:
            prev += c   # both were fitted to the same primal: same shape and dtype
            return prev, True
        out = _np.add(prev, c)          # plain arrays: add would not be recorded
        return out, out.__class__ is _ndarray
    out = add(prev, c)
    return out, out.__class__ is _ndarray


def densify(c):
    return c.dense() if c.__class__ in _LAZY else c


def zeros_like_value(x):
    if isinstance(x, (float, complex)):
        return type(x)(0)
    x = _np.asarray(x)
    return _np.zeros(x.shape, x.dtype)


def ones_like_value(x):
    if isinstance(x, (float, complex)):
        return type(x)(1.0)
    x = _np.asarray(x)
    return _np.ones(x.shape, x.dtype)
