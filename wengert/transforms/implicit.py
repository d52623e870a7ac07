"""Fixed points differentiated by the implicit function theorem.

``fixed_point(f, x0, params)`` iterates ``x <- f(x, params)`` from ``x0`` until the
iterates stop changing, and returns the solution ``x*`` of ``x* = f(x*, params)``.
Differentiating the iteration itself would record every iteration on the tape (memory
growing with the number of iterations) and differentiate the stopping test's
accidents. Instead, with ``A = df/dx`` and ``B = df/dparams`` at the solution, the
implicit function theorem gives ``dx* = (I - A)^-1 B dparams``, and both products are
found by iterations of the same kind as the forward one, which converge whenever the
forward iteration does (the spectral radius of ``A`` is below 1):

- reverse mode: ``u = g + A^T u`` (the adjoint equation), then ``B^T u``. ``f`` is traced
  once at the solution (one ``vjp``) and that one tape serves every iteration;
- forward mode: ``t = A t + B dparams``, each iteration one replay of one recorded
  tape of ``f`` (``linearize``).

The forward iterations run on raw values and record nothing. Under an outer trace
(second derivatives, or a derivative of the rules themselves), the adjoint and tangent
equations are solved by ``fixed_point`` again, with ``(g, x*, params)`` as its
parameters, so derivatives of every order come from the implicit function theorem too.
``f`` must be written with ``wengert.numpy``.
"""
import functools
import warnings

import numpy as _np

from ..core.batching import BatchTrace
from ..core.pytree import tree_flatten, tree_map
from ..core.saved import ExplainWrites, read_only, writeable_again
from ..core.tracer import Box, Primitive, getval
from ..core.vspace import dtype_of, shape_of
from .checkpoint import _captured
from .custom import Packing, contains_box
from .forward import jvp, linearize
from .reverse import vjp

__all__ = ["fixed_point"]


def fixed_point(f, x0, params, tol=1e-10, max_iter=10_000):
    """The solution ``x`` of ``x = f(x, params)``, by iteration from ``x0``.

    ``x0`` and ``params`` may be pytrees (``f`` returns the structure of ``x0``). The
    iteration stops when no element changes by more than ``tol * max(1, max|x|)`` (``tol``
    is raised to 4 units of roundoff if smaller, e.g. to 4.8e-7 in float32); after
    ``max_iter`` iterations it warns and returns the last iterate. Derivatives with
    respect to ``params`` (any mode, any order) come from the implicit function theorem,
    at a memory cost independent of the number of iterations; ``x0`` is a constant (the
    solution does not depend on it). ``f`` gets ``params`` (and ``x0``) as read-only views,
    since every iteration runs from them: update copies, not the arrays themselves.
    """
    x0_leaves, xtree = tree_flatten(tree_map(getval, x0))
    p_leaves, ptree = tree_flatten(params)
    solver = _FixedPoint(f, x0_leaves, xtree, ptree, tol, max_iter)
    if not contains_box(p_leaves):
        return xtree.unflatten(solver.solve(p_leaves))
    prim = Primitive(solver.impl, solver.name)
    prim.vjp_joint, prim.jvp_joint = solver.vjp, solver.jvp
    prim.saveable = False
    # the arrays f closes over are read again by the rules: as (ignored) arguments, a tape
    # recording the call holds them read-only until then (core/saved.py)
    packed = prim(*p_leaves, *_captured(f)[1])    # runs the solve, which fixes the packing
    return xtree.unflatten(solver.packing.unpack(packed))


def _plain(values):
    """True if no differentiating trace reaches ``values`` (batch traces only vectorize)."""
    for v in values:
        while isinstance(v, Box):
            if not isinstance(v._trace, BatchTrace):
                return False
            v = v._value
    return True


def _max_abs(v):
    v = _np.asarray(getval(v))
    return float(_np.max(_np.abs(v))) if v.size else 0.0


def _zeros_like(x):
    """Zeros of the shape and dtype ``x`` shows (one element's, for a batched value)."""
    return _np.zeros(shape_of(x), dtype_of(x))


def iterate(step, x, tol, max_iter, name):
    """Iterate ``x <- step(x)`` on a list of leaves until the largest change is at most
    ``tol * max(1, largest |x|)``, ``tol`` raised to a few units of roundoff of the
    iterates' dtype if it is below (float32 cannot meet 1e-10). Leaves may be batched
    values (all elements must converge)."""
    floor = None
    for _ in range(max_iter):
        new = step(x)
        if floor is None:
            kinds = [dtype_of(getval(a)) for a in new]
            floor = max((4 * float(_np.finfo(d).eps) for d in kinds if d.kind in "fc"), default=0.0)
            tol = max(tol, floor)
        change = max((_max_abs(a - b) for a, b in zip(new, x)), default=0.0)
        size = max((_max_abs(a) for a in new), default=0.0)
        x = new
        if not _np.isfinite(change):
            warnings.warn(f"{name}: the iteration diverged (non-finite change); returning the last iterate.",
                          RuntimeWarning, stacklevel=3)
            return x
        if change <= tol * max(1.0, size):
            return x
    warnings.warn(f"{name}: no convergence after {max_iter} iterations (last change {change:.3g}, tolerance "
                  f"{tol:.3g}); returning the last iterate.", RuntimeWarning, stacklevel=3)
    return x


