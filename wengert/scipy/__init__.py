"""``wengert.scipy``: SciPy with derivatives, by submodule (``import wengert.scipy.special``).

Like ``wengert.numpy``, every public name of a wrapped SciPy submodule resolves:
differentiable functions are primitives with rules, and any other function raises
``MissingRuleError`` when a traced value reaches it.
"""
import importlib

_SUBMODULES = ("integrate", "linalg", "signal", "special", "stats")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'wengert.scipy' has no attribute {name!r}")
