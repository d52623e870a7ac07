"""Elementwise functions: one partial derivative per argument, both modes from it.

``defderiv(f, d0, d1)`` declares the partial derivatives ``d(ans, *args)``; the backward
pass multiplies them by the cotangent and sums over broadcast dimensions. Rules use
the wrapped functions of this package, so they are differentiable themselves and
higher derivatives need no extra code. Complex values follow HIPS autograd's
convention: the rule is ``g * f'(x)``, without conjugation.

Kinks (see the README's table): abs/fabs at 0 -> 0; maximum/minimum/fmax/fmin at a tie
-> the cotangent is split 1/2 and 1/2; clip at a bound -> 1 for x (bounds inclusive)
and 0 for the bound, with crossed bounds (a_min > a_max) -> 1 for a_max, whose value
NumPy returns; hypot at (0, 0) -> 0; power x**y at y == 0 -> 0 for x, and at x == 0
-> 0 for y; sinc at 0 -> 0 (and sinc''(0) = -pi**2/3: it is smooth there); sqrt, cbrt
and fractional powers at 0 -> +inf (the one-sided derivative; no finite one exists).
Elsewhere a singular derivative is NumPy's inf or nan, for Python floats too.
``where`` selects by the condition's truth value; mod/fmod by y -> minus the integer
quotient the remainder used.

Names: every NumPy name in ``__all__``, including NumPy 2's aliases (``pow``,
``acos``, ...), which must resolve to these primitives rather than to guarded stubs.
"""
import math
import operator

import numpy as _np

from ..core import Primitive, def_linear, defjvp, defvjp, defderiv
from ..core.batching import BatchTrace
from ..core.tracer import Box, batch_box_class, getval
from ..core.vspace import _sum_to_array, add, scalar_fast
from ._wrap import strip_boxes

# Python floats, not NumPy float64 scalars: under NEP 50 a float64 scalar would
# promote float32 partial derivatives to float64.
_LN2, _LN10, _PI = math.log(2.0), math.log(10.0), math.pi
_ndarray = _np.ndarray


def _p(ufunc, name=None):
    return Primitive(ufunc, name)


subtract = _p(scalar_fast(_np.subtract, operator.sub), "subtract")
multiply = _p(scalar_fast(_np.multiply, operator.mul), "multiply")
divide = _p(scalar_fast(_np.divide, operator.truediv), "divide")
true_divide = divide


def _negative(x, **kwargs):
    """``numpy.negative``, keeping a Python float a Python float (``-x`` in scalar code)."""
    if x.__class__ is float and not kwargs:
        return -x
    return _np.negative(x, **kwargs)


_negative.__doc__ = _np.negative.__doc__
negative = _p(_negative, "negative")
positive = _p(_np.positive)


def _py_pow(x, y):
    r = x ** y
    if r.__class__ is complex:      # (-8.0) ** (1/3): NumPy gives nan, not a complex
        raise ArithmeticError
    return r


power = _p(scalar_fast(_np.power, _py_pow), "power")
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

# NumPy 2 aliases (the same ufuncs under their array-API names).
pow = power
acos, asin, atan, atan2 = arccos, arcsin, arctan, arctan2
acosh, asinh, atanh = arccosh, arcsinh, arctanh


def _clip(a, a_min=None, a_max=None):
    return _np.clip(a, a_min, a_max)


_clip_p = Primitive(_clip, "clip")
_where_p = Primitive(_np.where, "where")


