"""Jacobians, Hessians and Hessian-vector products, batched.

A Jacobian pushes the whole identity basis through the rules in one pass: the basis
tangents (``jacfwd``) or cotangents (``jacrev``) are one batched value with a leading
axis, and the batching rules carry that axis through every primitive.
"""
import numpy as _np

from ..core.pytree import tree_flatten
from ..core.vspace import dtype_of, shape_of
from .batch import vmap_flat
from .common import Selected, nary, select
from .forward import jvp, jvp_flat
from .reverse import _VJP, grad


def _size(shape):
    return int(_np.prod(shape, dtype=int))


def _block_basis(leaves, offsets, sizes, total):
    """Tangents of all input leaves together spanning the identity of their total size."""
    basis = []
    for x, start, n in zip(leaves, offsets, sizes):
        b = _np.zeros((total, n), dtype_of(x))
        b[start:start + n] = _np.eye(n, dtype=dtype_of(x))
        basis.append(b.reshape((total,) + shape_of(x)))
    return basis


def _reshape(x, shape):
    from ..numpy import reshape
    return reshape(x, shape)


def _move_front_to_back(x, n_front):
    """Axes ``(a..., b...)`` with ``n_front`` leading ``a`` axes reordered to ``(b..., a...)``."""
    from ..numpy import transpose
    nd = len(shape_of(x))
    return transpose(x, tuple(range(n_front, nd)) + tuple(range(n_front)))


def _rev_jacobian(v, single):
    in_leaves = v.in_leaves
    per_out = []
    for k, o in enumerate(v.out_leaves):
        oshape, n_out = shape_of(o), _size(shape_of(o))

        def pull_row(ct, k=k):
            cts = [None] * len(v.out_leaves)
            cts[k] = ct
            return tree_flatten(v.pull(cts))[0]

        if n_out:   # the identity basis, as a diagonal batch of ones
            rows = vmap_flat(pull_row, [_np.ones(oshape, dtype_of(o))], [False], n_out, diagonal=[True])
        jacs = [_reshape(r, oshape + shape_of(x)) if n_out else _np.zeros(oshape + shape_of(x), dtype_of(x))
                for r, x in zip(rows if n_out else in_leaves, in_leaves)]
        per_out.append(select(v.in_tree.unflatten(jacs), single))
    v.records = None
    return v.out_tree.unflatten(per_out)


def _fwd_jacobian(sel, fun, single, has_aux):
    leaves = sel.leaves
    sizes = [_size(shape_of(x)) for x in leaves]
    total = sum(sizes)
    offsets = _np.cumsum([0] + sizes)
    results = {}

    def push(*tangents):
        values, touts, out_tree, aux = jvp_flat("jacfwd", lambda *xs: sel.call(fun, xs), leaves, tangents, has_aux)
        results.update(values=values, out_tree=out_tree, aux=aux)
        return touts

    if not total:                    # nothing to differentiate: run once for the output's structure
        cols = push(*[_np.zeros(shape_of(x), dtype_of(x)) for x in leaves])
    elif len(leaves) == 1:           # the identity basis, as a diagonal batch of ones
        cols = vmap_flat(push, [_np.ones(shape_of(leaves[0]), dtype_of(leaves[0]))], [False], total, diagonal=[True])
    else:                            # one block of the identity per input leaf
        cols = vmap_flat(push, _block_basis(leaves, offsets, sizes, total), [True] * len(leaves), total)
    per_out = []
    for k, o in enumerate(results["values"]):
        oshape = shape_of(o)
        jacs = []
        for x, start, n in zip(leaves, offsets, sizes):
            if not n:
                jacs.append(_np.zeros(oshape + shape_of(x), dtype_of(o)))
                continue
            block = _reshape(cols[k][start:start + n], shape_of(x) + oshape)
            jacs.append(_move_front_to_back(block, len(shape_of(x))))
        per_out.append(select(sel.tree.unflatten(jacs), single))
    jac = results["out_tree"].unflatten(per_out)
    return (jac, results["aux"]) if has_aux else jac


@nary("jacrev")
def _jacrev(fun, args, kwargs, argnums, single, has_aux=False):
    v = _VJP(fun, args, kwargs, argnums, has_aux, "jacrev")
    jac = _rev_jacobian(v, single)
    return (jac, v.aux) if has_aux else jac


@nary("jacfwd")
def _jacfwd(fun, args, kwargs, argnums, single, has_aux=False):
    return _fwd_jacobian(Selected("jacfwd", args, kwargs, argnums), fun, single, has_aux)


@nary("jacobian")
def _jacobian(fun, args, kwargs, argnums, single, has_aux=False, mode="auto"):
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"jacobian: mode must be 'auto', 'fwd' or 'rev', not {mode!r}")
    if mode == "fwd":
        return _fwd_jacobian(Selected("jacobian", args, kwargs, argnums), fun, single, has_aux)
    v = _VJP(fun, args, kwargs, argnums, has_aux, "jacobian")
    n_in = sum(_size(shape_of(x)) for x in v.in_leaves)
    n_out = sum(_size(shape_of(o)) for o in v.out_leaves)
    if mode == "auto" and n_in < n_out:
        v.records = None
        return _fwd_jacobian(v.sel, fun, single, has_aux)
    jac = _rev_jacobian(v, single)
    return (jac, v.aux) if has_aux else jac


def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian of ``fun`` by reverse mode: all rows in one batched backward pass.

    For an array input of shape ``S`` and output of shape ``T`` the result has shape
    ``T + S``; pytrees give the output's structure of the arguments' structures.
    """
    return _jacrev(fun, argnums, has_aux=has_aux)


def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian of ``fun`` by forward mode: all columns in one batched forward pass.
    Same layout as ``jacrev``; cheaper when the inputs are fewer than the outputs."""
    return _jacfwd(fun, argnums, has_aux=has_aux)


def jacobian(fun, argnums=0, has_aux=False, mode="auto"):
    """The Jacobian of ``fun``; ``mode='auto'`` uses forward mode when the inputs have
    fewer elements than the outputs and reverse mode otherwise ('fwd'/'rev' force one)."""
    return _jacobian(fun, argnums, has_aux=has_aux, mode=mode)


def hessian(fun, argnums=0, has_aux=False):
    """The Hessian of scalar ``fun``: forward mode over reverse mode (jacfwd of jacrev)."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def hvp(fun, primals, tangents):
    """The Hessian-vector product ``H v`` of scalar ``fun`` at ``primals`` along
    ``tangents`` (tuples, as in ``jvp``), without forming ``H``: forward mode over the
    gradient, at the cost of a few gradients. Returns one product per primal (just the
    one for a single primal)."""
    primals, tangents = tuple(primals), tuple(tangents)
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    return jvp(grad(fun, argnums), primals, tangents)[1]
