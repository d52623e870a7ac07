"""Migrating from HIPS autograd: the same program, written once against a module set
(``api`` = ``autograd`` or ``wengert``, ``np`` = its NumPy, ``ext`` = its ``extend``),
gives the same numbers and the same return structure under both."""
import pathlib
import re
import types
import warnings

import numpy as onp
import pytest

autograd = pytest.importorskip("autograd")
import autograd.extend  # noqa: E402
import autograd.numpy  # noqa: E402

import wengert  # noqa: E402
import wengert.extend  # noqa: E402
import wengert.numpy  # noqa: E402
from wengert import MissingRuleError, NonScalarOutputError, check_grads  # noqa: E402

AUTOGRAD = types.SimpleNamespace(name="autograd", api=autograd, np=autograd.numpy, ext=autograd.extend)
WENGERT = types.SimpleNamespace(name="wengert", api=wengert, np=wengert.numpy, ext=wengert.extend)
SETS = [AUTOGRAD, WENGERT]

RNG = onp.random.default_rng(0)
X = RNG.standard_normal(3)
Y = RNG.standard_normal(3)
A = RNG.standard_normal((2, 3))
V = RNG.standard_normal(3)
W5, V5 = RNG.standard_normal(5), RNG.standard_normal(5)


def run(program):
    """``program(lib)`` under each module set: {name: result}."""
    out = {}
    for lib in SETS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # autograd's "Output seems independent of input"
            out[lib.name] = program(lib)
    return out


def assert_same(a, w, where="result"):
    """Same structure (tuple/list/dict nesting and order, callables where callables,
    shapes) and the same numbers."""
    if callable(a) and not isinstance(a, onp.ndarray):
        assert callable(w), f"{where}: autograd gives a function, wengert {type(w).__name__}"
        return
    if isinstance(a, (tuple, list)):
        assert isinstance(w, (tuple, list)) and type(w) is type(a), \
            f"{where}: autograd gives a {type(a).__name__}, wengert {type(w).__name__}"
        assert len(a) == len(w), f"{where}: lengths {len(a)} and {len(w)}"
        for i, (x, y) in enumerate(zip(a, w)):
            assert_same(x, y, f"{where}[{i}]")
        return
    if isinstance(a, dict):
        assert isinstance(w, dict) and list(a) == list(w), where
        for k in a:
            assert_same(a[k], w[k], f"{where}[{k!r}]")
        return
    assert not isinstance(w, (tuple, list, dict)) and not callable(w), f"{where}: {type(w).__name__}"
    assert onp.shape(a) == onp.shape(w), f"{where}: shapes {onp.shape(a)} and {onp.shape(w)}"
    assert onp.iscomplexobj(a) == onp.iscomplexobj(w), f"{where}: complex in one only"
    onp.testing.assert_allclose(w, a, rtol=1e-10, atol=1e-12, err_msg=where)


def same(program):
    results = run(program)
    assert_same(results["autograd"], results["wengert"])
    return results["wengert"]


def f2(lib):
    np = lib.np
    return lambda x, y, scale=1.0: scale * np.sum(np.sin(x) * y ** 2 + np.exp(x * y) / 3)


def vec(lib):
    np = lib.np
    return lambda x, y: np.tanh(np.dot(A, x * y)) + np.sum(x)


# -- argnum / argnums ---------------------------------------------------------------------

ARGNUM_FORMS = {
    "default": ((), {}),
    "positional int": ((1,), {}),
    "positional tuple": (((0, 1),), {}),
    "positional list": (([1, 0],), {}),
    "argnum keyword": ((), {"argnum": 1}),
    "argnum tuple": ((), {"argnum": (0, 1)}),
    "argnum list": ((), {"argnum": [0, 1]}),
}


