"""custom_vjp and custom_jvp: JAX's user API for custom derivative rules."""
import collections
import functools
import gc
import weakref

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import check_grads, grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad
from wengert.transforms.batch import vmap_flat
from wengert.transforms.custom import CustomRuleError, custom_jvp, custom_vjp

R = onp.random.default_rng(7)


# -- custom_vjp: the JAX example and the calls it makes ------------------------------------------

def make_sin_times():
    calls = collections.Counter()

    @custom_vjp
    def f(x, y):
        calls["f"] += 1
        return np.sin(x) * y

    def f_fwd(x, y):
        calls["fwd"] += 1
        return f(x, y), (np.cos(x), np.sin(x), y)

    def f_bwd(res, g):
        calls["bwd"] += 1
        cos_x, sin_x, y = res
        gy = sin_x * g
        return (cos_x * g * y, np.sum(gy) if np.shape(y) == () else gy)

    f.defvjp(f_fwd, f_bwd)
    return f, calls


def test_custom_vjp_value_and_gradient():
    f, calls = make_sin_times()
    assert f(2.0, 3.0) == pytest.approx(onp.sin(2.0) * 3.0)
    assert calls == {"f": 1}                      # not differentiated: only f runs
    calls.clear()
    (val, (gx, gy)) = value_and_grad(f, argnums=(0, 1))(2.0, 3.0)
    assert val == pytest.approx(onp.sin(2.0) * 3.0)
    assert gx == pytest.approx(onp.cos(2.0) * 3.0) and gy == pytest.approx(onp.sin(2.0))
    assert calls == {"fwd": 1, "f": 1, "bwd": 1}  # fwd once: its residuals are kept for bwd


def test_custom_vjp_rule_is_the_one_used():
    @custom_vjp
    def clip_gradient(x, lo, hi):
        return x

    clip_gradient.defvjp(lambda x, lo, hi: (x, (lo, hi)),
                         lambda res, g: (np.clip(g, res[0], res[1]), None, None))
    loss = lambda x: np.sum(clip_gradient(x, -0.5, 0.5) * np.array([3.0, -0.1, -2.0]))
    onp.testing.assert_allclose(grad(loss)(onp.ones(3)), [0.5, -0.1, -0.5])


def test_custom_vjp_with_pytrees_in_and_out():
    def plain(params, xs):
        a = params["w"] @ xs[0] + params["b"]
        return {"out": np.tanh(a), "extra": (np.sum(xs[1] ** 2), params["b"] * 2.0)}

    @custom_vjp
    def f(params, xs):
        return plain(params, xs)

    def fwd(params, xs):
        out = plain(params, xs)
        return out, (params, xs, out["out"])

    def bwd(res, g):
        params, xs, t = res
        ga = g["out"] * (1 - t ** 2)
        g_extra, g_b2 = g["extra"]
        return ({"w": np.outer(ga, xs[0]), "b": np.sum(ga) + 2.0 * g_b2},
                (params["w"].T @ ga, 2.0 * g_extra * xs[1]))

    f.defvjp(fwd, bwd)
    params = {"w": R.normal(size=(3, 2)), "b": 0.3}
    xs = (R.normal(size=2), R.normal(size=4))

    def loss(fun):
        def total(params, xs):
            out = fun(params, xs)
            return np.sum(out["out"] * np.arange(3.0)) + out["extra"][0] * 0.5 + out["extra"][1] ** 2
        return total

    got = grad(loss(f), argnums=(0, 1))(params, xs)
    want = grad(loss(plain), argnums=(0, 1))(params, xs)
    onp.testing.assert_allclose(got[0]["w"], want[0]["w"])
    assert got[0]["b"] == pytest.approx(want[0]["b"])
    for a, b in zip(got[1], want[1]):
        onp.testing.assert_allclose(a, b)
    # forward mode (bwd transposed) and both Jacobians agree with plain differentiation
    t = ({"w": R.normal(size=(3, 2)), "b": 0.7}, (R.normal(size=2), R.normal(size=4)))
    _, got_t = jvp(f, (params, xs), t)
    _, want_t = jvp(plain, (params, xs), t)
    onp.testing.assert_allclose(got_t["out"], want_t["out"])
    onp.testing.assert_allclose(got_t["extra"][0], want_t["extra"][0])
    x0 = xs[0]
    for jac in (jacfwd, jacrev):
        onp.testing.assert_allclose(jac(lambda x: f(params, (x, xs[1]))["out"])(x0),
                                    jac(lambda x: plain(params, (x, xs[1]))["out"])(x0))


