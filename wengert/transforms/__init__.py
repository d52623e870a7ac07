"""User-facing derivative operators."""
from .forward import forward_grad, jvp, linearize
from .jacobians import hessian, hvp, jacfwd, jacobian, jacrev
from .reverse import elementwise_grad, grad, stop_gradient, value_and_grad, vjp

__all__ = ["elementwise_grad", "forward_grad", "grad", "hessian", "hvp", "jacfwd", "jacobian", "jacrev",
           "jvp", "linearize", "stop_gradient", "value_and_grad", "vjp"]
