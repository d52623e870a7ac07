"""Maximum-likelihood fit of a Gaussian mixture by gradient-based optimisation.

A 2-d mixture of 3 Gaussians is fitted to synthetic data by minimising the negative
log-likelihood with ``scipy.optimize.minimize(..., jac=True)``, fed by
``wengert.value_and_grad`` over one flat parameter vector. The parameterisation is
unconstrained, so a quasi-Newton method can be used directly:

- mixture weights: softmax of ``K`` logits;
- means: ``K x d`` free values;
- covariances: ``Sigma_k = L_k L_k^T`` with ``L_k`` lower triangular, its diagonal the
  exponential of free values (so ``L_k`` is a valid Cholesky factor and
  ``log det Sigma_k = 2 sum(log diag L_k)`` is a sum of raw parameters).

The log-density is written with ``wengert.numpy`` only: the Mahalanobis term by forward
substitution with ``L_k``, and the log-sum-exp over components by the max shift.

    python examples/gaussian_mixture.py
"""
import itertools

import numpy as onp
from scipy.optimize import minimize

import wengert.numpy as np
from wengert import value_and_grad

D, K = 2, 3
TRUE_MEANS = onp.array([[-4.0, 0.0], [3.0, 3.0], [2.0, -4.0]])
TRUE_COVS = onp.array([[[1.0, 0.6], [0.6, 1.5]], [[0.8, -0.3], [-0.3, 0.5]], [[2.0, 0.0], [0.0, 0.4]]])
TRUE_WEIGHTS = onp.array([0.5, 0.3, 0.2])

_ROWS, _COLS = onp.tril_indices(D)
_NTRI = len(_ROWS)
# Scatters the D(D+1)/2 free values of a factor into a D x D lower-triangular matrix.
_SCATTER = onp.zeros((D * D, _NTRI))
_SCATTER[_ROWS * D + _COLS, onp.arange(_NTRI)] = 1.0
_IS_DIAG = _ROWS == _COLS


def sample(n, seed):
    rng = onp.random.default_rng(seed)
    labels = rng.choice(K, size=n, p=TRUE_WEIGHTS)
    chol = onp.linalg.cholesky(TRUE_COVS)
    return TRUE_MEANS[labels] + onp.einsum("nij,nj->ni", chol[labels], rng.standard_normal((n, D)))


def unpack(theta):
    """(log weights (K,), means (K, D), Cholesky factors (K, D, D), log diagonals (K, D))."""
    logits = theta[:K]
    means = np.reshape(theta[K:K + K * D], (K, D))
    tri = np.reshape(theta[K + K * D:], (K, _NTRI))
    log_diag = tri[:, _IS_DIAG]
    entries = np.where(_IS_DIAG, np.exp(tri), tri)               # exp on the diagonal
    chol = np.reshape(entries @ _SCATTER.T, (K, D, D))
    log_weights = logits - logsumexp(logits, axis=0)
    return log_weights, means, chol, log_diag


def logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def solve_lower(chol, r):
    """``z`` with ``chol[k] @ z[n, k] = r[n, k]``, by forward substitution."""
    z = []
    for i in range(D):
        s = r[..., i]
        for j in range(i):
            s = s - chol[:, i, j] * z[j]
        z.append(s / chol[:, i, i])
    return np.stack(z, axis=-1)


def log_likelihood(theta, x):
    """Mean log-likelihood of the points ``x`` (N, D) under the mixture ``theta``."""
    log_weights, means, chol, log_diag = unpack(theta)
    z = solve_lower(chol, x[:, None, :] - means[None, :, :])                  # (N, K, D)
    log_norm = -0.5 * D * onp.log(2 * onp.pi) - np.sum(log_diag, axis=1)     # (K,)
    log_p = log_weights + log_norm - 0.5 * np.sum(z ** 2, axis=-1)           # (N, K)
    return np.mean(logsumexp(log_p, axis=1))


def initial_guess(x, seed):
    """Equal weights, unit covariances, means at K data points chosen at random."""
    rng = onp.random.default_rng(seed)
    means = x[rng.choice(len(x), K, replace=False)]
    return onp.concatenate([onp.zeros(K), means.ravel(), onp.zeros(K * _NTRI)])


def match(fitted, true):
    """The permutation of the fitted components closest to the true ones."""
    return min(itertools.permutations(range(K)), key=lambda p: onp.sum((fitted[list(p)] - true) ** 2))


def main(n=600, seed=0, verbose=True):
    x = sample(n, seed)
    theta0 = initial_guess(x, seed + 1)

    def objective(theta):
        value, g = value_and_grad(log_likelihood)(theta, x)
        return -float(value), -onp.asarray(g)

    # The gradient agrees with central finite differences.
    g0 = objective(theta0)[1]
    eps = 1e-6
    fd = onp.array([-(log_likelihood(theta0 + eps * e, x) - log_likelihood(theta0 - eps * e, x)) / (2 * eps)
                    for e in onp.eye(len(theta0))])
    grad_rel_err = float(onp.linalg.norm(g0 - fd) / onp.linalg.norm(fd))

    res = minimize(objective, theta0, jac=True, method="BFGS", options={"gtol": 1e-7, "maxiter": 1000})
    ll0, ll1 = float(log_likelihood(theta0, x)), -float(res.fun)
    log_weights, means, chol, _ = (onp.asarray(v) for v in unpack(res.x))
    perm = list(match(means, TRUE_MEANS))
    means, weights = means[perm], onp.exp(log_weights)[perm]
    covs = onp.einsum("kij,klj->kil", chol, chol)[perm]
    mean_err = float(onp.max(onp.linalg.norm(means - TRUE_MEANS, axis=1)))
    weight_err = float(onp.max(onp.abs(weights - TRUE_WEIGHTS)))
    cov_err = float(onp.max(onp.abs(covs - TRUE_COVS)))
    if verbose:
        print(f"Gaussian mixture, d = {D}, {K} components, {n} points; {len(theta0)} free parameters")
        print(f"gradient vs finite differences at the start: relative difference {grad_rel_err:.1e}")
        print(f"BFGS: {res.nit} iterations, {res.nfev} evaluations; "
              f"mean log-likelihood {ll0:.4f} -> {ll1:.4f} (+{ll1 - ll0:.4f})")
        for k in range(K):
            print(f"component {k}: weight {weights[k]:.3f} (true {TRUE_WEIGHTS[k]:.2f}), "
                  f"mean {onp.round(means[k], 3)} (true {TRUE_MEANS[k]})")
        print(f"largest error: mean {mean_err:.3f}, weight {weight_err:.3f}, covariance entry {cov_err:.3f}")
    return {"ll_start": ll0, "ll_end": ll1, "improvement": ll1 - ll0, "mean_err": mean_err,
            "weight_err": weight_err, "cov_err": cov_err, "grad_rel_err": grad_rel_err,
            "grad_norm": float(onp.linalg.norm(res.jac)), "means": means, "weights": weights, "covs": covs}


if __name__ == "__main__":
    main()
