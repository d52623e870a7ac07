"""wengert: exact derivatives of NumPy programs, by reverse and forward mode.

    import wengert.numpy as np
    from wengert import grad
    grad(lambda x: np.sum(np.sin(x) ** 2))(np.ones(3))

The public names are re-exported lazily, so ``import wengert.core`` stays free of
the NumPy wrapper (the layering the tests hold).
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "wengert.transforms": ("grad", "value_and_grad", "vjp", "jacrev", "elementwise_grad", "stop_gradient",
                           "jvp", "linearize", "jacfwd", "jacobian", "hessian", "hvp", "forward_grad"),
    "wengert.tools": ("check_grads",),
    "wengert.core": ("Primitive", "primitive", "defvjp", "defjvp", "defderiv", "def_linear", "defvjp_argnums"),
    "wengert.core.pytree": ("tree_flatten", "tree_unflatten", "tree_leaves", "tree_map"),
    "wengert.errors": ("WengertError", "MissingRuleError", "NonDifferentiableInputError", "NonScalarOutputError",
                       "OutputTypeError", "EscapedTracerError", "TracedConversionError", "InPlaceUpdateError"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE) + ["numpy"]


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        if name == "numpy":
            return importlib.import_module("wengert.numpy")
        raise AttributeError(f"module 'wengert' has no attribute {name!r}")
    importlib.import_module("wengert.numpy")   # installs the traced array type and the rules
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
