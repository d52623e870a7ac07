"""Reductions: sums, means, extrema, products, moments, cumulative operations.

A reduction's cotangent is reshaped so it broadcasts against the input and then
broadcast to it (``_expand``). Every rule is written with the differentiable
functions of this package, so derivatives of any order follow.

Kinks and special points (the tests check each):
- ``max``/``min``/``amax``/``amin`` (and ``ptp``): when several elements tie for the
  extremum, the cotangent is split equally among them (``max([1, 3, 3])`` ->
  ``[0, .5, .5]``). A NaN result sends its cotangent to the NaN elements.
- ``prod``/``cumprod`` never divide by ``x``: the derivative is the product of the
  other factors, computed with exclusive prefix/suffix products, so it is exact with
  zeros (one zero: the gradient at the zero is the product of the others, zero
  elsewhere; two or more zeros: all zeros).
- ``std`` where the spread is zero (a constant slice): 0, the subgradient (not NaN).
- ``nansum``/``nanmean``: NaN entries get a zero gradient.
"""
import numpy as _np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ..core import Primitive, def_linear, defjvp, defvjp, defderiv
from ..core.tracer import Box, getval
from ..core.vspace import _broadcast_to as _broadcast_raw, add, broadcast_to, dtype_of, shape_of
from ._helpers import _along, normalize_axes, reduced_shape
from ._wrap import contains_box
from .elementwise import _safe_div, conjugate, maximum as _maximum, minimum as _minimum, multiply, real, square, \
    subtract, divide, where as _where
from .indexing import getitem
from .shape import astype, concatenate, ravel, reshape, transpose

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "ptp", "var", "std", "cumsum",
           "cumprod", "average", "trace", "diff", "nansum", "nanmean"]

_NoValue = _np._NoValue


# -- helpers -----------------------------------------------------------------------

def _arr(a):
    """``a`` as an array-like the reductions can take: boxes pass through, a (nested)
    list holding boxes is stacked, anything else becomes an ndarray."""
    if isinstance(a, Box):
        return a
    if contains_box(a):
        from .constructors import array
        return array(a)
    return _np.asanyarray(a)


def _kd(keepdims):
    return False if keepdims is _NoValue else bool(keepdims)


def _axes(axis, ndim):
    """``axis`` as a tuple of non-negative ints, validated like NumPy (AxisError)."""
    if axis is None:
        return tuple(range(ndim))
    return normalize_axis_tuple(axis, ndim)


def _count(shape, axes):
    n = 1
    for i in axes:
        n *= shape[i]
    return n


def _expand(g, shape, axis, keepdims):
    """Broadcast a reduction's cotangent ``g`` back to the input ``shape``."""
    if not keepdims:
        g = reshape(g, reduced_shape(shape, axis, False))
    return broadcast_to(g, shape)


def _no_out(out, name):
    if out is not None:
        from ..errors import InPlaceUpdateError
        raise InPlaceUpdateError(f"{name}(..., out=...)")


def _div_count(total, count):
    """``total / count`` in the precision of ``total`` (NumPy divides in place)."""
    return divide(total, _np.asarray(count, dtype=_real_float(dtype_of(total))))


def _real_float(dtype):
    """The real floating dtype matching ``dtype`` (float64 for non-float types)."""
    dtype = _np.dtype(dtype)
    if dtype.kind == "c":
        return _np.finfo(dtype).dtype
    return dtype if dtype.kind == "f" else _np.dtype(_np.float64)


# -- sum and mean ------------------------------------------------------------------

def _where_kw(where):
    return {} if where is _NoValue else {"where": where}


_add_reduce = _np.add.reduce


def _sum(x, axis=None, keepdims=False, where=_NoValue):
    if x.__class__ is _np.ndarray and where is _NoValue:
        return _add_reduce(x, axis=axis, keepdims=keepdims)     # what numpy.sum calls
    return _np.sum(x, axis=axis, keepdims=keepdims, **_where_kw(where))


def _masked(c, where):
    """Cotangent ``c`` with zeros where the reduction's ``where`` mask is False."""
    return c if where is _NoValue else _where(where, c, 0)


