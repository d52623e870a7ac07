"""Checkpointing: ``checkpoint`` (recompute a call in the backward pass) and
``checkpoint_loop`` (binomial checkpointing of a loop by the revolve schedule)."""
import functools
import sys
import tracemalloc
import weakref
from collections import namedtuple

import numpy as onp
import pytest
from numpy.testing import assert_allclose

import wengert.numpy as np
from wengert import grad, hessian, jvp, stop_gradient, value_and_grad, vjp
from wengert.core import Primitive, defvjp, trace_reverse
from wengert.transforms import jacfwd, jacrev
from wengert.core.tracer import getval
from wengert.transforms.checkpoint import (CapturedTracerError, checkpoint, checkpoint_loop, revolve_evaluations,
                                           revolve_schedule)

RNG = onp.random.default_rng(0)
W = RNG.standard_normal((6, 6)) / 2.0
X0 = RNG.standard_normal(6)


def step(x):
    return np.sin(W @ x) * 0.9


def plain_loop(step_fn, carry, n):
    for _ in range(n):
        carry = step_fn(carry)
    return carry


# -- the binomial optimum, from first principles -------------------------------------------------

@functools.lru_cache(maxsize=None)
def min_advances(n, s):
    """Fewest forward steps (besides the one taped evaluation per reversed step) that reverse
    n steps with s snapshots, the initial state being one: put the next snapshot at m (m
    advances), reverse the tail with s - 1 snapshots, then the head with s (dynamic programming
    over every m, independent of the closed form in the library)."""
    if n <= 1:
        return 0
    if s == 1:
        return n * (n - 1) // 2
    return min(m + min_advances(n - m, s - 1) + min_advances(m, s) for m in range(1, n))


CASES = [(1, 1), (2, 1), (7, 1), (5, 2), (10, 2), (10, 3), (25, 3), (30, 4), (50, 5), (64, 6), (9, 20), (100, 10)]


@pytest.mark.parametrize("n, s", [(n, s) for n in range(1, 60) for s in (1, 2, 3, 4, 7)])
def test_revolve_evaluations_is_the_binomial_optimum(n, s):
    assert revolve_evaluations(n, s) == n + min_advances(n, s)


@pytest.mark.parametrize("n, s", CASES + [(200, 4), (1000, 10)])
def test_schedule_reverses_every_step_once_with_at_most_s_snapshots(n, s):
    snaps, pos, advances, reversed_steps = {0}, 0, 0, []
    peak = 1
    for action in revolve_schedule(n, s):
        kind = action[0]
        if kind == "advance":
            assert action[1] == pos
            advances += action[2] - action[1]
            pos = action[2]
        elif kind == "store":
            assert action[1] == pos
            snaps.add(pos)
            peak = max(peak, len(snaps))
        elif kind == "free":
            snaps.remove(action[1])
        elif kind == "restore":
            assert action[1] in snaps
            pos = action[1]
        else:
            assert action[1] == pos
            reversed_steps.append(pos)
            pos = None
    assert reversed_steps == list(range(n - 1, -1, -1))
    assert peak <= s
    assert n + advances == revolve_evaluations(n, s)


def test_closed_form_for_large_n():
    # n = 10,000, s = 10: r = 7 (C(16, 10) = 8008 < n <= C(17, 10) = 19448), t = 7 n - C(17, 11)
    assert revolve_evaluations(10_000, 10) == 10_000 + 7 * 10_000 - 12_376
    assert revolve_evaluations(10_000, 1) == 10_000 + 10_000 * 9_999 // 2
    assert revolve_evaluations(10, 10) == 10 + 9       # enough snapshots: every step runs twice, the last once


@pytest.mark.parametrize("n, s", CASES)
def test_step_evaluations_of_a_gradient_equal_the_binomial_optimum(n, s):
    calls = [0]

    def counted(x):
        calls[0] += 1
        return step(x)

    def loss(x):
        return np.sum(checkpoint_loop(counted, x, n, snapshots=s) ** 2)

    g = grad(loss)(X0)
    assert calls[0] == revolve_evaluations(n, s) == n + min_advances(n, s)
    assert_allclose(g, grad(lambda x: np.sum(plain_loop(step, x, n) ** 2))(X0), rtol=1e-12, atol=1e-15)

    calls[0] = 0
    checkpoint_loop(counted, X0, n, snapshots=s)           # not differentiated: n evaluations
    assert calls[0] == n