def test_none_cotangents_for_whole_arguments_and_single_leaves():
    @custom_vjp
    def f(x, p):
        return x * p["a"] + p["b"]

    f.defvjp(lambda x, p: (f(x, p), (x, p)),
             lambda res, g: (g * res[1]["a"], {"a": g * res[0], "b": None}))
    gx, gp = grad(f, argnums=(0, 1))(2.0, {"a": 3.0, "b": 4.0})
    assert gx == 3.0 and gp["a"] == 2.0 and gp["b"] == 0.0

    @custom_vjp
    def h(x, y):
        return x * 2.0 + y

    h.defvjp(lambda x, y: (h(x, y), None), lambda res, ct: (2.0 * ct, None))
    assert grad(h, argnums=(0, 1))(1.5, 2.0) == (2.0, 0.0)


def test_integer_outputs_and_arguments():
    @custom_vjp
    def f(x, n):
        return x ** n, n + 1

    f.defvjp(lambda x, n: (f(x, n), (x, n)), lambda res, g: (res[1] * res[0] ** (res[1] - 1) * g[0], None))
    value, count = f(np.asarray(2.0), 3)
    assert value == 8.0 and count == 4
    assert grad(lambda x: f(x, 3)[0])(2.0) == pytest.approx(12.0)


def test_keyword_arguments_and_defaults_resolve_to_positions():
    @custom_vjp
    def f(x, scale=2.0):
        return scale * x

    f.defvjp(lambda x, scale=2.0: (f(x, scale), scale), lambda scale, g: (scale * g, None))
    assert grad(lambda x: f(x))(1.0) == 2.0
    assert grad(lambda x: f(x, scale=5.0))(1.0) == 5.0
    assert grad(lambda s: f(1.0, scale=s))(3.0) == 0.0       # bwd says so


# -- nondiff_argnums -------------------------------------------------------------------------------

def test_nondiff_argnums_custom_vjp_callable_first():
    seen = []

    @custom_vjp
    def app(fn, x):
        return fn(x)

    app = custom_vjp(app.fun, nondiff_argnums=(0,))

    def app_fwd(fn, x):                       # the same signature as app
        return app(fn, x), x

    def app_bwd(fn, x, g):                    # the non-differentiated argument first
        seen.append(fn)
        return (5.0 * g,)

    app.defvjp(app_fwd, app_bwd)
    assert app(np.sin, 0.3) == pytest.approx(onp.sin(0.3))
    assert grad(lambda x: app(np.sin, x))(0.3) == 5.0
    assert seen == [np.sin]


def test_nondiff_argnums_in_the_middle_keep_their_place_in_fwd():
    order = []

    def power(x, n, y):
        return x ** n * y

    f = custom_vjp(power, nondiff_argnums=(1,))

    def fwd(x, n, y):
        order.append(("fwd", n))
        return power(x, n, y), (x, y)

    def bwd(n, res, ct):
        order.append(("bwd", n))
        x, y = res
        return (n * x ** (n - 1) * y * ct, x ** n * ct)

    f.defvjp(fwd, bwd)
    gx, gy = grad(f, argnums=(0, 2))(2.0, 3, 5.0)
    assert (gx, gy) == (pytest.approx(60.0), pytest.approx(8.0))
    assert order == [("fwd", 3), ("bwd", 3)]
    # nondiff by keyword and a negative index
    h = custom_vjp(power, nondiff_argnums=(-2,))
    h.defvjp(fwd, bwd)
    assert grad(lambda x: h(x, n=2, y=1.0))(3.0) == pytest.approx(6.0)


def test_nondiff_argnums_custom_jvp():
    @custom_jvp
    def apply(fn, x):
        return fn(x)

    apply = custom_jvp(apply.fun, nondiff_argnums=(0,))

    @apply.defjvp
    def apply_jvp(fn, primals, tangents):
        (x,), (t,) = primals, tangents
        return fn(x), 7.0 * t

    assert jvp(lambda x: apply(np.exp, x), (1.0,), (1.0,))[1] == 7.0
    assert grad(lambda x: apply(np.exp, x))(1.0) == 7.0


