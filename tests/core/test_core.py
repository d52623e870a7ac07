"""The core on its own: these tests never import wengert.numpy (layering holds it).

Primitives are defined here from raw NumPy functions, and a ten-line ``grad`` is
built from ``trace_reverse`` and ``backward``, as a user of the extension API would.
"""
import subprocess
import sys

import numpy as onp
import pytest

from wengert.core import Box, Primitive, backward, defvjp, trace_reverse
from wengert.core.vspace import add

mul = Primitive(onp.multiply, "mul")
sin = Primitive(onp.sin, "sin")
cos = Primitive(onp.cos, "cos")
neg = Primitive(onp.negative, "neg")
defvjp(mul, lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(g, x))
defvjp(sin, lambda g, ans, x: mul(g, cos(x)))
defvjp(cos, lambda g, ans, x: mul(g, neg(sin(x))))
defvjp(neg, lambda g, ans, x: neg(g))


def grad(f):
    def df(x):
        out, trace, records = trace_reverse(f, [x], [0])
        if not (isinstance(out, Box) and out._trace is trace):
            return 0.0
        (g,) = backward(records, [(out._node, 1.0)], [0], free=True)
        return 0.0 if g is None else g
    return df


def test_core_does_not_import_the_numpy_wrapper():
    code = "import sys, wengert.core, wengert.errors; assert 'wengert.numpy' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_first_and_higher_derivatives_of_sin():
    x = 0.7
    assert grad(sin)(x) == pytest.approx(onp.cos(x))
    assert grad(grad(sin))(x) == pytest.approx(-onp.sin(x))
    assert grad(grad(grad(sin)))(x) == pytest.approx(-onp.cos(x))


def test_perturbation_confusion_is_avoided():
    # d/dx [x * d/dy (x + y)] = 1 and d/dx [x * d/dy (x * y)] = 2x
    assert grad(lambda x: mul(x, grad(lambda y: add(x, y))(1.0)))(1.0) == 1.0
    assert grad(lambda x: mul(x, grad(lambda y: mul(x, y))(1.0)))(4.0) == 8.0


def test_fan_out_accumulates_adjoints():
    # f(x) = x*x*x uses x three times
    assert grad(lambda x: mul(mul(x, x), x))(2.0) == pytest.approx(12.0)


def test_constant_function_has_zero_gradient():
    assert grad(lambda x: 3.0)(1.0) == 0.0
