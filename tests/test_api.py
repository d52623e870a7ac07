"""grad, value_and_grad, vjp, jacrev, elementwise_grad, stop_gradient over pytrees."""
import dataclasses
from collections import namedtuple

import numpy as onp
import pytest

import wengert.numpy as np
from wengert import (NonDifferentiableInputError, NonScalarOutputError, OutputTypeError, elementwise_grad, grad,
                     jacrev, stop_gradient, value_and_grad, vjp)

Point = namedtuple("Point", "x y")


@dataclasses.dataclass
class Params:
    w: object
    b: object


def test_nesting_to_third_order_and_perturbation_confusion():
    assert grad(grad(grad(lambda x: np.sin(x) * x)))(0.4) == pytest.approx(-3 * onp.sin(0.4) - 0.4 * onp.cos(0.4))
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0) == 1.0
    assert grad(lambda x: x * grad(lambda y: x * y)(1.0))(4.0) == 8.0


def test_argnums_int_and_tuple_and_kwargs_pass_through():
    def f(x, y, scale=1.0):
        return scale * np.sum(x * y ** 2)
    x, y = onp.array([1.0, 2.0]), onp.array([3.0, 4.0])
    onp.testing.assert_allclose(grad(f)(x, y, scale=2.0), 2 * y ** 2)
    onp.testing.assert_allclose(grad(f, argnums=1)(x, y), 2 * x * y)
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    onp.testing.assert_allclose(gx, y ** 2)
    onp.testing.assert_allclose(gy, 2 * x * y)
    assert isinstance(grad(f, argnums=(1,))(x, y), tuple)
    onp.testing.assert_allclose(grad(f, argnums=-1)(x, y), 2 * x * y)


def test_pytree_arguments_come_back_in_their_structure():
    params = {"layer": [onp.ones(2), (onp.full(2, 2.0), None)], "p": Point(1.0, onp.array(3.0)),
              "d": Params(w=onp.arange(2.0), b=0.5)}

    def loss(t):
        a, (b, _) = t["layer"]
        return np.sum(a * b) + t["p"].x * t["p"].y + np.sum(t["d"].w ** 2) * t["d"].b

    g = grad(loss)(params)
    assert set(g) == {"layer", "p", "d"}
    assert isinstance(g["layer"], list) and g["layer"][1][1] is None
    onp.testing.assert_allclose(g["layer"][0], [2.0, 2.0])
    assert isinstance(g["p"], Point) and g["p"].x == 3.0 and g["p"].y == 1.0
    assert isinstance(g["d"], Params)
    onp.testing.assert_allclose(g["d"].w, [0.0, 1.0])
    assert g["d"].b == pytest.approx(1.0)


def test_has_aux():
    def f(x):
        return np.sum(x ** 2), {"mean": np.mean(x)}
    g, aux = grad(f, has_aux=True)(onp.array([1.0, 3.0]))
    onp.testing.assert_allclose(g, [2.0, 6.0])
    assert aux["mean"] == 2.0 and not hasattr(aux["mean"], "_trace")
    (v, aux2), g2 = value_and_grad(f, has_aux=True)(onp.array([1.0, 3.0]))
    assert v == 10.0 and aux2["mean"] == 2.0


def test_vjp_over_pytree_outputs():
    def f(x, y):
        return {"a": x * y, "b": (np.sin(x),)}
    x, y = onp.array([0.1, 0.2]), onp.array([2.0, 3.0])
    out, pullback = vjp(f, x, y)
    onp.testing.assert_allclose(out["a"], x * y)
    gx, gy = pullback({"a": onp.ones(2), "b": (onp.full(2, 2.0),)})
    onp.testing.assert_allclose(gx, y + 2 * onp.cos(x))
    onp.testing.assert_allclose(gy, x)
    _, pullback2, aux = vjp(lambda x: (x * 2.0, "tag"), x, has_aux=True)
    assert aux == "tag"