def _sum_vjp(g, ans, x, axis=None, keepdims=False, where=_NoValue):
    if where is _NoValue and not isinstance(g, Box):
        # A plain cotangent (no outer trace): broadcast it directly. With keepdims, or
        # for a total (0-d) sum, it already broadcasts against x.
        shape = x.shape if x.__class__ is _np.ndarray else shape_of(x)
        if g.__class__ is not _np.ndarray:
            g = _np.asarray(g)
        if not (keepdims or axis is None):
            g = g.reshape(reduced_shape(shape, axis, False))
        return _broadcast_raw(g, shape)
    return _masked(_expand(g, shape_of(x), axis, keepdims), where)


_sum_p = def_linear(Primitive(_sum, "sum"))
defvjp(_sum_p, _sum_vjp)


def sum(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    """``numpy.sum``; ``initial`` is added to the result, ``where`` masks the input."""
    if dtype is None and out is None and initial is _NoValue and where is _NoValue and isinstance(a, Box):
        return _sum_p(a, axis, False if keepdims is _NoValue else bool(keepdims), _NoValue)
    _no_out(out, "sum")
    a = _arr(a)
    if dtype is not None:
        a = astype(a, dtype, copy=False)
    s = _sum_p(a, axis, _kd(keepdims), _NoValue if where is _NoValue else getval(where))
    return s if initial is _NoValue else add(s, initial)


def mean(a, axis=None, dtype=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    _no_out(out, "mean")
    a = _arr(a)
    kd = _kd(keepdims)
    shape = shape_of(a)
    axes = _axes(axis, len(shape))
    kind = dtype_of(a).kind
    result_dtype = None
    if dtype is None and kind in "biu":
        dtype = _np.float64                     # NumPy averages integers in float64
    elif dtype is None and dtype_of(a) == _np.float16:
        dtype, result_dtype = _np.float32, _np.float16   # and float16 in float32
    if where is not _NoValue:
        w = getval(where)
        count = _np.sum(_np.broadcast_to(w, shape), axis=axes, keepdims=kd, dtype=_np.intp)
        res = _div_count(sum(a, axis=axis, dtype=dtype, keepdims=kd, where=w), count)
    else:
        res = _div_count(sum(a, axis=axis, dtype=dtype, keepdims=kd), _count(shape, axes))
    return res if result_dtype is None else astype(res, result_dtype, copy=False)


# -- extrema -------------------------------------------------------------------------

def _extremum_impl(fun):
    def impl(a, axis=None, keepdims=False, initial=_NoValue, where=_NoValue):
        kwargs = {}
        if initial is not _NoValue:
            kwargs["initial"] = initial
        if where is not _NoValue:
            kwargs["where"] = where
        return fun(a, axis=axis, keepdims=keepdims, **kwargs)
    impl.__name__ = fun.__name__
    return impl


_max_p = Primitive(_extremum_impl(_np.max), "max")
_min_p = Primitive(_extremum_impl(_np.min), "min")


def _extremum_weight(ans, a, axis, where):
    """1/count at the ``count`` elements equal to the extremum of their group, 0 elsewhere
    (a constant: the derivative of an extremum is piecewise constant)."""
    shape = shape_of(a)
    av = _np.asarray(getval(a))
    m = _np.reshape(getval(ans), reduced_shape(shape, axis, False))
    mask = (av == m) | (_np.isnan(av) & _np.isnan(m))
    if where is not _NoValue:
        mask = mask & getval(where)
    mask = _np.broadcast_to(mask, shape)
    count = _np.sum(mask, axis=normalize_axes(axis, len(shape)), keepdims=True)
    return (mask / _np.maximum(count, 1)).astype(_real_float(av.dtype))


def _extremum_vjp(g, ans, a, axis=None, keepdims=False, initial=_NoValue, where=_NoValue):
    """The cotangent split equally among the elements equal to the extremum."""
    return multiply(_expand(g, shape_of(a), axis, keepdims), _extremum_weight(ans, a, axis, where))


def _extremum_jvp(t, ans, a, axis=None, keepdims=False, initial=_NoValue, where=_NoValue):
    """The mean of the tangent over the elements equal to the extremum (the transpose
    of the equal split)."""
    return _sum_p(multiply(t, _extremum_weight(ans, a, axis, where)), axis, keepdims)


defvjp(_max_p, _extremum_vjp)
defvjp(_min_p, _extremum_vjp)
defjvp(_max_p, _extremum_jvp)
defjvp(_min_p, _extremum_jvp)


def _extremum(prim, combine, identity, name):
    def reduce(a, axis=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
        _no_out(out, name)
        a = _arr(a)
        kd = _kd(keepdims)
        w = _NoValue if where is _NoValue else getval(where)
        if isinstance(initial, Box):
            # A traced initial value: reduce with the identity, then compare with it
            # (a tie between ``initial`` and the array is split 1/2, 1/2 by ``combine``).
            return combine(prim(a, axis, kd, identity, w), initial)
        return prim(a, axis, kd, initial, w)
    reduce.__name__ = name
    reduce.__qualname__ = name
    return reduce


max = _extremum(_max_p, _maximum, -_np.inf, "max")
min = _extremum(_min_p, _minimum, _np.inf, "min")
amax = _extremum(_max_p, _maximum, -_np.inf, "amax")
amin = _extremum(_min_p, _minimum, _np.inf, "amin")


def ptp(a, axis=None, out=None, keepdims=_NoValue):
    """``numpy.ptp``: ``max - min`` (ties split as for max and min)."""
    _no_out(out, "ptp")
    a = _arr(a)
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


# -- cumulative sums and products ----------------------------------------------------

def _reverse(x, ax):
    return getitem(x, _along(ax, slice(None, None, -1)))


def _cumsum(x, axis):
    return _np.cumsum(x, axis=axis)


_cumsum_p = def_linear(Primitive(_cumsum, "cumsum"))
defvjp(_cumsum_p, lambda g, ans, x, axis: _reverse(_cumsum_p(_reverse(g, axis), axis), axis))


def _cumprod(x, axis):
    return _np.cumprod(x, axis=axis)


_cumprod_p = Primitive(_cumprod, "cumprod")


def _rev_affine_scan(a, b, ax, n):
    """``S`` with ``S_j = b_j + a_j * S_{j+1}`` (``S_n = 0``) along axis ``ax``.

    By recursive doubling: after the step with stride ``d``, ``(a_j, b_j)`` is the
    affine map taking ``S_{j+2d}`` to ``S_j``. O(n log n) multiplications and
    additions, no division, every step differentiable.
    """
    d = 1
    while d < n:
        head, tail, rest = _along(ax, slice(0, n - d)), _along(ax, slice(d, None)), _along(ax, slice(n - d, None))
        a_head = getitem(a, head)
        b_new = concatenate([add(getitem(b, head), multiply(a_head, getitem(b, tail))), getitem(b, rest)], axis=ax)
        if 2 * d < n:
            a = concatenate([multiply(a_head, getitem(a, tail)), getitem(a, rest)], axis=ax)
        b = b_new
        d *= 2
    return b


def _exclusive_prefix(ans, x, axis, n):
    """(the exclusive prefix products L_j = y_{j-1} with L_0 = 1, the shape of one slice
    along ``axis``) for the cumulative product ``ans`` of ``x``."""
    shape = shape_of(x)
    edge = shape[:axis] + (1,) + shape[axis + 1:]
    left = concatenate([_np.ones(edge, dtype_of(ans)), getitem(ans, _along(axis, slice(0, n - 1)))], axis=axis)
    return left, edge


def _cumprod_vjp(g, ans, x, axis):
    # y_i = prod_{k<=i} x_k, so  dL/dx_j = sum_{i>=j} g_i prod_{k<=i, k!=j} x_k = L_j * S_j
    # with L_j = y_{j-1} (the exclusive prefix product, L_0 = 1) and
    # S_j = g_j + x_{j+1} S_{j+1}: exact with zeros, no division.
    n = shape_of(x)[axis]
    if n == 0:
        return g
    left, edge = _exclusive_prefix(ans, x, axis, n)
    coef = concatenate([getitem(x, _along(axis, slice(1, None))), _np.zeros(edge, dtype_of(x))], axis=axis)
    return multiply(left, _rev_affine_scan(coef, g, axis, n))


def _cumprod_jvp(t, ans, x, axis):
    # dy_i = sum_{j<=i} t_j prod_{k<=i, k!=j} x_k = D_i with D_i = L_i t_i + x_i D_{i-1}
    # (D_{-1} = 0, L the exclusive prefix product): the forward scan, as the reverse
    # scan of the reversed arrays. Exact with zeros, no division.
    n = shape_of(x)[axis]
    if n == 0:
        return t
    left, _ = _exclusive_prefix(ans, x, axis, n)
    return _reverse(_rev_affine_scan(_reverse(x, axis), _reverse(multiply(left, t), axis), axis, n), axis)


defvjp(_cumprod_p, _cumprod_vjp)
defjvp(_cumprod_p, _cumprod_jvp)


def _cumulative(prim, name):
    def cumulative(a, axis=None, dtype=None, out=None):
        _no_out(out, name)
        a = _arr(a)
        if axis is None:
            a, axis = ravel(a), 0
        else:
            axis = normalize_axis_index(axis, len(shape_of(a)))
        if dtype is not None:
            a = astype(a, dtype, copy=False)
        return prim(a, axis)
    cumulative.__name__ = cumulative.__qualname__ = name
    return cumulative


cumsum = _cumulative(_cumsum_p, "cumsum")
cumprod = _cumulative(_cumprod_p, "cumprod")


# -- products ------------------------------------------------------------------------

def _exclusive_cumprod(x):
    """Products of the elements strictly before each one along the last axis."""
    shape = shape_of(x)
    n = shape[-1]
    first = _np.ones(shape[:-1] + (1,), dtype_of(x))
    if n == 1:
        return first
    return concatenate([first, _cumprod_p(getitem(x, (Ellipsis, slice(0, n - 1))), len(shape) - 1)], axis=-1)


def _prod_others(x, axis):
    """For every element, the product of the other elements of its reduction group."""
    shape = shape_of(x)
    nd = len(shape)
    axes = normalize_axes(axis, nd)
    n = _count(shape, axes)
    if n <= 1:
        return _np.ones(shape, dtype_of(x) if dtype_of(x).kind in "fc" else _np.float64)
    keep = tuple(i for i in range(nd) if i not in axes)
    perm = keep + axes
    flat = reshape(transpose(x, perm), tuple(shape[i] for i in keep) + (n,))
    before = _exclusive_cumprod(flat)
    after = _reverse(_exclusive_cumprod(_reverse(flat, len(keep))), len(keep))
    others = reshape(multiply(before, after), tuple(shape[i] for i in perm))
    return transpose(others, tuple(int(i) for i in _np.argsort(perm)))


def _prod(x, axis=None, keepdims=False, where=_NoValue):
    return _np.prod(x, axis=axis, keepdims=keepdims, **_where_kw(where))


def _prod_vjp(g, ans, x, axis=None, keepdims=False, where=_NoValue):
    if where is not _NoValue:
        x = _where(where, x, 1)
    return _masked(multiply(_expand(g, shape_of(x), axis, keepdims), _prod_others(x, axis)), where)


def _prod_jvp(t, ans, x, axis=None, keepdims=False, where=_NoValue):
    if where is not _NoValue:
        x = _where(where, x, 1)
    return _sum_p(multiply(t, _prod_others(x, axis)), axis, keepdims, where)


_prod_p = Primitive(_prod, "prod")
defvjp(_prod_p, _prod_vjp)
defjvp(_prod_p, _prod_jvp)


def prod(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    """``numpy.prod``; its derivative is exact with zeros (no division)."""
    _no_out(out, "prod")
    a = _arr(a)
    if dtype is not None:
        a = astype(a, dtype, copy=False)
    p = _prod_p(a, axis, _kd(keepdims), _NoValue if where is _NoValue else getval(where))
    return p if initial is _NoValue else multiply(p, initial)


# -- moments -------------------------------------------------------------------------

def _abs2(d):
    return real(multiply(d, conjugate(d))) if dtype_of(d).kind == "c" else square(d)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NoValue, *, where=_NoValue, mean=_NoValue,
        correction=_NoValue):
    """``numpy.var``: the mean squared deviation, divided by ``n - ddof``."""
    _no_out(out, "var")
    if correction is not _NoValue:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    a = _arr(a)
    kd = _kd(keepdims)
    shape = shape_of(a)
    axes = _axes(axis, len(shape))
    if dtype is None and dtype_of(a).kind in "biu":
        dtype = _np.float64
    if dtype is not None:
        a = astype(a, dtype, copy=False)
    w = _NoValue if where is _NoValue else getval(where)
    m = _mean(a, axis=axis, keepdims=True, where=w) if mean is _NoValue else mean
    sq = _abs2(subtract(a, m))
    if w is _NoValue:
        count = _count(shape, axes)
        total = sum(sq, axis=axis, keepdims=kd)
    else:
        count = _np.sum(_np.broadcast_to(w, shape), axis=axes, keepdims=kd, dtype=_np.intp)
        total = sum(sq, axis=axis, keepdims=kd, where=w)
    return _div_count(total, _np.maximum(count - ddof, 0))


_mean = mean

# sqrt whose derivative at 0 is 0: std of a constant slice has the subgradient 0.
_sqrt0 = Primitive(_np.sqrt, "std_sqrt")
defderiv(_sqrt0, lambda ans, x: _safe_div(0.5, ans))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NoValue, *, where=_NoValue, mean=_NoValue,
        correction=_NoValue):
    """``numpy.std``: the square root of ``var`` (gradient 0 where the spread is 0)."""
    _no_out(out, "std")
    return _sqrt0(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where, mean=mean,
                      correction=correction))


# -- weighted averages, traces, differences ------------------------------------------

def average(a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    """``numpy.average``; differentiable in ``a`` and in ``weights``."""
    a = _arr(a)
    shape = shape_of(a)
    if axis is not None:
        axis = normalize_axis_tuple(axis, len(shape), argname="axis")
    kd = _kd(keepdims)
    if weights is None:
        avg = mean(a, axis, keepdims=kd)
        size = _np.prod(shape, dtype=int)
        scl = dtype_of(avg).type(size / _np.prod(shape_of(avg), dtype=int))
    else:
        wgt = _arr(weights)
        wshape = shape_of(wgt)
        if shape != wshape:
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if wshape != tuple(shape[ax] for ax in axis):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            wgt = transpose(wgt, tuple(int(i) for i in _np.argsort(axis)))
            wgt = reshape(wgt, tuple(s if ax in axis else 1 for ax, s in enumerate(shape)))
        if dtype_of(a).kind in "biu":
            result_dtype = _np.result_type(dtype_of(a), dtype_of(wgt), "f8")
        else:
            result_dtype = _np.result_type(dtype_of(a), dtype_of(wgt))
        scl = sum(wgt, axis=axis, dtype=result_dtype, keepdims=kd)
        if _np.any(getval(scl) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        prod_aw = multiply(astype(a, result_dtype, copy=False), astype(wgt, result_dtype, copy=False))
        avg = sum(prod_aw, axis, keepdims=kd) / scl
    if returned:
        if shape_of(scl) != shape_of(avg):
            scl = broadcast_to(scl, shape_of(avg)) if isinstance(scl, Box) else \
                _np.broadcast_to(scl, shape_of(avg)).copy()
        return avg, scl
    return avg


def _trace(a, offset=0, axis1=0, axis2=1):
    return _np.trace(a, offset=offset, axis1=axis1, axis2=axis2)


_trace_p = def_linear(Primitive(_trace, "trace"))


def _trace_vjp(g, ans, a, offset=0, axis1=0, axis2=1):
    shape = shape_of(a)
    nd = len(shape)
    ax1, ax2 = axis1 % nd, axis2 % nd
    eye = _np.eye(shape[ax1], shape[ax2], k=offset, dtype=_real_float(dtype_of(a)))
    if ax1 > ax2:
        eye = eye.T
    eye_shape = [1] * nd
    eye_shape[ax1], eye_shape[ax2] = shape[ax1], shape[ax2]
    g_shape = list(shape)
    g_shape[ax1] = g_shape[ax2] = 1
    return multiply(reshape(g, tuple(g_shape)), eye.reshape(eye_shape))


defvjp(_trace_p, _trace_vjp)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out(out, "trace")
    a = _arr(a)
    if dtype is not None:
        a = astype(a, dtype, copy=False)
    return _trace_p(a, offset, axis1, axis2)


def diff(a, n=1, axis=-1, prepend=_NoValue, append=_NoValue):
    """``numpy.diff``: ``n``-th differences, differentiable in ``a``, ``prepend``, ``append``."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    a = _arr(a)
    shape = shape_of(a)
    nd = len(shape)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis_index(axis, nd)
    edge = shape[:axis] + (1,) + shape[axis + 1:]

    def _edge(v):
        v = _arr(v)
        if len(shape_of(v)) == 0:
            v = broadcast_to(v, edge) if isinstance(v, Box) else _np.broadcast_to(v, edge)
        return v

    combined = []
    if prepend is not _NoValue:
        combined.append(_edge(prepend))
    combined.append(a)
    if append is not _NoValue:
        combined.append(_edge(append))
    if len(combined) > 1:
        a = concatenate(combined, axis)
    upper, lower = _along(axis, slice(1, None)), _along(axis, slice(None, -1))
    if dtype_of(a) == _np.bool_:
        a = getval(a)
        for _ in range(n):
            a = _np.not_equal(a[upper], a[lower])
        return a
    for _ in range(n):
        a = subtract(getitem(a, upper), getitem(a, lower))
    return a


# -- NaN-ignoring reductions -----------------------------------------------------------

def _zero_nans(a):
    """``a`` with NaNs replaced by 0 (their gradient is 0) and the NaN mask."""
    if dtype_of(a).kind not in "fc":
        return a, None
    mask = _np.isnan(getval(a))
    return _where(mask, 0, a), mask


def nansum(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    """``numpy.nansum``: NaNs count as zero (and get a zero gradient)."""
    _no_out(out, "nansum")
    a, _ = _zero_nans(_arr(a))
    return sum(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    """``numpy.nanmean``: the mean of the non-NaN entries (NaNs get a zero gradient)."""
    _no_out(out, "nanmean")
    a, mask = _zero_nans(_arr(a))
    if mask is None:
        return mean(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    kd = _kd(keepdims)
    axes = _axes(axis, len(shape_of(a)))
    w = _NoValue if where is _NoValue else getval(where)
    count = _np.sum(~mask, axis=axes, dtype=_np.intp, keepdims=kd, **({} if w is _NoValue else {"where": w}))
    total = sum(a, axis=axis, dtype=dtype, keepdims=kd, where=w)
    if _np.any(count == 0):
        import warnings
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
    with _np.errstate(invalid="ignore", divide="ignore"):
        return _div_count(total, count)


# -- batching rules: a reduction of one element is a reduction over shifted axes ------------

def _shifted_axes(axis, nd):
    if axis is None:
        return tuple(range(1, nd + 1))
    return tuple(a + 1 for a in normalize_axis_tuple(axis, nd))


def _own_ndim(x):
    return len(shape_of(x)) - 1


def _sum_batch(size, batched, x, axis=None, keepdims=False, where=_NoValue):
    return _sum_p(x, _shifted_axes(axis, _own_ndim(x)), keepdims, where)


def _extremum_batch(prim):
    def rule(size, batched, a, axis=None, keepdims=False, initial=_NoValue, where=_NoValue):
        return prim(a, _shifted_axes(axis, _own_ndim(a)), keepdims, initial, where)
    return rule


def _prod_batch(size, batched, x, axis=None, keepdims=False, where=_NoValue):
    return _prod_p(x, _shifted_axes(axis, _own_ndim(x)), keepdims, where)


def _cumulative_batch(prim):
    def rule(size, batched, x, axis):
        return prim(x, normalize_axis_index(axis, _own_ndim(x)) + 1)
    return rule


def _trace_batch(size, batched, a, offset=0, axis1=0, axis2=1):
    nd = _own_ndim(a)
    return _trace_p(a, offset, normalize_axis_index(axis1, nd) + 1, normalize_axis_index(axis2, nd) + 1)


_sum_p.batch = _sum_batch
_max_p.batch = _extremum_batch(_max_p)
_min_p.batch = _extremum_batch(_min_p)
_prod_p.batch = _prod_batch
_cumsum_p.batch = _cumulative_batch(_cumsum_p)
_cumprod_p.batch = _cumulative_batch(_cumprod_p)
_trace_p.batch = _trace_batch
