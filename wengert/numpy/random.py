"""``wengert.numpy.random``: NumPy's random namespace, wrapped."""
import numpy as _np

from ._box import handled as _handled
from ._wrap import wrap_namespace

_defined = {}
_ALL = frozenset(n for n in dir(_np.random) if not n.startswith("_"))  # sampling reads traced parameters as constants

globals().update(wrap_namespace(_np.random, _defined, "numpy.random.", _handled, nondiff_names=_ALL))
