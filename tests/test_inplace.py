"""In-place updates on traced arrays: a[i] = v, a[mask] = v, a[:, j] += v, x += y, x *= y."""
import numpy as onp
import pytest

import wengert.numpy as np
from wengert import check_grads, grad, jacfwd, jacrev, jvp

R = onp.random.default_rng(5)


def updates(a, v):
    a = a * 1.0                    # a traced copy (the caller's array is not written)
    a[1] = v * 2
    a[a > 2.5] = 0.0
    a[:, 0] += v
    a *= a
    return np.sum(a)


def test_gradients_with_respect_to_old_contents_and_new_values():
    a = onp.arange(6.0).reshape(3, 2)
    ga, gv = grad(updates, argnums=(0, 1))(a, 1.5)
    # a[1] and the masked entries were overwritten: no gradient reaches their old contents
    onp.testing.assert_allclose(ga, [[3.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    assert gv == pytest.approx(9.0)       # three entries 1.5 each, squared
    check_grads(updates, (a, 1.5), modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("jac", [jacfwd, jacrev])
def test_item_assignment_in_jacobians(jac):
    def f(x):
        y = x * 1.0
        y[0] = x[1] * 3.0
        y[[1, 2]] += x[:2] ** 2
        return y
    x = onp.array([1.0, 2.0, 3.0])
    onp.testing.assert_allclose(jac(f)(x), [[0, 3.0, 0], [2.0, 1.0, 0], [0, 4.0, 1.0]])


def test_augmented_assignment_keeps_numpy_aliasing():
    def f(x):
        y = x * 1.0
        alias = y
        y += 2.0                     # in place: the alias sees it, as with NumPy
        y *= x
        return np.sum(alias)
    x = onp.array([1.0, 2.0])
    onp.testing.assert_allclose(grad(f)(x), 2 * x + 2.0)
    assert jvp(f, (x,), (onp.ones(2),))[1] == pytest.approx(onp.sum(2 * x + 2.0))


def test_the_input_array_is_not_modified():
    x = onp.array([1.0, 2.0, 3.0])

    def f(x):
        x[0] = 10.0
        return np.sum(x ** 2)
    onp.testing.assert_allclose(grad(f)(x), [0.0, 4.0, 6.0])
    onp.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def soft_dtw(a, b, gamma=0.5):
    """Soft dynamic time warping: a dynamic-programming table filled cell by cell."""
    n, m = len(a), len(b)
    D = np.full((n + 1, m + 1), 1e10) * 1.0
    D = D + 0.0 * np.sum(a)          # make the table traced before writing into it
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            prev = np.stack([D[i - 1, j], D[i, j - 1], D[i - 1, j - 1]])
            softmin = -gamma * np.log(np.sum(np.exp(-(prev - np.min(prev)) / gamma))) + np.min(prev)
            D[i, j] = (a[i - 1] - b[j - 1]) ** 2 + softmin
    return D[n, m]


def test_dynamic_programming_table_filled_cell_by_cell():
    a, b = R.normal(size=5), R.normal(size=4)
    check_grads(soft_dtw, (a, b), modes=("fwd", "rev"), order=1, rtol=1e-4, atol=1e-6)
    ga = grad(soft_dtw)(a, b)
    eps = 1e-6
    e0 = onp.eye(5)[2] * eps
    assert ga[2] == pytest.approx((soft_dtw(a + e0, b) - soft_dtw(a - e0, b)) / (2 * eps), rel=1e-5)


# -- plain ndarrays: receiving a traced value, and writes the backward pass would see ----------

import wengert  # noqa: E402
from wengert import value_and_grad, vjp  # noqa: E402
import gc  # noqa: E402

from wengert.core.saved import held_count  # noqa: E402

_baseline = [0]


@pytest.fixture(autouse=True)
def _held_before():
    """Tapes of earlier tests may still be alive (awaiting the cycle collector): compare
    with the number of held arrays before this test, not with zero."""
    gc.collect()
    _baseline[0] = held_count()


def nothing_held():
    return held_count() <= _baseline[0]
from wengert.errors import SavedArrayWriteError, TracedConversionError  # noqa: E402


@pytest.mark.parametrize("store", [lambda out, x: out.__setitem__(0, x[1]),          # out[0] = x[1]
                                   lambda out, x: out.__setitem__((1,), x[0] * 2.0),
                                   lambda out, x: out.__setitem__(slice(None), x)])
@pytest.mark.parametrize("transform", [lambda f, x: grad(f)(x), lambda f, x: jvp(f, (x,), (x,)),
                                       lambda f, x: jacfwd(f)(x)])
def test_a_plain_ndarray_receiving_a_traced_value_raises_a_clear_error(store, transform):
    def f(x):
        out = onp.zeros(3)
        store(out, x)
        return np.sum(out * x)
    with pytest.raises(TracedConversionError, match="plain ndarray|storing into an ndarray") as info:
        transform(f, onp.ones(3))
    assert "stop_gradient" in str(info.value) and "np.stack" in str(info.value)


def test_numpys_own_sequence_error_is_left_alone():
    def f(x):
        out = onp.zeros(3)
        out[0] = [1.0, 2.0]                 # a genuine NumPy error, nothing traced involved
        return np.sum(x)
    with pytest.raises(ValueError, match="sequence") as info:
        grad(f)(onp.ones(3))
    assert not isinstance(info.value, TracedConversionError)


def tanh_layer(W):
    return lambda x: np.sum(np.tanh(W @ x))


@pytest.mark.parametrize("write", [lambda W, V: W.__setitem__((0, 0), 5.0),      # the constant itself
                                   lambda W, V: W.__setitem__((1, 1), 5.0),      # its base, via a view's use
                                   lambda W, V: V.__imul__(2.0)])               # the view that was used
def test_writing_into_an_array_the_tape_saved_is_an_error_not_a_wrong_gradient(write):
    W = R.normal(size=(3, 3))
    V = W[1]                        # a view: the tape holds it and its base

    def f(x):
        y = np.tanh(W @ x) + np.sin(V * x)
        write(W, V)                 # would change what the backward pass reads
        return np.sum(y)
    with pytest.raises(SavedArrayWriteError, match="a = a.copy()"):
        grad(f)(onp.ones(3))
    assert W.flags.writeable and V.flags.writeable and nothing_held()
    W[0, 0] = 1.0                   # writeable again once the derivative is done


def test_held_arrays_are_released_after_grad_and_exceptions():
    W = R.normal(size=(3, 3))
    grad(tanh_layer(W))(onp.ones(3))
    assert W.flags.writeable and nothing_held()

    def fails(x):
        np.tanh(W @ x)
        raise KeyError("user error")
    with pytest.raises(KeyError):
        grad(fails)(onp.ones(3))
    assert W.flags.writeable and nothing_held()


def test_vjp_holds_its_constants_inputs_and_outputs_until_the_pullback_is_freed():
    W, x = R.normal(size=(3, 3)), onp.ones(3)
    out, pullback = vjp(lambda x: np.tanh(W @ x), x)
    assert not (W.flags.writeable or x.flags.writeable or out.flags.writeable)
    with pytest.raises(ValueError, match="read-only"):
        out *= 2.0                  # tanh's backward pass reads its output
    g1 = pullback(onp.ones(3))[0]
    onp.testing.assert_allclose(g1, W.T @ (1 - onp.tanh(W @ x) ** 2))
    del pullback
    assert W.flags.writeable and x.flags.writeable and out.flags.writeable and nothing_held()


def test_overlapping_tapes_release_an_array_only_when_the_last_one_lets_go():
    W = R.normal(size=(4, 4))
    view = W[:2]
    _, first = vjp(lambda x: np.sum(np.tanh(W @ x)), onp.ones(4))
    _, second = vjp(lambda x: np.sum(view @ x), onp.ones(4))
    del first                       # released out of order: the second still reads W's rows
    assert not W.flags.writeable and not view.flags.writeable
    del second
    assert W.flags.writeable and view.flags.writeable and nothing_held()


def test_an_array_that_was_read_only_stays_read_only():
    W = R.normal(size=(3, 3))
    W.flags.writeable = False
    value_and_grad(tanh_layer(W))(onp.ones(3))
    assert not W.flags.writeable and nothing_held()


def test_nested_derivatives_hold_and_release():
    W = R.normal(size=(3, 3))
    h = jacfwd(jacrev(tanh_layer(W)))(onp.ones(3))
    assert h.shape == (3, 3) and W.flags.writeable and nothing_held()


def test_stop_gradient_of_a_traced_array_is_read_only():
    def f(x):
        y = np.tanh(x)
        c = wengert.stop_gradient(y)
        c[0] = 0.0                  # would overwrite tanh's output, which its rule reads
        return np.sum(y * c)
    with pytest.raises(SavedArrayWriteError):
        grad(f)(onp.ones(3))
    plain = onp.ones(2)
    assert wengert.stop_gradient(plain) is plain and plain.flags.writeable


def test_constants_of_additions_are_not_held():
    C = onp.ones(3)

    def f(x):
        y = np.sin(x) + C - C * 0.0 + (x - C)   # C * 0.0 is untraced; + and - need only shapes
        C[0] = 2.0                  # harmless: the gradient does not read C
        return np.sum(y)
    onp.testing.assert_allclose(grad(f)(onp.zeros(3)), [2.0, 2.0, 2.0])
    assert nothing_held()


# -- functions that wengert runs again on the same values --------------------------------------

def _scaled_in_place(x):
    x *= 0.9                        # fine on a traced x (a new value); on a raw snapshot, corruption
    return np.sin(_W3 @ x)


def _scaled_in_place_tree(carry, p):
    return {"x": _scaled_in_place(carry["x"]) + p}


_W3 = R.normal(size=(3, 3)) / 2


@pytest.mark.parametrize("op, run", [
    ("checkpoint_loop", lambda x: wengert.checkpoint_loop(_scaled_in_place, x * 1.0, 12, snapshots=3)),
    ("checkpoint_loop", lambda x: wengert.checkpoint_loop(_scaled_in_place_tree, {"x": x * 1.0}, 12, snapshots=3,
                                                          params=x[0])["x"]),
    ("checkpoint", lambda x: wengert.checkpoint(_scaled_in_place)(x * 1.0)),
], ids=["checkpoint_loop", "checkpoint_loop-pytree", "checkpoint"])
def test_a_rerun_function_writing_into_its_input_is_an_error_not_a_wrong_gradient(op, run):
    # the carry (or input) is computed, so no tape holds it: only the read-only view stops
    # the write, which would change the value the backward pass runs the function from
    with pytest.raises(SavedArrayWriteError, match=f"{op}: _scaled_in_place(_tree)? wrote in place .*x = x \\* 2"):
        grad(lambda x: np.sum(run(x)))(onp.ones(3))
    assert nothing_held()


def test_fixed_point_passes_its_parameters_read_only():
    A = onp.array([[0.5, 0.1], [0.0, 0.3]])

    def writes(x, p):
        p += 1.0                    # every iteration would start from other parameters
        return np.tanh(A @ x + p)

    def copies(x, p):
        p = p + 1.0
        return np.tanh(A @ x + p)
    p0 = onp.array([0.1, 0.2])
    with pytest.raises(wengert.SavedArrayWriteError, match="fixed_point: writes wrote in place"):
        grad(lambda p: np.sum(wengert.fixed_point(writes, onp.zeros(2), p)))(p0)
    g = grad(lambda p: np.sum(wengert.fixed_point(copies, onp.zeros(2), p)))(p0)
    assert onp.all(onp.isfinite(g)) and p0.flags.writeable


def test_rerun_inputs_are_views_the_caller_gets_back_unchanged():
    # a value passed through comes back as the caller's own (writeable) array, whose flags
    # were never touched; the gradient equals the plain code's
    K = onp.arange(3)               # integer: returned as it is, not packed into the traced output
    seen = []

    def f(x, k):
        seen.append(k.flags.writeable)
        return np.sin(x) * k, k

    def loss(x):
        y, k = wengert.checkpoint(f)(x, K)
        assert k is K
        return np.sum(y)
    onp.testing.assert_allclose(grad(loss)(onp.ones(3)), onp.cos(1.0) * K)
    assert seen == [False, False] and K.flags.writeable      # read-only views in the forward and the recomputation

    def step(carry):
        x, k = carry
        return np.sin(x) + k, k
    x0 = onp.ones(3)

    def plain(x):
        carry = (x * 1.0, K)
        for _ in range(7):
            carry = step(carry)
        return np.sum(carry[0])

    def loop(x):
        y, k = wengert.checkpoint_loop(step, (x * 1.0, K), 7, snapshots=2)
        assert k is K
        return np.sum(y)
    onp.testing.assert_allclose(grad(loop)(x0), grad(plain)(x0), rtol=1e-14)
    assert K.flags.writeable and nothing_held()


@pytest.mark.parametrize("wrap", [
    lambda f, x: wengert.checkpoint(f)(x),
    lambda f, x: wengert.checkpoint_loop(f, x, 5, snapshots=2),
], ids=["checkpoint", "checkpoint_loop"])
def test_arrays_a_recomputed_function_closes_over_are_held_until_the_backward_pass(wrap):
    W = R.normal(size=(3, 3)) / 2

    def f(x):
        return np.sin(W @ x)

    def loss(x):
        y = wrap(f, x)
        W[0, 0] = 5.0               # the backward pass runs f again: it would read the new W
        return np.sum(y)
    with pytest.raises(SavedArrayWriteError):
        grad(loss)(onp.ones(3))
    assert W.flags.writeable and nothing_held()
    W[0, 0] = 1.0                   # writeable again after the derivative
    g = grad(lambda x: np.sum(wrap(f, x)))(onp.ones(3))
    assert onp.all(onp.isfinite(g)) and W.flags.writeable and nothing_held()


def test_custom_vjp_residuals_are_held_until_bwd_has_read_them():
    C = onp.array([1.0, 2.0, 3.0])   # the caller's array, returned by fwd as a residual

    @wengert.custom_vjp
    def scale(x):
        return x * C

    def fwd(x):
        return x * C, (C,)

    def bwd(res, g):
        (c,) = res
        return (g * c,)
    scale.defvjp(fwd, bwd)

    def loss(x):
        y = scale(x)
        C[0] = 10.0                 # bwd would read the new C
        return np.sum(y)
    with pytest.raises(SavedArrayWriteError):
        grad(loss)(onp.ones(3))
    assert C.flags.writeable and nothing_held()
    onp.testing.assert_allclose(grad(lambda x: np.sum(scale(x)))(onp.ones(3)), C)
    assert C.flags.writeable and nothing_held()


def test_in_place_updates_of_their_own_arrays_work_inside_rerun_functions():
    # the read-only views concern only the inputs: arrays the function makes are updated as usual
    # (raw in the forward run, copy-on-write boxes in the recomputation), and the gradients
    # equal those of the same code without checkpointing
    def f(x):
        t = x * 1.0
        t[0] = t[1] * 3.0
        t *= x
        return np.sin(t)

    def step(x):
        y = x * 0.5
        y += np.sin(x)
        y[-1] = 0.25 * x[0]
        return y
    x0 = onp.array([0.3, -0.7, 1.1])
    plain_loop = grad(lambda x: np.sum(_repeat(step, x, 6)))(x0)
    onp.testing.assert_allclose(grad(lambda x: np.sum(wengert.checkpoint(f)(x)))(x0),
                                grad(lambda x: np.sum(f(x)))(x0), rtol=1e-14)
    onp.testing.assert_allclose(grad(lambda x: np.sum(wengert.checkpoint_loop(step, x, 6, snapshots=2)))(x0),
                                plain_loop, rtol=1e-14)
    assert nothing_held()


def _repeat(step, x, n):
    for _ in range(n):
        x = step(x)
    return x


def test_repeated_indices_keep_the_last_write_in_both_modes():
    # NumPy keeps the last write to a repeated position (a[[0, 0]] = v and a[[0, 0]] += v
    # alike): only that element of v reaches the output, so only it gets a cotangent
    def f(a, v):
        a = a + 0.0 * v[0]                 # traced
        a[[0, 0, 2]] += v                  # a[0] = a0 + v1, a[2] = a2 + v2
        a[[1, 1]] = v[:2] * 2.0            # a[1] = 2 v1
        a[onp.array([[3, 3], [3, 0]])] = v[2] * v[:2]     # a[3] = v2 v0, then a[0] = v2 v1
        return a
    a, v = onp.arange(5.0), onp.array([1.0, 2.0, 3.0])
    expected = [[0, v[2], v[1]], [0, 2, 0], [0, 0, 1], [v[2], 0, v[0]], [0, 0, 0]]
    onp.testing.assert_allclose(jacrev(f, argnums=1)(a, v), expected)
    onp.testing.assert_allclose(jacfwd(f, argnums=1)(a, v), expected)
    check_grads(f, (a, v), modes=("fwd", "rev"), order=2)

    def scalar(v):
        out = onp.zeros(4) + 0.0 * v
        out[[1, 1, 3]] = v                 # one value broadcast to positions 1 (twice) and 3
        return np.sum(out * onp.arange(4.0))
    assert grad(scalar)(2.0) == pytest.approx(1.0 + 3.0)


def test_updating_a_plain_ndarray_in_place_with_a_traced_value_is_a_conversion_error():
    def f(v):
        out = onp.zeros(3)
        out[[0, 0, 2]] += v                # a plain array cannot hold a traced value
        return np.sum(out)
    with pytest.raises(TracedConversionError, match="Storing in place into a plain ndarray"):
        grad(f)(onp.ones(3))
    with pytest.raises(TracedConversionError, match="Storing in place into a plain ndarray"):
        jvp(f, (onp.ones(3),), (onp.ones(3),))


@pytest.mark.parametrize("write", [
    lambda out, x: onp.copyto(out, x),
    lambda out, x: onp.put(out, [0, 1], x[:2]),
    lambda out, x: onp.putmask(out, out == 0, x),
    lambda out, x: onp.place(out, out == 0, x),
    lambda out, x: onp.put_along_axis(out, onp.array([0]), x[:1], 0),
    lambda out, x: onp.add.at(out, [0, 0], x[:2]),
], ids=["copyto", "put", "putmask", "place", "put_along_axis", "add.at"])
def test_numpy_functions_writing_in_place_name_the_problem(write):
    # not a "missing rule": a plain ndarray cannot hold a traced value, and a traced one is
    # updated with a[idx] = v
    def into_plain(x):
        out = onp.zeros(3)
        write(out, x)
        return np.sum(out)

    def into_traced(x):
        write(x, onp.ones(3))
        return np.sum(x)
    with pytest.raises(TracedConversionError, match="Storing in place into a plain ndarray with numpy"):
        grad(into_plain)(onp.ones(3))
    with pytest.raises(wengert.InPlaceUpdateError, match=r"numpy\.\S+\(x, \.\.\.\) on a traced array"):
        grad(into_traced)(onp.ones(3))


def _views_program(x, lib):
    a = x * 1.0
    row = a[1]                      # a view of a's second row
    row *= 2.0                      # NumPy: a changes too
    col = a[:, 0]
    a[0, 0] = x[1, 1] ** 2          # NumPy: col (and row's base) see it
    sub = row[1:]                   # a view of a view
    sub += col[:2]                  # changes row, hence a
    return lib.sum(a * a) + lib.sum(row * col[1]) + lib.sum(sub)


def _reshaped_views_program(x, lib):
    a = x * 1.0
    t = a.T
    t[0] *= 3.0                     # column 0 of a
    r = a.reshape(-1)
    r[1] = r[2] ** 2                # a[0, 1]
    s = lib.swapaxes(a, 0, 1)
    a[1, 2] += 1.0                  # shows in t, r and s
    f = lib.ravel(lib.expand_dims(a, 0))
    f[-1] = 0.5 * s[0, 0]
    return lib.sum(a * a) + lib.sum(t[2] * r[:3]) + lib.sum(s[0] * f[-3:])


@pytest.mark.parametrize("program", [_views_program, _reshaped_views_program], ids=["indexing", "reshape-transpose"])
def test_writes_through_views_follow_numpy_both_ways(program):
    x = R.normal(size=(3, 3))
    expected = program(x.copy(), onp)
    value, g = value_and_grad(lambda x: program(x, np))(x)
    assert value == pytest.approx(expected, rel=1e-14)
    check_grads(lambda x: program(x, np), (x,), modes=("fwd", "rev"), order=2)
    onp.testing.assert_allclose(jacfwd(lambda x: program(x, np))(x), g, rtol=1e-12)


def test_a_reshape_numpy_must_copy_is_a_copy():
    x = R.normal(size=(3, 3))

    def copied(x):                  # a reshape NumPy must copy (a strided view) is not linked, as in NumPy
        a = x * 1.0
        r = a[:, ::2].reshape(-1)
        r[0] = 100.0
        return np.sum(a)
    assert value_and_grad(copied)(x)[0] == pytest.approx(onp.sum(x))


def test_view_links_are_dropped_with_the_boxes():
    from wengert.numpy import _box
    _box._purge()
    before = (len(_box._views), _box._linked[0])
    x = R.normal(size=(4, 3))
    for _ in range(3):
        grad(lambda x: _views_program(x[:3], np) + _reshaped_views_program(x[:3], np))(x)
    gc.collect()
    _box._purge()                   # swept lazily, not by a callback per box
    assert (len(_box._views), _box._linked[0]) == before

    def rows(A):                    # many views of one long-lived base: the sweeps keep it bounded
        s = 0.0
        for i in range(3 * _box._purge_at[0]):
            s = s + np.sum(A[i % 4])
        return s
    grad(rows)(x)
    assert _box._linked[0] <= 2 * _box._purge_at[0]

# -- NumPy's semantics in the corners: scalars, copies, 0-d views, shape and dtype --------------

def _scalar_history(x):
    s = x[0] * 1.0                 # a NumPy scalar: immutable, so s += ... rebinds s alone
    hist = []
    for i in range(3):
        s += x[i]
        hist.append(s)
    t = s
    s *= 3.0
    return np.sum(np.stack(hist)) + 10.0 * t + s


def _copies(a):
    b = a * 1.0
    copies = [b.copy(), np.copy(b), np.array(b), np.array(b, dtype=b.dtype), b.T.copy(), b.flatten(), +b,
              np.reshape(b, b.shape, copy=True)]
    for c in copies:
        c[...] = 100.0 if c.ndim else 100.0
    return np.sum(b * onp.arange(1.0, b.size + 1).reshape(b.shape)) + sum(np.sum(c) for c in copies)


def _zero_d_views(a):
    b = a * 1.0
    v = b[1, ...]                 # with an ellipsis NumPy returns a 0-d view, not a scalar
    v *= 3.0
    b[0, ...][...] = 9.0
    return np.sum(b ** 2)


def _floor_and_mod(a):
    b = a * 1.0
    row = b[1:3]
    row %= 2.0
    c = b
    c //= 1.5
    return np.sum(b * a) + np.sum(c)


@pytest.mark.parametrize("program, x", [
    (_scalar_history, onp.array([1.5, -0.5, 2.0])),
    (_copies, onp.array([[1.0, 2.0], [3.0, 4.0]])),
    (_zero_d_views, onp.array([0.3, -1.2, 0.7])),
    (_floor_and_mod, onp.array([0.3, 2.7, 5.4, 1.1])),
], ids=["scalars", "copies", "0-d views", "//= and %="])
def test_in_place_corners_follow_numpy(program, x):
    """Values as NumPy computes them (the program run on plain arrays), gradients as
    finite differences and forward mode give them."""
    assert float(program(onp.array(x))) == pytest.approx(float(program(np.array(x))), rel=1e-12)
    ref = onp.asarray(program(x.copy()))
    v = wengert_value(program, x)
    assert v == pytest.approx(float(ref), rel=1e-12)
    g = grad(program)(x)
    onp.testing.assert_allclose(g, jacfwd(program)(x), rtol=1e-10, atol=1e-12)
    h = 1e-6
    fd = [(program(x + h * e) - program(x - h * e)) / (2 * h) for e in onp.eye(x.size).reshape((x.size,) + x.shape)]
    onp.testing.assert_allclose(g.ravel(), fd, rtol=1e-6, atol=1e-6)


def wengert_value(program, x):
    from wengert import value_and_grad
    return float(value_and_grad(program)(x)[0])


def test_in_place_updates_keep_shape_and_dtype_as_numpy_does():
    def widen(x):
        a = x * 1.0
        a += onp.ones((2, 3))
        return np.sum(a)

    def complexify(x):
        a = x * 1.0
        a *= 1j
        return np.sum(np.abs(a))

    def narrow(x):
        a = np.astype(x, np.float32) * 1.0
        a += x                     # float64 into float32: NumPy casts back (same kind)
        return a
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        grad(widen)(onp.ones(3))
    with pytest.raises(TypeError, match="Cannot cast ufunc 'multiply' output"):
        grad(complexify)(onp.ones(3))
    out = jacfwd(narrow)(onp.ones(3))
    assert out.dtype == onp.float32
    onp.testing.assert_allclose(out, 2 * onp.eye(3))


@pytest.mark.parametrize("make", [
    lambda a: np.split(a, 3, axis=1)[0], lambda a: np.flip(a, 0), lambda a: np.fliplr(a),
    lambda a: np.flipud(a), lambda a: a.real, lambda a: np.atleast_2d(a[0]), lambda a: np.array_split(a, 2)[1],
], ids=["split", "flip", "fliplr", "flipud", "real", "atleast_2d", "array_split"])
def test_views_returned_by_numpy_functions_are_linked(make):
    w = onp.arange(1.0, 7.0).reshape(2, 3)

    def f(x):
        a = x * 1.0
        v = make(a)
        v[0, 0] = 100.0 * x[0, 0]
        return np.sum(a * w)
    x = onp.ones((2, 3))
    assert float(f(np.array(x))) == pytest.approx(float(f(x.copy())))
    check_grads(f, (x,), modes=("fwd", "rev"), order=1)


def test_writing_into_a_part_of_a_traced_complex_array_is_refused():
    from wengert import InPlaceUpdateError

    def f(x):
        z = x * (1 + 2j)
        r = z.real
        r[0] = 5.0
        return np.sum(np.abs(z))
    with pytest.raises(InPlaceUpdateError, match="x.real"):
        grad(f)(onp.ones(3))


@pytest.mark.parametrize("index", [
    lambda A, rows, cols: A[rows, cols], lambda A, rows, cols: np.take(A, rows, axis=0)[:, 0],
    lambda A, rows, cols: np.take_along_axis(A, rows[:, None], axis=0)[:, 0],
], ids=["tuple of arrays", "take", "take_along_axis"])
def test_index_arrays_are_the_tapes_own(index):
    """The backward pass reads the index arrays: the user may reuse theirs meanwhile."""
    def f(x, reuse):
        rows, cols = onp.array([0, 1]), onp.array([0, 0])
        A = np.stack([x, 2 * x, 3 * x])
        y = index(A, rows, cols)
        if reuse:
            rows[:] = 2
        return np.sum(y ** 2)
    x = onp.array([1.0, 2.0])
    onp.testing.assert_allclose(grad(f)(x, True), [10.0, 0.0], rtol=1e-14)     # y = [x0, 2 x0]
    onp.testing.assert_allclose(grad(f)(x, False), [10.0, 0.0], rtol=1e-14)


def test_memory_of_updates_cell_by_cell_grows_linearly():
    """Each in-place update is a copy; the tape keeps only the shapes of the copies that
    indexing and item assignment read (their rules need no values), so a table filled
    cell by cell costs memory in proportion to the updates, not updates x table size."""
    import tracemalloc

    def recurrence(x):
        a = x * 1.0
        for i in range(1, a.shape[0]):
            a[i] = 0.5 * a[i - 1] + a[i]
        return np.sum(a)

    def peak(n):
        x = onp.linspace(0.0, 1.0, n)
        tracemalloc.start()
        try:
            g = grad(recurrence)(x)
            return tracemalloc.get_traced_memory()[1], g
        finally:
            tracemalloc.stop()
    small, g = peak(400)
    large, _ = peak(1600)
    assert large / small < 6            # a copy kept per update would make it ~16
    expected = onp.array([sum(0.5 ** k for k in range(400 - i)) for i in range(400)])
    onp.testing.assert_allclose(g, expected, rtol=1e-12)


# -- random programs of in-place updates, against NumPy ------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = [
    ("row += x", lambda a, x, c: a[1].__iadd__(x[:4] * c)),
    ("a[:, j] *= c", lambda a, x, c: a[:, 2].__imul__(c)),
    ("a[mask] = v", lambda a, x, c: a.__setitem__(a > 0.5, c)),
    ("a[[0, 2, 0]] -= x", lambda a, x, c: a.__setitem__([0, 2, 0], a[[0, 2, 0]] - x[:4])),
    ("a.T[0] = x", lambda a, x, c: a.T.__setitem__(0, x[:3])),
    ("flip then write", lambda a, x, c: np.flip(a, 0).__setitem__((0, 1), c * x[0])),
    ("reshape view /=", lambda a, x, c: a.reshape(-1)[::5].__itruediv__(1.5)),
    ("a *= a", lambda a, x, c: a.__imul__(a)),
    ("copy written", lambda a, x, c: a.copy().__setitem__(Ellipsis, 7.0)),
    ("0-d view", lambda a, x, c: a[2, 1, ...].__imul__(c)),
    ("split piece", lambda a, x, c: np.split(a, 2, axis=1)[1].__iadd__(x[0])),
    ("scalar +=", lambda a, x, c: _scalar_add(a)),
]


def _scalar_add(a):
    s = a[0, 0]
    t = s
    s += 1.0                     # rebinds s alone: a and t keep the old value
    a[0, 1] = t * s


def _run(ops, a, x, c):
    a = a * 1.0 + 0.0 * (x[0] * c)       # traced whenever one of the three is
    for k in ops:
        _OPS[k][1](a, x, c)
    return np.sum(np.sin(a) * onp.arange(1.0, 13.0).reshape(3, 4))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(_OPS) - 1), min_size=1, max_size=6), st.integers(0, 2 ** 31 - 1))
