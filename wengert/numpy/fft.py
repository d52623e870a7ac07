"""``wengert.numpy.fft``: NumPy's fft namespace, wrapped, with derivatives.

Every transform is linear, so each is declared linear (its JVP is the transform of the
tangent) and its VJP is its transpose, ``g -> J^T g`` (HIPS autograd's convention for
complex values: the transpose, not the conjugate transpose). Three primitives carry
the rules, each over a set of distinct axes whose lengths are already those of the
transform (the cropping or zero padding that ``n``/``s`` ask for is a differentiable
slice or pad in front of them):

- ``c2c`` (``fftn``/``ifftn``): the DFT matrix is symmetric, so the transpose of a
  complex transform is the same transform with the same normalization;
- ``r2c`` (``rfftn``): the first ``n//2 + 1`` rows of the DFT along the last axis; its
  transpose zero-pads the cotangent back to ``n`` and applies the full ``fftn`` (the
  real part is taken by the backward pass, as for any real input);
- ``c2r`` (``irfftn``): a real-linear map that reads bins ``1 .. (n-1)//2`` of the
  last axis twice (once for their Hermitian mirror) and the imaginary parts of bin 0
  and of the Nyquist bin not at all; its transpose is ``ifftn`` of the cotangent,
  cut to the half spectrum and weighted 2 on the doubled bins, 1 on the others.

Everything else is a composition: ``fft``/``fft2`` are ``fftn`` over one or two axes,
``hfft`` is ``irfft`` of the conjugate with the opposite normalization, ``ihfft`` the
conjugate of an ``rfft``, and ``fftshift``/``ifftshift`` are ``roll``. Repeated axes
(NumPy transforms along them several times) are a sequence of one-axis transforms.
Batching rules move the transformed axes past the leading batch axis.
"""
import warnings

import numpy as _np

from ..core import Primitive, def_linear, defvjp
from ..core.tracer import getval
from ..core.vspace import dtype_of, shape_of
from ..errors import InPlaceUpdateError
from ._box import handled as _handled
from ._helpers import _along, _as_array
from ._wrap import wrap_namespace
from .elementwise import conjugate as _conj, multiply as _multiply
from .indexing import getitem as _getitem
from .shape import _numpy_if_untraced, pad as _pad, roll as _roll

try:                                         # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index
except ImportError:                          # pragma: no cover - NumPy 1.26
    from numpy.core.multiarray import normalize_axis_index as _normalize_axis_index

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}
_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# -- the primitives ---------------------------------------------------------------------

def _c2c(x, axes, norm, inverse):
    return (_np.fft.ifftn if inverse else _np.fft.fftn)(x, axes=axes, norm=norm)


def _r2c(x, axes, norm):
    return _np.fft.rfftn(x, axes=axes, norm=norm)


def _c2r(x, axes, n, norm):
    shape = _np.shape(x)
    return _np.fft.irfftn(x, s=[shape[a] for a in axes[:-1]] + [n], axes=axes, norm=norm)


c2c_p = def_linear(Primitive(_c2c, "fftn"))
r2c_p = def_linear(Primitive(_r2c, "rfftn"))
c2r_p = def_linear(Primitive(_c2r, "irfftn"))


def _c2c_vjp(g, ans, x, axes, norm, inverse):
    return c2c_p(g, axes, norm, inverse)


def _r2c_vjp(g, ans, x, axes, norm):
    ax = axes[-1]
    n, m = shape_of(x)[ax], shape_of(g)[ax]
    widths = [(0, 0)] * len(shape_of(g))
    widths[ax] = (0, n - m)
    return c2c_p(_pad(g, widths), axes, norm, False)


def _half_spectrum_weights(n, ax, nd, dtype):
    """2 on the bins irfft reads twice (their Hermitian mirror), 1 on bin 0 and on the
    Nyquist bin of an even ``n``; shaped to broadcast along axis ``ax`` of ``nd``."""
    m = n // 2 + 1
    w = _np.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((m,) + (1,) * (nd - 1 - ax)).astype(_np.empty(0, dtype).real.dtype)


