"""Forward mode: jvp, linearize, forward_grad, user-defined rules of one kind only,
and every mix of modes when nested."""
import math

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import (EscapedTracerError, Primitive, check_grads, defjvp, defvjp, forward_grad, grad, hessian, jacfwd,
                     jacrev, jvp, linearize, vjp)


def D(f):
    """Forward-mode derivative of a scalar function."""
    return lambda x: jvp(f, (x,), (1.0,))[1]


def test_jvp_value_and_tangent():
    out, t = jvp(lambda x: np.sin(x) * x ** 2, (0.5,), (2.0,))
    assert out == pytest.approx(onp.sin(0.5) * 0.25)
    assert t == pytest.approx(2.0 * (onp.cos(0.5) * 0.25 + 2 * 0.5 * onp.sin(0.5)))


def test_jvp_over_pytrees():
    def f(p, scale):
        return {"y": np.tanh(p["w"] @ p["x"]) * scale, "z": (np.sum(p["x"]),)}
    p = {"w": onp.arange(6.0).reshape(2, 3) / 6, "x": onp.array([0.1, 0.2, 0.3])}
    tp = {"w": onp.ones((2, 3)), "x": onp.array([1.0, 0.0, -1.0])}
    out, t = jvp(f, (p, 2.0), (tp, 0.5))
    _, pull = vjp(f, p, 2.0)
    # <v, J t> == <J^T v, t>
    v = {"y": onp.array([0.3, -0.7]), "z": (1.5,)}
    gp, gs = pull(v)
    lhs = onp.sum(v["y"] * t["y"]) + v["z"][0] * t["z"][0]
    rhs = onp.sum(gp["w"] * tp["w"]) + onp.sum(gp["x"] * tp["x"]) + gs * 0.5
    assert lhs == pytest.approx(rhs)


def test_jvp_checks_tangent_shapes_and_keeps_dtype():
    with pytest.raises(ValueError, match="tangent has shape"):
        jvp(np.sin, (onp.ones(3),), (onp.ones(2),))
    out, t = jvp(np.sin, (onp.ones(3, onp.float32),), (onp.ones(3),))
    assert t.dtype == onp.float32


def test_jvp_has_aux_and_constant_outputs():
    out, t, aux = jvp(lambda x: (x * 3.0, "info"), (1.0,), (1.0,), has_aux=True)
    assert (out, t, aux) == (3.0, 3.0, "info")
    out, t = jvp(lambda x: onp.ones(2), (1.0,), (1.0,))
    onp.testing.assert_array_equal(t, onp.zeros(2))


def test_linearize_replays_the_tape_without_rerunning_python():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x) * np.sum(x ** 2)

    x = onp.array([0.3, -0.4, 0.5])
    out, f_jvp = linearize(f, x)
    assert len(calls) == 1
    J = jacrev(f)(x)
    for t in (onp.eye(3)[0], onp.array([1.0, 2.0, -1.0])):
        onp.testing.assert_allclose(f_jvp(t), J @ t)
    assert len(calls) == 2        # jacrev ran f once more; f_jvp never did


def test_perturbation_confusion_in_all_four_mode_combinations():
    for outer in (grad, D):
        for inner in (grad, D):
            assert outer(lambda x: x * inner(lambda y: x + y)(1.0))(1.0) == 1.0
            assert outer(lambda x: x * inner(lambda y: x * y)(1.0))(4.0) == 8.0


@pytest.mark.parametrize("modes", ["fff", "ffr", "frf", "rff", "frr", "rfr", "rrf", "rrr"])
def test_third_derivatives_in_every_mix(modes):
    ops = {"f": D, "r": grad}
    f = lambda x: np.sin(x) * np.exp(x / 2)
    for m in modes:
        f = ops[m](f)
    x = 0.7
    # third derivative of sin(x) e^(x/2): e^(x/2) [(1/8 - 3/2) sin x + (3/4 - 1) cos x]
    expected = onp.exp(x / 2) * ((1 / 8 - 3 / 2) * onp.sin(x) + (3 / 4 - 1) * onp.cos(x))
    assert f(x) == pytest.approx(expected, rel=1e-12)


