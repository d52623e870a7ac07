"""``vmap`` over a leading axis, the engine of batched Jacobians and Hessians."""
import numpy as _np

from ..core.batching import DIAG, expand_diagonal, trace_batched
from ..core.pytree import tree_flatten
from ..core.tracer import Box, getval
from ..core.vspace import broadcast_to


def vmap_flat(fun, leaves, batched, size, diagonal=None):
    """Apply ``fun`` to a batch at once: ``leaves[i]`` has a leading axis of ``size`` where
    ``batched[i]`` (or is the diagonal of a diagonal batch where ``diagonal[i]``, see
    core/batching.py). Returns the output pytree with every leaf batched along axis 0."""
    out, trace = trace_batched(fun, leaves, batched, size, diagonal)
    out_leaves, treedef = tree_flatten(out)
    return treedef.unflatten([_unbatch(l, trace, size) for l in out_leaves])


def _unbatch(leaf, trace, size):
    if isinstance(leaf, Box) and leaf._trace is trace:
        return expand_diagonal[0](leaf._value, size) if leaf._node is DIAG else leaf._value
    # not batched (it did not depend on the batched input): the same for every element
    shape = _np.shape(getval(leaf))
    return broadcast_to(leaf, (size,) + shape)
