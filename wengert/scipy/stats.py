"""``wengert.scipy.stats``: SciPy's stats namespace, wrapped (see wengert/numpy/_wrap.py)."""
import scipy.stats as _src

from .. import numpy as _wnp  # noqa: F401  (the traced array type and NumPy rules)
from ..numpy._box import handled as _handled
from ..numpy._wrap import wrap_namespace

_defined = {}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.stats.", _handled))