@pytest.mark.parametrize("form", list(ARGNUM_FORMS))
@pytest.mark.parametrize("op", ["grad", "value_and_grad"])
def test_grad_and_value_and_grad_take_every_argnum_form(op, form):
    args, kwargs = ARGNUM_FORMS[form]
    same(lambda lib: getattr(lib.api, op)(f2(lib), *args, **kwargs)(X, Y, scale=2.0))


@pytest.mark.parametrize("form", list(ARGNUM_FORMS))
def test_argnums_keyword_means_the_same_as_argnum(form):
    args, kwargs = ARGNUM_FORMS[form]
    expected = wengert.grad(f2(WENGERT), *args, **kwargs)(X, Y)
    if kwargs:
        got = wengert.grad(f2(WENGERT), argnums=kwargs["argnum"])(X, Y)
        assert_same(expected, got)
    if args:
        assert_same(expected, wengert.grad(f2(WENGERT), argnums=args[0])(X, Y))


def test_argnums_and_argnum_together_must_agree():
    f = f2(WENGERT)
    assert_same(wengert.grad(f, 1, argnum=1)(X, Y), wengert.grad(f, 1)(X, Y))
    assert_same(wengert.grad(f, (0, 1), argnum=[0, 1])(X, Y), wengert.grad(f, (0, 1))(X, Y))
    with pytest.raises(TypeError, match="disagree"):
        wengert.grad(f, 1, argnum=0)
    with pytest.raises(TypeError, match="disagree"):
        wengert.make_vjp(f, 1, argnums=0)
    with pytest.raises(TypeError, match="int, a tuple or a list"):
        wengert.grad(f, argnum="x")


@pytest.mark.parametrize("op", ["grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "jacfwd",
                                "jacrev"])
def test_jax_style_operators_take_argnum_too(op):
    fun = (lambda x, y: wengert.numpy.sum(x * y ** 3)) if op in ("grad", "value_and_grad", "hessian") else \
        (lambda x, y: x * y ** 3)
    transform = getattr(wengert, op)
    one = transform(fun, 1)(X, Y)
    assert_same(one, transform(fun, argnum=1)(X, Y))
    as_list = transform(fun, argnums=[1])(X, Y)
    expected = {"value_and_grad": lambda r: (r[0], r[1][0]), "hessian": lambda r: r[0][0]}.get(op, lambda r: r[0])
    assert_same(one, expected(as_list))
    assert_same(transform(fun, (0, 1))(X, Y), transform(fun, argnum=[0, 1])(X, Y))


def test_jax_forms_stay_primary():
    f = f2(WENGERT)
    (value, aux), g = wengert.value_and_grad(lambda x: (f(x, Y), "aux"), has_aux=True)(X)
    assert aux == "aux" and value == pytest.approx(f(X, Y))
    out, vjp_fn = wengert.vjp(lambda x: x * 2, X)         # JAX order: (out, vjp_fn)
    assert_same(out, X * 2)
    assert_same(vjp_fn(V), (2 * V,))
    assert_same(wengert.jacobian(vec(WENGERT), mode="fwd")(X, Y), wengert.jacobian(vec(WENGERT), mode="rev")(X, Y))


# -- the operators autograd and wengert share ----------------------------------------------

def test_grad_of_a_python_float_and_of_a_nested_loop():
    def program(lib):
        np = lib.np

        def logistic_map(x):
            for _ in range(3):
                x = 4 * x * (1 - x)
            return x
        return lib.api.grad(logistic_map)(0.3), lib.api.grad(lib.api.grad(lambda x: np.sin(x) * x))(0.7)
    same(program)


def test_elementwise_grad():
    same(lambda lib: lib.api.elementwise_grad(lambda x: lib.np.tanh(x) * x ** 2)(X))
    same(lambda lib: lib.api.elementwise_grad(lambda x, y: lib.np.sin(x) * y, 1)(X, Y))


def test_jacobian_layout_is_output_shape_then_input_shape():
    def program(lib):
        np = lib.np
        return lib.api.jacobian(lambda m: np.dot(m, X) ** 2)(A), lib.api.jacobian(vec(lib), 1)(X, Y)
    jac_m, jac_y = same(program)
    assert jac_m.shape == (2,) + A.shape and jac_y.shape == (2, 3)


