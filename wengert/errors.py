"""Every exception wengert raises on purpose.

Each message says what went wrong, where (primitive, argument, mode), and what to
do instead. The classes also derive from the builtin exception a user would
expect (TypeError, NotImplementedError, ...), so existing ``except`` clauses work.
"""
import threading

_refused = threading.local()     # the last conversion refused in this thread (see core/saved.py)


class WengertError(Exception):
    """Base class of wengert's own errors."""


class MissingRuleError(WengertError, NotImplementedError):
    """A traced value reached a function that has no derivative rule."""

    def __init__(self, name, argnum=None, mode="reverse", hint=None):
        self.name, self.argnum, self.mode = name, argnum, mode
        where = "" if argnum is None else f" with respect to argument {argnum}"
        hint = hint or ("Define a rule with wengert.defvjp/defjvp, rewrite the computation with supported "
                        "functions, or wrap the argument in wengert.stop_gradient if it should be treated "
                        "as a constant.")
        super().__init__(
            f"{name}: no {mode}-mode derivative rule{where}. A traced value reached it, "
            f"and wengert will not return a silently wrong gradient. {hint}")


class NonDifferentiableInputError(WengertError, TypeError):
    """An argument being differentiated is not a float or complex value."""

    def __init__(self, op, position, value, dtype):
        self.position, self.dtype = position, dtype
        super().__init__(
            f"{op}: argument {position} has dtype {dtype}, which cannot be differentiated "
            f"(value {_short(value)}). Pass a float instead, e.g. x.astype(float) or 3.0 rather than 3, "
            f"or leave it out of argnums.")


class NonScalarOutputError(WengertError, TypeError):
    """``grad`` was asked to differentiate a function whose output is not a scalar."""

    def __init__(self, op, what):
        super().__init__(
            f"{op} needs a function with a scalar output, but it returned {what}. Use wengert.jacrev for the full Jacobian, wengert.vjp for a "
            f"vector-Jacobian product, or wengert.elementwise_grad if the function acts elementwise.")


class OutputTypeError(WengertError, TypeError):
    """A differentiated function returned something that is not numeric."""

    def __init__(self, op, value):
        super().__init__(
            f"{op}: the function returned {_short(value)} of type {type(value).__name__}; "
            f"it must return a float/complex scalar or array (or a pytree of them). "
            f"Use has_aux=True to return extra non-differentiable data.")


class EscapedTracerError(WengertError, RuntimeError):
    """A traced value was used after the function being differentiated returned."""

    def __init__(self, name):
        super().__init__(
            f"{name}: a traced value escaped from the function being differentiated (stored in "
            f"a global, a closure or a container) and is used after the derivative was taken. "
            f"Return it from the function instead, with has_aux=True if it is not differentiated.")


class TracedConversionError(WengertError, TypeError):
    """A traced value was about to be turned into a plain number or NumPy array."""

    def __init__(self, what):
        _refused.what = what
        super().__init__(
            f"{what} of a traced value would drop its derivative. Keep the computation in "
            f"wengert.numpy (or plain NumPy functions on the traced value), build arrays with "
            f"np.array([...]) / np.stack instead of writing into an ndarray, or use "
            f"wengert.stop_gradient(x) if the value is meant to be a constant.")


class InPlaceUpdateError(WengertError, TypeError):
    """A traced array was about to be modified in place."""

    def __init__(self, what):
        super().__init__(
            f"{what} on a traced array is not supported: the backward pass may still need the "
            f"old contents. Build a new array instead, e.g. np.where(mask, v, a), "
            f"np.concatenate, or collect the pieces in a list and np.stack them.")


class SavedArrayWriteError(WengertError, ValueError):
    """The program wrote into an ndarray that a tape will read again."""

    def __init__(self, message=None):
        super().__init__(message or (
            "Writing into an ndarray that a derivative still needs: wengert keeps the arrays its "
            "backward pass will read (constants such as W in x @ W, the inputs being "
            "differentiated, the outputs returned by vjp, values from stop_gradient) read-only "
            "until the derivative is computed, because changing one would silently corrupt the "
            "gradient. Write into a copy instead (a = a.copy() before changing it), or finish the "
            "derivative first. (If the array was read-only before, this is NumPy's own refusal.)"))


def last_refused_conversion():
    """What the last ``TracedConversionError`` of this thread refused (then forgotten)."""
    what = getattr(_refused, "what", None)
    _refused.what = None
    return what


class CustomRuleError(WengertError, ValueError):
    """A custom rule returned values that do not match the function's arguments or output."""


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