def _c2r_vjp(g, ans, x, axes, n, norm):
    ax = axes[-1]
    full = c2c_p(g, axes, norm, True)
    half = _getitem(full, _along(ax, slice(0, n // 2 + 1)))
    return _multiply(half, _half_spectrum_weights(n, ax, len(shape_of(g)), dtype_of(full)))


defvjp(c2c_p, _c2c_vjp)
defvjp(r2c_p, _r2c_vjp)
defvjp(c2r_p, _c2r_vjp)


def _shifted(axes):
    return tuple(a + 1 for a in axes)


c2c_p.batch = lambda size, batched, x, axes, norm, inverse: c2c_p(x, _shifted(axes), norm, inverse)
r2c_p.batch = lambda size, batched, x, axes, norm: r2c_p(x, _shifted(axes), norm)
c2r_p.batch = lambda size, batched, x, axes, n, norm: c2r_p(x, _shifted(axes), n, norm)


# -- argument handling ----------------------------------------------------------------

def _norm(norm):
    try:
        return _NORMS[norm]
    except (KeyError, TypeError):
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".') from None


def _check_out(out, name):
    if out is not None:
        raise InPlaceUpdateError(f"numpy.fft.{name}(..., out=...)")


def _cook(shape, s, axes, invreal=False):
    """NumPy's ``_cook_nd_args``: the transform lengths and the (non-negative) axes."""
    shapeless = s is None
    if s is None:
        s = list(shape) if axes is None else [shape[a] for a in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn("`axes` should not be `None` if `s` is not `None` (Deprecated in NumPy 2.0). "
                          "In a future version of NumPy, this will raise an error and `s[i]` will "
                          "correspond to the size along the transformed axis specified by `axes[i]`. "
                          "To retain current behaviour, pass a sequence [0, ..., k-1] to `axes` for an "
                          "array of dimension k.", DeprecationWarning, stacklevel=4)
        axes = list(range(-len(s), 0))
    axes = [_normalize_axis_index(int(a), len(shape)) for a in axes]
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if invreal and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    if None in s:
        warnings.warn("Passing an array containing `None` values to `s` is deprecated in NumPy 2.0 and will "
                      "raise an error in a future version of NumPy. To use the default behaviour of the "
                      "corresponding 1-D transform, pass the value matching the default for its `n` "
                      "parameter. To use the default behaviour for every axis, the `s` argument can be "
                      "omitted.", DeprecationWarning, stacklevel=4)
        if invreal and s[-1] is None:          # irfft's default length
            s[-1] = (shape[axes[-1]] - 1) * 2
    s = [shape[a] if n is None or n == -1 else int(n) for n, a in zip(s, axes)]
    for n in s:
        if n < 1:
            raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return s, axes


def _cook_1d(shape, n, axis, invreal=False):
    axis = _normalize_axis_index(int(axis), len(shape))
    if n is None:
        n = (shape[axis] - 1) * 2 if invreal else shape[axis]
    return _cook(shape, [n], [axis])


def _resize(x, sizes):
    """``x`` cropped or zero-padded to length ``sizes[axis]`` along each axis."""
    shape = shape_of(x)
    crop = tuple(slice(0, sizes[a]) if a in sizes and sizes[a] < shape[a] else slice(None)
                 for a in range(len(shape)))
    if any(c != slice(None) for c in crop):
        x = _getitem(x, crop)
    widths = [(0, sizes[a] - shape[a]) if a in sizes and sizes[a] > shape[a] else (0, 0)
              for a in range(len(shape))]
    if any(w[1] for w in widths):
        x = _pad(x, widths)
    return x


def _repeated(axes):
    return len(set(axes)) < len(axes)


def _fftn_traced(x, s, axes, norm, inverse):
    if _repeated(axes):          # NumPy: one-axis transforms, from the last axis to the first
        for n, a in reversed(list(zip(s, axes))):
            x = _fftn_traced(x, [n], [a], norm, inverse)
        return x
    return c2c_p(_resize(x, dict(zip(axes, s))), tuple(axes), norm, inverse)


def _rfftn_traced(x, s, axes, norm):
    if _repeated(axes):          # NumPy: rfft along the last axis, then fft along the others
        x = _rfftn_traced(x, s[-1:], axes[-1:], norm)
        for n, a in zip(s[:-1], axes[:-1]):
            x = _fftn_traced(x, [n], [a], norm, False)
        return x
    return r2c_p(_resize(x, dict(zip(axes, s))), tuple(axes), norm)


def _irfftn_traced(x, s, axes, norm):
    if _repeated(axes):          # NumPy: ifft along all but the last axis, then irfft
        for n, a in zip(s[:-1], axes[:-1]):
            x = _fftn_traced(x, [n], [a], norm, True)
        return _irfftn_traced(x, s[-1:], axes[-1:], norm)
    sizes = dict(zip(axes[:-1], s[:-1]))
    sizes[axes[-1]] = s[-1] // 2 + 1
    return c2r_p(_resize(x, sizes), tuple(axes), s[-1], norm)


# -- complex transforms -----------------------------------------------------------------

@_numpy_if_untraced(_np.fft.fft)
def fft(a, n=None, axis=-1, norm=None, out=None):
    _check_out(out, "fft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis)
    return _fftn_traced(a, s, axes, _norm(norm), False)


@_numpy_if_untraced(_np.fft.ifft)
def ifft(a, n=None, axis=-1, norm=None, out=None):
    _check_out(out, "ifft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis)
    return _fftn_traced(a, s, axes, _norm(norm), True)


@_numpy_if_untraced(_np.fft.fftn)
def fftn(a, s=None, axes=None, norm=None, out=None):
    _check_out(out, "fftn")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _fftn_traced(a, s, axes, _norm(norm), False)


@_numpy_if_untraced(_np.fft.ifftn)
def ifftn(a, s=None, axes=None, norm=None, out=None):
    _check_out(out, "ifftn")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _fftn_traced(a, s, axes, _norm(norm), True)


@_numpy_if_untraced(_np.fft.fft2)
def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    _check_out(out, "fft2")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _fftn_traced(a, s, axes, _norm(norm), False)


@_numpy_if_untraced(_np.fft.ifft2)
def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    _check_out(out, "ifft2")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _fftn_traced(a, s, axes, _norm(norm), True)


# -- real transforms --------------------------------------------------------------------

@_numpy_if_untraced(_np.fft.rfft)
def rfft(a, n=None, axis=-1, norm=None, out=None):
    _check_out(out, "rfft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis)
    return _rfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.irfft)
def irfft(a, n=None, axis=-1, norm=None, out=None):
    _check_out(out, "irfft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis, invreal=True)
    return _irfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.rfftn)
def rfftn(a, s=None, axes=None, norm=None, out=None):
    _check_out(out, "rfftn")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _rfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.irfftn)
def irfftn(a, s=None, axes=None, norm=None, out=None):
    _check_out(out, "irfftn")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes, invreal=True)
    return _irfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.rfft2)
def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    _check_out(out, "rfft2")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes)
    return _rfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.irfft2)
def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    _check_out(out, "irfft2")
    a = _as_array(a)
    s, axes = _cook(shape_of(a), s, axes, invreal=True)
    return _irfftn_traced(a, s, axes, _norm(norm))


@_numpy_if_untraced(_np.fft.hfft)
def hfft(a, n=None, axis=-1, norm=None, out=None):
    """``irfft`` of the conjugate, with the opposite normalization (as NumPy)."""
    _check_out(out, "hfft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis, invreal=True)
    return _irfftn_traced(_conj(a), s, axes, _SWAP[_norm(norm)])


@_numpy_if_untraced(_np.fft.ihfft)
def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """The conjugate of ``rfft`` with the opposite normalization (as NumPy)."""
    _check_out(out, "ihfft")
    a = _as_array(a)
    s, axes = _cook_1d(shape_of(a), n, axis)
    return _conj(_rfftn_traced(a, s, axes, _SWAP[_norm(norm)]))


# -- shifts -----------------------------------------------------------------------------

def _shift(x, axes, sign):
    x = _as_array(x)
    shape = shape_of(x)
    axes = getval(axes)
    if axes is None:
        axes = tuple(range(len(shape)))
        shift = [sign * (n // 2) for n in shape]
    elif isinstance(axes, (int, _np.integer)):
        shift = sign * (shape[axes] // 2)
    else:
        shift = [sign * (shape[a] // 2) for a in axes]
    return _roll(x, shift, axes)


@_numpy_if_untraced(_np.fft.fftshift)
def fftshift(x, axes=None):
    return _shift(x, axes, 1)


@_numpy_if_untraced(_np.fft.ifftshift)
def ifftshift(x, axes=None):
    return _shift(x, axes, -1)


_defined = {f.__name__: f for f in (fft, ifft, fftn, ifftn, fft2, ifft2, rfft, irfft, rfftn, irfftn,
                                     rfft2, irfft2, hfft, ihfft, fftshift, ifftshift)}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_np.fft, _defined, "numpy.fft.", _handled))
