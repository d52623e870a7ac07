"""Products: matmul, dot, and the other contractions.

A contraction's cotangent with respect to one factor is the contraction of the
output cotangent with the other factor(s); broadcast batch dimensions are summed by
the backward pass. Every VJP here is a single contraction (plus free reshapes and
transposes), and every primitive is multilinear, so its JVP is the primitive with
one argument replaced by the tangent.

Three primitives carry the rules: ``matmul`` (the ufunc), ``dot`` and ``tensordot``
(a copy-free tensordot: it reshapes into a matrix product that BLAS runs on
transposed views when the contracted axes are leading or trailing). ``einsum``
normalizes its subscripts to an explicit string without ellipsis and passes each
operand positionally to one primitive. ``vdot``, ``inner``, ``outer``, ``kron`` and
``cross`` are compositions of these and of elementwise/shape functions.
"""
import warnings

import numpy as _np

from ..core import Primitive, defjvp, defvjp
from ..core.tracer import Box, getval
from ..core.vspace import LowRank, broadcast_to, dtype_of, shape_of
from ._helpers import _ndim
from ._wrap import contains_box, nondiff
from .elementwise import conj, multiply
from .shape import reshape, transpose, transpose_p

_ndarray = _np.ndarray

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "einsum_path",
           "kron", "cross"]


def _no_out(out, name):
    from ..errors import InPlaceUpdateError
    raise InPlaceUpdateError(f"{name}(..., out=...)")


def _is_traced(*args):
    return any(isinstance(a, Box) for a in args)


# -- tensordot ------------------------------------------------------------------------

def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _tensordot(a, b, axes):
    """``numpy.tensordot(a, b, axes)`` for normalized ``axes`` (two tuples of
    non-negative ints). Contracted axes that are a leading or trailing block of an
    operand are flattened by a free reshape and handed to BLAS as a transposed view,
    where ``numpy.tensordot`` would copy."""
    a, b = _np.asarray(a), _np.asarray(b)
    ax_a, ax_b = axes
    na, nb, nc = a.ndim, b.ndim, len(ax_a)
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    if any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError("shape-mismatch for sum")
    k = _prod(a.shape[i] for i in ax_a)
    m = _prod(a.shape[i] for i in free_a)
    n = _prod(b.shape[i] for i in free_b)
    if ax_a == tuple(range(na - nc, na)):
        A = a.reshape(m, k)
    elif ax_a == tuple(range(nc)):
        A = a.reshape(k, m).T
    else:
        A = a.transpose(free_a + list(ax_a)).reshape(m, k)
    if ax_b == tuple(range(nc)):
        B = b.reshape(k, n)
    elif ax_b == tuple(range(nb - nc, nb)):
        B = b.reshape(n, k).T
    else:
        B = b.transpose(list(ax_b) + free_b).reshape(k, n)
    return _np.dot(A, B).reshape(out_shape)


tensordot_p = Primitive(_tensordot, "tensordot")


def _untranspose(x, order):
    """``x`` whose axes are the primal's axes in ``order``, back in the primal's order."""
    order = list(order)
    if order == sorted(order):
        return x
    return transpose(x, tuple(int(i) for i in _np.argsort(order)))


def _tensordot_vjp_a(g, ans, a, b, axes):
    ax_a, ax_b = axes
    na, nb = _ndim(a), _ndim(b)
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    nfa = len(free_a)
    # g's last axes are b's free axes: contracting them leaves a's free axes, then b's
    # contracted axes in b's order, each standing for the axis of a it was paired with.
    r = tensordot_p(g, b, (tuple(range(nfa, nfa + len(free_b))), tuple(free_b)))
    return _untranspose(r, free_a + [ax_a[ax_b.index(j)] for j in sorted(ax_b)])


def _tensordot_vjp_b(g, ans, a, b, axes):
    ax_a, ax_b = axes
    na, nb = _ndim(a), _ndim(b)
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    r = tensordot_p(a, g, (tuple(free_a), tuple(range(len(free_a)))))
    return _untranspose(r, [ax_b[ax_a.index(i)] for i in sorted(ax_a)] + free_b)