def test_traced_nondiff_argument_is_refused():
    def scale(x, s):
        return x * s

    f = custom_vjp(scale, nondiff_argnums=(1,))
    f.defvjp(lambda x, s: (x * s, s), lambda s, res, g: (g * s,))
    with pytest.raises(TypeError, match=r"argument 1 \('s'\) is in nondiff_argnums but is a traced value"):
        grad(lambda x: f(x, x))(2.0)


# -- nesting, forward mode on custom_vjp, reverse mode on custom_jvp --------------------------------

def test_grad_of_grad_of_custom_vjp():
    f, _ = make_sin_times()
    x, y = 0.7, 1.3
    assert grad(grad(f))(x, y) == pytest.approx(-onp.sin(x) * y)
    assert grad(grad(f, 1), 0)(x, y) == pytest.approx(onp.cos(x))
    assert grad(grad(grad(f)))(x, y) == pytest.approx(-onp.cos(x) * y)
    check_grads(f, (onp.array([0.3, -1.2]), onp.array([0.5, 2.0])), order=2)


def test_perturbations_stay_apart_through_a_custom_rule():
    @custom_vjp
    def add(x, y):
        return x + y

    add.defvjp(lambda x, y: (x + y, None), lambda res, g: (g, g))
    # d/dx [x * d/dy (x + y)] = 1
    assert grad(lambda x: x * grad(lambda y: add(x, y))(2.0))(1.0) == 1.0
    assert jvp(lambda x: x * grad(lambda y: add(x, y))(2.0), (1.0,), (1.0,))[1] == 1.0


def test_forward_mode_on_custom_vjp_transposes_bwd():
    calls = collections.Counter()

    @custom_vjp
    def f(x, y, z):
        return x ** 3 + y * z

    def bwd(res, g):
        calls["bwd"] += 1
        x, y, z = res
        return (2.0 * g, np.sum(g * z), np.sum(g * y))   # deliberately not 3x^2: the rule must win

    f.defvjp(lambda x, y, z: (f(x, y, z), (x, y, z)), bwd)
    out, t = jvp(f, (1.5, 2.0, 3.0), (1.0, 10.0, 100.0))
    assert out == pytest.approx(1.5 ** 3 + 6.0)
    assert t == pytest.approx(2.0 + 30.0 + 200.0)
    assert calls["bwd"] == 1                  # one transposition for all tangents
    x = R.normal(size=4)
    onp.testing.assert_allclose(jacfwd(lambda x: f(x, 2.0, 3.0))(x), 2.0 * onp.eye(4))
    onp.testing.assert_allclose(jacrev(lambda x: f(x, 2.0, 3.0))(x), 2.0 * onp.eye(4))


def test_forward_over_reverse_and_hessian_of_custom_vjp():
    f, _ = make_sin_times()
    x = R.normal(size=3)
    H = hessian(lambda x: np.sum(f(x, 2.0) ** 2))(x)
    H_plain = hessian(lambda x: np.sum((np.sin(x) * 2.0) ** 2))(x)
    onp.testing.assert_allclose(H, H_plain, atol=1e-12)
    hv = jvp(grad(lambda x: np.sum(f(x, 2.0))), (x,), (onp.ones(3),))[1]
    onp.testing.assert_allclose(hv, -2.0 * onp.sin(x))


def test_linearize_replays_the_custom_rule():
    f, calls = make_sin_times()
    x = R.normal(size=3)
    out, push = linearize(lambda x: f(x, 2.0), x)
    calls.clear()
    t = R.normal(size=3)
    onp.testing.assert_allclose(push(t), 2.0 * onp.cos(x) * t)
    onp.testing.assert_allclose(push(2 * t), 4.0 * onp.cos(x) * t)
    assert calls["fwd"] == 0 and calls["bwd"] == 2          # replays reuse the residuals


def test_custom_jvp_in_reverse_mode_by_transposition():
    calls = collections.Counter()

    @custom_jvp
    def f(x, y):
        return x * y

    @f.defjvp
    def f_jvp(primals, tangents):
        calls["rule"] += 1
        (x, y), (tx, ty) = primals, tangents
        return x * y, 5.0 * tx + x * ty       # deliberately 5 instead of y

    assert grad(f)(2.0, 3.0) == 5.0
    calls.clear()
    assert grad(f, argnums=(0, 1))(2.0, 3.0) == (5.0, 2.0)
    assert calls["rule"] == 1                 # one transposition for both arguments
    x = R.normal(size=3)
    onp.testing.assert_allclose(jacrev(lambda x: f(x, 1.0))(x), 5.0 * onp.eye(3))
    onp.testing.assert_allclose(jacfwd(lambda x: f(x, 1.0))(x), 5.0 * onp.eye(3))


