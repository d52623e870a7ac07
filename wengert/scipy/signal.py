"""``wengert.scipy.signal``: SciPy's signal namespace, wrapped (see wengert/numpy/_wrap.py).

Differentiable: ``convolve`` and ``correlate`` (any number of axes, every ``mode`` and
``method``), ``fftconvolve`` and ``oaconvolve`` over all axes (``convolve`` with
``method='fft'``), and ``convolve2d`` with the default zero fill.

One primitive, ``convolve_window(in1, in2, starts, lengths, method)``: the box
``starts .. starts + lengths - 1`` of the full n-d convolution (zero outside it).
SciPy's modes are such boxes (``full``: everything; ``same``: centered, the shape of
``in1``; ``valid``: where the smaller input lies inside the larger) and are computed by
``scipy.signal.convolve`` itself, with the caller's ``method``; any other box is cut
from the full convolution. As in ``wengert.numpy.convolution`` (whose helpers this
module shares), the VJP with respect to one input is a box of the full convolution of
the cotangent with the other input reversed along every axis (the transpose, HIPS
autograd's convention for complex values), and ``correlate`` is the convolution with
the conjugated reversed ``in2``.

Batching: when one input carries the batch axis, the other gets a unit axis in front
and the batch is one convolution of one more dimension (a kernel of length 1 along the
batch axis mixes nothing). When both do, the windows of the larger input are gathered
and contracted with the smaller one, batch by batch (one einsum), or, if that
gathering would be too large, the batch is looped over.
"""
import math

import numpy as _np
import scipy.signal as _src

from .. import numpy as _wnp  # noqa: F401  (the traced array type and NumPy rules)
from ..core import Primitive, defjvp, defvjp
from ..core.tracer import getval
from ..core.vspace import shape_of
from ..errors import MissingRuleError
from ..numpy._box import handled as _handled
from ..numpy._helpers import _as_array, _ndim
from ..numpy._wrap import contains_box, wrap_namespace
from ..numpy.batching import loop_rule
from ..numpy.convolution import batched_convolve, reverse, take_window, transposed_windows
from ..numpy.elementwise import conjugate, multiply
from ..numpy.shape import reshape

# Largest gathered-windows array (elements) a batch of convolutions of two batched
# inputs may build; beyond it the batch is looped over.
MAX_GATHERED = 1 << 24


# -- the primitive ----------------------------------------------------------------------

