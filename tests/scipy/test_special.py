"""wengert.scipy.special: every differentiable function against finite differences
(forward and reverse mode, order 2) on its valid domain, against SciPy's values (plain
and traced), and, where it has them, against HIPS autograd's gradients. Plus the
conventions: xlogy at 0, static orders, logsumexp/softmax at 1e308-scale inputs."""
import warnings

import numpy as onp
import pytest
import scipy.special as ss

import wengert.scipy.special as sp
from tests.numpy.specs import check
from wengert import MissingRuleError, elementwise_grad, grad, hessian, jacfwd, jacrev, jvp, vjp

R = onp.random.default_rng(2024)


# -- domains: a Python float for shape (), else a float64 array ------------------------------

def _uniform(low, high):
    def domain(shape):
        return float(R.uniform(low, high)) if shape == () else R.uniform(low, high, size=shape)
    return domain


real, pos, unit, sym = _uniform(-2.0, 2.0), _uniform(0.5, 2.0), _uniform(0.1, 0.9), _uniform(-0.9, 0.9)
two = _uniform(0.1, 1.9)         # erfcinv
big = _uniform(2.0, 4.0)         # multigammaln(a, 3) needs a > 1


# name -> (static leading arguments, domains of the traced arguments). The function is
# ``getattr(module, name)(*static, *traced)`` in both wengert and SciPy.
UNARY = {
    "gamma": pos, "gammaln": pos, "digamma": pos, "psi": pos, "erf": real, "erfc": real,
    "erfcx": real, "erfinv": sym, "erfcinv": two, "ndtr": real, "log_ndtr": real, "ndtri": unit,
    "expit": real, "logit": unit, "log_expit": real, "entr": pos, "expm1": real, "log1p": pos,
    "exp2": real, "exp10": real, "cosm1": real, "sinc": real,
    "i0": real, "i1": real, "i0e": real, "i1e": real, "j0": real, "j1": real, "y0": pos, "y1": pos,
    "k0": pos, "k1": pos, "k0e": pos, "k1e": pos,
}
if hasattr(ss, "softplus"):
    UNARY["softplus"] = real
BINARY = {
    "beta": (pos, pos), "betaln": (pos, pos), "poch": (pos, pos), "xlogy": (real, pos),
    "xlog1py": (real, pos), "rel_entr": (pos, pos), "kl_div": (pos, pos),
}
# the traced argument last; the static ones (orders, shape parameters) first
STATIC = {
    "polygamma": ((2,), pos), "iv": ((1.5,), pos), "ive": ((2,), real), "jv": ((0.7,), pos),
    "jn": ((3,), real), "yv": ((0.5,), pos), "yn": ((2,), pos), "kv": ((1.3,), pos),
    "kve": ((1.3,), pos), "gammainc": ((1.7,), pos), "gammaincc": ((0.8,), pos),
    "gammaincinv": ((1.7,), unit), "gammainccinv": ((1.7,), unit), "betainc": ((1.5, 2.5), unit),
    "betaincc": ((1.5, 2.5), unit), "betaincinv": ((1.5, 2.5), unit), "betainccinv": ((1.5, 2.5), unit),
    "stdtr": ((3.5,), real), "stdtrit": ((3.5,), unit),
}
# static arguments given as arrays that broadcast against the traced one
STATIC_ARRAYS = {
    "polygamma": ((onp.array([0, 1, 2, 3]),), pos), "iv": ((onp.array([0.0, 0.5, 1.0, 2.5]),), pos),
    "jn": ((onp.array([0, 1, 2, 3]),), real), "yn": ((onp.array([0, 1, 2, 3]),), pos),
    "gammainc": ((onp.array([0.5, 1.0, 1.5, 3.0]),), pos),
    "betainc": ((onp.array([0.5, 1.0, 1.5, 3.0]), 2.0), unit), "stdtr": ((onp.array([1.0, 2.5, 4.0, 30.0]),), real),
}