def clip(a, a_min=_np._NoValue, a_max=_np._NoValue, out=None, *, min=_np._NoValue, max=_np._NoValue):
    """``numpy.clip``; differentiable in ``a`` and in the bounds."""
    if out is not None:
        from ..errors import InPlaceUpdateError
        raise InPlaceUpdateError("clip(..., out=...)")
    # NumPy 2's rules for combining the positional bounds and the min=/max= keywords.
    if a_min is _np._NoValue and a_max is _np._NoValue:
        a_min = None if min is _np._NoValue else min
        a_max = None if max is _np._NoValue else max
    elif a_min is _np._NoValue or a_max is _np._NoValue:
        missing = "a_min" if a_min is _np._NoValue else "a_max"
        raise TypeError(f"clip() missing 1 required positional argument: '{missing}'")
    elif min is not _np._NoValue or max is not _np._NoValue:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` "
                         "are provided is forbidden.")
    return _clip_p(a, a_min, a_max)


def where(condition, x=_np._NoValue, y=_np._NoValue):
    """``numpy.where``; with one argument it is ``nonzero`` (not differentiable)."""
    if isinstance(condition, Box) and condition._trace.__class__ is BatchTrace and condition._node is None \
            and (x is not _np._NoValue or y is not _np._NoValue):
        # a condition computed per element of a batch (a comparison of a cotangent in a
        # custom rule under jacrev): it stays batched, each element selecting for itself
        cond = batch_box_class[0](_np.asarray(getval(condition), dtype=bool), condition._trace, None)
        return _where_p(cond, x, y)
    condition = strip_boxes(condition)
    if x is _np._NoValue and y is _np._NoValue:
        return _np.nonzero(condition)
    if x is _np._NoValue or y is _np._NoValue:
        raise ValueError("either both or neither of x and y should be given")
    # The truth value selects, so the partial derivatives are 0/1 masks, not the
    # condition's own values (a float condition such as [0.5, 0.0] is True, False).
    return _where_p(_np.asarray(condition, dtype=bool), x, y)


def _divide_traced(a, b):
    """``divide(a, b)``, calling NumPy (or the Python operator) directly when neither is traced."""
    if isinstance(a, Box) or isinstance(b, Box):
        return divide(a, b)
    return divide.impl(a, b)


def _negated_sum_to(g, y):
    """``-g`` as the cotangent of ``y`` (the backward pass then sums it to y's shape). For
    a plain ``g`` and a broadcast ``y``, it is summed first and negated in place: the
    negation runs on y's shape, with no temporary of g's."""
    if g.__class__ is _ndarray and y.__class__ is _ndarray and g.shape != y.shape:
        c = _sum_to_array(g, y.shape)            # a fresh array (shapes differ: a reduction)
        return _np.negative(c, out=c) if c.ndim else -c
    return -g


def _safe_div(num, den):
    """num / den, with 0 where den == 0 (the kink convention's finite subgradient)."""
    zero = getval(den) == 0
    return where(zero, 0.0, num / where(zero, 1.0, den))


def _abs_deriv(ans, x):
    """``conj(x) / |x|`` (0 at 0). For complex x it is divided part by part: NumPy's complex
    division by a subnormal ``|x|`` overflows (|5e-324j| gave nan, not -1j)."""
    if _np.iscomplexobj(getval(x)):
        return _safe_div(real(x), ans) - 1j * _safe_div(imag(x), ans)
    return _safe_div(x, ans)


def _nonzero(x):
    """``x`` with its zeros replaced by ones: ``x + (x == 0)`` is differentiable in x
    and keeps x's dtype (unlike ``where(x == 0, 1.0, x)`` it needs no 0-d arrays for
    Python scalars)."""
    return x + (getval(x) == 0)


def _pow_exponent(y):
    """The exponent ``y - 1`` of the power rule, except 0 where ``y == 0``: then the
    rule is ``0 * x ** 0 == 0`` at every x, x == 0 included (not ``0 * 0 ** -1``)."""
    return y - 1 + (getval(y) == 0)


def _above(x, y):
    """The weight of x in maximum(x, y): 1 where x > y, 1/2 at a tie, 0 otherwise."""
    x, y = getval(x), getval(y)
    return (x > y) + (x == y) * 0.5


def _nan_only(y, x):
    """1 where y is NaN and x is not: fmax/fmin return x there."""
    x, y = getval(x), getval(y)
    return _np.isnan(y) & ~_np.isnan(x)


def _quotient(ans, x, y):
    """The integer n with ans == x - n * y, for mod (n = floor(x / y)) and fmod
    (n = trunc(x / y)). Read off the result rather than recomputed: x / y can round to
    an integer the remainder did not use (1.0 / 0.1 == 10.0, but fmod(1.0, 0.1) is
    1.0 - 9 * 0.1)."""
    x, y, ans = getval(x), getval(y), getval(ans)
    with _np.errstate(invalid="ignore", divide="ignore"):
        return _np.round((x - ans) / y)


# sinc'(x) = (cos(pi x) - sinc(x)) / x cancels catastrophically near 0, and its value 0
# at x == 0 carries no higher derivatives. Below |x| < _SINC_SMALL it is the Taylor
# polynomial -pi^2 x / 3 + pi^4 x^3 / 30 - pi^6 x^5 / 840 (next term < 1e-14 relative),
# so sinc''(0) = -pi^2 / 3 as it should be.
_SINC_SMALL = 1e-2
_SINC_C1, _SINC_C3, _SINC_C5 = -_PI ** 2 / 3, _PI ** 4 / 30, -_PI ** 6 / 840


def _sinc_deriv(ans, x):
    small = _np.abs(getval(x)) < _SINC_SMALL
    xt = where(small, x, 0.0)       # each branch sees only its own, safe inputs, so the
    xs = where(small, 1.0, x)       # branch not taken has finite derivatives (no 0 * inf)
    xt2 = xt * xt
    return where(small, xt * (_SINC_C1 + xt2 * (_SINC_C3 + xt2 * _SINC_C5)), (cos(_PI * xs) - ans) / xs)


# clip(x, lo, hi) is NumPy's minimum(maximum(x, lo), hi): with crossed bounds (lo > hi)
# the result is hi. Bounds are inclusive for x: exactly at a bound the derivative is 1
# for x and 0 for the bound. None is an absent bound.
def _clip_unclipped_above(x, lo, hi):
    """Where maximum(x, lo) <= hi, i.e. the upper bound is not the result."""
    low = x if lo is None else _np.maximum(x, lo)
    return _np.asarray(True) if hi is None else low <= hi


def _clip_dx(x, lo, hi):
    x, lo, hi = getval(x), getval(lo), getval(hi)
    inside = _clip_unclipped_above(x, lo, hi)
    return inside if lo is None else inside & (x >= lo)


def _clip_dlo(x, lo, hi):
    x, lo, hi = getval(x), getval(lo), getval(hi)
    return _clip_unclipped_above(x, lo, hi) & (x < lo)


def _clip_dhi(x, lo, hi):
    x, lo, hi = getval(x), getval(lo), getval(hi)
    return _np.logical_not(_clip_unclipped_above(x, lo, hi))


# Rules receive raw values too (Python floats where the user passed them), so they
# divide and raise to powers with the primitives ``divide``/``power``/``reciprocal``:
# on Python floats the operators ``/`` and ``**`` would raise ZeroDivisionError (or
# return a complex) where NumPy gives inf or nan. Squares are written ``x * x``.
#
# The hot arithmetic rules are written out directly (no partial-derivative multiply).
defvjp(add,      lambda g, ans, x, y: g,       lambda g, ans, x, y: g)
defvjp(subtract, lambda g, ans, x, y: g,       lambda g, ans, x, y: _negated_sum_to(g, y))
defvjp(multiply, lambda g, ans, x, y: g * y,   lambda g, ans, x, y: g * x)
defvjp(divide,   lambda g, ans, x, y: _divide_traced(g, y), lambda g, ans, x, y: _divide_traced(-g * ans, y))
defvjp(negative, lambda g, ans, x: -g)
defvjp(positive, lambda g, ans, x: g)

defderiv(add,         lambda ans, x, y: 1.0,          lambda ans, x, y: 1.0)
defderiv(subtract,    lambda ans, x, y: 1.0,          lambda ans, x, y: -1.0)
defderiv(multiply,    lambda ans, x, y: y,            lambda ans, x, y: x)
defderiv(divide,      lambda ans, x, y: divide(1.0, y), lambda ans, x, y: divide(-ans, y))
defderiv(negative,    lambda ans, x: -1.0)
defderiv(positive,    lambda ans, x: 1.0)
defderiv(power,       lambda ans, x, y: y * power(x, _pow_exponent(y)),
                   lambda ans, x, y: log(_nonzero(x)) * ans)
defderiv(float_power, lambda ans, x, y: y * float_power(x, _pow_exponent(y)),
                   lambda ans, x, y: log(_nonzero(x)) * ans)
defderiv(square,      lambda ans, x: 2 * x)
defderiv(sqrt,        lambda ans, x: 0.5 * reciprocal(ans))
defderiv(cbrt,        lambda ans, x: reciprocal(3 * ans * ans))
defderiv(reciprocal,  lambda ans, x: -(ans * ans))
defderiv(exp,         lambda ans, x: ans)
defderiv(exp2,        lambda ans, x: ans * _LN2)
defderiv(expm1,       lambda ans, x: ans + 1)
defderiv(log,         lambda ans, x: reciprocal(x))
defderiv(log2,        lambda ans, x: reciprocal(x * _LN2))
defderiv(log10,       lambda ans, x: reciprocal(x * _LN10))
defderiv(log1p,       lambda ans, x: reciprocal(x + 1))
defderiv(sin,         lambda ans, x: cos(x))
defderiv(cos,         lambda ans, x: -sin(x))
defderiv(tan,         lambda ans, x: 1 + ans * ans)
defderiv(arcsin,      lambda ans, x: reciprocal(sqrt(1 - x * x)))
defderiv(arccos,      lambda ans, x: -reciprocal(sqrt(1 - x * x)))
defderiv(arctan,      lambda ans, x: reciprocal(1 + x * x))
defderiv(arctan2,     lambda ans, y, x: divide(x, x * x + y * y),
                   lambda ans, y, x: divide(-y, x * x + y * y))
defderiv(sinh,        lambda ans, x: cosh(x))
defderiv(cosh,        lambda ans, x: sinh(x))
defderiv(tanh,        lambda ans, x: 1 - ans * ans)
defderiv(arcsinh,     lambda ans, x: reciprocal(sqrt(x * x + 1)))
defderiv(arccosh,     lambda ans, x: reciprocal(sqrt(x * x - 1)))
defderiv(arctanh,     lambda ans, x: reciprocal(1 - x * x))
defderiv(hypot,       lambda ans, x, y: _safe_div(x, ans),
                   lambda ans, x, y: _safe_div(y, ans))
defderiv(logaddexp,   lambda ans, x, y: exp(x - ans),
                   lambda ans, x, y: exp(y - ans))
defderiv(logaddexp2,  lambda ans, x, y: exp2(x - ans),
                   lambda ans, x, y: exp2(y - ans))
defderiv(absolute,    lambda ans, x: _abs_deriv(ans, x))
defderiv(fabs,        lambda ans, x: _np.sign(getval(x)))
defderiv(maximum,     lambda ans, x, y: _above(x, y),
                   lambda ans, x, y: _above(y, x))
defderiv(minimum,     lambda ans, x, y: _above(y, x),
                   lambda ans, x, y: _above(x, y))
defderiv(fmax,        lambda ans, x, y: _above(x, y) + _nan_only(y, x),
                   lambda ans, x, y: _above(y, x) + _nan_only(x, y))
defderiv(fmin,        lambda ans, x, y: _above(y, x) + _nan_only(y, x),
                   lambda ans, x, y: _above(x, y) + _nan_only(x, y))
defderiv(mod,         lambda ans, x, y: 1.0,
                   lambda ans, x, y: -_quotient(ans, x, y))
defderiv(fmod,        lambda ans, x, y: 1.0,
                   lambda ans, x, y: -_quotient(ans, x, y))
defderiv(sinc,        _sinc_deriv)
defderiv(deg2rad,     lambda ans, x: _PI / 180)
defderiv(rad2deg,     lambda ans, x: 180 / _PI)
defderiv(_clip_p,     lambda ans, x, lo, hi: _clip_dx(x, lo, hi),
                   lambda ans, x, lo, hi: _clip_dlo(x, lo, hi),
                   lambda ans, x, lo, hi: _clip_dhi(x, lo, hi))
defderiv(_where_p,    None,
                   lambda ans, c, x, y: c,
                   lambda ans, c, x, y: _np.logical_not(c))


# Fused rules for the hot unary functions. ``f_rule(g, ans, x)`` is ``g * f'(x)``, which
# serves as the VJP (g a cotangent) and as the JVP (g a tangent) alike. When ``g`` and
# the value the derivative is built from are plain ndarrays of one shape and dtype (no
# outer trace), it is computed into one fresh temporary, in place: the temporary is the
# rule's own, never ``g`` (which may be shared) nor a value saved on the tape. Otherwise
# the same formula runs on the wrapped functions, so it is recorded by an outer trace.

def _same(g, a):
    """Plain arrays of one shape and dtype, not 0-d (NumPy returns scalars for those)."""
    return g.__class__ is _ndarray and a.__class__ is _ndarray and g.shape == a.shape and g.dtype == a.dtype \
        and g.ndim > 0


def _tanh_rule(g, ans, x):
    if g.__class__ is _ndarray and ans.__class__ is _ndarray and g.shape == ans.shape and g.dtype == ans.dtype \
            and g.ndim > 0:
        d = _np.multiply(ans, ans)
        _np.subtract(1, d, out=d)
        return _np.multiply(d, g, out=d)
    return g * (1 - ans * ans)


def _exp_rule(g, ans, x):
    return g * ans


def _log_rule(g, ans, x):
    if g.__class__ is _ndarray and x.__class__ is _ndarray:
        return _np.divide(g, x)
    return g * reciprocal(x)


def _sqrt_rule(g, ans, x):
    if _same(g, ans):
        d = _np.divide(g, ans)
        return _np.multiply(d, 0.5, out=d)
    return g * (0.5 * reciprocal(ans))


def _square_rule(g, ans, x):
    if _same(g, x):
        d = _np.multiply(x, 2)
        return _np.multiply(d, g, out=d)
    return g * (2 * x)


def _reciprocal_rule(g, ans, x):
    if _same(g, ans):
        d = _np.multiply(ans, ans)
        _np.negative(d, out=d)
        return _np.multiply(d, g, out=d)
    return g * -(ans * ans)


def _sin_rule(g, ans, x):
    if _same(g, x):
        d = _np.cos(x)
        return _np.multiply(d, g, out=d)
    return g * cos(x)


def _cos_rule(g, ans, x):
    if _same(g, x):
        d = _np.sin(x)
        _np.negative(d, out=d)
        return _np.multiply(d, g, out=d)
    return g * -sin(x)


for _f, _rule in ((tanh, _tanh_rule), (exp, _exp_rule), (log, _log_rule), (sqrt, _sqrt_rule),
                  (square, _square_rule), (reciprocal, _reciprocal_rule), (sin, _sin_rule), (cos, _cos_rule)):
    defvjp(_f, _rule)
    defjvp(_f, _rule)

# These rules read only the shapes of untraced arguments (``x + c``, ``x - c``), never
# their values: the tape need not hold such constants read-only (core/saved.py).
for _f in (subtract, negative, positive):
    _f.reads_constants = False      # and add (core/vspace.py)


# Linear maps of the complex plane; the backward pass casts to the primal's dtype.
# conj is antilinear, so it has no partial derivative d with g * d; autograd's rules.
defvjp(real,      lambda g, ans, x: g)
defvjp(imag,      lambda g, ans, x: -1j * g)
defvjp(conjugate, lambda g, ans, x: conj(g))
for _f in (real, imag, conjugate):
    def_linear(_f)

__all__ = [_n for _n in (
    "add", "subtract", "multiply", "divide", "true_divide", "negative", "positive", "power", "pow",
    "float_power", "square", "sqrt", "cbrt", "reciprocal", "exp", "exp2", "expm1", "log", "log2",
    "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "asin", "acos",
    "atan", "atan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "asinh", "acosh",
    "atanh", "hypot", "logaddexp", "logaddexp2", "absolute", "abs", "fabs", "maximum", "minimum",
    "fmax", "fmin", "mod", "remainder", "fmod", "clip", "where", "sinc", "deg2rad", "radians",
    "rad2deg", "degrees", "real", "imag", "conjugate", "conj", "divmod",
) if hasattr(_np, _n)]      # the NumPy 2 aliases (pow, acos, ...) only where NumPy has them


def divmod(x1, x2, /):
    """``numpy.divmod``: ``(floor_divide(x1, x2), mod(x1, x2))``; the quotient carries no derivative."""
    return _np.floor_divide(getval(x1), getval(x2)), mod(x1, x2)



def zeros_like_traced(x):
    """A zero tangent or cotangent for ``x``: a constant with x's shape and dtype."""
    v = getval(x)
    return _np.zeros(_np.shape(v), _np.result_type(v))
