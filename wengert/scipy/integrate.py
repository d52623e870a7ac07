"""``wengert.scipy.integrate``: SciPy's integrate namespace, wrapped (see wengert/numpy/_wrap.py).

Differentiable: ``odeint``.

``odeint(func, y0, t, *args, rtol=None, atol=None, mxstep=0, h0=0.0, hmax=0.0, hmin=0.0,
tfirst=False)`` solves ``dy/dt = func(y, t, *args)`` with SciPy's ``odeint`` (LSODA) and
returns ``y`` at the times ``t`` (shape ``(len(t), y0.size)``, as SciPy does). SciPy's
``args=(...)`` keyword is accepted in place of the extra positional arguments. It is
differentiable with respect to ``y0``, ``t`` and every float leaf of ``args``, which may
be pytrees (a dict of parameter arrays, say). Write ``func`` with ``wengert.numpy``;
the values it differentiates must come in through ``args``, not through a closure.

Reverse mode: the adjoint method. The augmented system ``[y, a, t_bar, args_bar]``
(``da/dt = -a^T df/dy``, ``d args_bar/dt = -a^T df/dargs``, ``d t_bar/dt = -a^T df/dt``)
is integrated backwards from each observation time to the one before, starting from the
stored forward solution there, and ``a`` jumps by the output cotangent at each time.
The vector-Jacobian products inside come from wengert's reverse mode applied to ``func``
at each right-hand-side evaluation; the solver's steps are never recorded on a tape.

Forward mode: the forward sensitivity equations (an explicit rule, no transposition).
The system ``[y, s]`` with ``ds/dt = df/dy s + df/dargs args_dot`` is integrated
forwards from ``s(t0) = y0_dot - f(y0, t0) t0_dot``; a tangent of the later times adds
``f(y(t_i), t_i) t_i_dot``.

Both rules solve their augmented systems with this same ``odeint``, so they are
differentiable themselves: higher derivatives (``jvp`` of ``grad``, ``grad`` of ``grad``,
``hessian``) work, at the cost of nested solves.

Limitations: the derivative is that of the exact solution of the ODE, not of the
solver's discrete output, so it agrees with finite differences of ``odeint`` only to
about the solver's tolerance; tighten ``rtol``/``atol`` for accurate gradients. The
adjoint re-integrates ``y`` backwards between observations, which is inaccurate for
strongly dissipative (stiff) systems over long intervals: add observation times (with
zero weight in the loss) to restart it more often. Real (float) states only. SciPy's
``Dfun``, ``full_output``, ``tcrit`` and the other LSODA-specific options are refused
(a ``TypeError``). Each right-hand-side evaluation of an augmented system traces
``func`` once, so a gradient costs tens of times a plain solve, and Jacobians or
Hessians (which batch over basis vectors) run one solve per basis vector.
"""
import numpy as _np
import scipy.integrate as _src

from .. import numpy as _wnp
from ..core.forward import trace_forward
from ..core.pytree import tree_flatten
from ..core.reverse import backward, trace_reverse
from ..core.rules import defjvp_argnums, defvjp_argnums
from ..core.tracer import Box, Primitive, getval
from ..core.vspace import densify, fit, zeros_like_value
from ..errors import WengertError
from ..numpy._box import handled as _handled
from ..numpy._wrap import contains_box, wrap_namespace


class ClosedOverTracerError(WengertError, TypeError):
    """``odeint``'s right-hand side returned a traced value computed from a closure."""

    def __init__(self):
        super().__init__(
            "odeint: func returned a traced value although none was passed to it: it uses a "
            "differentiated value captured from an enclosing scope (a closure or a global). odeint can "
            "only differentiate with respect to y0, t and the extra arguments, so pass that value "
            "through args: odeint(func, y0, t, params) with func(y, t, params).")


_UNSUPPORTED = ("Dfun", "col_deriv", "full_output", "ml", "mu", "tcrit", "ixpr", "mxhnil", "mxordn", "mxords",
                "printmessg")


# -- helpers: the right-hand side, and VJPs/JVPs of it with the core machinery -------------

def _rhs(func, treedef, n):
    """``rhs(y, t, leaves)``: ``func`` applied to the pytree rebuilt from ``leaves``,
    returned as a vector of ``n`` elements (lists of traced scalars are stacked)."""
    def rhs(y, tt, leaves):
        args = leaves if treedef is None else treedef.unflatten(leaves)
        out = func(y, tt, *args)
        if not (isinstance(out, (Box, _np.ndarray)) and _np.ndim(getval(out)) == 1):
            out = _wnp.ravel(_wnp.asarray(out))
        if _np.shape(getval(out)) != (n,):
            raise ValueError(f"odeint: func returned {_np.size(getval(out))} values for a state of {n}")
        return out
    return rhs