def test_custom_jvp_with_pytrees_and_second_order():
    @custom_jvp
    def polar(p):
        return {"x": p[0] * np.cos(p[1]), "y": p[0] * np.sin(p[1])}

    @polar.defjvp
    def polar_jvp(primals, tangents):
        ((r, th),), ((dr, dth),) = primals, tangents
        out = polar((r, th))
        return out, {"x": dr * np.cos(th) - r * np.sin(th) * dth, "y": dr * np.sin(th) + r * np.cos(th) * dth}

    def plain(p):
        return {"x": p[0] * np.cos(p[1]), "y": p[0] * np.sin(p[1])}

    p = (1.5, 0.4)
    for fun in (jacfwd, jacrev):
        got, want = fun(polar)(p), fun(plain)(p)
        for k in "xy":
            onp.testing.assert_allclose(got[k], want[k])
    check_grads(lambda r, th: polar((r, th))["x"] * polar((r, th))["y"], (onp.array(1.5), onp.array(0.4)), order=2)


def test_hessian_of_custom_jvp():
    @custom_jvp
    def softplus(x):
        return np.logaddexp(0.0, x)

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t / (1.0 + np.exp(-x))

    x = R.normal(size=3)
    H = hessian(lambda x: np.sum(softplus(x) * np.arange(1.0, 4.0)))(x)
    s = 1 / (1 + onp.exp(-x))
    onp.testing.assert_allclose(H, onp.diag(onp.arange(1.0, 4.0) * s * (1 - s)))


def test_a_batch_reaching_the_primitive_falls_back_to_a_loop():
    f, _ = make_sin_times()
    X = R.normal(size=(5, 3))
    out = vmap_flat(lambda x: f(x, 2.0), [X], [True], 5)
    onp.testing.assert_allclose(out, onp.sin(X) * 2.0)
    # differentiated through the loop: each element is recorded with its own residuals
    J = jacrev(lambda X: vmap_flat(lambda x: f(x, 2.0), [X], [True], 5))(X)
    onp.testing.assert_allclose(J.reshape(15, 15), onp.diag(2.0 * onp.cos(X).ravel()))


def test_method_decoration_with_self_not_differentiated():
    class Scaler:
        def __init__(self, k):
            self.k = k

        @functools.partial(custom_jvp, nondiff_argnums=(0,))
        def __call__(self, x):
            return self.k * x

    Scaler.__call__.defjvp(lambda self, primals, tangents: (self(primals[0]), 2.0 * self.k * tangents[0]))
    assert Scaler(3.0)(1.0) == 3.0
    assert grad(Scaler(3.0))(1.0) == 6.0


def test_tape_and_residuals_are_freed_without_the_cycle_collector():
    refs = []

    @custom_vjp
    def f(x):
        return np.exp(x)

    def fwd(x):
        y = np.exp(x)
        refs.append(weakref.ref(y))
        return y, y

    f.defvjp(fwd, lambda y, g: (g * y,))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        onp.testing.assert_allclose(grad(lambda x: np.sum(f(x)))(onp.zeros(4)), onp.ones(4))
        assert [r() for r in refs] == [None]
    finally:
        if was_enabled:
            gc.enable()


# -- numerically stable rules ---------------------------------------------------------------------------

@custom_jvp
def log1pexp(x):
    return np.logaddexp(0.0, x)


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    y = log1pexp(x)
    return y, t * np.exp(x - y)              # the logistic function, without overflow


@custom_vjp
def safe_norm(x):
    return np.sqrt(np.sum(x ** 2))


def _safe_norm_fwd(x):
    n = safe_norm(x)
    return n, (x, n)


def _safe_norm_bwd(res, g):
    x, n = res
    return (g * x / np.where(n == 0.0, 1.0, n),)


safe_norm.defvjp(_safe_norm_fwd, _safe_norm_bwd)


