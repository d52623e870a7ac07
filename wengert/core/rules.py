"""How rules are declared: the one place that fills a primitive's rule tables.

- ``defvjp(prim, rule0, rule1, ...)``: reverse rules ``rule(g, ans, *args, **kwargs)``,
  one per argument (``None``: not differentiable in that argument).
- ``defjvp(prim, rule0, ...)``: forward rules ``rule(t, ans, *args, **kwargs)``.
- ``defvjp_argnums(prim, rule)``: one reverse rule ``rule(argnums, g, ans, *args,
  **kwargs)`` returning the cotangents of all differentiated arguments; for primitives
  that take any number of arrays and would otherwise repeat work per argument.
- ``defderiv(prim, d0, d1, ...)``: for elementwise primitives, the partial derivative
  ``d(ans, *args, **kwargs)`` of each argument; both modes follow from it
  (``g * d`` and ``t * d``), and broadcasting is undone by the backward pass.
- ``def_linear(prim)``: the primitive is linear in its array arguments, so its JVP
  is the primitive itself applied to the tangent.
"""
from contextvars import ContextVar

from ..errors import MissingRuleError


def _table_rules(table, prim, rules, argnums):
    argnums = range(len(rules)) if argnums is None else argnums
    for argnum, rule in zip(argnums, rules):
        if rule is not None:
            table[argnum] = rule
    return prim


def defvjp(prim, *rules, argnums=None):
    return _table_rules(prim.vjps, prim, rules, argnums)


def defvjp_argnums(prim, rule):
    prim.vjp_joint = rule
    return prim


def defjvp(prim, *rules, argnums=None):
    return _table_rules(prim.jvps, prim, rules, argnums)


def _vjp_from_deriv(d):
    return lambda g, ans, *args, **kwargs: g * d(ans, *args, **kwargs)


def _jvp_from_deriv(d):
    return lambda t, ans, *args, **kwargs: t * d(ans, *args, **kwargs)


def defderiv(prim, *partials, argnums=None):
    """Declare the partial derivatives of an elementwise primitive."""
    argnums = range(len(partials)) if argnums is None else argnums
    for argnum, d in zip(argnums, partials):
        if d is not None:
            prim.derivs[argnum] = d
            prim.vjps.setdefault(argnum, _vjp_from_deriv(d))
            prim.jvps.setdefault(argnum, _jvp_from_deriv(d))
    return prim


def _linear_jvp(prim, argnum):
    def jvp(t, ans, *args, **kwargs):
        args = list(args)
        args[argnum] = t
        return prim(*args, **kwargs)
    return jvp


def def_linear(prim, argnums=(0,)):
    """``prim`` is linear in the arguments ``argnums`` (jointly, if several)."""
    prim.linear = True
    for argnum in argnums:
        prim.jvps.setdefault(argnum, _linear_jvp(prim, argnum))
    return prim


def defjvp_argnums(prim, rule):
    """One forward rule ``rule(argnums, tangents, ans, *args, **kwargs)`` for all
    differentiated arguments at once."""
    prim.jvp_joint = rule
    return prim


# -- one mode's rule from the other's, by transposition ----------------------------------
# Both rules of an argument are linear maps, transposes of each other: the VJP is
# g -> J^T g and the JVP is t -> J t. Reverse mode applied to a linear map gives its
# transpose, so each is obtained by running reverse mode through the other. Rules are
# written with differentiable functions, which is what makes this possible.

def _transpose(linear_fun, point, cotangent):
    """``L^T cotangent`` for the linear map ``L = linear_fun`` (evaluated at ``point``)."""
    from .reverse import backward, trace_reverse
    from .tracer import Box
    out, trace, records = trace_reverse(linear_fun, [point], [0])
    if not (isinstance(out, Box) and out._trace is trace):
        return None                                  # L does not depend on its input: L = 0
    (c,) = backward(records, [(out._node, cotangent)], [0], free=True)
    from .vspace import densify
    return None if c is None else densify(c)


_deriving = ContextVar("wengert_deriving_rules", default=frozenset())


def _derived(prim, argnum, mode, body):
    """Run ``body`` (which derives ``prim``'s ``mode`` rule for ``argnum`` by transposing
    the other mode's rule), refusing to recurse: a rule that applies ``prim`` itself
    (``def_linear``) cannot be transposed through ``prim``."""
    key = (id(prim), argnum, mode)
    active = _deriving.get()
    if key in active:
        raise MissingRuleError(
            prim.name, argnum, mode,
            hint=f"Its {'forward' if mode == 'reverse' else 'reverse'} rule applies {prim.name} itself "
                 f"(as def_linear does), so it cannot be transposed: define the {mode} rule too.")
    token = _deriving.set(active | {key})
    try:
        return body()
    finally:
        _deriving.reset(token)


def jvp_from_vjp(prim, argnum):
    from .tracer import getval
    from .vspace import fit, zeros_like_value

    def vjp_of(g, ans, args, kwargs):
        if prim.vjp_joint is not None:
            c = prim.vjp_joint((argnum,), g, ans, *args, **kwargs)[0]
        else:
            c = prim.vjps[argnum](g, ans, *args, **kwargs)
        return None if c is None else fit(c, args[argnum])

    def jvp(t, ans, *args, **kwargs):
        return _derived(prim, argnum, "forward", lambda: _transpose(
            lambda g: vjp_of(g, ans, args, kwargs), zeros_like_value(getval(ans)), t))
    jvp.__name__ = f"{prim.name}_jvp{argnum}_from_vjp"
    return jvp


def vjp_from_jvp(prim, argnum):
    from .tracer import getval
    from .vspace import fit_tangent, zeros_like_value

    def jvp_of(t, ans, args, kwargs):
        if argnum in prim.jvps:
            out = prim.jvps[argnum](t, ans, *args, **kwargs)
        else:
            out = prim.jvp_joint((argnum,), [t], ans, *args, **kwargs)
        return fit_tangent(out, ans)

    def vjp(g, ans, *args, **kwargs):
        return _derived(prim, argnum, "reverse", lambda: _transpose(
            lambda t: jvp_of(t, ans, args, kwargs), zeros_like_value(getval(args[argnum])), g))
    vjp.__name__ = f"{prim.name}_vjp{argnum}_from_jvp"
    return vjp
