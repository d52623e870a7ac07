"""Convolution: ``numpy.convolve`` and ``numpy.correlate``.

One primitive, ``convolve_window(a, v, start, length)``: the entries ``start ..
start + length - 1`` of the full convolution ``y[k] = sum_i a[i] v[k - i]`` (entries
outside the full output are zero). NumPy's modes are windows of the full output
(``full``: all of it; ``valid``: the entries where the shorter input lies inside the
longer; ``same``: the ``max(N, M)`` central ones), computed by ``numpy.convolve``
itself; any other window is cut from the full output.

The primitive is bilinear. Its VJP with respect to one input is again a window of a
full convolution, of the cotangent with the other input reversed (a correlation, with
HIPS autograd's convention of the transpose rather than the conjugate transpose for
complex values): for ``a`` of length ``N`` and ``v`` of length ``M``, the window
starting at ``M - 1 - start`` of length ``N``, and symmetrically for ``v``.
``correlate`` is the convolution with the conjugated reversed ``v``, so it needs no
rules of its own.

A batch of convolutions (Jacobians, Hessians) is one contraction: the windows of the
longer input that the shorter one slides over are gathered by one indexing
(``windows``) and contracted with the reversed shorter input. ``windows`` and
``batched_convolve`` work for any number of axes; ``wengert.scipy.signal`` uses them
too.
"""
import math

import numpy as _np

from ..core import Primitive, defjvp, defvjp
from ..core.tracer import getval
from ..core.vspace import shape_of
from ._helpers import _as_array, _ndim
from ._wrap import contains_box
from .elementwise import conjugate
from .indexing import getitem
from .products import einsum, tensordot
from .shape import pad, reshape

__all__ = ["convolve", "correlate"]

_ONE = _np.ones(1)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# -- windows of a full convolution ------------------------------------------------------

def take_window(full, starts, lengths):
    """``full[start:start + length]`` along each axis, zero outside ``full`` (raw arrays)."""
    full = _np.asarray(full)
    if all(0 <= s and s + n <= f for s, n, f in zip(starts, lengths, full.shape)):
        return full[tuple(slice(s, s + n) for s, n in zip(starts, lengths))]
    out = _np.zeros(tuple(lengths), full.dtype)
    src, dst = [], []
    for s, n, f in zip(starts, lengths, full.shape):
        lo, hi = max(s, 0), min(s + n, f)
        if lo >= hi:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - s, hi - s))
    out[tuple(dst)] = full[tuple(src)]
    return out


def numpy_window(mode, n, m):
    """(start, length) of ``numpy.convolve``'s ``mode`` in the full output."""
    hi, lo = max(n, m), min(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "valid":
        return lo - 1, hi - lo + 1
    return (lo - 1) // 2, hi


def reverse(x, axes):
    """``x`` reversed along ``axes``."""
    return getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(x))))


def transposed_windows(starts, shape_self, shape_other):
    """The window whose convolution of the cotangent with the reversed other input is the
    VJP with respect to an input of ``shape_self``."""
    return (tuple(m - 1 - s for s, m in zip(starts, shape_other)), tuple(shape_self))


# -- batches: gathered windows, one contraction ---------------------------------------

def windows(x, starts, lengths, kshape, batched):
    """For a kernel of shape ``kshape``: ``W[q, r] = x_ext[start + q + r]`` per axis, where
    ``x_ext`` is ``x`` with ``kshape - 1`` zeros in front (so that ``W`` contracted with
    the reversed kernel over ``r`` is the window ``starts``/``lengths`` of the full
    convolution). ``x`` may carry a leading batch axis. Shape: (batch,) + lengths + kshape."""
    own = shape_of(x)[1:] if batched else shape_of(x)
    d = len(own)
    widths = [(0, 0)] if batched else []
    index = [slice(None)] if batched else []
    for ax, (s, n, m, size) in enumerate(zip(starts, lengths, kshape, own)):
        extra = max(0, -s)
        widths.append((m - 1 + extra, max(0, s + n - size)))
        q = _np.arange(n).reshape((n,) + (1,) * (2 * d - 1 - ax))
        r = _np.arange(m).reshape((m,) + (1,) * (d - 1 - ax))
        index.append(s + extra + q + r)
    if any(w != (0, 0) for w in widths):
        x = pad(x, widths)
    return getitem(x, tuple(index))