UNARY_SHAPES = [(), (4,), (2, 3)]
BINARY_SHAPES = [((), ()), ((4,), (4,)), ((3, 1), (4,)), ((4,), ())]


def _call(name, static):
    return lambda *xs: getattr(sp, name)(*static, *xs)


def _ref(name, static):
    return lambda *xs: getattr(ss, name)(*static, *xs)


def _shape_id(s):
    return "float" if s == () else "x".join(map(str, s))


def _cases():
    out = []
    for name, dom in UNARY.items():
        for s in UNARY_SHAPES:
            out.append(pytest.param(name, (), (dom(s),), id=f"{name}-{_shape_id(s)}"))
    for name, (dx, dy) in BINARY.items():
        for sx, sy in BINARY_SHAPES:
            out.append(pytest.param(name, (), (dx(sx), dy(sy)), id=f"{name}-{_shape_id(sx)}-{_shape_id(sy)}"))
    for name, (static, dom) in STATIC.items():
        for s in ((), (2, 3)):
            out.append(pytest.param(name, static, (dom(s),), id=f"{name}-{_shape_id(s)}"))
    for name, (static, dom) in STATIC_ARRAYS.items():
        out.append(pytest.param(name, static, (dom((3, 1)),), id=f"{name}-array-order"))
    out.append(pytest.param("multigammaln", (), (big((3,)),), id="multigammaln"))
    return out


CASES = _cases()


def _fun(name, static):
    if name == "multigammaln":
        return (lambda a: sp.multigammaln(a, 3)), (lambda a: ss.multigammaln(a, 3))
    return _call(name, static), _ref(name, static)


@pytest.mark.parametrize("name, static, args", CASES)
def test_rule(name, static, args):
    check(_fun(name, static)[0], args)


@pytest.mark.parametrize("name, static, args", CASES)
def test_values_agree_with_scipy(name, static, args):
    f, ref = _fun(name, static)
    expected = ref(*args)
    onp.testing.assert_allclose(f(*args), expected, rtol=1e-14, atol=0)
    # the same value when traced, in both modes
    onp.testing.assert_allclose(jvp(f, args, args)[0], expected, rtol=1e-14, atol=0)
    onp.testing.assert_allclose(vjp(f, *args)[0], expected, rtol=1e-14, atol=0)


def test_every_differentiable_name_is_tested():
    tested = set(UNARY) | set(BINARY) | set(STATIC) | {"multigammaln", "logsumexp", "softmax", "log_softmax"}
    assert set(sp.DIFFERENTIABLE) - tested == set()
    assert sp.DIFFERENTIABLE == sorted(sp.DIFFERENTIABLE)


def test_aliases_and_dispatch():
    assert sp.psi is sp.digamma and sp.jn is sp.jv
    x = onp.array([0.7, 1.3])
    # SciPy's own ufuncs on traced values dispatch to the same primitives
    onp.testing.assert_allclose(elementwise_grad(lambda x: ss.gamma(x) + ss.erf(x))(x),
                                elementwise_grad(lambda x: sp.gamma(x) + sp.erf(x))(x), rtol=1e-15)
    # scipy.special.sinc is numpy.sinc: importing this module keeps numpy.sinc differentiable
    onp.testing.assert_allclose(grad(lambda x: onp.sinc(x))(0.3), grad(sp.sinc)(0.3), rtol=1e-15)


def test_float32_stays_float32():
    x = onp.float32([0.7, 1.3])
    for f in (sp.gamma, sp.erf, sp.expit, sp.i0):
        assert elementwise_grad(f)(x).dtype == onp.float32
    assert grad(sp.logsumexp)(x).dtype == onp.float32


# -- static arguments and missing rules ------------------------------------------------------

@pytest.mark.parametrize("f", [
    lambda a: sp.gammainc(a, 1.0), lambda a: sp.gammaincc(a, 1.0), lambda v: sp.iv(v, 1.0),
    lambda n: sp.polygamma(n, 1.5), lambda df: sp.stdtr(df, 0.3), lambda a: sp.betainc(a, 2.0, 0.3),
], ids=["gammainc-a", "gammaincc-a", "iv-order", "polygamma-n", "stdtr-df", "betainc-a"])
def test_no_rule_for_orders_and_shape_arguments(f):
    with pytest.raises(MissingRuleError, match="argument 0"):
        grad(f)(2.0)


