"""User-facing derivative operators."""
from .api import elementwise_grad, grad, jacrev, stop_gradient, value_and_grad, vjp

__all__ = ["elementwise_grad", "grad", "jacrev", "stop_gradient", "value_and_grad", "vjp"]
