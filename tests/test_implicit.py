"""fixed_point (derivatives by the implicit function theorem), and plain-Python loops with
data-dependent stops, early breaks and recursion differentiated by tracing."""
import collections

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import check_grads, grad, hessian, jacfwd, jacrev, jvp, vjp
from tests.examples_loader import load_example
from wengert.transforms.implicit import fixed_point

R = onp.random.default_rng(11)


# -- a scalar fixed point with known derivatives -------------------------------------------------------

def kepler(x, p):
    return p * np.cos(x)


def solve(p):
    return fixed_point(kepler, 0.0, p, tol=1e-14)


def _derivatives(p):
    """x* = p cos x*, and dx*/dp, d2x*/dp2 from the implicit function theorem by hand."""
    x = 0.0
    for _ in range(500):
        x = p * onp.cos(x)
    den = 1 + p * onp.sin(x)
    d1 = onp.cos(x) / den
    d2 = (-onp.sin(x) * d1 * den - onp.cos(x) * (onp.sin(x) + p * onp.cos(x) * d1)) / den ** 2
    return x, d1, d2


def test_scalar_fixed_point_value_and_derivatives_in_every_mode():
    p = 0.7
    x, d1, d2 = _derivatives(p)
    assert solve(p) == pytest.approx(x, abs=1e-13)
    assert grad(solve)(p) == pytest.approx(d1, rel=1e-12)
    assert jvp(solve, (p,), (1.0,))[1] == pytest.approx(d1, rel=1e-12)
    for second in (grad(grad(solve)), jacfwd(jacrev(solve)), jacfwd(jacfwd(solve)), jacrev(jacrev(solve)),
                   lambda p: jvp(grad(solve), (p,), (1.0,))[1], grad(lambda p: jvp(solve, (p,), (1.0,))[1])):
        assert second(p) == pytest.approx(d2, rel=1e-10)


def test_third_derivative_matches_unrolled():
    def unrolled_scalar(p):
        x = 0.0
        for _ in range(150):
            x = kepler(x, p)
        return x
    assert grad(grad(grad(solve)))(0.7) == pytest.approx(grad(grad(grad(unrolled_scalar)))(0.7), rel=1e-9)


def test_check_grads_to_second_order():
    check_grads(lambda p: fixed_point(kepler, onp.zeros(3), p, tol=1e-14), (onp.array([0.3, 0.7, -0.5]),),
                order=2)


def test_babylonian_square_root():
    sqrt = lambda a: fixed_point(lambda x, a: 0.5 * (x + a / x), 1.0, a)
    assert sqrt(2.0) == pytest.approx(onp.sqrt(2.0), rel=1e-15)
    assert grad(sqrt)(2.0) == pytest.approx(0.5 / onp.sqrt(2.0), rel=1e-12)
    assert grad(grad(sqrt))(2.0) == pytest.approx(-0.25 * 2.0 ** -1.5, rel=1e-10)


# -- against unrolled differentiation of the same iteration --------------------------------------------

W = R.normal(size=(5, 5))
W *= 0.6 / onp.linalg.norm(W, 2)
B = R.normal(size=5)


def layer(x, params):
    w, b = params
    return np.tanh(w @ x + b)


def unrolled(params, n=300):
    x = np.zeros(5)
    for _ in range(n):
        x = layer(x, params)
    return x


def implicit(params):
    return fixed_point(layer, np.zeros(5), params, tol=1e-14)


def test_matches_unrolled_differentiation_of_the_same_iteration():
    params = (W, B)
    onp.testing.assert_allclose(implicit(params), unrolled(params), atol=1e-14)
    loss = lambda solver: (lambda params: np.sum(solver(params) ** 2 * np.arange(1.0, 6.0)))
    g_imp, g_unr = grad(loss(implicit))(params), grad(loss(unrolled))(params)
    for a, b in zip(g_imp, g_unr):
        onp.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    for jac in (jacfwd, jacrev):
        onp.testing.assert_allclose(jac(lambda b: implicit((W, b)))(B), jac(lambda b: unrolled((W, b)))(B),
                                    rtol=1e-10, atol=1e-13)
    t = R.normal(size=5)
    onp.testing.assert_allclose(jvp(lambda b: implicit((W, b)), (B,), (t,))[1],
                                jvp(lambda b: unrolled((W, b)), (B,), (t,))[1], rtol=1e-10, atol=1e-13)


def test_hessian_matches_unrolled():
    H_imp = hessian(lambda b: np.sum(implicit((W, b)) ** 3))(B)
    H_unr = hessian(lambda b: np.sum(unrolled((W, b), 200) ** 3))(B)
    onp.testing.assert_allclose(H_imp, H_unr, rtol=1e-9, atol=1e-12)