@pytest.mark.parametrize("n, s", CASES)
def test_gradients_equal_the_plain_loop(n, s):
    def loss(x, w):
        return np.sum(checkpoint_loop(lambda c, p: np.sin(p @ c) * 0.9, x, n, snapshots=s, params=w) ** 2)

    def plain(x, w):
        return np.sum(plain_loop(lambda c: np.sin(w @ c) * 0.9, x, n) ** 2)
    v, g = value_and_grad(loss, argnums=(0, 1))(X0, W)
    v0, g0 = value_and_grad(plain, argnums=(0, 1))(X0, W)
    assert_allclose(v, v0, rtol=1e-14)
    for a, b in zip(g, g0):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_default_snapshots_and_trivial_loops():
    calls = [0]

    def counted(x):
        calls[0] += 1
        return step(x)
    g = grad(lambda x: np.sum(checkpoint_loop(counted, x, 16)))(X0)   # default s = ceil(sqrt(16)) = 4
    assert calls[0] == revolve_evaluations(16, 4)
    assert_allclose(g, grad(lambda x: np.sum(plain_loop(step, x, 16)))(X0), rtol=1e-12)
    assert checkpoint_loop(counted, X0, 0, snapshots=3) is X0
    assert_allclose(grad(lambda x: np.sum(checkpoint_loop(step, x, 0, 2)))(X0), onp.ones(6))
    with pytest.raises(ValueError):
        checkpoint_loop(step, X0, 5, snapshots=0)
    with pytest.raises(ValueError):
        checkpoint_loop(step, X0, -1, snapshots=2)


def _evaluation_order(n, s):
    """The positions of the steps evaluated by ``revolve_schedule(n, s)``, in order."""
    order = []
    for action in revolve_schedule(n, s):
        if action[0] == "advance":
            order.extend(range(action[1], action[2]))
        elif action[0] == "turn":
            order.append(action[1])
    return order


@pytest.mark.parametrize("n, s", [(1, 1), (7, 1), (10, 3), (25, 3), (50, 5), (9, 20)])
@pytest.mark.parametrize("how", ["leaf", "params"])
def test_a_gradient_evaluates_the_steps_in_the_order_of_the_schedule(n, s, how):
    # the carry's second element counts the steps, so each evaluation tells where it is
    seen = []
    mask, scale = onp.array([1.0, 0.0]), onp.array([0.9, 1.0])

    def advanced(c, p):                            # (x, position) -> (sin(0.9 x), position + 1)
        return np.sin(c * p) * mask + c * (1 - mask) + (1 - mask)

    def leaf_step(c):
        seen.append(int(round(getval(c)[1])))
        return advanced(c, scale)

    def param_step(c, p):
        seen.append(int(round(getval(c["x"])[1])))
        return {"x": advanced(c["x"], p)}

    if how == "leaf":
        def loss(x):
            return np.sum(checkpoint_loop(leaf_step, x, n, snapshots=s)[:1])
    else:
        def loss(x):
            return np.sum(checkpoint_loop(param_step, {"x": x}, n, snapshots=s, params=scale)["x"][:1])
    x0 = onp.array([0.3, 0.0])
    g = grad(loss)(x0)
    assert seen == _evaluation_order(n, s)
    assert len(seen) == revolve_evaluations(n, s)
    d = 1.0
    x = 0.3
    for _ in range(n):
        d *= 0.9 * onp.cos(0.9 * x)
        x = onp.sin(0.9 * x)
    assert_allclose(g, [d, 0.0], rtol=1e-12, atol=1e-15)


class _Token:
    __slots__ = ("pos", "__weakref__")

    def __init__(self, pos):
        self.pos = pos


@pytest.mark.parametrize("n, s", CASES + [(200, 4), (1000, 10)])
def test_the_executor_holds_at_most_s_snapshots(n, s):
    """``_reversal`` (what checkpoint_loop runs) holds at most ``s`` carries besides the
    one it hands out, yields every step's carry once, last step first, and advances
    exactly ``t(n, s)`` steps."""
    reversal = sys.modules["wengert.transforms.checkpoint"]._reversal
    live = weakref.WeakSet()
    advanced = [0]

    class Spec:
        n_steps, snapshots = n, s

        @staticmethod
        def advance(state, consts, k):
            advanced[0] += k
            token = _Token(state.pos + k)
            live.add(token)
            return token

    first = _Token(0)
    live.add(first)
    positions = []
    for state in reversal(Spec.advance, n, s, first, []):
        first = None
        positions.append(state.pos)
        assert len(live) <= s + 1                     # s snapshots and the carry being reversed
        if state.pos != 0 and len(live) == s + 1:
            assert all(t is state or t.pos < state.pos for t in live)
        state = None
    assert positions == list(range(n - 1, -1, -1))
    assert n + advanced[0] == revolve_evaluations(n, s)


