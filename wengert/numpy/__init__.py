"""``import wengert.numpy as np``: NumPy with derivatives.

Every public NumPy name resolves. Differentiable functions are primitives (or
compositions of primitives) whose rules live in the family modules; functions whose
derivative is zero read traced values as constants; any other function raises
``MissingRuleError`` when a traced value reaches it. Importing this package
registers all rules and installs ``ArrayBox`` as the class of traced values.
"""
import importlib

import numpy as _np

from ..core.tracer import set_box_class
from ..core.vspace import add
from . import _box, constructors, convolution, elementwise, indexing, products, reductions, shape
from ._wrap import wrap_namespace

_FAMILIES = (elementwise, reductions, shape, indexing, products, constructors, convolution)


def _public(module):
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    return {n: getattr(module, n) for n in names if hasattr(_np, n) or n in _EXTRA}


_EXTRA = {"add"}
_defined = {"add": add}
for _m in _FAMILIES:
    _defined.update(_public(_m))

globals().update(wrap_namespace(_np, _defined, "numpy.", _box.handled))

# The submodules need the namespace above; ``from . import`` would find NumPy's own
# linalg/fft/random already bound here and skip the import.
fft, linalg, random = (importlib.import_module(f"{__name__}.{m}") for m in ("fft", "linalg", "random"))

_shape_module = importlib.import_module(f"{__name__}.shape")     # (``shape`` here is numpy.shape's wrapper)
_box.bind(dict(globals(), _getitem=indexing.getitem, _setitem=indexing.setitem,
               _reshape_p=_shape_module.reshape_p, _transpose_p=_shape_module.transpose_p))
from . import batching as _batching  # noqa: E402  (installs the batching rules)

set_box_class(_box.ArrayBox, _batching.BatchArrayBox)
ArrayBox = _box.ArrayBox

__all__ = [n for n in globals() if not n.startswith("_")]
