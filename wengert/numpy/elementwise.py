"""Elementwise functions: one partial derivative per argument, both modes from it.

``deriv(f, d0, d1)`` declares the partial derivatives ``d(ans, *args)``; the backward
pass multiplies them by the cotangent and sums over broadcast dimensions. Rules use
the wrapped functions of this package, so they are differentiable themselves and
higher derivatives need no extra code. Complex values follow HIPS autograd's
convention: the rule is ``g * f'(x)``, without conjugation.

Kinks (see the README's table): abs/fabs at 0 -> 0; maximum/minimum/fmax/fmin at a tie
-> the cotangent is split 1/2 and 1/2; clip at a bound -> 1 for x (bounds inclusive);
hypot at (0, 0) -> 0; power x**y at y == 0 -> 0 for x; sinc at 0 -> 0; sqrt, cbrt
and fractional powers at 0 -> +inf (the one-sided derivative; no finite one exists).
"""
import operator

import numpy as _np

from ..core import Primitive, def_linear, defvjp, deriv
from ..core.tracer import getval
from ..core.vspace import add, scalar_fast

_LN2, _LN10 = _np.log(2.0), _np.log(10.0)


def _p(ufunc, name=None):
    return Primitive(ufunc, name)


subtract = _p(scalar_fast(_np.subtract, operator.sub), "subtract")
multiply = _p(scalar_fast(_np.multiply, operator.mul), "multiply")
divide = _p(scalar_fast(_np.divide, operator.truediv), "divide")
true_divide = divide
negative = _p(_np.negative)
positive = _p(_np.positive)
power = _p(_np.power)
float_power = _p(_np.float_power)
square = _p(_np.square)
sqrt = _p(_np.sqrt)
cbrt = _p(_np.cbrt)
reciprocal = _p(_np.reciprocal)
exp = _p(_np.exp)
exp2 = _p(_np.exp2)
expm1 = _p(_np.expm1)
log = _p(_np.log)
log2 = _p(_np.log2)
log10 = _p(_np.log10)
log1p = _p(_np.log1p)
sin = _p(_np.sin)
cos = _p(_np.cos)
tan = _p(_np.tan)
arcsin = _p(_np.arcsin)
arccos = _p(_np.arccos)
arctan = _p(_np.arctan)
arctan2 = _p(_np.arctan2)
sinh = _p(_np.sinh)
cosh = _p(_np.cosh)
tanh = _p(_np.tanh)
arcsinh = _p(_np.arcsinh)
arccosh = _p(_np.arccosh)
arctanh = _p(_np.arctanh)
hypot = _p(_np.hypot)
logaddexp = _p(_np.logaddexp)
logaddexp2 = _p(_np.logaddexp2)
absolute = _p(_np.absolute)
abs = absolute
fabs = _p(_np.fabs)
maximum = _p(_np.maximum)
minimum = _p(_np.minimum)
fmax = _p(_np.fmax)
fmin = _p(_np.fmin)
mod = _p(_np.mod)
remainder = mod
fmod = _p(_np.fmod)
sinc = _p(_np.sinc)
deg2rad = _p(_np.deg2rad)
radians = deg2rad
rad2deg = _p(_np.rad2deg)
degrees = rad2deg
real = _p(_np.real, "real")
imag = _p(_np.imag, "imag")
conjugate = _p(_np.conjugate)
conj = conjugate


def _clip(a, a_min=None, a_max=None):
    return _np.clip(a, a_min, a_max)


_clip_p = Primitive(_clip, "clip")
_where_p = Primitive(_np.where, "where")


def clip(a, a_min=_np._NoValue, a_max=_np._NoValue, out=None, *, min=_np._NoValue, max=_np._NoValue):
    """``numpy.clip``; differentiable in ``a`` and in the bounds."""
    if out is not None:
        from ..errors import InPlaceUpdateError
        raise InPlaceUpdateError("clip(..., out=...)")
    lo = min if a_min is _np._NoValue else a_min
    hi = max if a_max is _np._NoValue else a_max
    return _clip_p(a, None if lo is _np._NoValue else lo, None if hi is _np._NoValue else hi)


def where(condition, x=_np._NoValue, y=_np._NoValue):
    """``numpy.where``; with one argument it is ``nonzero`` (not differentiable)."""
    if x is _np._NoValue and y is _np._NoValue:
        return _np.nonzero(getval(condition))
    return _where_p(getval(condition), x, y)


def _safe_div(num, den):
    """num / den, with 0 where den == 0 (the kink convention's finite subgradient)."""
    zero = den == 0
    return where(zero, 0.0, num / where(zero, 1.0, den))


def _tie(x, y):
    return (x == y) * 0.5


# The hot arithmetic rules are written out directly (no partial-derivative multiply).
defvjp(add,      lambda g, ans, x, y: g,       lambda g, ans, x, y: g)
defvjp(subtract, lambda g, ans, x, y: g,       lambda g, ans, x, y: -g)
defvjp(multiply, lambda g, ans, x, y: g * y,   lambda g, ans, x, y: g * x)
defvjp(divide,   lambda g, ans, x, y: g / y,   lambda g, ans, x, y: -g * ans / y)
defvjp(negative, lambda g, ans, x: -g)
defvjp(positive, lambda g, ans, x: g)