def test_an_untraced_loop_is_the_plain_loop():
    calls = [0]

    def counted(c, p):
        calls[0] += 1
        return {"x": np.sin(p @ c["x"]), "k": c["k"] + 1}
    out = checkpoint_loop(counted, {"x": X0, "k": 0}, 12, snapshots=3, params=W)
    assert calls[0] == 12
    expected = X0
    for _ in range(12):
        expected = onp.sin(W @ expected)
    assert out["k"] == 12
    assert_allclose(out["x"], expected, rtol=1e-15)
    with pytest.raises(TypeError, match="structure"):
        checkpoint_loop(lambda c: (c, c), X0, 3, snapshots=2)


def test_a_step_returning_another_structure_is_reported():
    with pytest.raises(TypeError, match="structure"):
        grad(lambda x: np.sum(checkpoint_loop(lambda c: (c, c), x, 5, snapshots=2)[0]))(X0)
    with pytest.raises(TypeError, match="structure"):
        grad(lambda x: np.sum(checkpoint_loop(lambda c: [c["a"]], {"a": x}, 5, snapshots=2)[0]))(X0)


def test_a_traced_value_hidden_from_a_loop_step_is_reported():
    def f(x):
        return x * globals()["HIDDEN"][0]          # reached by a string: invisible to the search

    def loss(w, x):
        HIDDEN[:] = [w]
        try:
            return np.sum(checkpoint_loop(f, x, 4, snapshots=2))
        finally:
            HIDDEN.clear()
    with pytest.raises(CapturedTracerError):
        grad(loss)(2.0, X0)                        # the carry is not traced: the plain loop, then the check
    with pytest.raises(CapturedTracerError):
        grad(loss, argnums=(0, 1))(2.0, X0)


def test_a_carry_leaf_passed_through_and_a_leaf_made_constant():
    # the step's output has a leaf that is its input unchanged and a leaf that depends on nothing
    def step_fn(c):
        return (c[0], onp.full(6, 2.0))

    def loss(a, b):
        out = checkpoint_loop(step_fn, (a, b), 4, snapshots=2)
        return np.sum(out[0] * out[1])
    ga, gb = grad(loss, argnums=(0, 1))(X0, X0 * 0.5)
    assert_allclose(ga, onp.full(6, 2.0))
    assert_allclose(gb, onp.zeros(6))


def test_the_cotangent_of_a_captured_matrix_is_formed_once():
    """A captured ``W`` gets a rank-1 cotangent from each of the n one-step backward passes;
    they are collected lazily across the passes (``LowRank``) and formed once at the end,
    not added up as n dense matrices."""
    from wengert.core.vspace import LowRank
    formed = [0]
    original = LowRank.dense

    def counting(self):
        formed[0] += 1
        return original(self)
    w = RNG.standard_normal((70, 70)) / 10         # large enough for LowRank (products._LOW_RANK_MIN)
    x0 = RNG.standard_normal(70)

    def loss(w, x):
        return np.sum(checkpoint_loop(lambda c: np.tanh(w @ c), x, 30, snapshots=4) ** 2)

    def plain(w, x):
        return np.sum(plain_loop(lambda c: np.tanh(w @ c), x, 30) ** 2)
    LowRank.dense = counting
    try:
        got = grad(loss, argnums=(0, 1))(w, x0)
    finally:
        LowRank.dense = original
    assert formed[0] == 1
    expected = grad(plain, argnums=(0, 1))(w, x0)
    assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-15)
    assert_allclose(got[1], expected[1], rtol=1e-12, atol=1e-15)


def test_arrays_are_writeable_again_after_a_gradient():
    w = RNG.standard_normal((6, 6)) / 2
    x0 = RNG.standard_normal(6)
    grad(lambda x: np.sum(checkpoint_loop(lambda c: np.sin(w @ c), x, 9, snapshots=3)))(x0)
    grad(lambda w: np.sum(checkpoint_loop(lambda c, p: np.sin(p @ c), x0, 9, snapshots=3, params=w)))(w)
    assert w.flags.writeable and x0.flags.writeable