def test_functions_without_rules_raise_when_traced_and_pass_through_otherwise():
    assert sp.zeta(2.0, 1.0) == ss.zeta(2.0, 1.0)
    with pytest.raises(MissingRuleError, match=r"scipy\.special\.zeta"):
        grad(lambda x: sp.zeta(x, 1.0))(2.0)


def test_multigammaln_checks_like_scipy():
    with pytest.raises(ValueError):
        sp.multigammaln(0.5, 3)
    with pytest.raises(ValueError):
        sp.multigammaln(2.0, 1.5)
    onp.testing.assert_allclose(grad(lambda a: sp.multigammaln(a, 1))(2.5), ss.digamma(2.5), rtol=1e-14)


# -- conventions at special points -----------------------------------------------------------

def test_xlogy_and_xlog1py_at_zero():
    assert sp.xlogy(0.0, 0.0) == 0.0 and sp.xlog1py(0.0, -1.0) == 0.0
    assert grad(lambda y: sp.xlogy(0.0, y))(0.0) == 0.0             # not 0 / 0
    assert grad(lambda y: sp.xlog1py(0.0, y))(-1.0) == 0.0
    assert grad(lambda x: sp.xlogy(x, 2.0))(0.0) == onp.log(2.0)
    onp.testing.assert_allclose(elementwise_grad(lambda y: sp.xlogy(onp.array([0.0, 3.0]), y))(onp.array([0.0, 2.0])),
                                [0.0, 1.5])
    # the second derivative in y is 0 too at x == 0
    assert hessian(lambda y: sp.xlogy(0.0, y))(0.5) == 0.0
    assert grad(lambda y: sp.rel_entr(0.0, y))(0.5) == 0.0 and grad(lambda y: sp.kl_div(0.0, y))(0.5) == 1.0


def test_gammainc_derivative_at_zero():
    assert grad(lambda x: sp.gammainc(1.0, x))(0.0) == 1.0
    assert grad(lambda x: sp.gammainc(2.0, x))(0.0) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert grad(lambda x: sp.gammainc(0.5, x))(0.0) == onp.inf


def test_exponentially_scaled_bessel_kink_at_zero():
    # ive(v, x) = iv(v, x) exp(-|x|): the kink of |x| gets the subgradient 0
    assert grad(sp.i0e)(0.0) == 0.0
    assert grad(lambda x: sp.ive(0, x))(0.0) == 0.0
    assert grad(sp.i1e)(0.0) == 0.5


def test_log_ndtr_far_tails():
    # d/dx log ndtr(x) = pdf / cdf, finite where cdf underflows
    onp.testing.assert_allclose(grad(sp.log_ndtr)(-40.0), 40.0249688472, rtol=1e-10)
    assert grad(sp.log_ndtr)(-1e200) == 1e200
    assert grad(sp.log_ndtr)(40.0) == 0.0


# -- logsumexp, softmax, log_softmax -------------------------------------------------------