def batched_convolve(size, x, k, bx, bk, starts, lengths):
    """The window ``starts``/``lengths`` of the full convolution of each element of
    ``x`` and ``k`` over all their own axes; ``bx``/``bk``: the value has a leading batch
    axis of ``size``. Returns the result with the batch axis in front."""
    own_x = shape_of(x)[1:] if bx else shape_of(x)
    own_k = shape_of(k)[1:] if bk else shape_of(k)
    if math.prod(own_x) < math.prod(own_k):       # gather windows of the larger input
        x, k, bx, bk, own_x, own_k = k, x, bk, bx, own_k, own_x
    d = len(own_x)
    w = windows(x, starts, lengths, own_k, bx)
    krev = reverse(k, range(bk, bk + d))
    if bx and bk:
        z, letters = _LETTERS[0], _LETTERS[1:]
        q, r = letters[:d], letters[d:2 * d]
        return einsum(f"{z}{q}{r},{z}{r}->{z}{q}", w, krev)
    if bx:
        return tensordot(w, krev, (tuple(range(1 + d, 1 + 2 * d)), tuple(range(d))))
    return tensordot(krev, w, (tuple(range(1, 1 + d)), tuple(range(d, 2 * d))))


# -- the primitive ----------------------------------------------------------------------

def _convolve_window(a, v, start, length):
    n, m = _np.shape(a)[0], _np.shape(v)[0]
    for mode in ("full", "valid", "same"):
        if numpy_window(mode, n, m) == (start, length):
            return _np.convolve(a, v, mode)
    return take_window(_np.convolve(a, v, "full"), (start,), (length,))


convolve_window = Primitive(_convolve_window, "convolve")


def _vjp_a(g, ans, a, v, start, length):
    (s,), (n,) = transposed_windows((start,), shape_of(a), shape_of(v))
    return convolve_window(g, reverse(v, (0,)), s, n)


def _vjp_v(g, ans, a, v, start, length):
    (s,), (n,) = transposed_windows((start,), shape_of(v), shape_of(a))
    return convolve_window(g, reverse(a, (0,)), s, n)


defvjp(convolve_window, _vjp_a, _vjp_v)
defjvp(convolve_window, lambda t, ans, a, v, start, length: convolve_window(t, v, start, length),
       lambda t, ans, a, v, start, length: convolve_window(a, t, start, length))


def _convolve_batch(size, batched, a, v, start, length):
    return batched_convolve(size, a, v, batched[0], batched[1], (start,), (length,))


convolve_window.batch = _convolve_batch


# -- the public functions ---------------------------------------------------------------

_MODES = {0: "valid", 1: "same", 2: "full", "valid": "valid", "same": "same", "full": "full"}


def _mode(mode):
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        _np.convolve(_ONE, _ONE, mode)           # NumPy's own error
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})") from None


def _vector(x):
    x = _as_array(x) if contains_box(x) else _np.asarray(x)
    nd = _ndim(x)
    if nd == 0:
        return reshape(x, (1,))
    if nd > 1:
        raise ValueError("object too deep for desired array")
    return x


def _inputs(a, v):
    a, v = _vector(a), _vector(v)
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0:
        raise ValueError("a cannot be empty")
    if m == 0:
        raise ValueError("v cannot be empty")
    return a, v, n, m


def convolve(a, v, mode="full"):
    """``numpy.convolve``: the discrete linear convolution of two one-dimensional arrays."""
    if not (contains_box(a) or contains_box(v)):
        return _np.convolve(a, v, mode)
    mode = _mode(mode)
    a, v, n, m = _inputs(a, v)
    return convolve_window(a, v, *numpy_window(mode, n, m))


def correlate(a, v, mode="valid"):
    """``numpy.correlate``: ``c[k] = sum_n a[n + k] conj(v[n])``, the convolution of ``a``
    with the conjugated reversed ``v`` (NumPy centers ``same`` differently when ``a`` is
    the shorter input)."""
    if not (contains_box(a) or contains_box(v)):
        return _np.correlate(a, v, mode)
    mode = _mode(mode)
    a, v, n, m = _inputs(a, v)
    v = reverse(v, (0,))
    if _np.iscomplexobj(getval(v)):
        v = conjugate(v)
    start, length = numpy_window(mode, n, m)
    if mode == "same" and n < m:
        start = n // 2
    return convolve_window(a, v, start, length)