def _replace(leaves, argnums, values):
    leaves = list(leaves)
    for a, v in zip(argnums, values):
        leaves[a] = v
    return leaves


class _FixedPoint:
    """One call of ``fixed_point``: the forward solve (the primitive's impl) and its rules.
    Holds no traced values, so a tape that records the call has no cycle through it."""

    def __init__(self, f, x0_leaves, xtree, ptree, tol, max_iter):
        self.f, self.x0, self.xtree, self.ptree = f, x0_leaves, xtree, ptree
        self.n_params = ptree.num_leaves              # (the primitive's further arguments are f's arrays)
        self.tol, self.max_iter = tol, max_iter
        self.fun_name = getattr(f, "__name__", type(f).__name__)
        self.name = f"fixed_point({self.fun_name})"
        self.packing = None

    def _f_leaves(self, x_leaves, p_leaves):
        # f runs again and again on the same parameters (and on x0, then on x*, in the rules):
        # it gets them read-only (core/saved.py)
        xs, ps = read_only(x_leaves), read_only(p_leaves)
        with ExplainWrites("fixed_point", self.fun_name):
            out = self.f(self.xtree.unflatten(xs), self.ptree.unflatten(ps))
        leaves, tree = tree_flatten(out)
        leaves = writeable_again(leaves, xs + ps, list(x_leaves) + list(p_leaves))
        if tree != self.xtree:
            raise ValueError(f"{self.name}: f returned the structure {tree}, but x0 has the structure {self.xtree}; "
                             f"f(x, params) must return a value shaped like x.")
        return leaves

    def solve(self, p_leaves):
        return iterate(lambda x: self._f_leaves(x, p_leaves), self.x0, self.tol, self.max_iter, self.name)

    def impl(self, *p_leaves):
        leaves = self.solve(p_leaves[:self.n_params])
        if contains_box(leaves):
            raise TypeError(f"{self.name}: f returned a traced value that is not computed from x and params: it "
                            f"closes over a traced variable. Pass that value inside params instead.")
        if self.packing is None:
            self.packing = Packing(leaves, self.xtree, self.name)
        return self.packing.pack_raw(leaves)

    def F(self, xv, p_leaves):
        """``f`` on the packed solution vector (differentiable)."""
        return self.packing.pack(self._f_leaves(self.packing.unpack(xv), p_leaves))

    def _solve_again(self, step, x0, q):
        """Solve a linear fixed-point equation whose data ``q`` is traced by an outer
        derivative: by ``fixed_point`` itself, so the outer derivative is implicit too."""
        return fixed_point(step, x0, q, self.tol, self.max_iter)

    # -- reverse: u = g + A^T u, then B^T u ---------------------------------------------------
    def vjp(self, argnums, g, ans, *p_leaves):
        p_leaves = p_leaves[:self.n_params]
        diff = [p_leaves[a] for a in argnums]
        if _plain([g, ans, *p_leaves]):
            _, pull = vjp(lambda xv, *dp: self.F(xv, _replace(p_leaves, argnums, dp)), ans, *diff)
            (u,) = iterate(lambda u: [g + pull(u[0])[0]], [g], self.tol, self.max_iter, self.name + " adjoint")
            return list(pull(u)[1:])
        u = self._solve_again(self._adjoint_step, _zeros_like(g), (g, ans, list(p_leaves)))
        _, pull = vjp(lambda *dp: self.F(ans, _replace(p_leaves, argnums, dp)), *diff)
        return list(pull(u))

    def _adjoint_step(self, u, q):
        g, x, p_leaves = q
        _, pull = vjp(lambda xv: self.F(xv, p_leaves), x)
        return g + pull(u)[0]

    # -- forward: t = A t + B dparams ---------------------------------------------------------
    def jvp(self, argnums, tangents, ans, *p_leaves):
        p_leaves = p_leaves[:self.n_params]
        diff = [p_leaves[a] for a in argnums]
        if _plain([ans, *tangents, *p_leaves]):
            _, push = linearize(lambda xv, *dp: self.F(xv, _replace(p_leaves, argnums, dp)), ans, *diff)
            (t,) = iterate(lambda t: [push(t[0], *tangents)], [_zeros_like(ans)], self.tol, self.max_iter,
                           self.name + " tangent")
            return t
        step = functools.partial(self._tangent_step, tuple(argnums))
        return self._solve_again(step, _zeros_like(ans), (list(tangents), ans, list(p_leaves)))

    def _tangent_step(self, argnums, t, q):
        dps, x, p_leaves = q
        diff = [p_leaves[a] for a in argnums]
        return jvp(lambda xv, *dp: self.F(xv, _replace(p_leaves, argnums, dp)), (x, *diff), (t, *dps))[1]
