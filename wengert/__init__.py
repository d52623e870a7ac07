"""wengert: exact derivatives of NumPy programs, by reverse and forward mode.

    import wengert.numpy as np
    from wengert import grad
    grad(lambda x: np.sum(np.sin(x) ** 2))(np.ones(3))
"""
from . import numpy  # noqa: F401  (registers the rules and the traced array type)
from .core import Primitive, def_linear, defjvp, deriv, defvjp, primitive
from .core.pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten
from .errors import (EscapedTracerError, InPlaceUpdateError, MissingRuleError, NonDifferentiableInputError,
                     NonScalarOutputError, OutputTypeError, TracedConversionError, WengertError)
from .tools import check_grads
from .transforms import elementwise_grad, grad, jacrev, stop_gradient, value_and_grad, vjp

__version__ = "0.1.0"