def test_jacrev_shapes_and_values():
    W = onp.arange(6.0).reshape(2, 3)
    J = jacrev(lambda x: np.tanh(W @ x))(onp.array([0.1, -0.2, 0.3]))
    y = onp.tanh(W @ onp.array([0.1, -0.2, 0.3]))
    onp.testing.assert_allclose(J, (1 - y ** 2)[:, None] * W)
    J2 = jacrev(lambda X: X * 2.0)(onp.ones((2, 2)))
    assert J2.shape == (2, 2, 2, 2)
    onp.testing.assert_allclose(J2.reshape(4, 4), 2 * onp.eye(4))
    Jx, Jy = jacrev(lambda x, y: x * y, argnums=(0, 1))(onp.array([1.0, 2.0]), onp.array([3.0, 4.0]))
    onp.testing.assert_allclose(Jx, onp.diag([3.0, 4.0]))
    onp.testing.assert_allclose(Jy, onp.diag([1.0, 2.0]))
    Jd = jacrev(lambda p: {"s": np.sum(p["a"])})({"a": onp.ones(3)})
    onp.testing.assert_allclose(Jd["s"]["a"], onp.ones(3))


def test_jacrev_of_grad_is_the_hessian():
    A = onp.array([[2.0, 1.0], [1.0, 3.0]])
    H = jacrev(grad(lambda x: 0.5 * x @ A @ x))(onp.array([0.3, -0.1]))
    onp.testing.assert_allclose(H, A)


def test_elementwise_grad_and_stop_gradient():
    x = onp.linspace(-1, 1, 5)
    onp.testing.assert_allclose(elementwise_grad(np.tanh)(x), 1 - onp.tanh(x) ** 2)
    assert grad(lambda x: x * stop_gradient(x))(3.0) == 3.0
    assert grad(lambda x: stop_gradient({"a": x})["a"] * 2.0)(1.0) == 0.0


def test_gradients_keep_the_float_dtype():
    x32 = onp.ones(3, onp.float32)
    g = grad(lambda x: np.sum(np.sin(x) * onp.float64(2.0)))(x32)
    assert g.dtype == onp.float32
    assert grad(lambda x: np.sum(x * onp.ones(3)))(x32).dtype == onp.float32


def test_gradient_of_an_input_not_used_is_zero():
    g = grad(lambda x, y: np.sum(y), argnums=0)(onp.ones(3), onp.ones(3))
    onp.testing.assert_array_equal(g, onp.zeros(3))


@pytest.mark.parametrize("bad", [3, True, onp.arange(3), onp.array([True])])
def test_integer_or_bool_arguments_are_refused_with_a_hint(bad):
    with pytest.raises(NonDifferentiableInputError, match=r"argument 0 .*float"):
        grad(lambda x: x * 2.0)(bad)


def test_integer_arguments_outside_argnums_are_fine():
    assert grad(lambda x, n: x ** n)(2.0, 3) == 12.0


def test_non_scalar_output_points_to_jacrev_and_vjp():
    with pytest.raises(NonScalarOutputError, match=r"shape \(3,\).*jacrev.*vjp"):
        grad(lambda x: x * 2.0)(onp.ones(3))


@pytest.mark.parametrize("result", ["text", None, object()])
def test_non_numeric_output_is_refused(result):
    with pytest.raises(OutputTypeError, match="must return a float"):
        grad(lambda x: result)(1.0)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda x: x, argnums=2)(1.0)


def test_vjp_refuses_a_cotangent_of_the_wrong_shape():
    _, pullback = vjp(lambda x: x * 2.0, onp.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        pullback(onp.ones(2))


def test_second_order_through_a_primitive_whose_impl_is_not_numpy():
    import math

    from wengert import defvjp, primitive

    @primitive
    def msin(x):
        return math.sin(x)

    defvjp(msin, lambda g, ans, x: g * np.cos(x))
    assert grad(grad(msin))(1.0) == pytest.approx(-math.sin(1.0))
