"""The extension API: primitives, their rule tables, boxes and traces.

Nothing here imports ``wengert.numpy``; the core works on any values NumPy can add.
"""
from .pytree import TreeDef, tree_flatten, tree_leaves, tree_map, tree_unflatten
from .reverse import ReverseTrace, backward, trace_reverse
from .rules import def_linear, defjvp, defderiv, defvjp, defvjp_argnums
from .tracer import Box, Primitive, getval, primitive, set_box_class
from .vspace import Sparse, fit

__all__ = [
    "Box", "Primitive", "ReverseTrace", "Sparse", "TreeDef", "backward", "def_linear", "defjvp",
    "defderiv", "defvjp", "defvjp_argnums", "fit", "getval", "primitive", "set_box_class", "trace_reverse",
    "tree_flatten", "tree_leaves", "tree_map", "tree_unflatten",
]