def test_hessian():
    same(lambda lib: lib.api.hessian(f2(lib))(X, Y))
    same(lambda lib: lib.api.hessian(f2(lib), argnum=1)(X, Y))


def test_grad_named():
    same(lambda lib: lib.api.grad_named(f2(lib), "y")(X, Y))


# -- autograd's own operators --------------------------------------------------------------

def test_make_vjp_returns_vjp_then_value():
    def program(lib):
        vjp, ans = lib.api.make_vjp(vec(lib))(X, Y)
        vjp2, ans2 = lib.api.make_vjp(vec(lib), (0, 1))(X, Y)
        w = onp.array([1.0, -2.0])
        return (vjp, ans), vjp(w), vjp(2 * w), (vjp2, ans2), vjp2(w)
    same(program)


def test_make_vjp_of_a_function_of_a_scalar():
    same(lambda lib: lib.api.make_vjp(lambda x: x ** 3)(2.0)[0](1.0))


def test_make_jvp_returns_value_then_tangent():
    def program(lib):
        jvp = lib.api.make_jvp(vec(lib))(X, Y)
        jvp2 = lib.api.make_jvp(vec(lib), argnum=(0, 1))(X, Y)
        return jvp, jvp(V), jvp(2 * V), jvp2((V, X))
    same(program)


def test_make_hvp_returns_hvp_then_gradient():
    def program(lib):
        hvp, g = lib.api.make_hvp(f2(lib))(X, Y)
        hvp2, g2 = lib.api.make_hvp(f2(lib), [0, 1])(X, Y)
        return (hvp, g), hvp(V), hvp(X), (hvp2, g2), hvp2((V, X))
    same(program)


def test_make_hvp_is_the_hessian_times_the_vector():
    hvp, g = wengert.make_hvp(f2(WENGERT), 1)(X, Y)
    H = wengert.hessian(f2(WENGERT), 1)(X, Y)
    assert_same(hvp(V), H @ V)
    assert_same(g, wengert.grad(f2(WENGERT), 1)(X, Y))


@pytest.mark.parametrize("name", ["hessian_tensor_product", "hessian_vector_product"])
def test_hessian_tensor_product(name):
    def program(lib):
        htp = getattr(lib.api, name)
        m = A
        fm = lambda m, x: lib.np.sum(lib.np.sin(lib.np.dot(m, x)) ** 2)   # noqa: E731
        return (htp(f2(lib))(X, Y, V), htp(f2(lib), 1)(X, Y, V, scale=3.0), htp(fm)(m, X, m),
                htp(f2(lib), (0, 1))(X, Y, (V, X)))
    same(program)


@pytest.mark.parametrize("name", ["tensor_jacobian_product", "vector_jacobian_product"])
def test_tensor_jacobian_product(name):
    def program(lib):
        np = lib.np
        tjp = getattr(lib.api, name)
        outer = lambda x: np.outer(np.sin(x), x)   # noqa: E731  output (3, 3), tensor (3,): rows left over
        return (tjp(vec(lib))(X, Y, onp.array([1.0, 2.0])), tjp(vec(lib), 1)(X, Y, onp.array([0.5, -1.0])),
                tjp(outer)(X, V), tjp(outer)(X, onp.ones((3, 3))))
    same(program)


def test_make_ggnvp():
    def program(lib):
        np = lib.np
        f = lambda w: np.tanh(np.dot(A.T, w[:2]) * w[2:5])   # noqa: E731
        w, v = W5, V5
        default = lib.api.make_ggnvp(f)(w)
        g = lambda y: np.sum(np.log(1 + np.exp(y)))        # noqa: E731
        custom = lib.api.make_ggnvp(f, g)(w)
        two = lib.api.make_ggnvp(lambda x, y: np.sin(x) * y, f_argnum=(0, 1))(X, Y)
        second = lib.api.make_ggnvp(lambda x, y: np.sin(x) * y, f_argnum=1)(X, Y)
        return default(v), default(2 * v), custom(v), two((V, X)), second(V)
    same(program)


