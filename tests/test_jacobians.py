"""Batched Jacobians, Hessians and Hessian-vector products over pytrees."""
import numpy as onp
import pytest

import wengert.numpy as np
from wengert import grad, hessian, hvp, jacfwd, jacobian, jacrev, vjp

R = onp.random.default_rng(3)
W = R.normal(size=(4, 3))


def f_vec(x):
    return np.tanh(W @ x) * np.sum(x ** 2)


def rowwise_jacobian(f, x):
    """The Jacobian one VJP at a time: the unbatched reference."""
    out, pull = vjp(f, x)
    rows = [pull(e.reshape(onp.shape(out)))[0] for e in onp.eye(onp.size(out))]
    return onp.array(rows).reshape(onp.shape(out) + onp.shape(x))


@pytest.mark.parametrize("jac", [jacfwd, jacrev, jacobian])
def test_jacobian_matches_the_row_by_row_reference(jac):
    x = R.normal(size=3)
    onp.testing.assert_allclose(jac(f_vec)(x), rowwise_jacobian(f_vec, x), rtol=1e-12)


@pytest.mark.parametrize("jac", [jacfwd, jacrev])
def test_jacobian_over_pytrees_and_argnums(jac):
    def f(p, x):
        return {"a": p["w"] @ x, "b": np.sum(p["b"] * x[:2])}
    p = {"w": R.normal(size=(2, 3)), "b": R.normal(size=2)}
    x = R.normal(size=3)
    J = jac(f, argnums=(0, 1))(p, x)
    Jp, Jx = J["a"]
    assert Jp["w"].shape == (2, 2, 3) and Jp["b"].shape == (2, 2) and Jx.shape == (2, 3)
    onp.testing.assert_allclose(Jx, p["w"])
    onp.testing.assert_allclose(Jp["w"][1, 1], x)
    onp.testing.assert_allclose(Jp["b"], onp.zeros((2, 2)))
    Jbp, Jbx = J["b"]
    onp.testing.assert_allclose(Jbp["b"], x[:2])
    onp.testing.assert_allclose(Jbx, onp.r_[p["b"], 0.0])


@pytest.mark.parametrize("jac", [jacfwd, jacrev])
def test_jacobian_of_matrix_valued_function_of_a_matrix(jac):
    X = R.normal(size=(2, 3))
    J = jac(lambda X: X.T @ X)(X)
    assert J.shape == (3, 3, 2, 3)
    onp.testing.assert_allclose(J, rowwise_jacobian(lambda X: X.T @ X, X), rtol=1e-12)


@pytest.mark.parametrize("jac", [jacfwd, jacrev])
def test_jacobian_has_aux(jac):
    J, aux = jac(lambda x: (x * 2.0, {"n": np.sum(x)}), has_aux=True)(onp.ones(2))
    onp.testing.assert_allclose(J, 2 * onp.eye(2))
    assert aux["n"] == 2.0


def test_jacobian_auto_picks_forward_mode_for_fewer_inputs():
    kinds = []

    def f(x):
        kinds.append(type(x._trace).__name__)
        return np.concatenate([x, x ** 2, np.sin(x)])
    onp.testing.assert_allclose(jacobian(f)(onp.ones(2)), jacrev(f)(onp.ones(2)))
    assert kinds[0] == "ReverseTrace" and kinds[1] == "JVPTrace"   # sized up, then forward
    kinds.clear()
    jacobian(lambda x: (kinds.append(type(x._trace).__name__), np.sum(x))[1])(onp.ones(3))
    assert kinds == ["ReverseTrace"]
    with pytest.raises(ValueError, match="mode"):
        jacobian(f, mode="sideways")(onp.ones(2))


def test_hessian_matches_analytic_and_other_compositions():
    A = R.normal(size=(5, 3))

    def f(x):
        return np.sum(np.tanh(A @ x) ** 2)
    x = R.normal(size=3)
    t = onp.tanh(A @ x)
    H_exact = A.T @ onp.diag(2 * (1 - t ** 2) * (1 - 3 * t ** 2)) @ A
    for H in (hessian(f)(x), jacrev(jacrev(f))(x), jacfwd(jacfwd(f))(x), jacrev(jacfwd(f))(x)):
        onp.testing.assert_allclose(H, H_exact, rtol=1e-10)