defvjp(tensordot_p, _tensordot_vjp_a, _tensordot_vjp_b)
defjvp(tensordot_p, lambda t, ans, a, b, axes: tensordot_p(t, b, axes),
       lambda t, ans, a, b, axes: tensordot_p(a, t, axes))


def _normalize_tensordot_axes(axes, na, nb):
    """``axes`` of ``numpy.tensordot`` as two equally long tuples of non-negative ints."""
    try:
        ax_a, ax_b = axes
    except (TypeError, ValueError):
        n = int(axes)
        if n < 0 or n > na or n > nb:
            raise ValueError("shape-mismatch for sum") from None
        return tuple(range(na - n, na)), tuple(range(n))
    ax_a, ax_b = _axis_tuple(ax_a, na), _axis_tuple(ax_b, nb)
    if len(ax_a) != len(ax_b):
        raise ValueError("shape-mismatch for sum")
    return ax_a, ax_b


def _axis_tuple(ax, nd):
    ax = (ax,) if isinstance(ax, (int, _np.integer)) else tuple(ax)
    for i in ax:
        if not -nd <= int(i) < nd:
            raise _np.exceptions.AxisError(int(i), nd)
    return tuple(int(i) % nd for i in ax)


def tensordot(a, b, axes=2):
    """``numpy.tensordot``; ``axes`` is an int or a pair of axis sequences."""
    if not _is_traced(a, b):
        return _np.tensordot(a, b, axes)
    return tensordot_p(a, b, _normalize_tensordot_axes(axes, _ndim(a), _ndim(b)))


# -- matmul ---------------------------------------------------------------------------

matmul = Primitive(_np.matmul, "matmul")


def _mT(x):
    # the primitive, not the user-facing ``transpose``: a rule's temporary needs no view link
    nd = _ndim(x)
    return transpose_p(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


# Below this many elements, the cotangent of W in W @ x is formed at once: collecting rank-1
# factors (vspace.LowRank) pays off when adding a full matrix per step is what costs.
_LOW_RANK_MIN = 4096


def _matmul_vjp_a(g, ans, a, b):
    if g.__class__ is _ndarray and b.__class__ is _ndarray and g.ndim == 2 and b.ndim == 2:
        return _np.matmul(g, b.T)          # plain matrices (no outer trace): the common case
    na, nb = _ndim(a), _ndim(b)
    if nb == 1:
        if na == 1:
            return g * b
        if na == 2 and g.__class__ is _np.ndarray and b.__class__ is _np.ndarray:
            if g.size * b.size < _LOW_RANK_MIN:
                return _np.multiply.outer(g, b)             # small: a dense term is cheaper to add
            return LowRank(shape_of(a), dtype_of(a), g, b)  # outer(g, b), formed when needed
        return reshape(g, shape_of(g) + (1,)) * b          # (..., n, 1) * (k,)
    if na == 1 or (na == 2 and nb > 2):
        # a has no batch dimensions: contract g with b over the batch axes and m at once
        # (a (k,): g (..., m); a (n, k): g (..., n, m)); b's free axis is k.
        batch = tuple(range(nb - 2))
        return tensordot_p(g, b, (batch + (_ndim(g) - 1,), batch + (nb - 1,)))
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    if g.__class__ is _ndarray and a.__class__ is _ndarray and a.ndim == 2 and g.ndim <= 2:
        return _np.matmul(a.T, g) if g.ndim == 2 else _np.dot(g, a)    # W @ x: x's cotangent is g @ W
    na, nb = _ndim(a), _ndim(b)
    if na == 1:
        if nb == 1:
            return g * a
        return reshape(a, (shape_of(a)[0], 1)) * reshape(g, shape_of(g)[:-1] + (1, shape_of(g)[-1]))
    if nb == 1 or (nb == 2 and na > 2):
        # b has no batch dimensions: one matrix product over all of a's leading axes
        # (a (..., n, k) with g (..., n) or (..., n, m)).
        lead = tuple(range(na - 1))
        return tensordot_p(a, g, (lead, lead))
    return matmul(_mT(a), g)


defvjp(matmul, _matmul_vjp_a, _matmul_vjp_b)
defjvp(matmul, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))


# -- dot ------------------------------------------------------------------------------

