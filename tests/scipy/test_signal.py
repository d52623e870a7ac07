"""Convolution: scipy.signal.convolve/correlate (n-d, every mode and method) and
numpy.convolve/correlate (wengert/numpy/convolution.py), differentiable in both
inputs, real and complex (see tests/numpy/specs.py for the spec-table pattern); values
against NumPy/SciPy, gradients against HIPS autograd, batched Jacobians and Hessians
against unbatched ones."""
import functools
import itertools

import numpy as onp
import pytest
import scipy.signal as ss

import wengert.numpy as np
import wengert.scipy.signal as signal
from tests.numpy.specs import check, rand, spec
from wengert import MissingRuleError, grad, hessian, jacfwd, jacrev, jvp, vjp
from wengert.numpy import convolution

MODES = ["full", "same", "valid"]


def crand(*shape):
    return rand(*shape) + 1j * rand(*shape)


def operands(kind, s1, s2):
    """Two random operands: both real, both complex, or a real and a complex one."""
    c1, c2 = {"real": (False, False), "complex": (True, True), "mixed": (False, True)}[kind]
    return (crand if c1 else rand)(*s1), (crand if c2 else rand)(*s2)


def fn(module, reference, name, **kwargs):
    """``module.<name>`` with keyword arguments bound (and the reference's as ``.reference``)."""
    f = functools.partial(getattr(module, name), **kwargs)
    f.reference = functools.partial(getattr(reference, name), **kwargs)
    return f


def _id(shape):
    return "x".join(map(str, shape))


# -- numpy.convolve / numpy.correlate (1-d) ------------------------------------------------

NP_LENGTHS = [(5, 3), (3, 5), (4, 4), (1, 4), (6, 2), (2, 5)]

NUMPY = [
    spec(f"numpy-{name}-{mode}-{n}-{m}-{kind}", fn(convolution, onp, name, mode=mode), *operands(kind, (n,), (m,)))
    for name in ("convolve", "correlate") for mode in MODES for n, m in NP_LENGTHS
    for kind in ("real", "complex", "mixed")
] + [
    spec("numpy-convolve-scalar", fn(convolution, onp, "convolve"), rand(), rand(3)),
    spec("numpy-correlate-int-mode", fn(convolution, onp, "correlate", mode=2), rand(4), crand(3)),
    spec("numpy-convolve-int-mode", fn(convolution, onp, "convolve", mode=1), crand(3), rand(4)),
]

# -- scipy.signal (n-d) -----------------------------------------------------------------------

SHAPES = [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((1,), (4,)), ((4, 5), (2, 3)), ((2, 3), (4, 5)),
          ((3, 4), (3, 1)), ((2, 5), (3, 2)), ((2, 2, 3), (2, 1, 2))]
METHOD_KINDS = [("direct", "real"), ("fft", "complex"), ("auto", "mixed")]


def _valid_ok(s1, s2):
    return all(a >= b for a, b in zip(s1, s2)) or all(a <= b for a, b in zip(s1, s2))


SCIPY = [
    spec(f"scipy-{name}-{mode}-{_id(s1)}-{_id(s2)}-{method}-{kind}",
         fn(signal, ss, name, mode=mode, method=method), *operands(kind, s1, s2))
    for name in ("convolve", "correlate") for mode in MODES for s1, s2 in SHAPES
    for method, kind in METHOD_KINDS if mode != "valid" or _valid_ok(s1, s2)
] + [
    spec("scipy-convolve-0d", fn(signal, ss, "convolve"), onp.array(rand()), onp.array(rand())),
    spec("scipy-correlate-0d-complex", fn(signal, ss, "correlate"), crand(1).reshape(()), crand(1).reshape(())),
    spec("scipy-fftconvolve-same", fn(signal, ss, "fftconvolve", mode="same"), rand(3, 4), crand(2, 3)),
    spec("scipy-oaconvolve-valid", fn(signal, ss, "oaconvolve", mode="valid"), rand(6), rand(3)),
    spec("scipy-convolve2d-full", fn(signal, ss, "convolve2d"), rand(3, 4), rand(2, 2)),
    spec("scipy-convolve2d-same", fn(signal, ss, "convolve2d", mode="same"), crand(2, 3), rand(3, 4)),
    spec("scipy-convolve2d-valid", fn(signal, ss, "convolve2d", mode="valid"), rand(2, 3), rand(3, 5)),
]