def test_log1pexp_is_stable_where_the_naive_derivative_is_not():
    with onp.errstate(over="ignore", invalid="ignore"):
        naive = grad(lambda x: np.log(1.0 + np.exp(x)))(1000.0)
    assert onp.isnan(naive)
    assert grad(log1pexp)(1000.0) == 1.0
    assert grad(log1pexp)(-1000.0) == 0.0
    assert grad(grad(log1pexp))(0.0) == pytest.approx(0.25)
    check_grads(log1pexp, (onp.array([-3.0, -0.5, 0.0, 0.7, 4.0]),), order=2)


def test_safe_norm_has_a_gradient_at_zero():
    with onp.errstate(invalid="ignore", divide="ignore"):
        naive = grad(lambda x: np.sqrt(np.sum(x ** 2)))(onp.zeros(3))
    assert onp.isnan(naive).all()
    onp.testing.assert_array_equal(grad(safe_norm)(onp.zeros(3)), onp.zeros(3))
    check_grads(safe_norm, (onp.array([0.3, -1.2, 2.0]),), order=2)


# -- errors ---------------------------------------------------------------------------------------------

def _with_bwd(bwd, fun=None):
    @custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (f(x, y), (x, y)), bwd)
    return f


def test_error_wrong_cotangent_shape_names_function_and_argument():
    f = _with_bwd(lambda res, g: (g * res[1], g * onp.ones(2)))
    with pytest.raises(CustomRuleError, match=r"custom_vjp function f: the cotangent bwd returned for "
                                               r"argument 1 \('y'\) has shape \(2,\).*shape of its primal, \(\)"):
        grad(f, argnums=(0, 1))(onp.array(2.0), onp.array(3.0))


def test_error_wrong_cotangent_dtype():
    f = _with_bwd(lambda res, g: ((g * res[1]).astype(onp.float32), g * res[0]))
    with pytest.raises(CustomRuleError, match=r"argument 0 \('x'\) has dtype float32, but its primal has dtype "
                                               r"float64"):
        grad(f)(onp.array(2.0), onp.array(3.0))
    f = _with_bwd(lambda res, g: (g * res[1] + 0j, g * res[0]))
    with pytest.raises(CustomRuleError, match="complex128"):
        grad(f)(onp.array(2.0), onp.array(3.0))


def test_python_numbers_are_accepted_as_cotangents():
    f = _with_bwd(lambda res, g: (1.0, 0))
    assert grad(f, argnums=(0, 1))(onp.float32(2.0), 3.0) == (1.0, 0.0)
    assert grad(f)(onp.float32(2.0), 3.0).dtype == onp.float32


def test_error_wrong_number_of_cotangents():
    f = _with_bwd(lambda res, g: (g * res[1],))
    with pytest.raises(CustomRuleError, match=r"bwd returned 1 cotangents, but the function has 2 differentiated "
                                               r"arguments \(argument 0 \('x'\), argument 1 \('y'\)\)"):
        grad(f)(2.0, 3.0)
    f = _with_bwd(lambda res, g: g * res[1])
    with pytest.raises(CustomRuleError, match="bwd must return a tuple"):
        grad(f)(2.0, 3.0)


def test_error_wrong_cotangent_structure():
    @custom_vjp
    def f(p):
        return p["a"] * p["b"]

    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"a": g * p["b"]},))
    with pytest.raises(CustomRuleError, match=r"cotangent for argument 0 \('p'\) with the wrong structure"):
        grad(f)({"a": 1.0, "b": 2.0})
    f.defvjp(lambda p: (f(p), p), lambda p, g: ((g * p["b"], g * p["a"]),))
    with pytest.raises(CustomRuleError, match="wrong structure"):
        grad(f)({"a": 1.0, "b": 2.0})


def test_error_in_forward_mode_too():
    f = _with_bwd(lambda res, g: (g * onp.ones(3), g * res[0]))
    with pytest.raises(CustomRuleError, match=r"argument 0 \('x'\) has shape \(3,\)"):
        jvp(f, (2.0, 3.0), (1.0, 0.0))


def test_error_custom_jvp_tangent_shape_and_pair():
    @custom_jvp
    def f(x):
        return np.sin(x)

    f.defjvp(lambda primals, tangents: (f(primals[0]), onp.ones(4)))
    with pytest.raises(CustomRuleError, match=r"custom_jvp function f: output tangent 0 of the JVP rule has "
                                               r"shape \(4,\)"):
        jvp(f, (onp.ones(2),), (onp.ones(2),))
    f.defjvp(lambda primals, tangents: tangents[0])
    with pytest.raises(CustomRuleError, match=r"must return a pair \(primal_out, tangent_out\)"):
        grad(f)(1.0)


