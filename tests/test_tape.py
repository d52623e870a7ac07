"""The tape: depth, freeing, threads, escaped tracers."""
import gc
import threading
import weakref

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import EscapedTracerError, grad, value_and_grad, vjp


def test_a_million_operation_chain_has_no_recursion_limit():
    def f(x):
        for _ in range(1_000_000):
            x = x * 1.0000001
        return x
    g = grad(f)(1.0)
    assert g == pytest.approx(1.0000001 ** 1_000_000, rel=1e-9)


def test_tape_and_boxes_are_freed_without_the_cycle_collector():
    refs = []

    def f(x):
        h = np.sin(x)
        refs.append(weakref.ref(h))          # the box
        refs.append(weakref.ref(h._value))   # an array the tape saved
        y = np.tanh(h * x)
        refs.append(weakref.ref(y))
        return np.sum(y ** 2)

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        g = grad(f)(onp.linspace(-1.0, 1.0, 50))
        assert g.shape == (50,)
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        if was_enabled:
            gc.enable()


def test_vjp_keeps_the_tape_until_the_pullback_is_dropped():
    refs = []

    def f(x):
        h = np.exp(x)
        refs.append(weakref.ref(h._value))
        return h * 2.0

    gc.disable()
    try:
        out, pullback = vjp(f, onp.ones(3))
        assert refs[0]() is not None
        onp.testing.assert_allclose(pullback(onp.ones(3))[0], 2 * onp.e * onp.ones(3))
        onp.testing.assert_allclose(pullback(onp.ones(3))[0], 2 * onp.e * onp.ones(3))  # reusable
        del pullback
        assert refs[0]() is None
    finally:
        gc.enable()


def test_two_threads_differentiate_concurrently():
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def work(name, f, x, expected):
        try:
            barrier.wait()
            for _ in range(200):
                value = grad(f)(x)
                if not onp.allclose(value, expected):
                    raise AssertionError((name, value, expected))
            # nested, so the thread's trace levels are exercised too
            results[name] = grad(lambda y: y * grad(lambda z: f(z) * y)(x))(x)
        except Exception as e:   # reported below; a thread cannot fail the test itself
            errors.append(e)

    threads = [threading.Thread(target=work, args=("sin", np.sin, 0.5, onp.cos(0.5))),
               threading.Thread(target=work, args=("cube", lambda x: x ** 3, 2.0, 12.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results["sin"] == pytest.approx(2 * 0.5 * onp.cos(0.5))
    assert results["cube"] == pytest.approx(2 * 2.0 * 12.0)


def test_escaped_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    grad(f)(1.0)
    with pytest.raises(EscapedTracerError, match="escaped"):
        np.sin(leaked[0])


def test_an_exception_inside_the_function_propagates_and_leaves_no_state():
    class Boom(Exception):
        pass

    def bad(x):
        np.sin(x)
        raise Boom("user error")

    with pytest.raises(Boom, match="user error"):
        grad(bad)(1.0)
    # the next call works, at the outermost level again
    assert grad(lambda x: x * x)(3.0) == 6.0
    assert grad(grad(lambda x: x ** 3))(2.0) == 12.0
    from wengert.core.tracer import _depth
    assert _depth.get() == 0


def test_value_and_grad_returns_the_plain_value():
    v, g = value_and_grad(lambda x: np.sum(x ** 2))(onp.arange(3.0))
    assert type(v) in (float, onp.float64) and v == 5.0
    onp.testing.assert_allclose(g, [0.0, 2.0, 4.0])


def test_low_rank_cotangents_of_a_weight_used_at_every_step():
    """W @ x in a loop: W's cotangent is kept as rank-1 factors and formed once; mixing it
    with dense and sparse terms, and float32, gives the same gradient as the dense sum."""
    rng = onp.random.default_rng(0)
    W = rng.standard_normal((70, 70)) * 0.1     # large enough for LowRank (products._LOW_RANK_MIN)
    x0 = rng.standard_normal(70)

    def loss(W, x):
        for i in range(40):               # more terms than a fold's block (70 * 70 / (4 * 140)): exercises folding
            x = np.tanh(W @ x) + 0.1 * W[i % 70]
        return np.sum(x ** 2) + np.sum(W * W)

    gW, gx = grad(loss, argnums=(0, 1))(W, x0)
    from wengert import check_grads
    check_grads(loss, (W, x0), modes=("rev",), order=2)
    g32 = grad(loss)(W.astype(onp.float32), x0.astype(onp.float32))
    assert g32.dtype == onp.float32
    onp.testing.assert_allclose(g32, gW, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64, onp.complex128])
def test_low_rank_folds_equal_the_dense_sum(dtype):
    """Folding blocks of rank-1 terms into the dense part in place (BLAS gemm), also after
    ``dense`` lent that part out (it must not change then) and with another LowRank's
    dense part added in."""
    from wengert.core.vspace import LowRank
    rng = onp.random.default_rng(1)
    n, k = 7, 5

    def vec(size):
        v = rng.standard_normal(size)
        return (v + 1j * rng.standard_normal(size) if dtype is onp.complex128 else v).astype(dtype)
    terms = [(vec(n), vec(k)) for _ in range(30)]
    acc = LowRank((n, k), dtype, *terms[0])
    for u, v in terms[1:12]:
        acc = acc.extend(LowRank((n, k), dtype, u, v))
    lent = acc.dense()
    snapshot = lent.copy()
    other = LowRank((n, k), dtype, *terms[12])
    for u, v in terms[13:20]:
        other.extend(LowRank((n, k), dtype, u, v))
    other._fold(None)                         # a LowRank with a dense part, added in below
    acc.extend(other)
    for u, v in terms[20:]:
        acc.extend(LowRank((n, k), dtype, u, v))
    expected = sum(onp.outer(u, v) for u, v in terms)
    tol = 1e-5 if dtype is onp.float32 else 1e-12
    onp.testing.assert_allclose(acc.dense(), expected, rtol=tol, atol=tol)
    onp.testing.assert_array_equal(lent, snapshot)          # what dense() returned earlier is untouched
    assert acc.dense().dtype == dtype
