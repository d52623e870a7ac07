"""Shared helpers for the table-driven rule tests."""
import numpy as onp
import pytest

from wengert import check_grads

R = onp.random.default_rng(0)


def rand(*shape, low=-2.0, high=2.0, dtype=onp.float64):
    return (R.uniform(low, high, size=shape)).astype(dtype) if shape else float(R.uniform(low, high))


def positive(*shape):
    return rand(*shape, low=0.5, high=2.0)


def unit(*shape):
    """Values inside (-1, 1), the domain of arcsin/arctanh."""
    return rand(*shape, low=-0.9, high=0.9)


def spec(name, fun, *args, **kwargs):
    """One row of a spec table: a readable id, the function, its float64 arguments."""
    return pytest.param(fun, args, kwargs, id=name)


def check(fun, args, kwargs=None, order=2, **tol):
    check_grads(lambda *a: fun(*a, **(kwargs or {})), args, modes=("fwd", "rev"), order=order, **tol)