def test_random_programs_of_updates_agree_with_numpy_and_finite_differences(ops, seed):
    """Values as NumPy computes them on the same program; reverse mode equal to forward
    mode and to central differences, with respect to the array and to the values written."""
    rng = onp.random.default_rng(seed)
    a0, x0, c0 = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 4), float(rng.uniform(0.5, 1.5))
    plain = _run(ops, a0.copy(), x0.copy(), c0)
    from wengert import value_and_grad
    value, grads = value_and_grad(_run, argnums=(1, 2, 3))(ops, a0, x0, c0)
    assert float(value) == pytest.approx(float(plain), rel=1e-12, abs=1e-12)
    for k, (arg, g) in enumerate(zip((a0, x0, c0), grads)):
        def along(t, k=k):
            args = [a0, x0, c0]
            args[k] = args[k] + t
            return _run(ops, *args)
        direction = rng.standard_normal(onp.shape(arg))
        _, tangent = jvp(along, (onp.zeros(onp.shape(arg)),), (direction,))
        assert float(onp.sum(g * direction)) == pytest.approx(float(tangent), rel=1e-9, abs=1e-9)
        h = 1e-6
        fd = (along(h * direction) - along(-h * direction)) / (2 * h)
        assert float(tangent) == pytest.approx(float(fd), rel=1e-5, abs=1e-5)