SPECS = NUMPY + SCIPY


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_traced_value_and_tangent_match_reference(fun, args, kwargs):
    """Traced, the value is NumPy's/SciPy's; being bilinear, the JVP is the sum of the
    convolutions with one tangent each, and the VJPs are the transposes (HIPS
    autograd's convention: a cotangent v stands for the loss Re(sum(v * out)))."""
    a, b = args
    ta, tb = (rand(*onp.shape(x)) + (1j * rand(*onp.shape(x)) if onp.iscomplexobj(x) else 0) for x in args)
    out, tout = jvp(fun, (a, b), (ta, tb))
    expected = fun.reference(a, b)
    assert onp.shape(out) == onp.shape(expected) and out.dtype == onp.result_type(expected)
    onp.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    onp.testing.assert_allclose(tout, fun.reference(ta, b) + fun.reference(a, tb), rtol=1e-10, atol=1e-10)
    v = rand(*onp.shape(out)) + (1j * rand(*onp.shape(out)) if onp.iscomplexobj(out) else 0)
    ca, cb = vjp(fun, a, b)[1](v)
    assert onp.shape(ca) == onp.shape(a) and onp.shape(cb) == onp.shape(b)
    onp.testing.assert_allclose(onp.real(onp.sum(ca * ta) + onp.sum(cb * tb)), onp.real(onp.sum(v * tout)),
                                rtol=1e-10, atol=1e-10)


def test_third_order():
    check(lambda a, v: convolution.convolve(a ** 2, v, "same") * a[0], (rand(4), rand(3)), order=3)
    check(lambda a, v: signal.correlate(a, v ** 2, "valid"), (rand(3, 4), rand(2, 2)), order=3)


# -- against HIPS autograd (scipy.signal.convolve, real inputs) ---------------------------------

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.signal as asignal  # noqa: E402


def _conv_loss(m, conv, mode):
    return lambda a, b: m.sum(m.sin(conv(a * a, m.tanh(b), mode=mode)) ** 2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("s1, s2", [((6,), (3,)), ((3,), (5,)), ((4, 5), (2, 3)), ((2, 2), (3, 4))])
def test_gradient_matches_autograd(mode, s1, s2):
    a, b = rand(*s1), rand(*s2)
    ours = grad(_conv_loss(np, signal.convolve, mode), argnums=(0, 1))(a, b)
    theirs = autograd.grad(_conv_loss(anp, asignal.convolve, mode), argnum=(0, 1))(a, b)
    for x, y in zip(ours, theirs):
        onp.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)


# -- batched Jacobians and Hessians -------------------------------------------------------------

JACOBIAN_CASES = [
    (f"numpy-{name}-{mode}-{n}-{m}", functools.partial(getattr(convolution, name), mode=mode), (n,), (m,))
    for name in ("convolve", "correlate") for mode in MODES for n, m in [(5, 2), (2, 4)]
] + [
    (f"scipy-{name}-{mode}-{method}-{_id(s1)}-{_id(s2)}",
     functools.partial(getattr(signal, name), mode=mode, method=method), s1, s2)
    for name in ("convolve", "correlate") for mode in MODES for method in ("direct", "fft")
    for s1, s2 in [((3, 4), (2, 2)), ((2, 3), (3, 4))]
]


@pytest.mark.parametrize("f, s1, s2", [pytest.param(f, s1, s2, id=n) for n, f, s1, s2 in JACOBIAN_CASES])
def test_jacfwd_equals_jacrev_and_hessians(f, s1, s2):
    a, b = rand(*s1), rand(*s2)
    for argnum in (0, 1):
        onp.testing.assert_allclose(jacfwd(f, argnums=argnum)(a, b), jacrev(f, argnums=argnum)(a, b),
                                    rtol=1e-10, atol=1e-10)

    def loss(a, b):
        return np.sum(np.sin(f(a, b)))
    fwd = hessian(loss, argnums=(0, 1))(a, b)                 # forward over reverse: both inputs batched
    rev = jacrev(jacrev(loss, argnums=(0, 1)), argnums=(0, 1))(a, b)
    for i, j in itertools.product(range(2), range(2)):
        onp.testing.assert_allclose(fwd[i][j], rev[i][j], rtol=1e-10, atol=1e-10)


