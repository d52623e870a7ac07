"""Tools built on the public API: gradient checking."""
from .gradcheck import check_grads, numerical_jvp

__all__ = ["check_grads", "numerical_jvp"]