LSE_CASES = {
    "all": (lambda a: sp.logsumexp(a), lambda a: ss.logsumexp(a), [real((3, 4))]),
    "axis": (lambda a: sp.logsumexp(a, axis=1), lambda a: ss.logsumexp(a, axis=1), [real((3, 4))]),
    "axis-neg-keepdims": (lambda a: sp.logsumexp(a, axis=-2, keepdims=True),
                          lambda a: ss.logsumexp(a, axis=-2, keepdims=True), [real((2, 3, 4))]),
    "axis-tuple": (lambda a: sp.logsumexp(a, axis=(0, 2)), lambda a: ss.logsumexp(a, axis=(0, 2)),
                   [real((2, 3, 4))]),
    "float": (sp.logsumexp, ss.logsumexp, [real(())]),
    "float-keepdims": (lambda a: sp.logsumexp(a, keepdims=True), lambda a: ss.logsumexp(a, keepdims=True),
                       [real(())]),
    "b": (lambda a, b: sp.logsumexp(a, axis=0, b=b), lambda a, b: ss.logsumexp(a, axis=0, b=b),
          [real((3, 4)), pos((4,))]),
    "b-broadcast-up": (lambda a, b: sp.logsumexp(a, axis=-1, b=b), lambda a, b: ss.logsumexp(a, axis=-1, b=b),
                       [real((4,)), pos((3, 4))]),
    "return-sign": (lambda a, b: sp.logsumexp(a, axis=1, b=b, return_sign=True)[0],
                    lambda a, b: ss.logsumexp(a, axis=1, b=b, return_sign=True)[0],
                    [real((3, 4)), real((3, 4))]),
    "list": (lambda a: sp.logsumexp([a, 2 * a]), lambda a: ss.logsumexp([a, 2 * a]), [real(())]),
    "softmax": (sp.softmax, ss.softmax, [real((3, 4))]),
    "softmax-axis": (lambda x: sp.softmax(x, axis=1), lambda x: ss.softmax(x, axis=1), [real((3, 4))]),
    "log_softmax": (sp.log_softmax, ss.log_softmax, [real((3, 4))]),
    "log_softmax-axis": (lambda x: sp.log_softmax(x, axis=0), lambda x: ss.log_softmax(x, axis=0),
                         [real((3, 4))]),
}


@pytest.mark.parametrize("name", LSE_CASES)
def test_logsumexp_family(name):
    f, ref, args = LSE_CASES[name]
    onp.testing.assert_allclose(f(*args), ref(*args), rtol=1e-15)
    onp.testing.assert_allclose(vjp(f, *args)[0], ref(*args), rtol=1e-15)
    check(f, args)


def test_logsumexp_return_sign_and_negative_sums():
    a, b = onp.array([1.0, 2.0]), onp.array([1.0, -2.0])
    out, sign = sp.logsumexp(a, b=b, return_sign=True)
    assert (out, sign) == ss.logsumexp(a, b=b, return_sign=True)
    assert onp.isnan(sp.logsumexp(a, b=b))
    # d log|S| / da = b exp(a) / S
    s = onp.sum(b * onp.exp(a))
    onp.testing.assert_allclose(grad(lambda a: sp.logsumexp(a, b=b, return_sign=True)[0])(a),
                                b * onp.exp(a) / s, rtol=1e-14)


def test_logsumexp_matches_softmax_and_autograd():
    import autograd
    import autograd.scipy.special as asp
    a = real((3, 4))
    onp.testing.assert_allclose(grad(sp.logsumexp)(a), ss.softmax(a), rtol=1e-14)
    onp.testing.assert_allclose(jacrev(lambda a: sp.logsumexp(a, axis=1))(a)[1, 1], ss.softmax(a[1]), rtol=1e-14)
    b = pos((4,))
    onp.testing.assert_allclose(grad(lambda a: sp.logsumexp(a, axis=1, b=b).sum())(a),
                                autograd.grad(lambda a: asp.logsumexp(a, axis=1, b=b).sum())(a), rtol=1e-13)


HUGE = [onp.array([1e308, -1e308, 0.0]), onp.array([1e308, 1e308]), onp.array([-1e308, 1e308, 1e308, 3.0]),
        onp.array([[1e308, -1e308], [-1e308, 1e308]])]


