"""Products: matmul, dot, and the other contractions.

A contraction's cotangent with respect to one factor is the contraction of the
output cotangent with the other factor(s); broadcast batch dimensions are summed by
the backward pass.
"""
import numpy as _np

from ..core import Primitive, defvjp, def_linear
from ..core.vspace import shape_of
from .shape import reshape, transpose

matmul = Primitive(_np.matmul, "matmul")


def _mT(x):
    nd = len(shape_of(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matmul_vjp_a(g, ans, a, b):
    na, nb = len(shape_of(a)), len(shape_of(b))
    if nb == 1:
        if na == 1:
            return g * b
        return reshape(g, shape_of(g) + (1,)) * b          # (..., n, 1) * (k,)
    if na == 1:                                            # a (k,), b (..., k, m), g (..., m)
        return reshape(matmul(b, reshape(g, shape_of(g) + (1,))), shape_of(g)[:-1] + (shape_of(a)[0],))
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 1:
        if nb == 1:
            return g * a
        return reshape(a, (shape_of(a)[0], 1)) * reshape(g, shape_of(g)[:-1] + (1, shape_of(g)[-1]))
    if nb == 1:                                            # a (..., n, k), g (..., n)
        return reshape(matmul(_mT(a), reshape(g, shape_of(g) + (1,))), shape_of(g)[:-1] + (shape_of(b)[0],))
    return matmul(_mT(a), g)


defvjp(matmul, _matmul_vjp_a, _matmul_vjp_b)
