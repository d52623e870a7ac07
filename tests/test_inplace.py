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