deriv(add,         lambda ans, x, y: 1.0,          lambda ans, x, y: 1.0)
deriv(subtract,    lambda ans, x, y: 1.0,          lambda ans, x, y: -1.0)
deriv(multiply,    lambda ans, x, y: y,            lambda ans, x, y: x)
deriv(divide,      lambda ans, x, y: 1.0 / y,      lambda ans, x, y: -ans / y)
deriv(negative,    lambda ans, x: -1.0)
deriv(positive,    lambda ans, x: 1.0)
deriv(power,       lambda ans, x, y: y * x ** where(y == 0, 1.0, y - 1),
                   lambda ans, x, y: log(where(x == 0, 1.0, x)) * ans)
deriv(float_power, lambda ans, x, y: y * float_power(x, where(y == 0, 1.0, y - 1)),
                   lambda ans, x, y: log(where(x == 0, 1.0, x)) * ans)
deriv(square,      lambda ans, x: 2 * x)
deriv(sqrt,        lambda ans, x: 0.5 / ans)
deriv(cbrt,        lambda ans, x: 1.0 / (3 * ans ** 2))
deriv(reciprocal,  lambda ans, x: -ans ** 2)
deriv(exp,         lambda ans, x: ans)
deriv(exp2,        lambda ans, x: ans * _LN2)
deriv(expm1,       lambda ans, x: ans + 1)
deriv(log,         lambda ans, x: 1.0 / x)
deriv(log2,        lambda ans, x: 1.0 / (x * _LN2))
deriv(log10,       lambda ans, x: 1.0 / (x * _LN10))
deriv(log1p,       lambda ans, x: 1.0 / (x + 1))
deriv(sin,         lambda ans, x: cos(x))
deriv(cos,         lambda ans, x: -sin(x))
deriv(tan,         lambda ans, x: 1 + ans ** 2)
deriv(arcsin,      lambda ans, x: 1.0 / sqrt(1 - x ** 2))
deriv(arccos,      lambda ans, x: -1.0 / sqrt(1 - x ** 2))
deriv(arctan,      lambda ans, x: 1.0 / (1 + x ** 2))
deriv(arctan2,     lambda ans, y, x: x / (x ** 2 + y ** 2),
                   lambda ans, y, x: -y / (x ** 2 + y ** 2))
deriv(sinh,        lambda ans, x: cosh(x))
deriv(cosh,        lambda ans, x: sinh(x))
deriv(tanh,        lambda ans, x: 1 - ans ** 2)
deriv(arcsinh,     lambda ans, x: 1.0 / sqrt(x ** 2 + 1))
deriv(arccosh,     lambda ans, x: 1.0 / sqrt(x ** 2 - 1))
deriv(arctanh,     lambda ans, x: 1.0 / (1 - x ** 2))
deriv(hypot,       lambda ans, x, y: _safe_div(x, ans),
                   lambda ans, x, y: _safe_div(y, ans))
deriv(logaddexp,   lambda ans, x, y: exp(x - ans),
                   lambda ans, x, y: exp(y - ans))
deriv(logaddexp2,  lambda ans, x, y: exp2(x - ans),
                   lambda ans, x, y: exp2(y - ans))
deriv(absolute,    lambda ans, x: _safe_div(conj(x), ans))
deriv(fabs,        lambda ans, x: _np.sign(getval(x)) * 1.0)
deriv(maximum,     lambda ans, x, y: (x > y) + _tie(x, y),
                   lambda ans, x, y: (y > x) + _tie(x, y))
deriv(minimum,     lambda ans, x, y: (x < y) + _tie(x, y),
                   lambda ans, x, y: (y < x) + _tie(x, y))
deriv(fmax,        lambda ans, x, y: (x > y) + _tie(x, y) + _np.isnan(y),
                   lambda ans, x, y: (y > x) + _tie(x, y) + _np.isnan(x))
deriv(fmin,        lambda ans, x, y: (x < y) + _tie(x, y) + _np.isnan(y),
                   lambda ans, x, y: (y < x) + _tie(x, y) + _np.isnan(x))
deriv(mod,         lambda ans, x, y: 1.0,
                   lambda ans, x, y: -_np.floor_divide(x, y))
deriv(fmod,        lambda ans, x, y: 1.0,
                   lambda ans, x, y: -_np.trunc(_np.true_divide(x, y)))
deriv(sinc,        lambda ans, x: _safe_div(cos(_np.pi * x) - ans, x))
deriv(deg2rad,     lambda ans, x: _np.pi / 180)
deriv(rad2deg,     lambda ans, x: 180 / _np.pi)
deriv(_clip_p,     lambda ans, x, lo, hi: _inside(x, lo, hi),
                   lambda ans, x, lo, hi: x < lo,
                   lambda ans, x, lo, hi: x > hi)
deriv(_where_p,    None,
                   lambda ans, c, x, y: c,
                   lambda ans, c, x, y: _np.logical_not(c))


def _inside(x, lo, hi):
    inside = True if lo is None else x >= lo
    return inside & (True if hi is None else x <= hi)


# Linear maps of the complex plane; the backward pass casts to the primal's dtype.
defvjp(real,      lambda g, ans, x: g)
defvjp(imag,      lambda g, ans, x: -1j * g)
defvjp(conjugate, lambda g, ans, x: conj(g))
for _f in (real, imag, conjugate):
    def_linear(_f)