def test_hessian_of_the_logistic_map_matches_the_analytic_value():
    def f(x):
        for _ in range(3):
            x = 4 * x * (1 - x)
        return x
    # chain rule for the second derivative of a composition g3(g2(g1(x))), g(x) = 4x(1-x)
    x, d1, d2 = 0.3, 1.0, 0.0
    for _ in range(3):
        g1, g2 = 4 - 8 * x, -8.0
        d1, d2 = g1 * d1, g2 * d1 ** 2 + g1 * d2
        x = 4 * x * (1 - x)
    assert hessian(f)(0.3) == pytest.approx(d2, rel=1e-12)
    assert D(D(f))(0.3) == pytest.approx(d2, rel=1e-12)
    assert grad(grad(f))(0.3) == pytest.approx(d2, rel=1e-12)


def _user_sin(kind):
    """A user primitive ``sin`` with only a JVP rule or only a VJP rule."""
    p = Primitive(lambda x: onp.sin(x), f"user_sin_{kind}")
    if kind == "jvp":
        defjvp(p, lambda t, ans, x: t * np.cos(x))
    else:
        defvjp(p, lambda g, ans, x: g * np.cos(x))
    return p


@pytest.mark.parametrize("kind", ["jvp", "vjp"])
def test_a_primitive_with_one_kind_of_rule_works_in_both_modes_to_second_order(kind):
    s = _user_sin(kind)
    x = onp.array([0.2, -0.5, 1.1])
    check_grads(lambda x: s(x) * x, (x,), modes=("fwd", "rev"), order=2)
    assert grad(grad(lambda x: s(x)))(0.4) == pytest.approx(-math.sin(0.4))
    assert D(D(lambda x: s(x)))(0.4) == pytest.approx(-math.sin(0.4))
    onp.testing.assert_allclose(jacfwd(s)(x), onp.diag(onp.cos(x)))
    onp.testing.assert_allclose(jacrev(s)(x), onp.diag(onp.cos(x)))


def test_a_two_argument_jvp_only_primitive_in_reverse_mode():
    p = Primitive(lambda x, y: x * onp.exp(y), "x_exp_y")
    defjvp(p, lambda t, ans, x, y: t * np.exp(y), lambda t, ans, x, y: t * ans)
    x, y = onp.array([1.0, 2.0]), onp.array([0.1, -0.3])
    check_grads(p, (x, y), modes=("fwd", "rev"), order=2)
    gx, gy = grad(lambda x, y: np.sum(p(x, y)), argnums=(0, 1))(x, y)
    onp.testing.assert_allclose(gx, onp.exp(y))
    onp.testing.assert_allclose(gy, x * onp.exp(y))


def test_missing_rules_name_the_primitive_and_mode():
    from wengert import MissingRuleError
    p = Primitive(onp.sin, "ruleless")
    with pytest.raises(MissingRuleError, match="ruleless.*forward"):
        jvp(p, (1.0,), (1.0,))
    with pytest.raises(MissingRuleError, match="ruleless.*reverse"):
        grad(p)(1.0)


def test_escaped_forward_tracer_is_reported():
    leaked = []
    jvp(lambda x: leaked.append(x) or x * 2.0, (1.0,), (1.0,))
    with pytest.raises(EscapedTracerError):
        np.sin(leaked[0])


def test_forward_gradient_is_unbiased_and_descends():
    def f(x):
        return np.sum((x - onp.arange(4.0)) ** 2) + np.sum(np.sin(x))
    x = onp.zeros(4)
    rng = onp.random.default_rng(0)
    estimate = forward_grad(f, x, rng, num_directions=4000)
    onp.testing.assert_allclose(estimate, grad(f)(x), atol=0.35)
    for _ in range(300):                      # plain descent with one JVP per step
        x = x - 0.02 * forward_grad(f, x, rng)
    assert f(x) < f(onp.zeros(4)) - 10 and onp.linalg.norm(grad(f)(x)) < 0.5


def test_a_linear_primitive_without_reverse_rule_is_refused_not_recursed():
    from wengert import MissingRuleError, def_linear
    p = Primitive(lambda x: 2 * x, "double")
    def_linear(p)
    assert jvp(p, (1.0,), (1.0,))[1] == 2.0
    with pytest.raises(MissingRuleError, match="double.*applies double itself"):
        grad(p)(1.0)


def test_reverse_rules_derive_from_a_joint_forward_rule():
    from wengert.core.rules import defjvp_argnums
    q = Primitive(onp.sin, "joint_sin")
    defjvp_argnums(q, lambda argnums, ts, ans, x: ts[0] * np.cos(x))
    assert grad(q)(1.0) == pytest.approx(math.cos(1.0))
    check_grads(q, (onp.array([0.3, 0.9]),), order=2)