def test_matches_a_python_while_loop_with_the_same_stopping_rule():
    def while_loop(b, tol=1e-14):
        x = np.zeros(5)
        while True:
            new = layer(x, (W, b))
            if np.max(np.abs(new - x)) <= tol:
                return new
            x = new

    onp.testing.assert_allclose(jacrev(lambda b: implicit((W, b)))(B), jacrev(while_loop)(B), rtol=1e-9, atol=1e-12)


def test_pytree_solution_and_pytree_params_with_an_integer_leaf():
    def f(x, params):
        u, v = x
        return (params["a"] * np.cos(v) ** params["n"], 0.5 * np.sin(u) + params["c"])

    def loss(a, c):
        u, v = fixed_point(f, (0.0, 0.0), {"a": a, "c": c, "n": 2}, tol=1e-14)
        return u * v

    def loss_unrolled(a, c):
        x = (0.0, 0.0)
        for _ in range(80):
            x = f(x, {"a": a, "c": c, "n": 2})
        return x[0] * x[1]

    onp.testing.assert_allclose(grad(loss, argnums=(0, 1))(0.8, 0.3), grad(loss_unrolled, argnums=(0, 1))(0.8, 0.3),
                                rtol=1e-10)
    onp.testing.assert_allclose(hessian(loss, argnums=(0, 1))(0.8, 0.3),
                                hessian(loss_unrolled, argnums=(0, 1))(0.8, 0.3), rtol=1e-8)


# -- memory: nothing is recorded per iteration -------------------------------------------------------

def _counted(f):
    calls = collections.Counter()

    def counted(x, p):
        calls["f"] += 1
        return f(x, p)
    return counted, calls


def test_tape_and_backward_cost_do_not_grow_with_the_number_of_iterations():
    f, calls = _counted(lambda x, p: 0.95 * np.tanh(x) * np.cos(p) + p)
    seen = []
    for tol in (1e-2, 1e-14):
        calls.clear()
        out, pull = vjp(lambda p: fixed_point(f, onp.zeros(3), p, tol=tol), onp.array([0.1, 0.2, 0.3]))
        forward = calls["f"]
        calls.clear()
        pull(onp.ones(3))
        seen.append((forward, len(pull.records), calls["f"]))
    (n_loose, records_loose, bwd_loose), (n_tight, records_tight, bwd_tight) = seen
    assert n_tight > 4 * n_loose                 # many more forward iterations...
    assert records_tight == records_loose <= 3   # ...but the same tape: input, fixed_point, nothing per step
    assert bwd_loose == bwd_tight == 1           # the backward pass traces f once, whatever the iterations

    # the unrolled loop records every iteration
    def unrolled_loop(p):
        x = onp.zeros(3)
        for _ in range(n_tight):
            x = f(x, p)
        return x
    _, pull_unrolled = vjp(unrolled_loop, onp.array([0.1, 0.2, 0.3]))
    assert len(pull_unrolled.records) > 3 * n_tight


def test_forward_mode_traces_f_once_and_replays_it():
    f, calls = _counted(kepler)
    fixed_point(f, 0.0, 0.7, tol=1e-14)
    n = calls["f"]
    calls.clear()
    jvp(lambda p: fixed_point(f, 0.0, p, tol=1e-14), (0.7,), (1.0,))
    assert calls["f"] == n + 1


def test_non_convergence_warns():
    with pytest.warns(RuntimeWarning, match="no convergence after 50 iterations"):
        fixed_point(lambda x, p: p - x, 0.0, 1.0, max_iter=50)     # x -> 1 - x oscillates forever
    with pytest.warns(RuntimeWarning, match="diverged"):
        fixed_point(lambda x, p: p * x * x + 1.0, 1.0, 2.0)


def test_structure_mismatch_is_reported():
    with pytest.raises(ValueError, match="f returned the structure"):
        fixed_point(lambda x, p: (x, x), 0.0, 1.0)


def test_closing_over_a_traced_value_is_reported():
    with pytest.raises(TypeError, match="closes over a traced variable"):
        grad(lambda q: fixed_point(lambda x, p: 0.5 * x + p * q, 0.0, q))(1.0)


# -- plain-Python loops with data-dependent stops, breaks and recursion ---------------------------------

# the adaptive loop of the founding notes (seed 003) and a Newton iteration, as the example runs them
ADAPTIVE = load_example("adaptive_loop")
halve_until_converged, newton_sqrt = ADAPTIVE.halve_until_converged, ADAPTIVE.newton_sqrt


