"""Indexing. ``x[idx]`` is a primitive whose cotangent is sparse: zero except at
``idx``. Outside higher-order differentiation the backward pass keeps it as a
``Sparse`` cotangent and adds it in place, so reading an array element by element in
a loop stays O(n) overall instead of O(n^2)."""
import numpy as _np

from ..core import Primitive, def_linear, defvjp
from ..core.tracer import Box, getval
from ..core.vspace import Sparse, dtype_of, shape_of


def _static_index(idx):
    if isinstance(idx, tuple):
        return tuple(_static_index(i) for i in idx)
    if isinstance(idx, Box):
        value = getval(idx)
        if _np.asarray(value).dtype.kind in "fc":
            raise TypeError(f"array indices must be integers or booleans, got a traced float array")
        return value
    if isinstance(idx, list):
        return _np.asarray(getval(idx)) if not any(isinstance(i, Box) for i in idx) else \
            _np.asarray([getval(i) for i in idx])
    return idx


def _getitem(x, idx):
    return x[idx]


def _untake(g, idx, shape, dtype):
    return Sparse(shape, dtype, idx, g).dense()


getitem_p = def_linear(Primitive(_getitem, "getitem"))
untake = def_linear(Primitive(_untake, "untake"))


def _getitem_vjp(g, ans, x, idx):
    if isinstance(g, Box):             # higher order: stay inside differentiable primitives
        return untake(g, idx, shape_of(x), dtype_of(x))
    return Sparse(shape_of(x), dtype_of(x), idx, g)


defvjp(getitem_p, _getitem_vjp)
defvjp(untake, lambda g, ans, c, idx, shape, dtype: getitem_p(g, idx))


def getitem(x, idx):
    return getitem_p(x, _static_index(idx))