def test_batch_of_two_batched_inputs_falls_back_to_a_loop_when_large(monkeypatch):
    monkeypatch.setattr(signal, "MAX_GATHERED", 0)
    f = functools.partial(signal.convolve, mode="same")
    a, b = rand(3, 4), rand(2, 3)

    def loss(a, b):
        return np.sum(np.sin(f(a, b)))
    fwd = hessian(loss, argnums=(0, 1))(a, b)
    rev = jacrev(jacrev(loss, argnums=(0, 1)), argnums=(0, 1))(a, b)
    for i, j in itertools.product(range(2), range(2)):
        onp.testing.assert_allclose(fwd[i][j], rev[i][j], rtol=1e-10, atol=1e-10)


def test_primitives_have_their_own_rules():
    for p in (convolution.convolve_window, signal.convolve_window):
        assert set(p.vjps) == {0, 1} and set(p.jvps) == {0, 1}
        assert p.batch is not None and not p.batch.__qualname__.startswith("loop_rule")


# -- windows, arguments, errors -------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(1, 7), (2, 5), (7, 1), (3, 3)])
def test_windows_outside_the_full_output_are_zero(n, m):
    """The VJP of a 'same' convolution whose kernel is longer than twice the input reads
    beyond the full output (scipy: 'same' keeps in1's shape), where it is zero."""
    a, b = rand(n), rand(m)
    f = functools.partial(signal.convolve, mode="same")
    check(f, (a, b))
    assert onp.allclose(jacfwd(f, argnums=1)(a, b), jacrev(f, argnums=1)(a, b))


def test_plain_numpy_and_scipy_calls_pass_through():
    a, b = rand(5), rand(3)
    assert onp.array_equal(convolution.convolve(a, b), onp.convolve(a, b))
    assert onp.array_equal(convolution.correlate(a, b, "same"), onp.correlate(a, b, "same"))
    assert onp.array_equal(signal.convolve(a, b, "valid"), ss.convolve(a, b, "valid"))
    assert onp.array_equal(signal.correlate(a, b), ss.correlate(a, b))


def test_scipy_dispatch_and_lists():
    b = rand(3)
    g = grad(lambda a: np.sum(signal.convolve([a, 2.0 * a, 1.0], b) ** 2))(0.7)
    x = onp.array([0.7, 1.4, 1.0])
    expected = 2 * onp.sum(ss.convolve(x, b) * ss.convolve(onp.array([1.0, 2.0, 0.0]), b))
    onp.testing.assert_allclose(g, expected)


def test_numpy_namespace_exports_convolution():
    if np.convolve is not convolution.convolve:
        pytest.skip("wengert.numpy.convolution is not yet in the family list of wengert/numpy/__init__.py")
    assert np.correlate is convolution.correlate
    a, b = rand(5), rand(3)
    onp.testing.assert_allclose(grad(lambda a: onp.sum(onp.convolve(a, b) ** 2))(a),   # __array_function__
                                grad(lambda a: np.sum(convolution.convolve(a, b) ** 2))(a))


def test_errors_match_numpy_and_scipy():
    a = rand(3)

    def raises(exc, match, f):
        with pytest.raises(exc, match=match):
            grad(lambda a: np.sum(np.real(f(a))))(a)
    raises(ValueError, "mode must be one of", lambda a: convolution.convolve(a, a, "bad"))
    raises(ValueError, "integer convolve/correlate mode must be 0, 1, or 2",
           lambda a: convolution.correlate(a, a, 5))
    raises(ValueError, "v cannot be empty", lambda a: convolution.convolve(a, onp.ones(0)))
    raises(ValueError, "object too deep", lambda a: convolution.convolve(a, onp.ones((2, 2))))
    raises(ValueError, "same dimensionality", lambda a: signal.convolve(a, onp.ones((2, 2))))
    raises(ValueError, "Acceptable mode flags", lambda a: signal.convolve(a, a, "bad"))
    raises(ValueError, "Acceptable method flags", lambda a: signal.correlate(a, a, "full", "bad"))
    raises(ValueError, "at least as large",
           lambda a: signal.convolve(np.reshape(a, (1, 3)), onp.ones((2, 2)), "valid"))
    raises(MissingRuleError, "axes", lambda a: signal.fftconvolve(a, a, axes=0))
    raises(MissingRuleError, "boundary='wrap'",
           lambda a: signal.convolve2d(np.reshape(a, (1, 3)), onp.ones((1, 2)), boundary="wrap"))


def test_differentiable_list():
    assert signal.DIFFERENTIABLE == sorted(["convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d"])
    assert convolution.__all__ == ["convolve", "correlate"]
