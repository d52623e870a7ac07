"""wengert.scipy.stats: the distributions' methods against finite differences (forward
and reverse mode, order 2) in every parameter SciPy's formulas are differentiable in,
against SciPy's values (inside and outside the support, invalid parameters), and
against HIPS autograd's gradients where it has the distribution."""
import warnings

import numpy as onp
import pytest
import scipy.stats as st

import wengert.numpy as np
import wengert.scipy.stats as ws
from tests.numpy.specs import check
from wengert import MissingRuleError, elementwise_grad, grad, hessian, jacfwd, jacrev, vjp

R = onp.random.default_rng(7)


def U(low, high, shape=()):
    return float(R.uniform(low, high)) if shape == () else R.uniform(low, high, size=shape)


# distribution -> (shape-parameter sampler, x sampler inside the support)
CONTINUOUS = {
    "norm": (lambda s: (), lambda s: U(-2, 2, s)),
    "t": (lambda s: (U(1.5, 6, s),), lambda s: U(-2, 2, s)),
    "gamma": (lambda s: (U(0.8, 3, s),), lambda s: U(0.3, 3, s)),
    "chi2": (lambda s: (U(1.5, 5, s),), lambda s: U(0.3, 3, s)),
    "beta": (lambda s: (U(0.8, 3, s), U(0.8, 3, s)), lambda s: U(0.15, 0.85, s)),
}
METHODS = ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"]
QUANTILES = ["ppf", "isf"]

# (x shape, shape-parameter shape, loc shape, scale shape): broadcasting among all four
SHAPES = [((), (), (), ()), ((4,), (4,), (), ()), ((3, 4), (4,), (3, 1), (4,)), ((2, 1, 4), (3, 1), (), (3, 4))]


def _shape_id(shapes):
    return "-".join("float" if s == () else "x".join(map(str, s)) for s in shapes)


def _specs():
    out = []
    for name, (shapes_of, x_of) in CONTINUOUS.items():
        for sx, ssh, sl, ss_ in SHAPES:
            x, shp = x_of(sx), shapes_of(ssh)
            loc, scale = U(-0.05, 0.05, sl), U(0.9, 1.3, ss_)
            for m in METHODS:
                out.append(pytest.param(name, m, x, shp, loc, scale, id=f"{name}-{m}-{_shape_id((sx, ssh, sl, ss_))}"))
            q = U(0.1, 0.9, sx)
            for m in QUANTILES:
                out.append(pytest.param(name, m, q, shp, loc, scale, id=f"{name}-{m}-{_shape_id((sx, ssh, sl, ss_))}"))
    return out


SPECS = _specs()


def _shape_args_traced(name, method):
    """Whether the method is differentiable in the shape parameters: densities always,
    the normal and t distributions' cdf family too where SciPy's special function has a rule."""
    return method in ("pdf", "logpdf") or name == "norm"


@pytest.mark.parametrize("name, method, x, shp, loc, scale", SPECS)
def test_rule(name, method, x, shp, loc, scale):
    f = getattr(getattr(ws, name), method)
    if _shape_args_traced(name, method):
        check(lambda x, loc, scale, *shp: f(x, *shp, loc, scale), (x, loc, scale) + shp)
    else:
        check(lambda x, loc, scale: f(x, *shp, loc, scale), (x, loc, scale))


@pytest.mark.parametrize("name, method, x, shp, loc, scale", SPECS)
def test_values_agree_with_scipy(name, method, x, shp, loc, scale):
    f = getattr(getattr(ws, name), method)
    expected = getattr(getattr(st, name), method)(x, *shp, loc, scale)
    onp.testing.assert_allclose(f(x, *shp, loc, scale), expected, rtol=1e-12, atol=0)
    onp.testing.assert_allclose(vjp(lambda x, loc: f(x, *shp, loc, scale), x, loc)[0], expected, rtol=1e-12)
    # keywords, as in SciPy
    names = {"t": ("df",), "chi2": ("df",), "gamma": ("a",), "beta": ("a", "b")}.get(name, ())
    kw = dict(zip(names, shp), loc=loc, scale=scale)
    onp.testing.assert_allclose(f(x, **kw), expected, rtol=1e-12, atol=0)