def _dot(a, b):
    """``numpy.dot``; with more than two dimensions, as the equivalent ``_tensordot``
    (NumPy's N-d dot does not use BLAS and is many times slower)."""
    na, nb = _np.ndim(a), _np.ndim(b)
    if na <= 2 and nb <= 2:
        return _np.dot(a, b)
    a, b = _np.asarray(a), _np.asarray(b)
    j = max(nb - 2, 0)
    if a.shape[-1] != b.shape[j]:
        raise ValueError(f"shapes {a.shape} and {b.shape} not aligned: "
                         f"{a.shape[-1]} (dim {na - 1}) != {b.shape[j]} (dim {j})")
    return _tensordot(a, b, ((na - 1,), (j,)))


dot_p = Primitive(_dot, "dot")


def _dot_vjp_a(g, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if nb == 1:
        if na == 1:
            return g * b
        return reshape(g, shape_of(g) + (1,)) * b          # a (..., n), g (...)
    # g (a_lead..., b_pre..., p), b (b_pre..., n, p): contract b_pre and p.
    ng = _ndim(g)
    return tensordot_p(g, b, (tuple(range(ng - nb + 1, ng)), tuple(range(nb - 2)) + (nb - 1,)))


def _dot_vjp_b(g, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return g * a
    lead = tuple(range(na - 1))
    r = tensordot_p(a, g, (lead, lead))                     # (n, b_pre..., p) or (n,)
    if nb <= 2:
        return r
    return transpose(r, tuple(range(1, nb - 1)) + (0, nb - 1))


defvjp(dot_p, _dot_vjp_a, _dot_vjp_b)
defjvp(dot_p, lambda t, ans, a, b: dot_p(t, b), lambda t, ans, a, b: dot_p(a, t))


def dot(a, b, out=None):
    """``numpy.dot``: a product with a scalar, an inner product of vectors, a matrix
    product, or a sum over the last axis of ``a`` and the second-to-last of ``b``."""
    if not _is_traced(a, b):
        return _np.dot(a, b) if out is None else _np.dot(a, b, out)
    if out is not None:
        _no_out(out, "dot")
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    return dot_p(a, b)


def vdot(a, b, /):
    """``numpy.vdot``: the dot product of the flattened arrays, conjugating ``a``."""
    if not _is_traced(a, b):
        return _np.vdot(a, b)
    if _np.iscomplexobj(getval(a)):
        a = conj(a)
    return dot_p(reshape(a, (-1,)), reshape(b, (-1,)))


def inner(a, b, /):
    """``numpy.inner``: a sum over the last axes of ``a`` and ``b``."""
    if not _is_traced(a, b):
        return _np.inner(a, b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return multiply(a, b)
    if shape_of(a)[-1] != shape_of(b)[-1]:
        raise ValueError(f"shapes {shape_of(a)} and {shape_of(b)} not aligned: "
                         f"{shape_of(a)[-1]} (dim {na - 1}) != {shape_of(b)[-1]} (dim {nb - 1})")
    if na == 1 and nb == 1:
        return dot_p(a, b)
    return tensordot_p(a, b, ((na - 1,), (nb - 1,)))


def outer(a, b, out=None):
    """``numpy.outer``: the flattened ``a`` times the flattened ``b``, as a matrix."""
    if not _is_traced(a, b):
        return _np.outer(a, b, out)
    if out is not None:
        _no_out(out, "outer")
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def kron(a, b):
    """``numpy.kron``: block (i, j, ...) of the result is ``a[i, j, ...] * b``."""
    if not _is_traced(a, b):
        return _np.kron(a, b)
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + tuple(sa)
    sb = (1,) * (nd - len(sb)) + tuple(sb)
    # a as (a0, 1, a1, 1, ...), b as (1, b0, 1, b1, ...): the product interleaves them.
    prod = multiply(reshape(a, tuple(x for s in sa for x in (s, 1))),
                    reshape(b, tuple(x for s in sb for x in (1, s))))
    return reshape(prod, tuple(p * q for p, q in zip(sa, sb)))


# -- cross ----------------------------------------------------------------------------

_LEVI_CIVITA = _np.zeros((3, 3, 3))
_LEVI_CIVITA[0, 1, 2] = _LEVI_CIVITA[1, 2, 0] = _LEVI_CIVITA[2, 0, 1] = 1.0
_LEVI_CIVITA[0, 2, 1] = _LEVI_CIVITA[2, 1, 0] = _LEVI_CIVITA[1, 0, 2] = -1.0


def _moveaxis(x, source, destination):
    nd = _ndim(x)
    source, destination = source % nd, destination % nd
    if source == destination:
        return x
    order = [i for i in range(nd) if i != source]
    order.insert(destination, source)
    return transpose(x, tuple(order))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (or 2-vectors, whose missing z is 0), as a contraction
    with the Levi-Civita tensor: ``c_k = eps_ijk a_i b_j``."""
    if not _is_traced(a, b):
        return _np.cross(a, b, axisa, axisb, axisc, axis)
    if axis is not None:
        axisa = axisb = axisc = axis
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        raise ValueError("At least one array has zero dimension")
    if not -na <= axisa < na:
        raise _np.exceptions.AxisError(axisa, na, "axisa")
    if not -nb <= axisb < nb:
        raise _np.exceptions.AxisError(axisb, nb, "axisb")
    a = _moveaxis(a, axisa, -1)
    b = _moveaxis(b, axisb, -1)
    da, db = shape_of(a)[-1], shape_of(b)[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    if (da == 2 or db == 2) and int(_np.__version__.split(".")[0]) >= 2:
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of "
                      "3-dimensional vectors instead. (deprecated in NumPy 2.0)",
                      DeprecationWarning, stacklevel=2)
    eps = _LEVI_CIVITA.astype(_np.result_type(dtype_of(a), dtype_of(b)), copy=False)
    if da == 2 and db == 2:
        return einsum("...i,...j,ij->...", a, b, eps[:2, :2, 2])
    c = einsum("...i,...j,ijk->...k", a, b, eps[:da, :db, :])
    nc = _ndim(c)
    if not -nc <= axisc < nc:
        raise _np.exceptions.AxisError(axisc, nc, "axisc")
    return _moveaxis(c, -1, axisc)


# -- einsum ---------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sublist_to_str(sub):
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
        else:
            s = int(s)
            if not 0 <= s < len(_LETTERS):
                raise ValueError("subscript is not within the valid range [0, 52)")
            out.append(_LETTERS[s])
    return "".join(out)


def _split_operands(operands):
    """(subscripts string, operands) from either calling convention of ``numpy.einsum``."""
    if not operands:
        raise ValueError("No input operands")
    if isinstance(operands[0], str):
        return operands[0].replace(" ", ""), list(operands[1:])
    ops = list(operands[0::2])
    subs = [_sublist_to_str(s) for s in operands[1::2]]
    if len(operands) % 2:                      # an output sublist closes the list
        out = _sublist_to_str(ops.pop())
        return ",".join(subs) + "->" + out, ops
    return ",".join(subs), ops


def _explicit_subscripts(subscripts, shapes):
    """``subscripts`` with every ellipsis replaced by letters and the output spelled
    out (implicit mode: ellipsis dimensions, then the labels that occur once, sorted)."""
    if "->" in subscripts:
        ins, out = subscripts.split("->")
        explicit = True
    else:
        ins, out, explicit = subscripts, "", False
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} operand subscripts but {len(shapes)} operands")
    used = set(subscripts) - set(".,->")
    for c in used:
        if c not in _LETTERS:
            raise ValueError(f"invalid subscript '{c}' in einstein sum subscripts string, "
                             f"subscripts must be letters")
    free = [c for c in _LETTERS if c not in used]
    nell = []
    for sub, shape in zip(ins, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            if k < 0 or sub.count("...") > 1 or "." in sub.replace("...", "", 1):
                raise ValueError(f"einsum: invalid ellipsis in operand subscripts '{sub}' for shape {shape}")
            nell.append(k)
        elif "." in sub:
            raise ValueError(f"einsum: invalid subscripts '{sub}'")
        else:
            nell.append(0)
    width = max(nell, default=0)
    if width > len(free):
        raise ValueError("einsum: too many dimensions for the available subscript letters")
    ell, free = "".join(free[:width]), free[width:]
    ins = [sub.replace("...", ell[width - k:]) for sub, k in zip(ins, nell)]
    if explicit:
        out = out.replace("...", ell)
    else:
        joined = "".join(ins)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return ins, out, "".join(free)


def _einsum(subscripts, *operands, optimize=False):
    return _np.einsum(subscripts, *operands, optimize=optimize)


einsum_p = Primitive(_einsum, "einsum")


def _einsum_vjp(k):
    """The rule for operand ``k`` (argument ``k + 1``): contract the cotangent with the
    other operands into operand k's subscripts. A label repeated in operand k (a
    diagonal) keeps one copy and is spread back with an identity matrix per extra
    copy; a label that occurs in no other term (summed over) is broadcast afterwards."""
    def vjp(g, ans, subscripts, *operands, optimize=False):
        ins, out = subscripts.split("->")
        ins = ins.split(",")
        mine = ins[k]
        shape = shape_of(operands[k])
        fresh = iter(c for c in _LETTERS if c not in subscripts)
        terms = [out] + ins[:k] + ins[k + 1:]
        args = [g] + list(operands[:k]) + list(operands[k + 1:])
        target = []
        for pos, c in enumerate(mine):
            if c in mine[:pos]:
                f = next(fresh)
                terms.append(c + f)
                args.append(_np.eye(shape[pos], dtype=dtype_of(g)))
                c = f
            target.append(c)
        have = set("".join(terms))
        kept = "".join(c for c in target if c in have)
        if isinstance(optimize, (list, tuple)):    # an explicit path fits the primal only
            optimize = "greedy"
        r = einsum_p(",".join(terms) + "->" + kept, *args, optimize=optimize)
        if len(kept) == len(target):
            return r
        rshape = iter(shape_of(r))
        full = [next(rshape) if c in have else n for c, n in zip(target, shape)]
        r = reshape(r, tuple(n if c in have else 1 for c, n in zip(target, full)))
        return broadcast_to(r, tuple(full))
    return vjp


def _einsum_jvp(k):
    def jvp(t, ans, subscripts, *operands, optimize=False):
        operands = list(operands)
        operands[k] = t
        return einsum_p(subscripts, *operands, optimize=optimize)
    return jvp


_MAXARGS = 64
defvjp(einsum_p, *[_einsum_vjp(k) for k in range(_MAXARGS)], argnums=range(1, _MAXARGS + 1))
defjvp(einsum_p, *[_einsum_jvp(k) for k in range(_MAXARGS)], argnums=range(1, _MAXARGS + 1))


def einsum(*operands, out=None, optimize=False, **kwargs):
    """``numpy.einsum``, differentiable in every operand: any subscripts (repeated
    labels, ellipsis, implicit output, the sublist form); ``optimize`` is passed to
    NumPy for the primal and for every derivative."""
    if not contains_box(operands):
        return _np.einsum(*operands, out=out, optimize=optimize, **kwargs)
    if out is not None:
        _no_out(out, "einsum")
    unknown = set(kwargs) - {"dtype", "order", "casting"}
    if unknown:
        raise TypeError(f"einsum() got unexpected keyword argument(s) {sorted(unknown)}")
    subscripts, ops = _split_operands(operands)
    dtype = kwargs.get("dtype")
    if dtype is not None:
        from .shape import astype
        casting = kwargs.get("casting", "safe")
        for x in ops:
            if not _np.can_cast(dtype_of(x), dtype, casting):
                raise TypeError(f"einsum: cannot cast {dtype_of(x)} to {_np.dtype(dtype)} "
                                f"under the rule '{casting}'")
        ops = [astype(x, dtype, copy=False) for x in ops]
    ins, out_subs, _ = _explicit_subscripts(subscripts, [shape_of(x) for x in ops])
    return einsum_p(",".join(ins) + "->" + out_subs, *ops, optimize=optimize)


einsum_path = nondiff(_np.einsum_path)


# -- batching rules ---------------------------------------------------------------------

def _matmul_batch(size, batched, a, b):
    """``a @ b`` with the batch axis in front, as one matrix product where possible."""
    ba, bb = batched[0], batched[1]
    sa = shape_of(a)[1:] if ba else shape_of(a)
    sb = shape_of(b)[1:] if bb else shape_of(b)
    na, nb = len(sa), len(sb)
    if ba and not bb and nb == 2 and na <= 2:                 # (B*n, k) @ (k, m)
        return reshape(matmul(reshape(a, (-1, sa[-1])), b), (size,) + sa[:-1] + sb[-1:])
    if bb and not ba and na == 2 and nb == 1:                 # (B, k) @ (k, n)
        return matmul(b, transpose(a, (1, 0)))
    if bb and not ba and na == 2 and nb == 2:                 # (n, k) @ (k, B*m)
        k, m = sb
        flat = reshape(transpose(b, (1, 0, 2)), (k, size * m))
        return transpose(reshape(matmul(a, flat), (sa[0], size, m)), (1, 0, 2))
    # General case: 1-d operands as matrices, the two operands' own batch axes aligned.
    out_own = _np.broadcast_shapes(sa[:-2], sb[:-2]) + sa[-2:-1] * (na > 1) + sb[-1:] * (nb > 1)
    if na == 1:
        a, sa = reshape(a, ((size,) if ba else ()) + (1, sa[0])), (1, sa[0])
    if nb == 1:
        b, sb = reshape(b, ((size,) if bb else ()) + (sb[0], 1)), (sb[0], 1)
    r = max(len(sa), len(sb))
    if ba:
        a = reshape(a, (size,) + (1,) * (r - len(sa)) + sa)
    if bb:
        b = reshape(b, (size,) + (1,) * (r - len(sb)) + sb)
    return reshape(matmul(a, b), (size,) + out_own)


def _batch_front(x, axis):
    """``x`` with its axis ``axis`` (where a contraction left the batch axis) moved to the front."""
    if axis == 0:
        return x
    nd = len(shape_of(x))
    return transpose(x, (axis,) + tuple(i for i in range(nd) if i != axis))


def _tensordot_batch(size, batched, a, b, axes):
    ax_a, ax_b = axes
    ba, bb = batched[0], batched[1]
    if ba and bb:
        # One contraction with the batch axis shared by both operands and the result:
        # an einsum (tensordot has no batch axes).
        na, nb = len(shape_of(a)) - 1, len(shape_of(b)) - 1
        z, letters = _LETTERS[0], _LETTERS[1:]
        sa = letters[:na]
        sb = [letters[na + j] for j in range(nb)]
        for i, j in zip(ax_a, ax_b):
            sb[j] = sa[i]
        out = "".join(c for i, c in enumerate(sa) if i not in ax_a) + \
            "".join(c for j, c in enumerate(sb) if j not in ax_b)
        return einsum_p(f"{z}{sa},{z}{''.join(sb)}->{z}{out}", a, b, optimize=False)
    if ba:                                                    # free axes of a come first
        return tensordot_p(a, b, (tuple(i + 1 for i in ax_a), tuple(ax_b)))
    out = tensordot_p(a, b, (tuple(ax_a), tuple(i + 1 for i in ax_b)))
    return _batch_front(out, len(shape_of(a)) - len(ax_a))


def _dot_batch(size, batched, a, b):
    """``dot`` of each element: a contraction of a's last axis with b's second-to-last
    (its only axis if b is a vector); the result's axes are a's, then b's free axes."""
    ba, bb = batched[0], batched[1]
    na, nb = len(shape_of(a)) - ba, len(shape_of(b)) - bb
    if na == 0 or nb == 0:                                    # a product with a scalar
        from .batching import elementwise_rule
        return elementwise_rule(multiply)(size, batched, a, b)
    return _tensordot_batch(size, batched, a, b, ((na - 1,), (max(nb - 2, 0),)))


def _einsum_batch(size, batched, subscripts, *operands, optimize=False):
    """The batch axis as one more label, on the batched operands and in front of the output."""
    ins, out = subscripts.split("->")
    z = next(c for c in _LETTERS if c not in subscripts)
    ins = [z + sub if b else sub for sub, b in zip(ins.split(","), batched[1:])]
    return einsum_p(",".join(ins) + "->" + z + out, *operands, optimize=optimize)


matmul.batch = _matmul_batch
tensordot_p.batch = _tensordot_batch
dot_p.batch = _dot_batch
einsum_p.batch = _einsum_batch
