"""Pytrees: nested tuples, lists, dicts, namedtuples, dataclasses and None.

``tree_flatten`` turns a pytree into a list of leaves and a ``TreeDef`` that rebuilds
the same structure around new leaves. Every transform goes through this module.
"""
import dataclasses

import numpy as _np

_LEAF_TYPES = frozenset({_np.ndarray, float, int, complex, _np.float64, _np.float32})   # the common leaves, decided at once


class TreeDef:
    __slots__ = ("kind", "meta", "children", "num_leaves")

    def __init__(self, kind, meta, children):
        self.kind, self.meta, self.children = kind, meta, children
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in children)

    def unflatten(self, leaves):
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"expected {self.num_leaves} leaves for structure {self}, got {len(leaves)}")
        return self._build(iter(leaves))

    def _build(self, it):
        kind, meta = self.kind, self.meta
        if kind == "leaf":
            return next(it)
        if kind == "none":
            return None
        kids = [c._build(it) for c in self.children]
        if kind == "tuple":
            return tuple(kids)
        if kind == "list":
            return kids
        if kind == "dict":
            return dict(zip(meta, kids))
        if kind == "namedtuple":
            return meta(*kids)
        cls, names = meta  # dataclass
        return cls(**dict(zip(names, kids)))

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind and self.meta == other.meta
                and self.children == other.children)

    def __hash__(self):
        return hash((self.kind, str(self.meta), tuple(self.children)))

    def __repr__(self):
        kind, kids = self.kind, self.children
        if kind == "leaf":
            return "*"
        if kind == "none":
            return "None"
        # keys and classes shown: two structures that differ only there must not read the same
        if kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, kids)) + "}"
        if kind == "namedtuple":
            return f"{self.meta.__name__}({', '.join(map(repr, kids))})"
        if kind == "dataclass":
            cls, names = self.meta
            return f"{cls.__name__}({', '.join(f'{n}={c!r}' for n, c in zip(names, kids))})"
        return f"{kind}({', '.join(map(repr, kids))})"


def _node(tree):
    """(kind, meta, children) of an inner node, or None for a leaf."""
    t = type(tree)
    if t in _LEAF_TYPES:
        return None
    if tree is None:
        return "none", None, ()
    if t is tuple:
        return "tuple", None, tree
    if t is list:
        return "list", None, tree
    if t is dict:
        keys = tuple(tree)
        return "dict", keys, [tree[k] for k in keys]
    if isinstance(tree, tuple) and hasattr(t, "_fields"):
        return "namedtuple", t, tuple(tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        names = tuple(f.name for f in dataclasses.fields(tree) if f.init)
        return "dataclass", (t, names), [getattr(tree, n) for n in names]
    return None


_LEAF = TreeDef("leaf", None, ())


def tree_flatten(tree):
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    node = _node(tree)
    if node is None:
        leaves.append(tree)
        return _LEAF
    kind, meta, children = node
    return TreeDef(kind, meta, [_flatten(c, leaves) for c in children])


def tree_unflatten(treedef, leaves):
    return treedef.unflatten(leaves)


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def tree_map(f, tree, *rest):
    leaves, treedef = tree_flatten(tree)
    others = [treedef_leaves(treedef, r) for r in rest]
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def treedef_leaves(treedef, tree):
    leaves, other = tree_flatten(tree)
    if other != treedef:
        raise ValueError(f"pytree structures differ: expected {treedef}, got {other}")
    return leaves