def test_make_ggnvp_is_jt_h_j():
    np = wengert.numpy
    f = lambda w: np.tanh(np.dot(A.T, w[:2]) * w[2:5])     # noqa: E731
    w, v = W5, V5
    J = wengert.jacobian(f)(w)
    assert_same(wengert.make_ggnvp(f)(w)(v), J.T @ J @ v)


def test_grad_and_aux_returns_gradient_then_aux():
    def program(lib):
        np = lib.np
        f = lambda x, y: (np.sum(x ** 2 * y), np.sin(x))      # noqa: E731
        g = lambda x, y: [np.sum(x ** 2 * y), np.cos(y)]       # noqa: E731  a list, as autograd allows
        return (lib.api.grad_and_aux(f)(X, Y), lib.api.grad_and_aux(g, 1)(X, Y),
                lib.api.grad_and_aux(f, (0, 1))(X, Y))
    same(program)


@pytest.mark.parametrize("fun", ["z**3", "exp(z)", "sin(z)*z", "sum(z**2)"])
def test_holomorphic_grad_against_autograd(fun):
    def program(lib):
        np = lib.np
        f = {"z**3": lambda z: z ** 3, "exp(z)": lambda z: np.exp(z), "sin(z)*z": lambda z: np.sin(z) * z,
             "sum(z**2)": lambda z: np.sum(z ** 2)}[fun]
        z = onp.array([1.0 + 2.0j, -0.5 + 0.3j]) if fun == "sum(z**2)" else 1.0 - 0.7j
        return lib.api.holomorphic_grad(f)(z)
    result = same(program)
    z = 1.0 - 0.7j
    expected = {"z**3": 3 * z ** 2, "exp(z)": onp.exp(z), "sin(z)*z": onp.cos(z) * z + onp.sin(z)}.get(fun)
    if expected is not None:
        assert result == pytest.approx(expected)


def test_holomorphic_grad_with_argnum_and_its_warning():
    same(lambda lib: lib.api.holomorphic_grad(lambda a, z: a * z ** 2, 1)(2.0 + 0j, 1.0 + 1.0j))
    with pytest.warns(UserWarning, match="not complex"):
        r = wengert.holomorphic_grad(lambda x: x ** 2)(3.0)
    assert r == pytest.approx(6.0)
    with pytest.raises(NonScalarOutputError):
        wengert.holomorphic_grad(lambda z: z ** 2)(onp.array([1j, 2j]))


def test_deriv_is_forward_mode_along_ones():
    def program(lib):
        np = lib.np
        return (lib.api.deriv(lambda x: np.sin(x) * x)(X), lib.api.deriv(lambda x: x ** 4)(2.0),
                lib.api.deriv(vec(lib), (0, 1))(X, Y), lib.api.deriv(lambda z: z ** 2)(1.0 + 2.0j))
    same(program)


# -- rules: autograd.extend and wengert.extend ----------------------------------------------

def _logsumexp(lib):
    np, ext = lib.np, lib.ext

    @ext.primitive
    def logsumexp(x):
        m = onp.max(x)
        return m + onp.log(onp.sum(onp.exp(x - m)))
    ext.defvjp(logsumexp, lambda ans, x: lambda g: g * np.exp(x - ans))
    return logsumexp


def test_staged_defvjp_in_both_modes_and_to_second_order():
    def program(lib):
        lse = _logsumexp(lib)
        np = lib.np
        f = lambda x: lse(np.sin(x)) * lse(x)                   # noqa: E731
        return lib.api.grad(f)(X), lib.api.hessian(f)(X), lib.api.make_hvp(f)(X)[0](V)
    same(program)
    lse = _logsumexp(WENGERT)
    check_grads(lambda x: lse(wengert.numpy.sin(x)) * lse(x), (X,), modes=("fwd", "rev"), order=2)
    # forward mode was derived from the staged reverse rule
    assert_same(wengert.jvp(lse, (X,), (V,))[1], onp.exp(X - lse(X)) @ V)