def test_error_fwd_must_return_a_pair_and_rule_must_exist():
    @custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match=r"has no rule: call f.defvjp\(fwd, bwd\) first"):
        f(1.0)
    f.defvjp(lambda x: x, lambda res, g: (g,))
    assert f(1.0) == 1.0                       # untraced: only f runs
    with pytest.raises(CustomRuleError, match=r"fwd must return a pair \(output, residuals\)"):
        grad(f)(1.0)


def test_error_closing_over_a_traced_value():
    def outer(y):
        @custom_vjp
        def f(x):
            return x * y

        f.defvjp(lambda x: (f(x), None), lambda res, g: (g,))
        return f(y)

    with pytest.raises(TypeError, match="closes over a traced variable"):
        grad(outer)(2.0)


def test_error_names_the_leaf_inside_a_pytree_argument():
    Pair = collections.namedtuple("Pair", "a b")

    @custom_vjp
    def f(x, params):
        return x * params["w"][1].b

    f.defvjp(lambda x, p: (f(x, p), (x, p)), lambda res, g: (g, {"w": [None, Pair(None, onp.ones(2))]}))
    with pytest.raises(CustomRuleError, match=r"argument 1 \('params'\) at \['w'\]\[1\]\.b has shape \(2,\)"):
        grad(lambda x: np.sum(f(x, {"w": [1.0, Pair(1.0, onp.ones(3))]})))(onp.ones(3))


# -- review: integer outputs, messages, non-array arguments, held arrays, batched rules ------------

def _sin_and_next(seen):
    """``(sin(x), n + 1)`` with a custom VJP and with a custom JVP; the rules record in
    ``seen`` what they get for the integer output (cotangent) or argument (tangent)."""
    @custom_vjp
    def f(x, n):
        return np.sin(x), n + 1

    def f_bwd(x, g):
        seen.append(g[1])
        return (g[0] * np.cos(x), None)
    f.defvjp(lambda x, n: (f(x, n), x), f_bwd)

    @custom_jvp
    def h(x, n):
        return np.sin(x), n + 1

    @h.defjvp
    def h_jvp(p, t):
        (x, n), (tx, tn) = p, t
        seen.append(tn)
        return h(x, n), (tx * np.cos(x), None)
    return f, h


def test_integer_outputs_come_back_exact():
    """Integer outputs have no derivative and travel beside the packed float vector: an
    int64 above 2**53 would not survive a float one."""
    big = onp.array([2 ** 62 + 1, 2 ** 53 + 1], dtype=onp.int64)
    for fun in _sin_and_next([]):
        seen = []

        def loss(x):
            s, m = fun(x, big)
            seen.append(onp.asarray(m))
            return np.sum(s)
        g = grad(loss)(onp.array([0.3, 0.4]))
        onp.testing.assert_allclose(g, onp.cos([0.3, 0.4]), rtol=1e-14)
        assert seen[-1].dtype == onp.int64 and (seen[-1] == big + 1).all()
        _, t = jvp(loss, (onp.array([0.3, 0.4]),), (onp.ones(2),))
        assert t == pytest.approx(onp.cos(0.3) + onp.cos(0.4))
        assert (seen[-1] == big + 1).all()


def test_integer_outputs_that_differ_between_evaluations_are_refused():
    """A call evaluated once per element of a batch (a custom function applied to the
    cotangent inside another rule, under jacrev): its integer outputs travel beside the
    derivative, so they must agree; when they do not, a clear error, not a wrong value."""
    @custom_vjp
    def count(x):
        return x * 1.0, np.sum(x > 0)
    count.defvjp(lambda x: (count(x), None), lambda res, g: (g[0],))

    @custom_vjp
    def outer(x):
        return x * 1.0
    seen = []

    def outer_bwd(res, g):
        y, n = count(g)
        seen.append(n)
        return (y,)
    outer.defvjp(lambda x: (outer(x), None), outer_bwd)
    same = onp.array([[1.0, 2.0], [3.0, 4.0]])          # each row: 2 positive entries
    onp.testing.assert_allclose(jacrev(lambda x: same @ outer(x))(onp.ones(2)), same)
    assert seen[-1] == 2
    with pytest.raises(CustomRuleError, match="custom_vjp function count: the integer or boolean outputs "
                                              "differ between two evaluations"):
        jacrev(lambda x: onp.array([[1.0, -2.0], [3.0, 4.0]]) @ outer(x))(onp.ones(2))


