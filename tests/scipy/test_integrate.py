"""``wengert.scipy.integrate.odeint``: SciPy's values, adjoint (reverse) and forward
sensitivity (forward) derivatives, checked against differentiation through an explicit
fixed-step RK4 solver written with wengert.numpy, and against finite differences."""
import numpy as onp
import pytest
import scipy.integrate

import wengert.numpy as np
import wengert.scipy.integrate as wint
from wengert import check_grads, grad, hvp, jacfwd, jacrev, jvp, value_and_grad
from wengert.core.reverse import trace_reverse
from wengert.scipy.integrate import odeint

TOL = dict(rtol=1e-11, atol=1e-11)


def pendulum(y, t, theta):
    """A damped, driven pendulum: depends on y, t and every parameter nonlinearly."""
    return np.stack([y[1], -theta[0] * np.sin(y[0]) - theta[1] * y[1] + theta[2] * np.cos(1.3 * t)])


def pendulum_tree(y, t, p, scale):
    """The same system with a pytree of parameters (nested dict, 0-d and 1-d leaves)."""
    return scale * np.stack([y[1], -p["k"] * np.sin(y[0]) - p["drive"]["c"][0] * y[1]
                             + p["drive"]["A"] * np.cos(1.3 * t)])


def rk4(func, y0, t, *args, steps=50):
    """Classical RK4 with ``steps`` equal steps between consecutive times, differentiable."""
    y = y0
    out = [y0]
    for i in range(len(t) - 1):
        h = (t[i + 1] - t[i]) / steps
        s = t[i]
        for _ in range(steps):
            k1 = func(y, s, *args)
            k2 = func(y + 0.5 * h * k1, s + 0.5 * h, *args)
            k3 = func(y + 0.5 * h * k2, s + 0.5 * h, *args)
            k4 = func(y + h * k3, s + h, *args)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            s = s + h
        out.append(y)
    return np.stack(out)


Y0 = onp.array([0.8, -0.3])
T = onp.linspace(0.0, 2.5, 6)
THETA = onp.array([2.0, 0.3, 0.7])
W = onp.random.default_rng(0).standard_normal((len(T), 2))


def loss_with(solver):
    def loss(y0, t, theta):
        ys = solver(pendulum, y0, t, theta)
        return np.sum(W * ys) + 0.5 * np.sum(ys ** 2)
    return loss


def ode_solver(func, y0, t, *args):
    return odeint(func, y0, t, *args, **TOL)