def test_scalar_results_are_numpy_scalars_like_scipy():
    for v in (ws.norm.logpdf(0.3), ws.t.cdf(0.3, 2.0), ws.gamma.pdf(-1.0, 2.0), ws.poisson.logpmf(2, 1.5)):
        assert isinstance(v, onp.float64)


# -- outside the support, at its ends, invalid parameters ------------------------------------

EDGE_X = onp.array([-1.0, 0.0, 0.5, 1.0, 2.0, onp.inf, -onp.inf, onp.nan])
EDGE_Q = onp.array([0.0, 0.3, 1.0, -0.1, 1.1, onp.nan])


@pytest.mark.parametrize("name", CONTINUOUS)
@pytest.mark.parametrize("scale", [1.0, -1.0, 0.0])
def test_edges_agree_with_scipy_with_finite_derivatives_inside(name, scale):
    n_shapes = len(CONTINUOUS[name][0](()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for shp in [(1.5,) * n_shapes, (0.7,) * n_shapes, (-1.0,) * n_shapes]:
            if name == "norm" and shp[:1] != (1.5,):
                continue
            shp = tuple(onp.full(EDGE_X.shape, s) for s in shp)
            for m in METHODS:
                ours = getattr(getattr(ws, name), m)
                expected = getattr(getattr(st, name), m)(EDGE_X, *shp, 0.0, scale)
                onp.testing.assert_allclose(ours(EDGE_X, *shp, 0.0, scale), expected, rtol=1e-12, equal_nan=True)
                # derivatives: 0 where the value is a constant, and no NaN leaking into
                # the valid entries inside the support
                g = elementwise_grad(lambda x: ours(x, *shp, 0.0, scale))(EDGE_X)
                interior = onp.isfinite(EDGE_X) & (EDGE_X != 0) & (EDGE_X != 1)     # not at a support end
                assert not onp.isnan(g[interior & onp.isfinite(expected)]).any()
                assert onp.all(g[interior & ~onp.isfinite(expected)] == 0)
            for m in QUANTILES:
                shp_q = tuple(s[:EDGE_Q.size] for s in shp)
                expected = getattr(getattr(st, name), m)(EDGE_Q, *shp_q, 0.5, 2.0 * scale)
                got = getattr(getattr(ws, name), m)(EDGE_Q, *shp_q, 0.5, 2.0 * scale)
                onp.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_quantile_ends_are_differentiable_in_loc_and_scale():
    # gamma.ppf(0) is the lower end loc, beta.isf(0) the upper end loc + scale
    assert grad(lambda loc: ws.gamma.ppf(0.0, 2.0, loc, 3.0))(0.5) == 1.0
    assert grad(lambda s: ws.beta.isf(0.0, 2.0, 2.0, 0.5, s))(3.0) == 1.0
    assert grad(lambda s: ws.gamma.ppf(0.5, 2.0, 0.0, s))(3.0) == st.gamma.ppf(0.5, 2.0)


def test_t_with_infinite_df_is_normal():
    x, df = onp.array([-0.5, 0.3, 1.2]), onp.array([onp.inf, 3.0, onp.inf])
    onp.testing.assert_allclose(ws.t.logpdf(x, df), st.t.logpdf(x, df), rtol=1e-14)
    g = elementwise_grad(lambda x: ws.t.logpdf(x, df))(x)
    onp.testing.assert_allclose(g[[0, 2]], -x[[0, 2]], rtol=1e-14)


# -- parameters without derivative rules -------------------------------------------------

@pytest.mark.parametrize("f", [
    lambda a: ws.gamma.cdf(1.0, a), lambda df: ws.chi2.sf(1.0, df), lambda a: ws.beta.cdf(0.3, a, 2.0),
    lambda df: ws.t.cdf(0.3, df), lambda a: ws.gamma.ppf(0.3, a),
], ids=["gamma-cdf-a", "chi2-sf-df", "beta-cdf-a", "t-cdf-df", "gamma-ppf-a"])
def test_cdf_shape_parameters_without_rules_raise(f):
    with pytest.raises(MissingRuleError, match="argument 0"):
        grad(f)(1.5)


def test_other_methods_pass_through_and_raise_when_traced():
    assert ws.norm.mean(1.0, 2.0) == 1.0 and ws.gamma.var(2.0, scale=3.0) == st.gamma.var(2.0, scale=3.0)
    with pytest.raises(MissingRuleError, match=r"scipy\.stats\.norm\.entropy"):
        grad(lambda s: ws.norm.entropy(0.0, s))(1.0)
    with pytest.raises(MissingRuleError, match=r"scipy\.stats\.skew"):
        grad(lambda x: ws.skew(x))(onp.arange(4.0))


def test_rvs_reads_traced_parameters_as_constants():
    assert onp.array_equal(ws.norm.rvs(1.0, 2.0, size=3, random_state=0), st.norm.rvs(1.0, 2.0, size=3, random_state=0))

    def f(mu, s):
        draws = ws.gamma.rvs(2.0, loc=mu, scale=s, size=4, random_state=1)
        return np.sum(ws.gamma.logpdf(draws, 2.0, mu, s))
    draws = st.gamma.rvs(2.0, loc=0.1, scale=1.5, size=4, random_state=1)
    ref = grad(lambda mu, s: np.sum(ws.gamma.logpdf(draws, 2.0, mu, s)), (0, 1))(0.1, 1.5)
    onp.testing.assert_allclose(grad(f, (0, 1))(0.1, 1.5), ref, rtol=1e-14)
    assert ws.poisson.rvs(3.0, size=2, random_state=0).tolist() == st.poisson.rvs(3.0, size=2, random_state=0).tolist()
    assert ws.norm(1.0, 2.0).rvs(size=2, random_state=3).tolist() == st.norm(1.0, 2.0).rvs(size=2, random_state=3).tolist()


def test_frozen_distributions():
    x = U(0.2, 2.0, (4,))
    onp.testing.assert_allclose(ws.gamma(2.0, scale=1.5).logpdf(x), st.gamma(2.0, scale=1.5).logpdf(x), rtol=1e-14)
    onp.testing.assert_allclose(ws.norm(0.3, 2.0).cdf(x), st.norm(0.3, 2.0).cdf(x), rtol=1e-14)
    check(lambda s: ws.t(3.0, 0.1, s).logpdf(x), (1.4,))
    with pytest.raises(TypeError):
        ws.t.logpdf(0.3)                       # df is required
    with pytest.raises(TypeError):
        ws.norm.logpdf(0.3, 0.0, loc=1.0)      # loc twice


def test_scale_and_loc_hessian():
    def f(p):
        return np.sum(ws.norm.logpdf(onp.array([0.1, -0.4, 1.3]), p[0], p[1]))
    p = onp.array([0.2, 1.3])
    z = (onp.array([0.1, -0.4, 1.3]) - p[0]) / p[1]
    expected = onp.array([[-3, -2 * z.sum()], [-2 * z.sum(), 3 - 3 * (z ** 2).sum()]]) / p[1] ** 2
    onp.testing.assert_allclose(hessian(f)(p), expected, rtol=1e-12)


# -- poisson -------------------------------------------------------------------------------

POISSON_K = onp.array([0.0, 1.0, 2.0, 5.0, 2.5, -1.0, onp.inf, onp.nan])


@pytest.mark.parametrize("method", ["pmf", "logpmf", "cdf", "logcdf", "sf", "logsf"])
def test_poisson(method):
    ours, theirs = getattr(ws.poisson, method), getattr(st.poisson, method)
    mu = U(0.5, 3.0, POISSON_K.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for m in (mu, 0.0, -1.0):
            onp.testing.assert_allclose(ours(POISSON_K, m), theirs(POISSON_K, m), rtol=1e-12, equal_nan=True)
        onp.testing.assert_allclose(ours(POISSON_K, mu, loc=1), theirs(POISSON_K, mu, loc=1), rtol=1e-12,
                                    equal_nan=True)
        g = elementwise_grad(lambda m: ours(POISSON_K, m))(mu)
        assert not onp.isnan(g[:6]).any()
    k = onp.array([[0.0], [1.0], [3.0]])
    check(lambda mu: ours(k, mu), (U(0.5, 3.0, (4,)),))
    check(lambda mu: ours(2.0, mu), (1.7,))


def test_poisson_counts_are_constants():
    # k (and loc) are integers: read as constants, like floor
    assert grad(lambda k: ws.poisson.logpmf(k, 2.0))(3.0) == 0.0
    assert grad(lambda k: ws.poisson.cdf(k, 2.0, loc=k / 3))(3.0) == 0.0


def test_poisson_at_mu_zero():
    # logpmf(0, mu) = -mu: the derivative is -1 at mu == 0 too (xlogy(0, mu) has 0 there)
    assert grad(lambda mu: ws.poisson.logpmf(0, mu))(0.0) == -1.0
    onp.testing.assert_allclose(ws.poisson.ppf([0.3, 0.9], 2.0), st.poisson.ppf([0.3, 0.9], 2.0))
    assert grad(lambda mu: np.sum(ws.poisson.ppf(0.3, mu) * mu))(2.0) == st.poisson.ppf(0.3, 2.0)


# -- multivariate normal ---------------------------------------------------------------------

def _spd(d, rng=R):
    m = rng.normal(size=(d, d))
    return m @ m.T + d * onp.eye(d)


MVN_D = 3
MVN_COV = _spd(MVN_D)
MVN_MEAN = R.normal(size=MVN_D)
MVN_CASES = {                                 # x, mean, cov
    "matrix-batch": (R.normal(size=(4, MVN_D)), MVN_MEAN, MVN_COV),
    "matrix-one": (R.normal(size=MVN_D), MVN_MEAN, MVN_COV),
    "matrix-2d-batch": (R.normal(size=(2, 3, MVN_D)), MVN_MEAN, MVN_COV),
    "variances": (R.normal(size=(4, MVN_D)), MVN_MEAN, U(0.5, 2.0, (MVN_D,))),
    "scalar-cov": (R.normal(size=(4, MVN_D)), MVN_MEAN, 1.7),
    "dim1": (R.normal(size=5), 0.3, 1.7),
    "dim1-matrix": (R.normal(size=(5, 1)), onp.array([0.3]), onp.array([[1.7]])),
}


@pytest.fixture(params=["linalg", "composed"])
def factorisation(request, monkeypatch):
    """The multivariate normal through wengert's linalg functions (when differentiable)
    and through the fallback compositions."""
    if request.param == "composed":
        monkeypatch.setattr(ws, "_cholesky", ws._cholesky_composed)
        monkeypatch.setattr(ws, "_solve_triangular", ws._solve_lower)
    return request.param


@pytest.mark.parametrize("case", MVN_CASES)
@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_multivariate_normal(case, method, factorisation):
    x, mean, cov = MVN_CASES[case]
    ours, theirs = getattr(ws.multivariate_normal, method), getattr(st.multivariate_normal, method)
    expected = theirs(x, mean, cov)
    onp.testing.assert_allclose(ours(x, mean, cov), expected, rtol=1e-12)
    onp.testing.assert_allclose(vjp(lambda m: ours(x, m, cov), mean)[0], expected, rtol=1e-12)
    check(lambda x, mean, cov: ours(x, mean, cov), (x, mean, cov))


def test_multivariate_normal_defaults_frozen_and_symmetric_parametrisation():
    x = R.normal(size=(4, 2))
    onp.testing.assert_allclose(ws.multivariate_normal.logpdf(x, cov=onp.eye(2)),
                                st.multivariate_normal.logpdf(x, cov=onp.eye(2)), rtol=1e-14)
    onp.testing.assert_allclose(ws.multivariate_normal.logpdf(0.4), st.multivariate_normal.logpdf(0.4), rtol=1e-14)
    frozen = ws.multivariate_normal(MVN_MEAN, MVN_COV)
    x3 = R.normal(size=(4, MVN_D))
    onp.testing.assert_allclose(frozen.logpdf(x3), st.multivariate_normal(MVN_MEAN, MVN_COV).logpdf(x3), rtol=1e-12)
    assert frozen.rvs(size=2, random_state=0).shape == (2, MVN_D)
    # cov = A A^T + I: the derivative flows through a symmetric composition
    a = R.normal(size=(MVN_D, MVN_D))
    check(lambda a, m: ws.multivariate_normal.logpdf(x3, m, a @ a.T + onp.eye(MVN_D)), (a, MVN_MEAN))
    onp.testing.assert_allclose(jacfwd(lambda m: ws.multivariate_normal.logpdf(x3, m, MVN_COV))(MVN_MEAN),
                                jacrev(lambda m: ws.multivariate_normal.logpdf(x3, m, MVN_COV))(MVN_MEAN), rtol=1e-12)


def test_multivariate_normal_gradients_in_closed_form(factorisation):
    x, mean, cov = R.normal(size=MVN_D), MVN_MEAN, MVN_COV
    inv = onp.linalg.inv(cov)
    dev = x - mean
    gx, gm, gc = grad(lambda x, m, c: ws.multivariate_normal.logpdf(x, m, c), (0, 1, 2))(x, mean, cov)
    onp.testing.assert_allclose(gx, -inv @ dev, rtol=1e-12)
    onp.testing.assert_allclose(gm, inv @ dev, rtol=1e-12)
    # the lower triangle of cov is read by the Cholesky factorisation: compare symmetrised
    expected = 0.5 * (inv @ onp.outer(dev, dev) @ inv - inv)
    onp.testing.assert_allclose(gc + gc.T - onp.diag(onp.diag(gc)), 2 * expected - onp.diag(onp.diag(expected)),
                                rtol=1e-10, atol=1e-14)


def test_multivariate_normal_singular_covariance():
    s = onp.array([[1.0, 1.0], [1.0, 1.0]])
    x = onp.array([0.1, 0.1])
    assert ws.multivariate_normal.logpdf(x, [0, 0], s, allow_singular=True) == \
        st.multivariate_normal.logpdf(x, [0, 0], s, allow_singular=True)
    with pytest.raises(MissingRuleError, match="singular"):
        grad(lambda m: ws.multivariate_normal.logpdf(x, m, s, allow_singular=True))(onp.zeros(2))
    with pytest.raises(onp.linalg.LinAlgError):
        grad(lambda m: ws.multivariate_normal.logpdf(x, m, s))(onp.zeros(2))
    with pytest.raises(MissingRuleError, match=r"multivariate_normal\.cdf"):
        grad(lambda m: ws.multivariate_normal.cdf(x, m, onp.eye(2)))(onp.zeros(2))


def test_composed_cholesky_and_triangular_solve():
    from wengert.scipy.stats import _cholesky_composed, _solve_lower
    a = _spd(4)
    low = _cholesky_composed(a)
    onp.testing.assert_allclose(low, onp.linalg.cholesky(a), rtol=1e-13)
    b = R.normal(size=(4, 3))
    onp.testing.assert_allclose(_solve_lower(low, b), onp.linalg.solve(low, b), rtol=1e-12)
    check(lambda a: _cholesky_composed(0.5 * (a + a.T)), (a,))
    check(lambda l, b: _solve_lower(l, b), (low, b))


# -- dirichlet -------------------------------------------------------------------------------

ALPHA = onp.array([1.5, 2.0, 3.0])


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_dirichlet(method):
    ours, theirs = getattr(ws.dirichlet, method), getattr(st.dirichlet, method)
    x = R.dirichlet(ALPHA, 4).T              # (K, n): components along the first axis, as in SciPy
    for xi in (x, x[:, 0], x[:-1], x[:-1, 0]):
        onp.testing.assert_allclose(ours(xi, ALPHA), theirs(xi, ALPHA), rtol=1e-12)
    # x on the simplex: K - 1 free components
    check(lambda x, a: ours(x, a), (x[:-1], ALPHA))
    check(lambda x, a: ours(x, a), (x[:-1, 0], ALPHA))
    check(lambda a: ws.dirichlet(a).logpdf(x), (ALPHA,))
    with pytest.raises(ValueError):
        ours(onp.array([0.5, 0.6, 0.1]), ALPHA)


# -- HIPS autograd ---------------------------------------------------------------------------

def test_gradients_agree_with_autograd():
    import autograd
    import autograd.scipy.stats as ast
    x, loc, scale = U(0.2, 2.0, (5,)), 0.1, 1.3
    pairs = [
        (lambda x, l, s: ws.norm.logpdf(x, l, s), lambda x, l, s: ast.norm.logpdf(x, l, s)),
        (lambda x, l, s: ws.norm.cdf(x, l, s), lambda x, l, s: ast.norm.cdf(x, l, s)),
        (lambda x, l, s: ws.norm.logsf(x, l, s), lambda x, l, s: ast.norm.logsf(x, l, s)),
        (lambda x, l, s: ws.t.logpdf(x, 3.5, l, s), lambda x, l, s: ast.t.logpdf(x, 3.5, l, s)),
        (lambda x, l, s: ws.t.cdf(x, 3.5, l, s), lambda x, l, s: ast.t.cdf(x, 3.5, l, s)),
    ]
    for i, (ours, theirs) in enumerate(pairs):
        for argnum in ((0, 1) if i == 4 else (0, 1, 2)):      # autograd's t.cdf has no rule for scale
            a = grad(lambda *p: np.sum(ours(*p)), argnum)(x, loc, scale)
            b = autograd.grad(lambda *p: autograd.numpy.sum(theirs(*p)), argnum)(x, loc, scale)
            onp.testing.assert_allclose(a, b, rtol=1e-10)
    # autograd's gamma, chi2 and beta take no loc/scale: x and the shape parameters
    for ours, theirs, args, argnums in [
            (ws.gamma.logpdf, ast.gamma.logpdf, (x, 2.5), (0, 1)), (ws.chi2.logpdf, ast.chi2.logpdf, (x, 3.0), (0,)),
            (ws.beta.logpdf, ast.beta.logpdf, (x / 3, 2.0, 1.5), (0, 1, 2)), (ws.gamma.cdf, ast.gamma.cdf, (x, 2.5), (0,)),
            (ws.chi2.cdf, ast.chi2.cdf, (x, 3.0), (0,)), (ws.beta.cdf, ast.beta.cdf, (x / 3, 2.0, 1.5), (0,))]:
        for argnum in argnums:
            a = grad(lambda *p: np.sum(ours(*p)), argnum)(*args)
            b = autograd.grad(lambda *p: autograd.numpy.sum(theirs(*p)), argnum)(*args)
            onp.testing.assert_allclose(a, b, rtol=1e-10)
    mu = U(0.5, 3.0, (4,))
    onp.testing.assert_allclose(elementwise_grad(lambda m: ws.poisson.logpmf(3.0, m))(mu),
                                autograd.elementwise_grad(lambda m: ast.poisson.logpmf(3.0, m))(mu), rtol=1e-12)
    x3 = R.normal(size=(4, MVN_D))
    onp.testing.assert_allclose(grad(lambda m: np.sum(ws.multivariate_normal.logpdf(x3, m, MVN_COV)))(MVN_MEAN),
                                autograd.grad(lambda m: autograd.numpy.sum(ast.multivariate_normal.logpdf(x3, m, MVN_COV)))(MVN_MEAN),
                                rtol=1e-10)
    xd = R.dirichlet(ALPHA)
    onp.testing.assert_allclose(grad(lambda a: ws.dirichlet.logpdf(xd, a))(ALPHA),
                                autograd.grad(lambda a: ast.dirichlet.logpdf(xd, a))(ALPHA), rtol=1e-12)
