"""``wengert.numpy.fft``: NumPy's fft namespace, wrapped."""
import numpy as _np

from ._box import handled as _handled
from ._wrap import wrap_namespace

_defined = {}

globals().update(wrap_namespace(_np.fft, _defined, "numpy.fft.", _handled))