# -- pytrees, parameters and closures --------------------------------------------------------------

State = namedtuple("State", "pos vel")


def test_pytree_carry_with_mixed_dtypes_and_an_integer_counter():
    def step_fn(c):
        s = c["state"]
        pos = s.pos + 0.1 * s.vel
        vel = s.vel - 0.1 * np.sin(pos)
        return {"state": State(pos, vel), "k": c["k"] + 1, "energy": (c["energy"] + np.sum(vel ** 2)).astype(
            np.float32)}

    def run(loop, x, v):
        c = {"state": State(x, v), "k": 0, "energy": np.float32(0.0)}
        out = loop(c)
        return np.sum(out["state"].pos * out["state"].vel) + out["energy"] * 0.5, out["k"]

    def ck(x, v):
        return run(lambda c: checkpoint_loop(step_fn, c, 23, snapshots=3), x, v)

    def plain(x, v):
        return run(lambda c: plain_loop(step_fn, c, 23), x, v)

    (val, k), g = value_and_grad(ck, argnums=(0, 1), has_aux=True)(X0, X0[::-1].copy())
    (val0, k0), g0 = value_and_grad(plain, argnums=(0, 1), has_aux=True)(X0, X0[::-1].copy())
    assert k == k0 == 23
    assert_allclose(val, val0, rtol=1e-6)
    for a, b in zip(g, g0):
        assert_allclose(a, b, rtol=1e-5, atol=1e-6)     # float32 energy


def test_parameters_as_a_pytree_and_as_captured_values_accumulate_over_steps():
    b = RNG.standard_normal(6) * 0.1

    def with_params(p, x):
        return np.sum(checkpoint_loop(lambda c, q: np.tanh(q["W"] @ c + q["b"]), x, 17, snapshots=4,
                                      params=p) ** 2)

    def with_closure(p, x):
        return np.sum(checkpoint_loop(lambda c: np.tanh(p["W"] @ c + p["b"]), x, 17, snapshots=4) ** 2)

    def plain(p, x):
        return np.sum(plain_loop(lambda c: np.tanh(p["W"] @ c + p["b"]), x, 17) ** 2)

    p = {"W": W, "b": b}
    expected = grad(plain, argnums=(0, 1))(p, X0)
    for f in (with_params, with_closure):
        got = grad(f, argnums=(0, 1))(p, X0)
        assert_allclose(got[0]["W"], expected[0]["W"], rtol=1e-12, atol=1e-15)
        assert_allclose(got[0]["b"], expected[0]["b"], rtol=1e-12, atol=1e-15)
        assert_allclose(got[1], expected[1], rtol=1e-12, atol=1e-15)


def test_closures_over_objects_partials_defaults_and_intermediate_values():
    class Layer:
        def __init__(self, w):
            self.w = w

        def __call__(self, x):
            return np.tanh(self.w @ x)

    def loss(w, x, how):
        v = w * 0.5                                 # an intermediate value of the outer trace
        if how == "object":
            f = Layer(v)
        elif how == "partial":
            f = functools.partial(lambda x, m: np.tanh(m @ x), m=v)
        elif how == "default":
            f = lambda x, m=v: np.tanh(m @ x)      # noqa: E731
        else:
            f = Layer(v).__call__
        y = checkpoint(f)(x)
        return np.sum(checkpoint_loop(f, y, 5, snapshots=2) ** 2)

    def plain(w, x):
        v = w * 0.5
        return np.sum(plain_loop(lambda x: np.tanh(v @ x), np.tanh(v @ x), 5) ** 2)
    expected = grad(plain, argnums=(0, 1))(W, X0)
    for how in ("object", "partial", "default", "method"):
        got = grad(loss, argnums=(0, 1))(W, X0, how)
        assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-15, err_msg=how)
        assert_allclose(got[1], expected[1], rtol=1e-12, atol=1e-15, err_msg=how)


HIDDEN = []


def test_a_traced_value_that_cannot_be_found_is_reported():
    def f(x):
        return x * globals()["HIDDEN"][0]          # reached by a string: invisible to the search

    def loss(w):
        HIDDEN[:] = [w]
        try:
            return np.sum(checkpoint(f)(X0))
        finally:
            HIDDEN.clear()
    with pytest.raises(CapturedTracerError, match="argument"):
        grad(loss)(2.0)


