"""``wengert.scipy.special``: SciPy's special namespace, wrapped (see wengert/numpy/_wrap.py)."""
import scipy.special as _src

from .. import numpy as _wnp  # noqa: F401  (the traced array type and NumPy rules)
from ..numpy._box import handled as _handled
from ..numpy._wrap import wrap_namespace

_defined = {}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.special.", _handled))
