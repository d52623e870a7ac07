"""Differentiating loops that stop when a data-dependent test says so.

The founding notes (seed 003) end with: "Loops are possible: just think (conceptually) of
unrolling them; even adaptive works, e.g. for i = 1, 2, ...: x <- x/2, break if
|x - x_old| < eps, since we don't need a formula for all points, just a computation for
the current point." Reverse mode records the iterations that actually ran, so:

1. The halving loop returns x0 / 2^n, where n depends on x0 but is constant nearby: the
   derivative is exactly 2^-n, which finite differences confirm.
2. Newton's method for sqrt(a), iterated until converged, has the derivative of the
   iterates, which converges to the true derivative 1 / (2 sqrt(a)).
3. Unrolling a fixed-point iteration records every iteration on the tape. ``fixed_point``
   records one operation instead, and gets the same gradient from the implicit function
   theorem (an adjoint iteration that reuses one trace of the step function).

    python examples/adaptive_loop.py
"""
import numpy as onp

import wengert.numpy as np
from wengert import grad, vjp
from wengert.transforms.implicit import fixed_point


def halve_until_converged(x, eps=1e-3):
    while True:
        x_old = x
        x = x / 2
        if abs(x - x_old) < eps:
            break
    return x


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-15 * a:
        x = 0.5 * (x + a / x)
    return x


def step(x, p):
    """One iteration of a contraction in x; its fixed point depends on p."""
    return 0.9 * np.tanh(x) * np.cos(p) + p


def unrolled(p, tol=1e-13):
    x = np.zeros_like(p)
    while True:
        new = step(x, p)
        if np.max(np.abs(new - x)) <= tol:
            return new
        x = new


def main(verbose=True):
    r = {}
    x0 = 3.0
    n = 1
    while x0 / 2 ** n >= 1e-3:
        n += 1
    h = 1e-7
    r["halving_grad"] = grad(halve_until_converged)(x0)
    r["halving_exact"] = 2.0 ** -n
    r["halving_fd"] = (halve_until_converged(x0 + h) - halve_until_converged(x0 - h)) / (2 * h)

    a = 2.0
    r["newton_grad"] = grad(newton_sqrt)(a)
    r["newton_exact"] = 0.5 / onp.sqrt(a)

    p = onp.array([0.1, 0.5, -0.3])
    loss_unrolled = lambda p: np.sum(unrolled(p) ** 2)
    loss_implicit = lambda p: np.sum(fixed_point(step, np.zeros(3), p, tol=1e-13) ** 2)
    r["unrolled_grad"] = grad(loss_unrolled)(p)
    r["implicit_grad"] = grad(loss_implicit)(p)
    count = [0]

    def counted(x, p):
        count[0] += 1
        return step(x, p)
    fixed_point(counted, np.zeros(3), p, tol=1e-13)
    r["iterations"] = count[0]
    r["unrolled_records"] = len(vjp(unrolled, p)[1].records)
    r["implicit_records"] = len(vjp(lambda p: fixed_point(step, np.zeros(3), p, tol=1e-13), p)[1].records)

    if verbose:
        print(f"halving loop from x0 = {x0}: stops after n = {n} halvings")
        print(f"  grad = {r['halving_grad']!r}, exact 2^-{n} = {r['halving_exact']!r}, "
              f"finite differences {r['halving_fd']:.12g}")
        print(f"Newton sqrt({a}) until converged: grad = {r['newton_grad']:.15f}, "
              f"exact 1/(2 sqrt a) = {r['newton_exact']:.15f}")
        print(f"fixed point of {r['iterations']} iterations:")
        print(f"  unrolled: tape of {r['unrolled_records']} records, grad {r['unrolled_grad']}")
        print(f"  fixed_point: tape of {r['implicit_records']} records, grad {r['implicit_grad']}")
    return r


if __name__ == "__main__":
    main()
