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
    "wengert.transforms": ("vjp", "stop_gradient", "jvp", "linearize", "hvp", "forward_grad", "custom_vjp",
                           "custom_jvp", "fixed_point", "checkpoint", "checkpoint_loop", "revolve_evaluations",
                           "CapturedTracerError"),
    # the JAX-style operators, with autograd's argnum= accepted, and autograd's own operators
    "wengert.autograd_compat": ("grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "jacfwd",
                                "jacrev", "make_vjp", "make_jvp", "make_hvp", "hessian_tensor_product",
                                "hessian_vector_product", "tensor_jacobian_product", "vector_jacobian_product",
                                "make_ggnvp", "grad_and_aux", "holomorphic_grad", "deriv", "grad_named",
                                "defvjp", "defjvp"),
    "wengert.tools": ("check_grads",),
    "wengert.core": ("Primitive", "primitive", "defderiv", "def_linear", "defvjp_argnums"),
    "wengert.core.pytree": ("tree_flatten", "tree_unflatten", "tree_leaves", "tree_map"),
    "wengert.errors": ("WengertError", "MissingRuleError", "NonDifferentiableInputError", "NonScalarOutputError",
                       "OutputTypeError", "EscapedTracerError", "TracedConversionError", "InPlaceUpdateError",
                       "CustomRuleError", "SavedArrayWriteError"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE) + ["extend", "numpy"]


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        if name in ("numpy", "extend"):
            return importlib.import_module(f"wengert.{name}")
        raise AttributeError(f"module 'wengert' has no attribute {name!r}")
    importlib.import_module("wengert.numpy")   # installs the traced array type and the rules
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
