"""User-facing derivative operators."""
from .checkpoint import CapturedTracerError, checkpoint, checkpoint_loop, revolve_evaluations, revolve_schedule
from .custom import custom_jvp, custom_vjp
from .forward import forward_grad, jvp, linearize
from .implicit import fixed_point
from .jacobians import hessian, hvp, jacfwd, jacobian, jacrev
from .reverse import elementwise_grad, grad, stop_gradient, value_and_grad, vjp

__all__ = ["CapturedTracerError", "checkpoint", "checkpoint_loop", "revolve_evaluations", "revolve_schedule",
           "custom_jvp", "custom_vjp", "fixed_point", "elementwise_grad", "forward_grad", "grad", "hessian", "hvp", "jacfwd", "jacobian", "jacrev",
           "jvp", "linearize", "stop_gradient", "value_and_grad", "vjp"]
