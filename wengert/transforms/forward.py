"""Forward mode for users: jvp, linearize, forward_grad."""
import numpy as _np

from ..core.forward import push_tangents, trace_forward
from ..core.pytree import tree_flatten, treedef_leaves
from ..core.reverse import trace_reverse
from ..core.tracer import Box, getval
from ..core.vspace import cast, dtype_of, shape_of, zeros_like_value
from .common import Selected, check_output, split_aux, strip_trace


def _tangent_for(op, x, t):
    """Tangent ``t`` checked against its primal ``x`` and given x's dtype."""
    if shape_of(t) != shape_of(x):
        raise ValueError(f"{op}: a tangent has shape {shape_of(t)} but its primal has shape {shape_of(x)}; "
                         f"they must be equal.")
    if dtype_of(t) != dtype_of(x):
        t = cast(t, dtype_of(x)) if isinstance(t, Box) else _np.asarray(t).astype(dtype_of(x))
    return t


def jvp_flat(op, fun, leaves, tangents, has_aux=False):
    """(output, output tangents as leaves, out treedef, aux) of ``fun(*leaves)`` pushed
    forward along ``tangents``."""
    tangents = [_tangent_for(op, x, t) for x, t in zip(leaves, tangents)]
    out, trace = trace_forward(fun, leaves, tangents)
    out, aux = split_aux(op, out, has_aux, strip_trace(trace))
    out_leaves, out_tree = tree_flatten(out)
    values, touts = [], []
    for leaf in out_leaves:
        check_output(op, leaf)
        if isinstance(leaf, Box) and leaf._trace is trace:
            values.append(leaf._value)
            touts.append(leaf._node)
        else:
            values.append(leaf)
            touts.append(zeros_like_value(getval(leaf)))
    return values, touts, out_tree, aux


def jvp(fun, primals, tangents, has_aux=False):
    """``(fun(*primals), J tangents)``: the Jacobian-vector product by forward mode.

    ``primals`` and ``tangents`` are tuples with the same structure (JAX's form). With
    ``has_aux=True`` the result is ``(out, tangent_out, aux)``.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    sel = Selected("jvp", primals, {}, tuple(range(len(primals))))
    t_leaves = treedef_leaves(sel.tree, list(tangents))
    values, touts, out_tree, aux = jvp_flat("jvp", lambda *xs: sel.call(fun, xs), sel.leaves, t_leaves, has_aux)
    result = (out_tree.unflatten(values), out_tree.unflatten(touts))
    return result + (aux,) if has_aux else result


def linearize(fun, *primals):
    """``(fun(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the JVP at ``primals``.

    ``fun`` runs once; each ``jvp_fn`` call replays the recorded tape forward with the
    JVP rules, so it costs about one function evaluation and never re-runs Python code.
    """
    sel = Selected("linearize", primals, {}, tuple(range(len(primals))))
    n = len(sel.leaves)
    out, trace, records = trace_reverse(lambda *xs: sel.call(fun, xs), sel.leaves, range(n))
    out_leaves, out_tree = tree_flatten(out)
    for leaf in out_leaves:
        check_output("linearize", leaf)
    out_ids = [l._node if isinstance(l, Box) and l._trace is trace else None for l in out_leaves]
    strip = strip_trace(trace)
    out_values = [strip(l) for l in out_leaves]

    def jvp_fn(*tangents):
        t_leaves = treedef_leaves(sel.tree, list(tangents))
        tans = [_tangent_for("linearize", x, t) for x, t in zip(sel.leaves, t_leaves)]
        tans += [None] * (len(records) - n)
        for i in range(n, max([i for i in out_ids if i is not None], default=-1) + 1):
            prim, args, kwargs, ans, argnums, ids = records[i]
            tans[i] = push_tangents(prim, argnums, [tans[j] for j in ids], ans, args, kwargs or {})
        result = [zeros_like_value(getval(v)) if i is None or tans[i] is None else tans[i]
                  for i, v in zip(out_ids, out_values)]
        return out_tree.unflatten(result)

    return out_tree.unflatten(out_values), jvp_fn


def forward_grad(fun, x, rng=None, num_directions=1):
    """An unbiased estimate of the gradient of scalar ``fun`` at ``x`` from forward mode
    only ("Gradients without Backpropagation"): ``(grad f . v) v`` with ``v ~ N(0, I)``,
    one JVP per direction, averaged over ``num_directions``. ``x`` may be a pytree."""
    rng = _np.random.default_rng() if rng is None else rng
    leaves, treedef = tree_flatten(x)
    total = None
    for _ in range(num_directions):
        v = [rng.standard_normal(_np.shape(getval(l))).astype(dtype_of(l)) for l in leaves]
        _, (slope,), _, _ = jvp_flat("forward_grad", lambda *xs: fun(treedef.unflatten(xs)), leaves, v)
        est = [slope * vi for vi in v]
        total = est if total is None else [a + b for a, b in zip(total, est)]
    return treedef.unflatten([t / num_directions for t in total])
