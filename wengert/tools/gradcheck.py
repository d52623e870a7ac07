"""``check_grads``: compare derivatives with central finite differences.

For a random tangent ``t`` and a random cotangent ``v``, forward mode must give
``<v, J t>`` and reverse mode ``<J^T v, t>`` equal to ``<v, J t>`` with ``J t``
estimated by central differences in float64. At order k > 1 the same checks are
applied to the functions ``(x, t) -> J(x) t`` and ``(x, v) -> J(x)^T v`` themselves,
so second derivatives are checked in every combination of modes (forward over
forward, reverse over forward, forward over reverse, reverse over reverse).
"""
import numpy as _np

from ..core.pytree import tree_flatten
from ..core.tracer import getval
from ..transforms.forward import jvp
from ..transforms.reverse import vjp

MODES = ("fwd", "rev")


def _leaves(tree):
    return [_np.asarray(getval(l)) for l in tree_flatten(tree)[0]]


def _random_like(tree, rng):
    leaves, treedef = tree_flatten(tree)
    out = []
    for leaf in leaves:
        x = _np.asarray(getval(leaf))
        r = rng.standard_normal(x.shape)
        if x.dtype.kind == "c":
            r = r + 1j * rng.standard_normal(x.shape)
        out.append(r.astype(x.dtype) if x.shape else x.dtype.type(r))
    return treedef.unflatten(out)


def _axpy(a, x, y):
    """y + a * x over pytrees of arrays."""
    lx, treedef = tree_flatten(x)
    ly = tree_flatten(y)[0]
    return treedef.unflatten([yi + a * xi for xi, yi in zip(lx, ly)])


def _inner(x, y):
    return sum(float(_np.real(_np.vdot(a, b))) for a, b in zip(_leaves(x), _leaves(y)))


def _conj(tree):
    leaves, treedef = tree_flatten(tree)
    return treedef.unflatten([_np.conj(l) if _np.iscomplexobj(l) else l for l in leaves])


def numerical_jvp(f, args, tangents, eps=1e-6):
    """Central-difference estimate of the JVP of ``f`` at ``args`` along ``tangents``."""
    plus = f(*_axpy(eps, tangents, args))
    minus = f(*_axpy(-eps, tangents, args))
    lp, treedef = tree_flatten(plus)
    lm = tree_flatten(minus)[0]
    return treedef.unflatten([(_np.asarray(getval(p)) - _np.asarray(getval(m))) / (2 * eps)
                              for p, m in zip(lp, lm)])


def check_grads(f, args, modes=("fwd", "rev"), order=2, eps=1e-6, rtol=1e-5, atol=1e-6, rng=None):
    """Check the derivatives of ``f(*args)`` up to ``order`` in the given ``modes``.

    Raises ``AssertionError`` naming the mode and order on a mismatch. ``args`` is a
    tuple of float64 arrays or pytrees of them (all differentiated).
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"check_grads: unknown mode(s) {unknown}; available: {MODES}")
    rng = _np.random.default_rng(0) if rng is None else rng
    args = tuple(args)
    for leaf in _leaves(args):
        if leaf.dtype.kind not in "fc":
            raise TypeError(f"check_grads: arguments must be float arrays, got dtype {leaf.dtype}")
    _check(f, args, modes, order, eps, rtol, atol, rng, 1)


def _check(f, args, modes, order, eps, rtol, atol, rng, level):
    tangents = _random_like(args, rng)
    out = f(*args)
    v = _random_like(out, rng)
    numeric = _inner(v, numerical_jvp(f, args, tangents, eps))
    if "fwd" in modes:
        exact = _inner(v, jvp(f, args, tangents)[1])
        _compare(numeric, exact, "forward", level, rtol, atol)
        if order > 1:
            def jvp_of_f(*args_and_t):
                n = len(args_and_t) // 2
                return jvp(f, args_and_t[:n], args_and_t[n:])[1]
            _check(jvp_of_f, args + tangents, modes, order - 1, eps, rtol, atol, rng, level + 1)
    if "rev" in modes:
        # Cotangents of complex values follow HIPS autograd's convention (the gradient
        # of a real function is df/dx - i df/dy), so the pairing conjugates both ways.
        _, pullback = vjp(f, *args)
        exact = _inner(tangents, _conj(pullback(_conj(v))))
        _compare(numeric, exact, "reverse", level, rtol, atol)
        if order > 1:
            def vjp_of_f(*args_and_v):
                *xs, ct = args_and_v
                return vjp(f, *xs)[1](ct)
            _check(vjp_of_f, args + (v,), modes, order - 1, eps, rtol, atol, rng, level + 1)


def _compare(numeric, exact, mode, level, rtol, atol):
    if not abs(numeric - exact) <= atol + rtol * max(abs(numeric), abs(exact)):
        raise AssertionError(
            f"{mode}-mode derivative of order {level} disagrees with finite differences: "
            f"<v, J t> = {numeric!r} numerically but {exact!r} from the rule "
            f"(difference {abs(numeric - exact):.3g}).")