def _xlogy(lib):
    """x * log(y) with staged reverse rules for both arguments, given out of order."""
    np, ext = lib.np, lib.ext

    @ext.primitive
    def xlogy(x, y):
        return x * onp.log(y)
    ext.defvjp(xlogy, lambda ans, x, y: lambda g: g * x / y, lambda ans, x, y: lambda g: g * np.log(y),
               argnums=(1, 0))
    return xlogy


def test_staged_defvjp_with_argnums():
    def program(lib):
        p = _xlogy(lib)
        return lib.api.grad(lambda x, y: lib.np.sum(p(x, y) ** 2), (0, 1))(X, Y ** 2 + 1)
    same(program)
    check_grads(_xlogy(WENGERT), (X, Y ** 2 + 1), modes=("fwd", "rev"), order=2)


def _sum_sin(lib):
    """A primitive with a keyword argument whose staged rule has a default (it would bind
    both ways): wengert.extend.defvjp is always staged, as autograd's."""
    np = lib.np

    @lib.ext.primitive
    def sum_sin(x, axis=None):
        return onp.sum(onp.sin(x), axis=axis)

    def vjpmaker(ans, x, axis=None):
        def vjp(g):
            return (g if axis is None else np.expand_dims(g, axis)) * np.cos(x)
        return vjp
    lib.ext.defvjp(sum_sin, vjpmaker)
    return sum_sin


def test_staged_rules_get_keyword_arguments():
    def program(lib):
        s = _sum_sin(lib)
        return (lib.api.grad(s)(X), lib.api.grad(lambda m: lib.np.sum(s(m, axis=1) ** 2))(A),
                lib.api.jacobian(lambda m: s(m, axis=0))(A))
    same(program)
    s = _sum_sin(WENGERT)
    check_grads(lambda m: s(m, axis=1), (A,), modes=("fwd", "rev"), order=2)


def test_defvjp_none_is_a_zero_cotangent():
    def program(lib):
        @lib.ext.primitive
        def p(x, y):
            return x * y
        lib.ext.defvjp(p, None, lambda ans, x, y: lambda g: g * x)
        return lib.api.grad(lambda x, y: lib.np.sum(p(x, y)), (0, 1))(X, Y)
    gx, gy = same(program)
    assert_same(gx, onp.zeros(3))


def _mul_jvp(lib):
    @lib.ext.primitive
    def mul(x, y):
        return x * y
    lib.ext.defjvp(mul, lambda g, ans, x, y: g * y, lambda g, ans, x, y: x * g)
    return mul


def test_autograd_style_defjvp_in_both_modes_and_to_second_order():
    def program(lib):
        mul = _mul_jvp(lib)
        f = lambda x, y: mul(lib.np.sin(x), y)                  # noqa: E731
        return lib.api.make_jvp(f, (0, 1))(X, Y)((V, X)), lib.api.deriv(f)(X, Y), lib.api.deriv(f, 1)(X, Y)
    same(program)
    mul = _mul_jvp(WENGERT)
    check_grads(lambda x, y: mul(wengert.numpy.sin(x), y), (X, Y), modes=("fwd", "rev"), order=2)
    gx, gy = wengert.grad(lambda x, y: wengert.numpy.sum(mul(x, y)), (0, 1))(X, Y)   # reverse, by transposition
    assert_same((gx, gy), (Y, X))