def test_hessian_over_a_pytree():
    def f(p):
        return np.sum(p["a"] ** 2 * p["b"][0]) + p["b"][1] ** 3
    p = {"a": onp.array([1.0, 2.0]), "b": [3.0, 2.0]}
    H = hessian(f)(p)
    onp.testing.assert_allclose(H["a"]["a"], 2 * 3.0 * onp.eye(2))
    onp.testing.assert_allclose(H["a"]["b"][0], 2 * p["a"])
    assert H["b"][1]["b"][1] == pytest.approx(6 * 2.0)


def test_hvp_equals_hessian_times_vector():
    A = R.normal(size=(6, 4))
    f = lambda x: np.sum(np.tanh(A @ x) ** 2)
    x, v = R.normal(size=4), R.normal(size=4)
    onp.testing.assert_allclose(hvp(f, (x,), (v,)), hessian(f)(x) @ v, rtol=1e-10)
    g = lambda x, y: np.sum(x ** 2 * y)
    hx, hy = hvp(g, (onp.ones(2), onp.full(2, 3.0)), (onp.array([1.0, 0.0]), onp.array([0.0, 1.0])))
    onp.testing.assert_allclose(hx, [6.0, 2.0])
    onp.testing.assert_allclose(hy, [2.0, 0.0])


def test_jacobian_of_scalar_and_to_scalar():
    assert jacfwd(lambda x: x ** 3)(2.0) == pytest.approx(12.0)
    assert jacrev(lambda x: x ** 3)(2.0) == pytest.approx(12.0)
    onp.testing.assert_allclose(jacfwd(lambda x: np.sum(x ** 2))(onp.arange(3.0)), [0.0, 2.0, 4.0])
    onp.testing.assert_allclose(jacfwd(lambda s: s * onp.arange(3.0))(2.0), onp.arange(3.0))


def test_grad_of_a_jacobian_entry():
    # reverse over batched forward: d/dx sum(J(x)) where J = jacfwd(f)
    g = grad(lambda x: np.sum(jacfwd(f_vec)(x)))(onp.ones(3))
    h = grad(lambda x: np.sum(jacrev(f_vec)(x)))(onp.ones(3))
    onp.testing.assert_allclose(g, h, rtol=1e-10)


def test_identity_seeds_stay_diagonal_through_elementwise_and_matrix_products():
    """The Jacobian of tanh(W @ x) needs no n^3 product with a dense identity: the diagonal
    batch of basis vectors meets W as a scaling (checked by counting matmul/tensordot calls
    on the batch: none may receive a dense identity)."""
    from wengert.numpy import products
    dense_calls = []
    for prim in (products.matmul, products.tensordot_p):
        original = prim.batch

        def spy(size, batched, *args, _orig=original, **kwargs):
            dense_calls.append(size)
            return _orig(size, batched, *args, **kwargs)
        prim.batch = spy
    try:
        W2 = R.normal(size=(30, 30))
        x = R.normal(size=30)
        t = onp.tanh(W2 @ x)
        for jac in (jacrev, jacfwd):
            onp.testing.assert_allclose(jac(lambda x: np.tanh(W2 @ x))(x), (1 - t ** 2)[:, None] * W2, rtol=1e-12)
    finally:
        products.matmul.batch = products._matmul_batch
        products.tensordot_p.batch = products._tensordot_batch
    assert dense_calls == []
    # and a diagonal batch meeting something without a diagonal rule is expanded correctly
    onp.testing.assert_allclose(jacrev(lambda x: np.cumsum(x) * 2.0)(onp.ones(4)), 2 * onp.tril(onp.ones((4, 4))))
    onp.testing.assert_allclose(jacfwd(lambda x: np.sort(x) ** 2)(onp.array([3.0, 1.0, 2.0])),
                                onp.array([[0, 2.0, 0], [0, 0, 4.0], [6.0, 0, 0]]))