def _vjp_call(fun, primals, cotangent):
    """``(fun(*primals), J^T cotangent)`` with one cotangent per primal (zeros if none)."""
    primals = list(primals)
    n = len(primals)
    out, trace, records = trace_reverse(fun, primals, range(n))
    if isinstance(out, Box) and out._trace is trace:
        value = out._value
        cts = backward(records, [(out._node, fit(cotangent, value))], list(range(n)), True)
    else:
        value, cts = out, [None] * n
    return value, [zeros_like_value(getval(p)) if c is None else densify(c) for c, p in zip(cts, primals)]


def _jvp_call(fun, primals, tangents):
    """``(fun(*primals), J tangents)``."""
    out, trace = trace_forward(fun, list(primals), list(tangents))
    if isinstance(out, Box) and out._trace is trace:
        return out._value, out._node
    return out, zeros_like_value(getval(out))


def _replaced(leaves, nums, values):
    full = list(leaves)
    for k, v in zip(nums, values):
        full[k] = v
    return full


def _aug_tol(tol, n, total):
    """A tolerance for an augmented state of ``total`` elements whose first ``n`` are ``y``."""
    if tol is None or _np.ndim(tol) == 0:
        return tol
    tol = _np.broadcast_to(_np.asarray(tol, float), (n,))
    return _np.concatenate([tol, _np.full(total - n, tol.min())])


def _aug_opts(opts, n, total):
    out = dict(opts)
    out["rtol"] = _aug_tol(opts.get("rtol"), n, total)
    out["atol"] = _aug_tol(opts.get("atol"), n, total)
    return out


# -- the primitive -------------------------------------------------------------------------

def _odeint_impl(y0, t, *leaves, func, treedef, opts, h0=0.0):
    args = leaves if treedef is None else treedef.unflatten(leaves)

    def f(y, tt):
        out = func(y, tt, *args)
        if contains_box(out):
            raise ClosedOverTracerError()
        return _np.ravel(_np.asarray(out, dtype=float))
    return _src.odeint(f, _np.asarray(y0, dtype=float), _np.asarray(t, dtype=float), h0=h0, **opts)


_odeint_p = Primitive(_odeint_impl, "odeint")


def _adjoint_dynamics(rhs, n, nums):
    """The augmented system ``z = [y, a, t_bar, args_bar]`` of the adjoint method, as a
    function ``aug(z, t, *leaves)`` (args_bar holds the leaves ``nums``, raveled)."""
    def aug(z, tt, *leaves):
        y, a = z[:n], z[n:2 * n]
        sel = [leaves[k] for k in nums]
        fy, cts = _vjp_call(lambda y, tt, *vals: rhs(y, tt, _replaced(leaves, nums, vals)), [y, tt] + sel, a)
        parts = [fy, -cts[0], -_wnp.reshape(cts[1], (1,))] + [-_wnp.ravel(c) for c in cts[2:]]
        return _wnp.concatenate(parts)
    return aug


def _odeint_vjp(argnums, g, ans, y0, t, *leaves, func, treedef, opts, h0=0.0):
    n, T = _np.shape(getval(y0))[0], _np.shape(getval(t))[0]
    rhs = _rhs(func, treedef, n)
    nums = [a - 2 for a in argnums if a >= 2]
    shapes = [_np.shape(getval(leaves[k])) for k in nums]
    sizes = [int(_np.prod(s, dtype=int)) for s in shapes]
    aug = _adjoint_dynamics(rhs, n, nums)
    want_t = 1 in argnums
    total = 2 * n + 1 + sum(sizes)
    aopts = _aug_opts(opts, n, total)

    last = T - 1
    if g.__class__ is _np.ndarray:          # no backward solve over a tail the loss ignores
        while last > 0 and not g[last].any():
            last -= 1
    a = g[last]
    t0_bar = _np.zeros(1)
    p_bar = _np.zeros(sum(sizes))
    ts_bar = [_np.zeros(1)] * (T - 1 - last)
    for i in range(last, 0, -1):
        if want_t:
            tb = _wnp.reshape(_wnp.dot(rhs(ans[i], t[i], leaves), g[i]), (1,))
            ts_bar.append(tb)
            t0_bar = t0_bar - tb
        z0 = _wnp.concatenate([ans[i], a, t0_bar, p_bar])
        z = _odeint_p(z0, _wnp.stack([t[i], t[i - 1]]), *leaves, func=aug, treedef=None, opts=aopts)[1]
        a = z[n:2 * n] + g[i - 1]
        t0_bar = z[2 * n:2 * n + 1]
        p_bar = z[2 * n + 1:]

    out = []
    offsets = _np.cumsum([0] + sizes)
    for argnum in argnums:
        if argnum == 0:
            out.append(a)
        elif argnum == 1:
            out.append(_wnp.concatenate([t0_bar] + ts_bar[::-1]))
        else:
            j = nums.index(argnum - 2)
            out.append(_wnp.reshape(p_bar[offsets[j]:offsets[j + 1]], shapes[j]))
    return out