@pytest.mark.parametrize("x0", [3.0, 0.01, 123.4])
def test_adaptive_halving_loop_from_the_founding_notes(x0):
    n = 1
    while x0 / 2 ** n >= 1e-3:               # the stop: |x_n - x_(n-1)| = x0 / 2^n < eps
        n += 1
    assert halve_until_converged(x0) == pytest.approx(x0 / 2 ** n)
    assert grad(halve_until_converged)(x0) == 2.0 ** -n
    assert jvp(halve_until_converged, (x0,), (1.0,))[1] == 2.0 ** -n
    assert grad(grad(halve_until_converged))(x0) == 0.0
    h = 1e-7 * x0                            # the loop is linear between the points where n changes
    fd = (halve_until_converged(x0 + h) - halve_until_converged(x0 - h)) / (2 * h)
    assert fd == pytest.approx(2.0 ** -n, rel=1e-6)


def test_adaptive_loop_on_arrays():
    def halve(x, eps=1e-3):
        while True:
            x_old = x
            x = x / 2
            if np.max(np.abs(x - x_old)) < eps:
                return x
    x0 = onp.array([3.0, -1.0, 0.5])
    onp.testing.assert_array_equal(jacrev(halve)(x0), onp.eye(3) / 4096)   # 3 / 2^12 < 1e-3 <= 3 / 2^11


def test_newton_while_loop_converges_to_the_true_derivative():
    for a in (0.3, 2.0, 50.0):
        assert grad(newton_sqrt)(a) == pytest.approx(0.5 / onp.sqrt(a), rel=1e-10)
        assert jvp(newton_sqrt, (a,), (1.0,))[1] == pytest.approx(0.5 / onp.sqrt(a), rel=1e-10)
        assert grad(grad(newton_sqrt))(a) == pytest.approx(-0.25 * a ** -1.5, rel=1e-7)


def test_early_break():
    def grow(x):
        y = 1.0
        for _ in range(100):
            y = y * x
            if y > 10.0:
                break
        return y
    assert grow(1.5) == pytest.approx(1.5 ** 6)          # 1.5^5 = 7.6 <= 10 < 1.5^6
    assert grad(grow)(1.5) == pytest.approx(6 * 1.5 ** 5)
    assert grad(grad(grow))(1.5) == pytest.approx(30 * 1.5 ** 4)
    assert grad(grow)(3.0) == pytest.approx(3 * 3.0 ** 2)  # a different number of iterations


def test_recursion():
    def shrink(x):
        return x if x < 1.0 else 1.0 + shrink(x / 2)         # depth depends on the value

    def horner(coeffs, x):
        return coeffs[0] if len(coeffs) == 1 else coeffs[0] + x * horner(coeffs[1:], x)

    assert grad(shrink)(10.0) == 2.0 ** -4                  # 10 -> 5 -> 2.5 -> 1.25 -> 0.625
    assert grad(shrink)(0.5) == 1.0
    c = [1.0, -2.0, 0.5, 3.0]
    deriv = onp.polyval(onp.polyder(c[::-1]), 0.7)
    assert grad(lambda x: horner(c, x))(0.7) == pytest.approx(deriv)
    assert jvp(lambda x: horner(c, x), (0.7,), (1.0,))[1] == pytest.approx(deriv)
    assert grad(grad(lambda x: horner(c, x)))(0.7) == pytest.approx(onp.polyval(onp.polyder(c[::-1], 2), 0.7))


def test_the_adaptive_loop_example():
    r = ADAPTIVE.main(verbose=False)
    assert r["halving_grad"] == r["halving_exact"]
    assert r["halving_fd"] == pytest.approx(r["halving_exact"], rel=1e-6)
    assert r["newton_grad"] == pytest.approx(r["newton_exact"], rel=1e-10)
    assert r["implicit_grad"] == pytest.approx(r["unrolled_grad"], rel=1e-9)
    assert r["implicit_records"] < 5 < r["iterations"] < r["unrolled_records"]


def test_arrays_f_closes_over_are_held_until_the_derivative_is_done():
    """The rules trace f again at the solution and read what it closes over: writing into
    such an array before the backward pass is refused, not a silently different gradient."""
    from wengert import SavedArrayWriteError
    A = onp.array([[0.4, 0.1], [-0.2, 0.3]])
    p0 = onp.array([0.3, -0.2])

    def loss(p, write):
        x = fixed_point(lambda x, q: np.tanh(A @ x) + q, onp.zeros(2), p)
        if write:
            A[0, 0] = 5.0
        return np.sum(x ** 2)
    g = grad(loss)(p0, False)
    with pytest.raises(SavedArrayWriteError):
        grad(loss)(p0, True)
    assert A.flags.writeable and A[0, 0] == 0.4
    out, pull = vjp(lambda p: fixed_point(lambda x, q: np.tanh(A @ x) + q, onp.zeros(2), p), p0)
    with pytest.raises(ValueError, match="read-only"):       # (NumPy's own error, outside a trace)
        A[1, 1] = -3.0
    onp.testing.assert_allclose(pull(2 * out)[0], g, rtol=1e-8)
    del pull
    assert A.flags.writeable