def test_defjvp_same_for_a_linear_argument():
    def define(lib):
        @lib.ext.primitive
        def scale(x, a):
            return a * x
        lib.ext.defjvp(scale, "same")
        lib.ext.defvjp(scale, lambda ans, x, a: lambda g: a * g)
        return scale

    def program(lib):
        scale = define(lib)
        return lib.api.make_jvp(lambda x: scale(x, 3.0))(X)(V), lib.api.grad(lambda x: lib.np.sum(scale(x, 3.0)))(X)
    same(program)
    check_grads(lambda x: define(WENGERT)(x, 3.0) ** 2, (X,), modes=("fwd", "rev"), order=2)


def test_a_same_jvp_without_a_vjp_raises_missing_rule_in_reverse():
    @wengert.extend.primitive
    def scale(x, a):
        return a * x
    wengert.extend.defjvp(scale, "same")
    assert_same(wengert.jvp(lambda x: scale(x, 3.0), (X,), (V,))[1], 3 * V)
    with pytest.raises(MissingRuleError, match="scale.*reverse"):
        wengert.grad(lambda x: wengert.numpy.sum(scale(x, 3.0)))(X)


def _sin_times(lib, how):
    """p(x, y) = sin(x) * y, rules given by one of autograd's argnum forms."""
    np, ext = lib.np, lib.ext

    @ext.primitive
    def p(x, y):
        return onp.sin(x) * y

    def partial(argnum, args):
        x, y = args
        return np.cos(x) * y if argnum == 0 else np.sin(x)
    if how == "defvjp_argnum":
        ext.defvjp_argnum(p, lambda argnum, ans, args, kwargs: lambda g: g * partial(argnum, args))
    elif how == "defvjp_argnums":
        ext.defvjp_argnums(p, lambda argnums, ans, args, kwargs: lambda g: [g * partial(a, args) for a in argnums])
    elif how == "defjvp_argnum":
        ext.defjvp_argnum(p, lambda argnum, g, ans, args, kwargs: g * partial(argnum, args))
    else:
        ext.defjvp_argnums(p, lambda argnums, gs, ans, args, kwargs:
                           sum(g * partial(a, args) for a, g in zip(argnums, gs)))
    return p


@pytest.mark.parametrize("how", ["defvjp_argnum", "defvjp_argnums", "defjvp_argnum", "defjvp_argnums"])
def test_argnum_rule_forms(how):
    def program(lib):
        p = _sin_times(lib, how)
        if how.startswith("defvjp"):
            return lib.api.grad(lambda x, y: lib.np.sum(p(x, y) ** 2), (0, 1))(X, Y), lib.api.jacobian(p, 1)(X, Y)
        return lib.api.make_jvp(p, (0, 1))(X, Y)((V, X)), lib.api.deriv(p, 1)(X, Y)
    same(program)
    check_grads(_sin_times(WENGERT, how), (X, Y), modes=("fwd", "rev"), order=2)


def test_def_linear_with_defvjp():
    def define(lib):
        @lib.ext.primitive
        def bilinear(x, y):
            return x * y
        lib.ext.def_linear(bilinear)
        lib.ext.defvjp(bilinear, lambda ans, x, y: lambda g: g * y, lambda ans, x, y: lambda g: g * x)
        return bilinear

    def program(lib):
        b = define(lib)
        return lib.api.make_jvp(b, (0, 1))(X, Y)((V, X)), lib.api.grad(lambda x: lib.np.sum(b(x, x)))(X)
    same(program)
    check_grads(define(WENGERT), (X, Y), modes=("fwd", "rev"), order=2)


def test_def_linear_alone_has_no_reverse_rule():
    @wengert.extend.primitive
    def double(x):
        return 2 * x
    wengert.extend.def_linear(double)
    assert_same(wengert.jvp(double, (X,), (V,))[1], 2 * V)
    with pytest.raises(MissingRuleError, match="double"):
        wengert.grad(lambda x: wengert.numpy.sum(double(x)))(X)