def test_captured_boxes_are_restored_after_each_call():
    def loss(w):
        f = checkpoint(lambda x: np.sin(w * x))
        y = f(X0)
        z = w * 2.0
        assert w._trace is z._trace and w._trace is not None and type(w) is type(z)   # w is itself again
        return np.sum(y) + z
    assert_allclose(grad(loss)(0.7), onp.sum(onp.cos(0.7 * X0) * X0) + 2.0, rtol=1e-12)


# -- checkpoint: pytrees, tape size, nesting, higher order, forward mode -----------------------------

def mlp(x, w):
    return np.tanh(w @ np.tanh(w @ x))


def test_checkpoint_pytree_inputs_outputs_kwargs_and_non_float_outputs():
    def f(d, scale=1.0):
        a = np.sin(d["x"]) * scale
        return {"a": a, "b": (np.sum(a * d["y"]).astype(np.float32), 2.5 * d["y"][0]), "n": 3}

    def loss(x, y, fun):
        out = fun({"x": x, "y": y}, scale=2.0)
        assert out["n"] == 3
        return np.sum(out["a"] ** 2) + out["b"][0] * out["b"][1]
    expected = grad(loss, argnums=(0, 1))(X0, X0 + 1, f)
    got = grad(loss, argnums=(0, 1))(X0, X0 + 1, checkpoint(f))
    for a, b in zip(got, expected):
        assert_allclose(a, b, rtol=1e-6)
    out = checkpoint(f)({"x": X0, "y": X0}, scale=2.0)
    assert out["b"][0].dtype == onp.float32 and out["n"] == 3
    assert_allclose(out["a"], onp.sin(X0) * 2.0)
    assert grad(lambda x: checkpoint(lambda t: t * 2.0)(x))(3.0) == 2.0


def test_checkpoint_keeps_the_inside_of_the_call_off_the_tape():
    def inner(x):
        for _ in range(50):
            x = np.sin(x) * 1.01
        return x

    _, _, plain_records = trace_reverse(lambda x: np.sum(inner(x)), [X0], [0])
    _, _, ck_records = trace_reverse(lambda x: np.sum(checkpoint(inner)(x)), [X0], [0])
    assert len(plain_records) > 100
    assert len(ck_records) <= 3                    # input, the call, the sum
    assert_allclose(grad(lambda x: np.sum(checkpoint(inner)(x)))(X0), grad(lambda x: np.sum(inner(x)))(X0),
                    rtol=1e-13)


def test_checkpoint_loop_memory_does_not_grow_with_the_number_of_steps():
    w = RNG.standard_normal((200, 200)) / 20

    def peak(fun, n):
        x = onp.ones(200)
        tracemalloc.start()
        try:
            grad(lambda x: np.sum(fun(x, n)))(x)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def loop(x, n):
        return checkpoint_loop(lambda x: np.sin(w @ x) * 0.5, x, n, snapshots=4)

    def tape(x, n):
        return plain_loop(lambda x: np.sin(w @ x) * 0.5, x, n)
    assert peak(tape, 400) > 5 * peak(loop, 400)
    assert peak(loop, 400) < 2 * peak(loop, 100)


