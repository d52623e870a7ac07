"""Descent with forward gradients ("Gradients without Backpropagation", Baydin et al.).

The forward gradient g(x) = (grad f(x) . v) v with v ~ N(0, I) is an unbiased estimate
of grad f(x) that costs one forward-mode JVP and no tape. This example fits a small
logistic regression twice, once with the true gradient (reverse mode) and once with
forward gradients, and compares the two: the estimate points the right way on average
(cosine with the true gradient), and descent with it reaches a similar loss, more slowly.

    python examples/forward_gradient_descent.py
"""
import numpy as onp

import wengert.numpy as np
from wengert import forward_grad, grad


def make_problem(seed=0, n=200, d=10):
    rng = onp.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = (X @ w_true + 0.5 * rng.normal(size=n) > 0).astype(float)

    def loss(w):
        z = X @ w
        # mean logistic loss, log(1 + e^z) - y z, written stably
        return np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w ** 2)
    return loss, d


def descend(loss, d, step, n_steps, direction):
    w = onp.zeros(d)
    history = []
    for _ in range(n_steps):
        w = w - step * direction(w)
        history.append(float(loss(w)))
    return w, history


def main(n_steps=400, seed=0, verbose=True):
    loss, d = make_problem(seed)
    rng = onp.random.default_rng(seed + 1)

    # How good is one forward gradient? Compare with the true gradient at a point.
    w0 = onp.zeros(d)
    true = grad(loss)(w0)
    samples = onp.array([forward_grad(loss, w0, rng) for _ in range(2000)])
    cosines = samples @ true / (onp.linalg.norm(samples, axis=1) * onp.linalg.norm(true))
    mean_err = onp.linalg.norm(samples.mean(axis=0) - true) / onp.linalg.norm(true)

    _, hist_true = descend(loss, d, 0.5, n_steps, grad(loss))
    _, hist_fwd = descend(loss, d, 0.5 / d, n_steps, lambda w: forward_grad(loss, w, rng))
    if verbose:
        print(f"logistic regression, d = {d}: loss at w = 0 is {float(loss(w0)):.4f}")
        print(f"one forward gradient vs the true gradient: mean cosine {cosines.mean():.3f} "
              f"(> 0: a descent direction on average)")
        print(f"mean of 2000 forward gradients: relative error {mean_err:.3f} (unbiased)")
        print(f"{n_steps} steps of reverse-mode descent:  loss {hist_true[-1]:.4f}")
        print(f"{n_steps} steps of forward-gradient descent: loss {hist_fwd[-1]:.4f} (one JVP per step)")
    return cosines.mean(), mean_err, hist_true[-1], hist_fwd[-1], float(loss(w0))


if __name__ == "__main__":
    main()