def test_later_rules_replace_earlier_ones_as_in_autograd():
    def program(lib):
        @lib.ext.primitive
        def p(x):
            return onp.sin(x)
        lib.ext.defjvp_argnum(p, lambda argnum, g, ans, args, kwargs: 100 * g)   # wrong, replaced below
        lib.ext.defjvp(p, lambda g, ans, x: g * lib.np.cos(x))
        lib.ext.defvjp(p, lambda ans, x: lambda g: 100 * g)                      # wrong, replaced below
        lib.ext.defvjp(p, lambda ans, x: lambda g: g * lib.np.cos(x))
        return lib.api.deriv(p)(X), lib.api.grad(lambda x: lib.np.sum(p(x)))(X)
    same(program)


def test_notrace_primitive_and_box():
    def program(lib):
        np = lib.np
        argmax = lib.ext.notrace_primitive(onp.argmax)
        seen = []

        def f(x):
            seen.append(isinstance(x, lib.ext.Box))
            return x[argmax(x)] * np.sum(x)
        return lib.api.grad(f)(X), seen
    same(program)


def test_vspace():
    def program(lib):
        vs = lib.ext.vspace
        z = onp.array([1.0 + 1j, 2.0])
        return (vs(A).zeros(), vs(A).ones(), vs(A).shape, vs(A).size, vs(A).ndim, vs(2.0).ones(),
                list(vs(X).standard_basis()), vs(z).ones(), vs(z).size, list(vs(z).standard_basis()),
                vs(z).iscomplex, vs(X).iscomplex, vs((X, A)).zeros(), vs((X, A)).size, vs(A) == vs(A + 1))
    same(program)


def test_vspace_inside_a_rule():
    def program(lib):
        np = lib.np

        @lib.ext.primitive
        def first(x, y):
            return x
        lib.ext.defvjp(first, lambda ans, x, y: lambda g: g,
                       lambda ans, x, y: lambda g: lib.ext.vspace(y).zeros())
        return lib.api.grad(lambda x, y: np.sum(first(x, y) ** 2), (0, 1))(X, Y)
    same(program)


def test_missing_autograd_extend_names_say_what_to_use():
    for name in ("VJPNode", "JVPNode", "SparseObject", "register_notrace"):
        with pytest.raises(AttributeError, match=f"has no {name}"):
            getattr(wengert.extend, name)
    with pytest.raises(NotImplementedError, match="dataclass or namedtuple"):
        wengert.extend.VSpace.register(object)
    with pytest.raises(TypeError, match="not a primitive"):
        wengert.extend.defvjp(lambda x: x, lambda ans, x: lambda g: g)


# -- the top-level wengert.defvjp takes both rule forms ----------------------------------------

def _top_level_sin(rule):
    p = wengert.primitive(lambda x: onp.sin(x), "user_sin")
    wengert.defvjp(p, rule)
    return p


@pytest.mark.parametrize("form", ["unstaged", "staged", "staged def", "unstaged def"])
def test_top_level_defvjp_detects_the_rule_form(form):
    cos = wengert.numpy.cos

    def staged_def(ans, x):
        return lambda g: g * cos(x)

    def unstaged_def(g, ans, x):
        return g * cos(x)
    rule = {"unstaged": lambda g, ans, x: g * cos(x), "staged": lambda ans, x: lambda g: g * cos(x),
            "staged def": staged_def, "unstaged def": unstaged_def}[form]
    p = _top_level_sin(rule)
    assert_same(wengert.grad(lambda x: wengert.numpy.sum(p(x)))(X), onp.cos(X))
    check_grads(p, (X,), modes=("fwd", "rev"), order=2)