@pytest.mark.parametrize("a", HUGE, ids=["opposite", "equal", "mixed", "matrix"])
def test_logsumexp_and_softmax_at_huge_inputs_have_finite_derivatives(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # SciPy's own overflow in a - max
        big = a == a.max()
        w = big / big.sum()                                  # the softmax weights of the maxima
        onp.testing.assert_array_equal(grad(sp.logsumexp)(a), w)
        for d in (jacfwd, jacrev):
            onp.testing.assert_array_equal(d(sp.logsumexp)(a), w)
        h = hessian(sp.logsumexp)(a)
        onp.testing.assert_allclose(h.reshape(a.size, a.size), onp.diag(w.ravel()) - onp.outer(w, w), atol=1e-300)
        for f in (sp.softmax, sp.log_softmax, lambda x: sp.logsumexp(x, axis=-1)):
            for d in (jacfwd, jacrev):
                assert onp.all(onp.isfinite(d(f)(a)))
        onp.testing.assert_allclose(sp.softmax(a), ss.softmax(a))
        onp.testing.assert_array_equal(sp.log_softmax(a), ss.log_softmax(a))
        assert onp.all(onp.isfinite(hessian(lambda x: sp.log_softmax(x)[0])(a.ravel())))


def test_logsumexp_ignores_zero_weights_like_scipy():
    a, b = onp.array([onp.inf, 1.0, 2.0]), onp.array([0.0, 1.0, 1.0])
    assert sp.logsumexp(a, b=b) == ss.logsumexp(a, b=b)
    onp.testing.assert_allclose(grad(lambda a: sp.logsumexp(a, b=b))(a), [0.0, *ss.softmax([1.0, 2.0])], rtol=1e-15)
    gb = grad(lambda b: sp.logsumexp(onp.array([0.0, 1.0, 2.0]), b=b))(b)
    onp.testing.assert_allclose(gb, onp.exp([0.0, 1.0, 2.0]) / onp.exp([1.0, 2.0]).sum(), rtol=1e-15)


def test_logsumexp_batched_jacobians_agree():
    a, b = real((3, 4)), real((4,))
    for f, x in [(lambda a: sp.logsumexp(a, axis=0, b=b, return_sign=True)[0], a),
                 (lambda b: sp.logsumexp(a, axis=1, b=b), onp.abs(b)),
                 (lambda a: sp.softmax(a, axis=0), a)]:
        onp.testing.assert_allclose(jacfwd(f)(x), jacrev(f)(x), rtol=1e-12, atol=1e-15)


# -- HIPS autograd, where it has the function ---------------------------------------------

AUTOGRAD = [("gamma", pos), ("gammaln", pos), ("digamma", pos), ("erf", real), ("erfc", real),
            ("erfinv", sym), ("erfcinv", two), ("expit", real), ("logit", unit), ("i0", real),
            ("i1", real), ("j0", real), ("j1", real), ("y0", pos), ("y1", pos)]


@pytest.mark.parametrize("name, dom", AUTOGRAD, ids=[a[0] for a in AUTOGRAD])
def test_gradients_agree_with_autograd(name, dom):
    import autograd
    import autograd.scipy.special as asp
    x = dom((5,))
    onp.testing.assert_allclose(elementwise_grad(getattr(sp, name))(x),
                                autograd.elementwise_grad(getattr(asp, name))(x), rtol=1e-12)


def test_order_and_two_argument_gradients_agree_with_autograd():
    import autograd
    import autograd.scipy.special as asp
    x = pos((5,))
    for ours, theirs in [(lambda x: sp.iv(1.5, x), lambda x: asp.iv(1.5, x)),
                         (lambda x: sp.jn(2, x), lambda x: asp.jn(2, x)),
                         (lambda x: sp.yn(2, x), lambda x: asp.yn(2, x)),
                         (lambda x: sp.polygamma(1, x), lambda x: asp.polygamma(1, x)),
                         (lambda x: sp.gammainc(1.5, x), lambda x: asp.gammainc(1.5, x)),
                         (lambda x: sp.gammaincc(1.5, x), lambda x: asp.gammaincc(1.5, x)),
                         (lambda x: sp.beta(x, 1.7), lambda x: asp.beta(x, 1.7)),
                         (lambda x: sp.betaln(1.7, x), lambda x: asp.betaln(1.7, x))]:
        onp.testing.assert_allclose(elementwise_grad(ours)(x), autograd.elementwise_grad(theirs)(x), rtol=1e-12)