def assert_close(a, b, rtol, atol=1e-9):
    onp.testing.assert_allclose(onp.asarray(a), onp.asarray(b), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def rk4_grads():
    return grad(loss_with(rk4), (0, 1, 2))(Y0, T, THETA)


def test_registered_and_scipy_values():
    assert wint.DIFFERENTIABLE == ["odeint"]
    assert wint.odeint is odeint
    plain = scipy.integrate.odeint(lambda y, t, th: onp.asarray(pendulum(y, t, th)), Y0, T, args=(THETA,))
    assert_close(odeint(pendulum, Y0, T, THETA), plain, rtol=0, atol=0)
    assert_close(odeint(pendulum, Y0, T, args=(THETA,)), plain, rtol=0, atol=0)
    assert_close(odeint(lambda t, y, th: pendulum(y, t, th), Y0, T, THETA, tfirst=True), plain, rtol=0, atol=0)


def test_rk4_reference_agrees_with_odeint_values():
    assert_close(rk4(pendulum, Y0, T, THETA), odeint(pendulum, Y0, T, THETA, **TOL), rtol=1e-8, atol=1e-9)


def test_adjoint_gradient_matches_rk4(rk4_grads):
    value, grads = value_and_grad(loss_with(ode_solver), (0, 1, 2))(Y0, T, THETA)
    assert_close(value, loss_with(rk4)(Y0, T, THETA), rtol=1e-8)
    for g, ref in zip(grads, rk4_grads):
        assert_close(g, ref, rtol=1e-6)


def test_forward_sensitivities_match_rk4(rk4_grads):
    rng = onp.random.default_rng(1)
    tangents = (rng.standard_normal(2), rng.standard_normal(len(T)), rng.standard_normal(3))
    _, slope = jvp(loss_with(ode_solver), (Y0, T, THETA), tangents)
    expected = sum(onp.dot(g, t) for g, t in zip(rk4_grads, tangents))
    assert_close(slope, expected, rtol=1e-6)


def test_pytree_parameters_match_rk4():
    params = {"k": onp.array(2.0), "drive": {"c": onp.array([0.3]), "A": 0.7}}

    def loss(solver):
        return lambda y0, p, scale: np.sum(solver(pendulum_tree, y0, T[:4], p, scale) ** 2)

    got = grad(loss(ode_solver), (0, 1, 2))(Y0, params, 1.1)
    ref = grad(loss(rk4), (0, 1, 2))(Y0, params, 1.1)
    assert_close(got[0], ref[0], rtol=1e-6)
    assert set(got[1]) == {"k", "drive"} and set(got[1]["drive"]) == {"c", "A"}
    assert onp.shape(got[1]["drive"]["c"]) == (1,) and onp.shape(got[1]["k"]) == ()
    for key in ("k",):
        assert_close(got[1][key], ref[1][key], rtol=1e-6)
    for key in ("c", "A"):
        assert_close(got[1]["drive"][key], ref[1]["drive"][key], rtol=1e-6)
    assert_close(got[2], ref[2], rtol=1e-6)
    # the same derivative through forward mode, leaf by leaf
    for path, tangent in ((("k",), onp.array(1.0)), (("drive", "c"), onp.array([1.0]))):
        tan = {"k": onp.array(0.0), "drive": {"c": onp.array([0.0]), "A": 0.0}}
        node = tan
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = tangent
        _, slope = jvp(lambda p: loss(ode_solver)(Y0, p, 1.1), (params,), (tan,))
        ref_leaf = ref[1]
        for p in path:
            ref_leaf = ref_leaf[p]
        assert_close(slope, onp.sum(ref_leaf), rtol=1e-6)


def test_check_grads_first_order():
    f = lambda y0, t, theta: odeint(pendulum, y0, t, theta, rtol=1e-12, atol=1e-12)   # noqa: E731
    check_grads(f, (Y0, T, THETA), modes=("rev",), order=1, rtol=1e-5, atol=1e-7)
    check_grads(f, (Y0, T, THETA), modes=("fwd",), order=1, rtol=1e-5, atol=1e-7)
    # decreasing times
    check_grads(f, (Y0, T[::-1].copy(), THETA), modes=("rev", "fwd"), order=1, rtol=1e-5, atol=1e-7)


def test_loss_on_early_times_only():
    # the cotangent is zero on the last rows: their backward solves are skipped
    f = lambda y0, t, theta: odeint(pendulum, y0, t, theta, rtol=1e-12, atol=1e-12)[:2]   # noqa: E731
    check_grads(f, (Y0, T, THETA), modes=("rev",), order=1, rtol=1e-5, atol=1e-7)
    g_t = grad(lambda t: np.sum(f(Y0, t, THETA)))(T)
    assert onp.all(g_t[2:] == 0) and onp.all(g_t[:2] != 0)


def test_check_grads_second_order_all_modes():
    f = lambda y0, theta: odeint(pendulum, y0, T[:3], theta, rtol=1e-11, atol=1e-11)     # noqa: E731
    check_grads(f, (Y0, THETA), modes=("rev", "fwd"), order=2, rtol=1e-4, atol=1e-6)


def test_jacobians_agree():
    f = lambda theta: odeint(pendulum, Y0, T, theta, **TOL)                           # noqa: E731
    j_rev, j_fwd = jacrev(f)(THETA), jacfwd(f)(THETA)
    assert j_rev.shape == j_fwd.shape == (len(T), 2, 3)
    assert_close(j_rev, j_fwd, rtol=1e-6)
    assert_close(j_rev[0], onp.zeros((2, 3)), rtol=0, atol=0)


def test_second_order_forward_over_reverse():
    def loss(theta):
        return np.sum(odeint(pendulum, Y0, T[:3], theta, rtol=1e-10, atol=1e-10) ** 2)
    v = onp.array([1.0, -0.5, 0.25])
    exact = hvp(loss, (THETA,), (v,))
    eps = 1e-4
    g = grad(loss)
    numeric = (g(THETA + eps * v) - g(THETA - eps * v)) / (2 * eps)
    assert_close(exact, numeric, rtol=1e-5, atol=1e-6)


def test_solver_steps_are_not_recorded():
    _, _, records = trace_reverse(lambda th: np.sum(odeint(pendulum, Y0, onp.linspace(0, 5, 50), th)), [THETA], [0])
    assert [r[0].name for r in records[1:]] == ["odeint", "sum"]


def test_scipy_style_func_scalar_state_and_constant_args():
    # a list-returning right-hand side with an integer argument, SciPy style
    def f(y, t, k, power):
        return [-k * y[0] ** power + np.sin(t)]
    ys = odeint(f, 1.0, [0.0, 0.5, 1.0], 0.7, 2)
    assert ys.shape == (3, 1)
    g = grad(lambda k: np.sum(odeint(f, 1.0, [0.0, 0.5, 1.0], k, 2, **TOL)))(0.7)
    eps = 1e-6
    num = (onp.sum(odeint(f, 1.0, [0.0, 0.5, 1.0], 0.7 + eps, 2, **TOL))
           - onp.sum(odeint(f, 1.0, [0.0, 0.5, 1.0], 0.7 - eps, 2, **TOL))) / (2 * eps)
    assert_close(g, num, rtol=1e-6)
    # a single time: the output is y0 itself
    assert_close(grad(lambda y0: np.sum(odeint(f, y0, [0.3], 0.7, 2)))(onp.array([2.0])), [1.0], rtol=0, atol=0)


def test_errors():
    with pytest.raises(TypeError, match="through args"):
        grad(lambda a: np.sum(odeint(lambda y, t: -a * y, Y0, T)))(1.0)
    with pytest.raises(TypeError, match="not both"):
        odeint(pendulum, Y0, T, THETA, args=(THETA,))
    with pytest.raises(TypeError, match="Dfun"):
        odeint(pendulum, Y0, T, THETA, Dfun=None)
    with pytest.raises(RuntimeError, match="does not match the size"):   # SciPy's own check
        grad(lambda th: np.sum(odeint(lambda y, t, th: np.concatenate([y, th[:1]]), Y0, T, th)))(THETA)