def test_top_level_defvjp_with_two_arguments_keywords_and_argnums():
    np = wengert.numpy
    p = wengert.primitive(lambda x, y, power=1.0: x * y ** power, "xy")
    wengert.defvjp(p, lambda ans, x, y, power=1.0: lambda g: g * y ** power,     # staged
                   lambda g, ans, x, y, power=1.0: g * x * power * y ** (power - 1))  # unstaged
    f = lambda x, y: np.sum(p(x, y, power=3.0))                                # noqa: E731
    assert_same(wengert.grad(f, (0, 1))(X, Y), (Y ** 3, 3 * X * Y ** 2))
    check_grads(lambda x, y: p(x, y, power=2.0), (X, Y), modes=("fwd", "rev"), order=2)
    q = wengert.primitive(lambda x, y: x * y, "xy2")
    wengert.defvjp(q, lambda ans, x, y: lambda g: g * x, argnums=(1,))
    assert_same(wengert.grad(lambda y: np.sum(q(X, y)))(Y), X)


def test_a_rule_binding_both_ways_is_taken_in_the_primary_form():
    np = wengert.numpy
    p = wengert.primitive(lambda x: onp.sin(x), "star_args")
    wengert.defvjp(p, lambda *a: a[0] * np.cos(a[2]))          # (g, ans, x): primary
    assert_same(wengert.grad(lambda x: np.sum(p(x)))(X), onp.cos(X))


def test_a_staged_rule_with_defaults_that_binds_both_ways_still_works():
    np = wengert.numpy
    p = wengert.primitive(lambda x, axis=None: onp.sum(onp.sin(x), axis=axis), "sum_sin")
    # binds as (g, ans, x=...) too, with axis absorbing x: called as primary, returns a
    # function, so it is staged after all
    wengert.defvjp(p, lambda ans, x, axis=None: lambda g: g * np.cos(x))
    assert_same(wengert.grad(lambda x: p(x))(X), onp.cos(X))
    assert_same(wengert.grad(lambda x: p(x))(Y), onp.cos(Y))


def test_a_rule_of_the_wrong_arity_gets_a_clear_error():
    p = wengert.primitive(lambda x, y: x * y, "arity")
    wengert.defvjp(p, lambda g, ans, x: g * 2)           # binds only as staged for two arguments
    with pytest.raises(TypeError, match="staged form"):
        wengert.grad(lambda x: wengert.numpy.sum(p(x, Y)))(X)


def test_top_level_defjvp_takes_same():
    np = wengert.numpy
    p = wengert.primitive(lambda x, a: a * x, "top_scale")
    wengert.defjvp(p, "same")
    assert_same(wengert.jvp(lambda x: p(x, 2.0), (X,), (V,))[1], 2 * V)
    with pytest.raises(MissingRuleError):
        wengert.grad(lambda x: np.sum(p(x, 2.0)))(X)
    wengert.defjvp(p, lambda t, ans, x, a: a * t)        # a rule that can be transposed
    assert_same(wengert.grad(lambda x: np.sum(p(x, 2.0)))(X), 2 * onp.ones(3))


def test_the_top_level_exports():
    for name in ("grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "jacfwd", "jacrev",
                 "make_vjp", "make_jvp", "make_hvp", "hessian_tensor_product", "hessian_vector_product",
                 "tensor_jacobian_product", "vector_jacobian_product", "make_ggnvp", "grad_and_aux",
                 "holomorphic_grad", "deriv", "grad_named", "defvjp", "defjvp"):
        assert name in dir(wengert) and callable(getattr(wengert, name))
    assert wengert.extend is wengert.__getattr__("extend")
    assert wengert.hessian_vector_product is wengert.hessian_tensor_product
    assert wengert.vector_jacobian_product is wengert.tensor_jacobian_product


# -- the README's worked example runs ---------------------------------------------------------

def test_readme_migration_example_gives_autograds_numbers():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Migrating from HIPS autograd")[1].split("\n## ")[0]
    (block,) = re.findall(r"```python\n(.+?)\n```", section, re.S)
    results = {}
    for name in ("autograd", "wengert"):
        scope = {}
        exec(compile(block.replace("wengert", name), f"README.md ({name})", "exec"), scope)
        results[name] = tuple(scope[k] for k in ("value", "g", "g2", "w_newton_step"))
    assert_same(results["autograd"], results["wengert"])