def test_the_cotangents_and_tangents_of_integer_outputs_are_zeros():
    """Never the primal value: bwd sees zeros for an integer output's cotangent, the JVP
    rule zeros for an integer argument's tangent, and jvp returns zeros for it."""
    n0 = onp.array([7, 9])
    got = []
    f, h = _sin_and_next(got)
    x = onp.array([0.3, 0.4])
    for fun in (f, h):
        got.clear()
        (_, m), (_, tm) = jvp(lambda x: fun(x, n0), (x,), (onp.ones(2),))
        assert (m == n0 + 1).all() and (onp.asarray(tm) == 0).all()
        grad(lambda x: np.sum(fun(x, n0)[0]))(x)
        assert got and all((onp.asarray(v) == 0).all() for v in got)


def test_a_wrong_dict_cotangent_names_the_keys():
    @custom_vjp
    def f(p):
        return p["w"] * p["b"]
    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"w": g * p["b"], "bias": g * p["w"]},))
    with pytest.raises(CustomRuleError, match=r"\{'w': \*, 'bias': \*\} where \{'w': \*, 'b': \*\} was expected"):
        grad(f)({"w": 2.0, "b": 3.0})


def test_a_string_argument_outside_nondiff_argnums_needs_no_cotangent():
    @custom_vjp
    def scale(x, mode):
        return x * (2.0 if mode == "fast" else 3.0)
    scale.defvjp(lambda x, mode: (scale(x, mode), mode),
                 lambda mode, g: (g * (2.0 if mode == "fast" else 3.0), None))
    assert grad(lambda x: scale(x, "fast"))(1.0) == 2.0
    assert jvp(lambda x: scale(x, mode="slow"), (1.0,), (1.0,)) == (3.0, 3.0)
    scale.defvjp(lambda x, mode: (scale(x, mode), mode), lambda mode, g: (g * 2.0, g))
    with pytest.raises(CustomRuleError, match="argument 1 \\('mode'\\).*not an array.*nondiff_argnums"):
        grad(lambda x: scale(x, "fast"))(1.0)



def test_a_custom_jvp_rule_sees_none_for_the_tangent_of_a_string_argument():
    @custom_jvp
    def scale(x, mode):
        return x * (2.0 if mode == "fast" else 3.0)
    seen = []

    @scale.defjvp
    def scale_jvp(p, t):
        (x, mode), (tx, tmode) = p, t
        seen.append(tmode)
        return scale(x, mode), tx * (2.0 if mode == "fast" else 3.0)
    assert grad(lambda x: scale(x, "fast"))(1.0) == 2.0
    assert jvp(lambda x: scale(x, "slow"), (1.0,), (1.0,)) == (3.0, 3.0)
    assert seen == [None, None]


def test_arrays_in_nondiff_arguments_are_held_until_bwd_has_read_them():
    @functools.partial(custom_vjp, nondiff_argnums=(1,))
    def times(x, c):
        return x * c
    times.defvjp(lambda x, c: (times(x, c), None), lambda c, res, g: (g * c,))
    C = onp.array([1.0, 2.0, 3.0])
    out, pull = __import__("wengert").vjp(lambda x: times(x, C), onp.ones(3))
    with pytest.raises(ValueError, match="read-only"):
        C[0] = 100.0
    onp.testing.assert_allclose(pull(onp.ones(3))[0], [1.0, 2.0, 3.0])
    del pull, out
    gc.collect()
    assert C.flags.writeable



def test_held_arrays_are_writeable_again_after_an_exception_in_bwd():
    """Arrays in nondiff arguments and among fwd's residuals are held until bwd has read
    them; a bwd that fails lets go of them too."""
    @functools.partial(custom_vjp, nondiff_argnums=(1,))
    def times(x, c):
        return x * c

    def bad_bwd(c, res, g):
        raise RuntimeError("bwd failed")
    R = onp.array([4.0, 5.0, 6.0])
    times.defvjp(lambda x, c: (times(x, c), R), bad_bwd)
    C = onp.array([1.0, 2.0, 3.0])
    out, pull = __import__("wengert").vjp(lambda x: times(x, C), onp.ones(3))
    for arr in (C, R):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 100.0
    with pytest.raises(RuntimeError, match="bwd failed"):
        pull(onp.ones(3))
    with pytest.raises(RuntimeError, match="bwd failed"):
        grad(lambda x: np.sum(times(x, C)))(onp.ones(3))
    del pull, out
    gc.collect()
    assert C.flags.writeable and R.flags.writeable


