"""``wengert.numpy.linalg``: NumPy's linalg namespace, wrapped."""
import numpy as _np

from ._box import handled as _handled
from ._wrap import wrap_namespace

_defined = {}

globals().update(wrap_namespace(_np.linalg, _defined, "numpy.linalg.", _handled))
