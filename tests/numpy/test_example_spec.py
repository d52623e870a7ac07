"""The spec-table pattern every family test follows (see tests/numpy/specs.py)."""
import pytest

import wengert.numpy as np
from tests.numpy.specs import check, rand, spec

SPECS = [
    spec("sin-vector", np.sin, rand(4)),
    spec("multiply-broadcast", np.multiply, rand(3, 1), rand(1, 4)),
    spec("sum-axis-keepdims", np.sum, rand(2, 3), axis=1, keepdims=True),
    spec("matmul-batched", np.matmul, rand(2, 3, 4), rand(4, 5)),
]


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)