def _sensitivity_dynamics(rhs, n, m, nums):
    """The forward sensitivity system ``z = [y, s]`` as ``aug(z, t, *leaves, *tangents)``
    (``m`` leaves; the tangents are those of the leaves ``nums``)."""
    def aug(z, tt, *all_leaves):
        leaves, tans = all_leaves[:m], all_leaves[m:]
        y, s = z[:n], z[n:]
        sel = [leaves[k] for k in nums]
        fy, ft = _jvp_call(lambda y, *vals: rhs(y, tt, _replaced(leaves, nums, vals)), [y] + sel, [s] + list(tans))
        return _wnp.concatenate([fy, ft])
    return aug


def _odeint_jvp(argnums, tangents, ans, y0, t, *leaves, func, treedef, opts, h0=0.0):
    n, T = _np.shape(getval(y0))[0], _np.shape(getval(t))[0]
    rhs = _rhs(func, treedef, n)
    tan = dict(zip(argnums, tangents))
    nums = [a - 2 for a in argnums if a >= 2]
    s0 = tan[0] if 0 in tan else _np.zeros(n)
    dt = tan.get(1)
    if dt is not None:
        s0 = s0 - rhs(y0, t[0], leaves) * dt[0]
    if T > 1:
        aug = _sensitivity_dynamics(rhs, n, len(leaves), nums)
        zs = _odeint_p(_wnp.concatenate([y0, s0]), t, *leaves, *[tan[k + 2] for k in nums],
                       func=aug, treedef=None, opts=_aug_opts(opts, n, 2 * n), h0=h0)
        out = zs[:, n:]
    else:
        out = _wnp.reshape(s0, (1, n))
    if dt is not None:
        f_at = _wnp.stack([rhs(ans[i], t[i], leaves) for i in range(T)])
        out = out + f_at * _wnp.reshape(dt, (T, 1))
    return out


defvjp_argnums(_odeint_p, _odeint_vjp)
defjvp_argnums(_odeint_p, _odeint_jvp)


def _vector(x, what):
    """``x`` as a 1-d float array, traced if any of it is."""
    traced = isinstance(x, Box) or contains_box(x)
    x = _wnp.asarray(x) if traced else _np.asarray(x, dtype=float)
    if what == "t" and _np.ndim(getval(x)) != 1:
        raise ValueError(f"odeint: t must be a 1-d sequence of times, got shape {_np.shape(getval(x))}")
    return _wnp.ravel(x) if traced else _np.ravel(x)


def odeint(func, y0, t, *args, rtol=None, atol=None, mxstep=0, h0=0.0, hmax=0.0, hmin=0.0, tfirst=False,
           **kwargs):
    """Integrate ``dy/dt = func(y, t, *args)`` (SciPy's ``odeint``), differentiably.

    Returns ``y`` at the times ``t``, shape ``(len(t), y0.size)``. ``args`` may be
    pytrees of arrays (SciPy's ``args=(...)`` keyword also works); derivatives with
    respect to ``y0``, ``t`` and the float leaves of ``args`` use the adjoint method in
    reverse mode and the forward sensitivity equations in forward mode (see the module
    docstring). ``func`` must take the values it is differentiated by as arguments, not
    from a closure.
    """
    if "args" in kwargs:
        extra = kwargs.pop("args")
        if args:
            raise TypeError("odeint: give the extra arguments either positionally or as args=(...), not both")
        args = extra if isinstance(extra, tuple) else (extra,)
    for name in kwargs:
        if name in _UNSUPPORTED:
            raise TypeError(f"odeint: SciPy's option {name}= is not supported by wengert.scipy.integrate.odeint "
                            f"(call scipy.integrate.odeint directly for undifferentiated solves)")
        raise TypeError(f"odeint() got an unexpected keyword argument {name!r}")
    f = (lambda y, tt, *a: func(tt, y, *a)) if tfirst else func
    leaves, treedef = tree_flatten(tuple(args))
    opts = {"rtol": rtol, "atol": atol, "mxstep": mxstep, "hmax": hmax, "hmin": hmin}
    return _odeint_p(_vector(y0, "y0"), _vector(t, "t"), *leaves, func=f, treedef=treedef, opts=opts, h0=h0)


_defined = {"odeint": odeint}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.integrate.", _handled))