def test_nested_checkpoints():
    inner = checkpoint(lambda x: np.sin(W @ x))

    def outer(x):
        return checkpoint(lambda y: inner(inner(y) * 2.0) + y)(x)

    def plain(x):
        y = x
        return np.sin(W @ (np.sin(W @ y) * 2.0)) + y
    assert_allclose(grad(lambda x: np.sum(outer(x) ** 2))(X0), grad(lambda x: np.sum(plain(x) ** 2))(X0),
                    rtol=1e-13)
    # a checkpoint inside a checkpointed loop step, closing over a differentiated matrix
    def loss(w, x):
        seg = checkpoint(lambda c: np.sin(w @ c) * 0.9)
        return np.sum(checkpoint_loop(lambda c: seg(seg(c)), x, 6, snapshots=2) ** 2)

    def plain_loss(w, x):
        return np.sum(plain_loop(lambda c: np.sin(w @ c) * 0.9, x, 12) ** 2)
    for a, b in zip(grad(loss, argnums=(0, 1))(W, X0), grad(plain_loss, argnums=(0, 1))(W, X0)):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_grad_of_grad_and_hessians_through_checkpoints():
    f = lambda x: np.sum(mlp(x, W) ** 2)                                        # noqa: E731
    fc = lambda x: np.sum(checkpoint(mlp)(x, W) ** 2)                           # noqa: E731
    assert_allclose(hessian(fc)(X0), hessian(f)(X0), rtol=1e-11, atol=1e-13)
    assert_allclose(jacrev(grad(fc))(X0), hessian(f)(X0), rtol=1e-11, atol=1e-13)
    # scalar grad-of-grad, the inner function closing over the outer variable
    def g(a):
        return grad(lambda b: checkpoint(lambda t: np.sin(a * t) * a)(b))(0.3)
    assert_allclose(grad(g)(1.7), onp.cos(1.7 * 0.3) * 2 * 1.7 - onp.sin(1.7 * 0.3) * 0.3 * 1.7 ** 2, rtol=1e-13)
    # and the loop: grad of grad, and the Hessian with respect to a parameter
    loop = lambda x: np.sum(checkpoint_loop(step, x, 9, snapshots=3) ** 2)     # noqa: E731
    ref = lambda x: np.sum(plain_loop(step, x, 9) ** 2)                        # noqa: E731
    assert_allclose(hessian(loop)(X0), hessian(ref)(X0), rtol=1e-10, atol=1e-12)
    v = X0[::-1].copy()
    hvp_ck = grad(lambda x: np.sum(grad(loop)(x) * v))(X0)
    assert_allclose(hvp_ck, hessian(ref)(X0) @ v, rtol=1e-10, atol=1e-12)

    def by_param(a):
        return np.sum(checkpoint_loop(lambda c, p: np.sin(p * c), X0, 8, snapshots=2, params=a) ** 2)

    def by_param_plain(a):
        return np.sum(plain_loop(lambda c: np.sin(a * c), X0, 8) ** 2)
    assert_allclose(grad(grad(by_param))(0.8), grad(grad(by_param_plain))(0.8), rtol=1e-11)


def test_forward_mode_through_checkpoints():
    t = X0[::-1].copy()
    y, ty = jvp(lambda x: checkpoint(mlp)(x, W), (X0,), (t,))
    y0, ty0 = jvp(lambda x: mlp(x, W), (X0,), (t,))
    assert_allclose(y, y0, rtol=1e-14)
    assert_allclose(ty, ty0, rtol=1e-13)
    assert_allclose(jacfwd(lambda x: checkpoint(mlp)(x, W))(X0), jacfwd(lambda x: mlp(x, W))(X0), rtol=1e-13)
    # the loop, with tangents of the initial carry and of a captured parameter
    y, ty = jvp(lambda x, w: checkpoint_loop(lambda c: np.sin(w @ c) * 0.9, x, 12, snapshots=3), (X0, W),
                (t, W.T.copy()))
    y0, ty0 = jvp(lambda x, w: plain_loop(lambda c: np.sin(w @ c) * 0.9, x, 12), (X0, W), (t, W.T.copy()))
    assert_allclose(y, y0, rtol=1e-14)
    assert_allclose(ty, ty0, rtol=1e-12, atol=1e-15)
    assert_allclose(jacfwd(lambda x: checkpoint_loop(step, x, 7, snapshots=2))(X0),
                    jacrev(lambda x: plain_loop(step, x, 7))(X0), rtol=1e-12, atol=1e-15)


def test_jacobians_batch_the_rules():
    loop = lambda x: checkpoint_loop(step, x, 10, snapshots=3)                  # noqa: E731
    ref = jacrev(lambda x: plain_loop(step, x, 10))(X0)
    assert_allclose(jacrev(loop)(X0), ref, rtol=1e-12, atol=1e-15)
    assert_allclose(jacrev(lambda x: checkpoint(mlp)(x, W))(X0), jacrev(lambda x: mlp(x, W))(X0), rtol=1e-13)