CALLS = onp.zeros(1)


def test_a_rule_may_write_its_own_buffers():
    """Arrays a rule closes over are not held: a rule may keep counters or caches there."""
    @custom_vjp
    def f(x):
        return np.sin(x)

    def bwd(x, g):
        CALLS[0] += 1
        return (g * np.cos(x),)
    f.defvjp(lambda x: (f(x), x), bwd)
    CALLS[0] = 0
    onp.testing.assert_allclose(grad(lambda x: np.sum(f(x)))(onp.array([0.1, 0.2])), onp.cos([0.1, 0.2]))
    assert CALLS[0] == 1


def test_where_on_a_comparison_of_a_batched_cotangent_selects_per_element():
    """Gradient clipping in bwd, under jacrev: each row clipped by its own norm."""
    @custom_vjp
    def clip(x):
        return x * 1.0

    def bwd(res, g):
        n = np.sqrt(np.sum(g ** 2))
        return (g * np.where(n > 1.0, 1.0 / n, 1.0),)
    clip.defvjp(lambda x: (x * 1.0, None), bwd)
    A = onp.array([[0.3, 0.2, 0.1], [2.0, -1.0, 0.5], [0.1, 0.1, 0.1]])
    rows = [a / max(1.0, onp.linalg.norm(a)) for a in A]
    onp.testing.assert_allclose(jacrev(lambda x: A @ clip(x))(onp.ones(3)), rows, rtol=1e-12)


@pytest.mark.parametrize("jac", [jacrev, jacfwd])
def test_shape_functions_inside_rules_see_one_element_under_jacobians(jac):
    A = onp.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])

    @custom_vjp
    def square(x):
        return x ** 2
    square.defvjp(lambda x: (square(x), x),
                  lambda x, g: (g * np.broadcast_to(2.0 * x, np.shape(g)) + np.zeros_like(g) * np.ndim(g),))

    @custom_jvp
    def square_j(x):
        return x ** 2

    @square_j.defjvp
    def square_jvp(p, t):
        (x,), (tx,) = p, t
        return square_j(x), tx * np.broadcast_to(2.0 * x, np.shape(tx)) * (np.size(tx) == x.size)

    x = onp.array([1.0, 2.0, 3.0])
    expected = A * (2 * x)
    onp.testing.assert_allclose(jac(lambda x: A @ square(x))(x), expected)
    onp.testing.assert_allclose(jac(lambda x: A @ square_j(x))(x), expected)


def test_value_functions_inside_rules_run_per_element_under_jacobians():
    """A cotangent clipped by its sign inside bwd: per element of the batch, as for one."""
    @custom_vjp
    def clipped_identity(x):
        return x * 1.0
    clipped_identity.defvjp(lambda x: (x * 1.0, None), lambda res, g: (g * (np.sign(g) > 0),))
    A = onp.array([[1.0, -2.0], [-3.0, 4.0], [0.5, 0.5]])
    J = jacrev(lambda x: A @ clipped_identity(x))(onp.ones(2))
    onp.testing.assert_allclose(J, onp.where(A > 0, A, 0.0))


def test_value_functions_of_a_diagonal_batch_run_per_element():
    """jacrev of the function itself: bwd receives the identity basis, stored as its
    diagonal (core/batching.py); per element it is one row of the identity."""
    @custom_vjp
    def gate(x):
        return x * 1.0
    gate.defvjp(lambda x: (x * 1.0, x), lambda x, g: (g * np.count_nonzero(g) * (x > 0),))   # 1 per row
    x = onp.array([1.0, -2.0, 3.0])
    onp.testing.assert_allclose(jacrev(gate)(x), onp.diag(x > 0).astype(float))


def test_a_value_function_with_results_of_different_shapes_per_element_is_a_clear_error():
    @custom_vjp
    def f(x):
        return x * 1.0
    f.defvjp(lambda x: (x * 1.0, None), lambda res, g: (g * np.argwhere(g > 0).size,))
    with pytest.raises(ValueError, match="numpy.argwhere of a batched value"):
        jacrev(lambda x: onp.array([[1.0, 1.0], [1.0, 0.0]]) @ f(x))(onp.ones(2))
