"""How rules are declared: the one place that fills a primitive's rule tables.

- ``defvjp(prim, rule0, rule1, ...)``: reverse rules ``rule(g, ans, *args, **kwargs)``,
  one per argument (``None``: not differentiable in that argument).
- ``defjvp(prim, rule0, ...)``: forward rules ``rule(t, ans, *args, **kwargs)``.
- ``defvjp_argnums(prim, rule)``: one reverse rule ``rule(argnums, g, ans, *args,
  **kwargs)`` returning the cotangents of all differentiated arguments; for primitives
  that take any number of arrays and would otherwise repeat work per argument.
- ``deriv(prim, d0, d1, ...)``: for elementwise primitives, the partial derivative
  ``d(ans, *args, **kwargs)`` of each argument; both modes follow from it
  (``g * d`` and ``t * d``), and broadcasting is undone by the backward pass.
- ``def_linear(prim)``: the primitive is linear in its array arguments, so its JVP
  is the primitive itself applied to the tangent.
"""


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


def deriv(prim, *partials, argnums=None):
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