def test_batching_rules():
    from wengert.transforms.batch import vmap_flat
    xs = RNG.standard_normal((4, 6))
    out = vmap_flat(lambda x: checkpoint_loop(step, x, 5, snapshots=2), [xs], [True], 4)
    assert_allclose(out, onp.stack([plain_loop(step, x, 5) for x in xs]), rtol=1e-12, atol=1e-15)
    out = vmap_flat(lambda x: checkpoint(mlp)(x, W), [xs], [True], 4)
    assert_allclose(out, onp.stack([mlp(x, W) for x in xs]), rtol=1e-12, atol=1e-15)
    # per-example gradients: the rules run with batched primals
    def per_example(x):
        return vjp(lambda x: checkpoint_loop(step, x, 5, snapshots=2), x)[1](x)[0]
    g = vmap_flat(per_example, [xs], [True], 4)
    g0 = onp.stack([vjp(lambda x: plain_loop(step, x, 5), x)[1](x)[0] for x in xs])
    assert_allclose(g, g0, rtol=1e-11, atol=1e-15)


def test_a_pullback_can_be_used_twice():
    calls = [0]

    def counted(x):
        calls[0] += 1
        return step(x)
    out, pull = vjp(lambda x: checkpoint_loop(counted, x, 20, snapshots=3), X0)
    _, pull0 = vjp(lambda x: plain_loop(step, x, 20), X0)
    assert calls[0] == 20
    ct = onp.linspace(-1, 1, 6)
    (a,) = pull(ct)
    assert calls[0] == revolve_evaluations(20, 3)
    (b,) = pull(ct * 2)                            # the stored descent is spent: runs the schedule again
    assert calls[0] == revolve_evaluations(20, 3) + 20 + (revolve_evaluations(20, 3) - 20)
    assert_allclose(a, pull0(ct)[0], rtol=1e-12)
    assert_allclose(b, 2 * a, rtol=1e-12)


# -- policies --------------------------------------------------------------------------------------

def _counting_matmul():
    calls = [0]

    def impl(a, b):
        calls[0] += 1
        return onp.matmul(a, b)
    prim = Primitive(impl, "costly_matmul")
    defvjp(prim, lambda g, ans, a, b: np.outer(g, b), lambda g, ans, a, b: np.transpose(a) @ g)
    return prim, calls


def test_policy_saves_the_named_results_instead_of_recomputing_them():
    prim, calls = _counting_matmul()

    def f(x, w):
        return np.tanh(prim(w, np.sin(x)))

    def loss(w, policy):
        return np.sum(checkpoint(f, policy=policy)(X0, w) ** 2)
    expected = grad(lambda w: np.sum(f(X0, w) ** 2))(W)
    calls[0] = 0
    assert_allclose(grad(loss)(W, None), expected, rtol=1e-13)
    assert calls[0] == 2                           # forward, and recomputed in the backward pass
    for policy in ({"costly_matmul"}, lambda name: name.startswith("costly"), ["costly_matmul"]):
        calls[0] = 0
        assert_allclose(grad(loss)(W, policy), expected, rtol=1e-13)
        assert calls[0] == 1                       # saved in the forward pass
    calls[0] = 0
    assert_allclose(grad(loss)(W, "save_dots"), expected, rtol=1e-13)
    assert calls[0] == 2                           # not a dot by name
    # under a second derivative the saved values are not used, and the result is still exact
    h = hessian(lambda x: np.sum(checkpoint(f, policy={"costly_matmul"})(x, W) ** 2))(X0)
    assert_allclose(h, hessian(lambda x: np.sum(f(x, W) ** 2))(X0), rtol=1e-11, atol=1e-13)


def test_save_dots_keeps_matmul_results():
    import wengert.numpy.products as products
    seen = []
    original = products.matmul.impl

    def impl(a, b):
        seen.append(1)
        return original(a, b)
    products.matmul.impl = impl
    try:
        def backward_matmuls(policy):
            _, pull = vjp(checkpoint(lambda x: np.sin(W @ np.cos(W @ x)), policy=policy), X0)
            seen.clear()
            (g,) = pull(onp.ones(6))
            return len(seen), g
        n_saved, g = backward_matmuls("save_dots")
        n_recomputed, g0 = backward_matmuls("save_nothing")
        assert (n_saved, n_recomputed) == (0, 2)
        assert_allclose(g, g0, rtol=1e-13)
    finally:
        products.matmul.impl = original
    with pytest.raises(ValueError):
        checkpoint(step, policy="save_everything")


def test_stop_gradient_and_integer_arguments_inside():
    def f(x, k):
        return np.sin(x) * k + stop_gradient(x) ** 2
    assert_allclose(grad(lambda x: np.sum(checkpoint(f)(x, 3)))(X0), 3 * onp.cos(X0), rtol=1e-14)