def _box(mode, s1, s2):
    """(starts, lengths) of SciPy's ``mode`` in the full convolution of shapes s1, s2."""
    if mode == "full":
        return (0,) * len(s1), tuple(n + m - 1 for n, m in zip(s1, s2))
    if mode == "same":
        return tuple((m - 1) // 2 for m in s2), tuple(s1)
    return tuple(min(n, m) - 1 for n, m in zip(s1, s2)), tuple(abs(n - m) + 1 for n, m in zip(s1, s2))


def _covers(s1, s2):
    return all(n >= m for n, m in zip(s1, s2))


def _convolve_window(in1, in2, starts, lengths, method):
    s1, s2 = _np.shape(in1), _np.shape(in2)
    box = (tuple(starts), tuple(lengths))
    if box == _box("full", s1, s2):
        return _src.convolve(in1, in2, "full", method)
    if (_covers(s1, s2) or _covers(s2, s1)) and box == _box("valid", s1, s2):
        return _src.convolve(in1, in2, "valid", method)
    if box == _box("same", s1, s2):
        return _src.convolve(in1, in2, "same", method)
    if box == _box("same", s2, s1):
        return _src.convolve(in2, in1, "same", method)
    return take_window(_src.convolve(in1, in2, "full", method), starts, lengths)


convolve_window = Primitive(_convolve_window, "scipy.signal.convolve")


def _all_axes(x):
    return range(_ndim(x))


def _vjp_in1(g, ans, in1, in2, starts, lengths, method):
    s, n = transposed_windows(starts, shape_of(in1), shape_of(in2))
    return convolve_window(g, reverse(in2, _all_axes(in2)), s, n, method)


def _vjp_in2(g, ans, in1, in2, starts, lengths, method):
    s, n = transposed_windows(starts, shape_of(in2), shape_of(in1))
    return convolve_window(g, reverse(in1, _all_axes(in1)), s, n, method)


defvjp(convolve_window, _vjp_in1, _vjp_in2)
defjvp(convolve_window,
       lambda t, ans, in1, in2, starts, lengths, method: convolve_window(t, in2, starts, lengths, method),
       lambda t, ans, in1, in2, starts, lengths, method: convolve_window(in1, t, starts, lengths, method))


def _convolve_batch(size, batched, in1, in2, starts, lengths, method):
    b1, b2 = batched[0], batched[1]
    if b1 and b2:
        smaller = min(math.prod(shape_of(in1)[1:]), math.prod(shape_of(in2)[1:]))
        if size * math.prod(lengths) * smaller <= MAX_GATHERED:
            return batched_convolve(size, in1, in2, True, True, starts, lengths)
        return loop_rule(convolve_window)(size, batched, in1, in2, starts, lengths, method)
    if not b1:
        in1 = reshape(in1, (1,) + tuple(shape_of(in1)))
    if not b2:
        in2 = reshape(in2, (1,) + tuple(shape_of(in2)))
    return convolve_window(in1, in2, (0,) + tuple(starts), (size,) + tuple(lengths), method)


convolve_window.batch = _convolve_batch


# -- the public functions ---------------------------------------------------------------

def _traced(*args):
    return contains_box(args)


def _prepare(in1, in2, mode, method, check=_src.convolve):
    """The inputs as arrays, after SciPy's own checks of dimensions, mode and method
    (run on one-element arrays of the same dimensions)."""
    in1 = _as_array(in1) if contains_box(in1) else _np.asarray(in1)
    in2 = _as_array(in2) if contains_box(in2) else _np.asarray(in2)
    check(_np.ones((1,) * _ndim(in1)), _np.ones((1,) * _ndim(in2)), mode, method)
    s1, s2 = tuple(shape_of(in1)), tuple(shape_of(in2))
    if mode == "valid" and s1 and not (_covers(s1, s2) or _covers(s2, s1)):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in every dimension")
    return in1, in2


def _convolve(in1, in2, mode, method):
    s1, s2 = tuple(shape_of(in1)), tuple(shape_of(in2))
    if not s1:
        return multiply(in1, in2)
    if 0 in s1 or 0 in s2:                   # an empty result (or SciPy's error)
        return _src.convolve(getval(in1), getval(in2), mode, method)
    starts, lengths = _box(mode, s1, s2)
    return convolve_window(in1, in2, starts, lengths, method)


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve``: the n-d convolution of two arrays of equal dimension."""
    if not _traced(in1, in2):
        return _src.convolve(in1, in2, mode, method)
    in1, in2 = _prepare(in1, in2, mode, method)
    return _convolve(in1, in2, mode, method)


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate``: the convolution of ``in1`` with ``in2`` conjugated and
    reversed along every axis."""
    if not _traced(in1, in2):
        return _src.correlate(in1, in2, mode, method)
    in1, in2 = _prepare(in1, in2, mode, method, _src.correlate)
    if _np.iscomplexobj(getval(in2)):
        in2 = conjugate(in2)
    if not shape_of(in2):
        return multiply(in1, in2)
    return _convolve(in1, reverse(in2, _all_axes(in2)), mode, method)


def fftconvolve(in1, in2, mode="full", axes=None):
    """``scipy.signal.fftconvolve`` over all axes (``axes=None``)."""
    if not _traced(in1, in2):
        return _src.fftconvolve(in1, in2, mode, axes)
    if axes is not None:
        raise MissingRuleError("scipy.signal.fftconvolve(..., axes=...)")
    return convolve(in1, in2, mode, "fft")


def oaconvolve(in1, in2, mode="full", axes=None):
    """``scipy.signal.oaconvolve`` over all axes (``axes=None``), computed as an FFT
    convolution (the same values up to rounding)."""
    if not _traced(in1, in2):
        return _src.oaconvolve(in1, in2, mode, axes)
    if axes is not None:
        raise MissingRuleError("scipy.signal.oaconvolve(..., axes=...)")
    return convolve(in1, in2, mode, "fft")


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """``scipy.signal.convolve2d`` with the default boundary (zero fill): ``convolve``
    with ``method='direct'``."""
    if not _traced(in1, in2, fillvalue):
        return _src.convolve2d(in1, in2, mode, boundary, fillvalue)
    if boundary not in ("fill", "pad") or contains_box(fillvalue) or fillvalue != 0:
        raise MissingRuleError(f"scipy.signal.convolve2d(boundary={boundary!r}, fillvalue={getval(fillvalue)!r})")
    if _ndim(in1) != 2 or _ndim(in2) != 2:
        raise ValueError("convolve2d inputs must both be 2-D arrays")
    return convolve(in1, in2, mode, "direct")


_defined = {f.__name__: f for f in (convolve, correlate, fftconvolve, oaconvolve, convolve2d)}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.signal.", _handled))
