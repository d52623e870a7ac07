"""The checker must catch wrong rules, at first and at second order."""
import numpy as onp
import pytest

import wengert.numpy as np
from wengert import Primitive, check_grads, defvjp


def _sin_with(first, second_factor=1.0):
    """sin whose VJP is ``first`` and whose rule's own derivative is scaled wrongly by
    ``second_factor`` (via a cosine with a wrong derivative)."""
    bad_cos = Primitive(onp.cos, "bad_cos")
    defvjp(bad_cos, lambda g, ans, x: -g * np.sin(x) * second_factor)
    my_sin = Primitive(onp.sin, "my_sin")
    defvjp(my_sin, lambda g, ans, x: first(g, x, bad_cos))
    return my_sin


def test_correct_rule_passes_to_second_order():
    check_grads(_sin_with(lambda g, x, c: g * c(x)), (onp.linspace(-1, 1, 4),), order=2)


def test_wrong_first_order_rule_fails():
    wrong = _sin_with(lambda g, x, c: g * c(x) * 1.01)
    with pytest.raises(AssertionError, match="order 1"):
        check_grads(wrong, (onp.linspace(-1, 1, 4),), order=1)


def test_wrong_second_order_rule_fails_only_at_order_two():
    wrong = _sin_with(lambda g, x, c: g * c(x), second_factor=1.05)
    check_grads(wrong, (onp.linspace(-1, 1, 4),), order=1)
    with pytest.raises(AssertionError, match="order 2"):
        check_grads(wrong, (onp.linspace(-1, 1, 4),), order=2)


def test_checker_refuses_unknown_modes_and_integer_args():
    with pytest.raises(ValueError, match="mode"):
        check_grads(np.sin, (onp.ones(2),), modes=("sideways",))
    with pytest.raises(TypeError, match="float"):
        check_grads(np.sin, (onp.arange(2),))


def test_complex_arguments_follow_the_autograd_convention():
    z = onp.array([1 + 2j, 3 - 1j])
    check_grads(lambda z: np.real(np.sum(z * z)), (z,), order=2)
    check_grads(np.sin, (z,), order=2)
    wrong = Primitive(onp.sin, "conj_sin")
    defvjp(wrong, lambda g, ans, x: g * np.conj(np.cos(x)))   # conjugated by mistake
    with pytest.raises(AssertionError):
        check_grads(wrong, (z,), order=1)