# -- forward mode, policies and what is left behind ---------------------------------------------

def test_forward_mode_runs_the_loop_and_the_function_once():
    """At the first order, forward mode gets the value and the tangent from one run (the
    impl would run the reverse pass's first descent too, and the rule the loop again)."""
    calls = [0]

    def counted(x):
        calls[0] += 1
        return np.sin(W @ x) * 0.9
    t = RNG.standard_normal(6)
    out, tan = jvp(lambda x: checkpoint_loop(counted, x, 9, snapshots=3), (X0,), (t,))
    assert calls[0] == 9
    ref_out, ref_tan = jvp(lambda x: plain_loop(step, x, 9), (X0,), (t,))
    assert_allclose(out, ref_out, rtol=1e-13)
    assert_allclose(tan, ref_tan, rtol=1e-12)
    calls[0] = 0
    out, tan = jvp(checkpoint(lambda x: plain_loop(counted, x, 4)), (X0,), (t,))
    assert calls[0] == 4
    assert_allclose(tan, jvp(lambda x: plain_loop(step, x, 4), (X0,), (t,))[1], rtol=1e-12)
    # jacfwd of a loop still agrees with jacrev
    assert_allclose(jacfwd(lambda x: checkpoint_loop(step, x, 7, snapshots=2))(X0),
                    jacrev(lambda x: plain_loop(step, x, 7))(X0), rtol=1e-11, atol=1e-14)


def test_a_loop_leaves_nothing_alive_when_no_backward_pass_comes():
    """The forward pass keeps its snapshots for the backward pass on the loop's spec; with
    no backward pass (forward mode, an unused pullback) they go with the call, without
    waiting for the cycle collector."""
    refs = []

    def tracked(x):
        y = np.sin(W @ x) * 0.9
        refs.append(weakref.ref(getval(y)))
        return y
    import gc
    gc.disable()
    try:
        jvp(lambda x: checkpoint_loop(tracked, x, 12, snapshots=3), (X0,), (X0,))
        out, pull = vjp(lambda x: checkpoint_loop(tracked, x, 12, snapshots=3), X0)
        del out, pull
        assert len(refs) > 12 and not [r for r in refs if r() is not None]
    finally:
        gc.enable()


@pytest.mark.parametrize("policy", [lambda name: True, {"checkpoint", "checkpoint_loop", "matmul", "f", "g"}])
def test_a_policy_that_names_nested_transforms_recomputes_them(policy):
    """Nested checkpoints, loops, fixed points and custom rules set up state in their own
    evaluation, and those built per call cannot be matched to a saved result: they are
    always run again, whatever the policy names."""
    from wengert import custom_vjp
    from wengert.transforms.implicit import fixed_point

    @custom_vjp
    def f(x):
        return np.tanh(x)
    f.defvjp(lambda x: (np.tanh(x), x), lambda x, g: (g / np.cosh(x) ** 2,))

    def g(x):
        return np.sum(x ** 2)

    def body(x):
        y = checkpoint(lambda z: np.sin(W @ z))(x)
        y = checkpoint_loop(step, y, 5, snapshots=2)
        y = y + fixed_point(lambda u, p: 0.5 * np.cos(u) + p, onp.zeros(6), y)
        return f(y) * g(x)

    def plain_body(x):
        y = plain_loop(step, np.sin(W @ x), 5)
        u = onp.zeros(6) + 0.0 * y
        for _ in range(200):
            u = 0.5 * np.cos(u) + y
        return np.tanh(y + u) * np.sum(x ** 2)

    got = grad(lambda x: np.sum(checkpoint(body, policy=policy)(x)))(X0)
    assert_allclose(got, grad(lambda x: np.sum(plain_body(x)))(X0), rtol=1e-8)


def test_a_view_of_an_input_comes_back_as_writeable_as_the_view_of_the_original():
    x = onp.arange(1.0, 4.0)
    for f in (lambda x: x[1:], lambda x: x.reshape(3, 1), lambda x: x.T, lambda x: x):
        y = checkpoint(f)(x)
        assert y.flags.writeable
    y = checkpoint(lambda x: x[1:])(x)
    y[0] = 7.0
    assert x[1] == 7.0


def test_negative_steps_are_refused_with_the_default_snapshots():
    with pytest.raises(ValueError, match="n_steps must be an int >= 0, not -1"):
        checkpoint_loop(step, X0, -1)
