"""numpy.fft: every transform in every normalization, odd and even lengths, cropped
and padded (``n``/``s``), over chosen and repeated axes, real and complex inputs (see
tests/numpy/specs.py for the spec-table pattern); values against NumPy, gradients
against HIPS autograd, batched Jacobians against unbatched ones."""
import functools

import numpy as onp
import pytest

import wengert.numpy as np
from tests.numpy.specs import check, rand, spec
from wengert import InPlaceUpdateError, grad, hessian, jacfwd, jacrev, jvp, vjp
from wengert.numpy import fft as wfft

NORMS = [None, "backward", "ortho", "forward"]


def crand(*shape):
    return rand(*shape) + 1j * rand(*shape)


def fn(name, **kwargs):
    """``wengert.numpy.fft.<name>`` with keyword arguments bound (and NumPy's as ``.numpy``)."""
    f = functools.partial(getattr(np.fft, name), **kwargs)
    f.numpy = functools.partial(getattr(onp.fft, name), **kwargs)
    return f


def _norm_id(norm):
    return norm or "default"


def _per_norm(name, rows):
    """``rows`` of (id, kwargs, args) for transform ``name``, once per normalization."""
    return [spec(f"{name}-{rid}-{_norm_id(norm)}", fn(name, norm=norm, **kw), *args)
            for norm in NORMS for rid, kw, args in rows]


COMPLEX = (
    _per_norm("fft", [
        ("real-even", {}, (rand(6),)),
        ("complex-odd", {}, (crand(5),)),
        ("crop", {"n": 4}, (crand(6),)),
        ("pad", {"n": 8}, (rand(5),)),
        ("axis0", {"axis": 0}, (crand(3, 2),)),
    ])
    + _per_norm("ifft", [
        ("real-odd", {}, (rand(5),)),
        ("complex-even", {"axis": -2}, (crand(4, 3),)),
        ("pad", {"n": 7}, (crand(4),)),
    ])
    + _per_norm("fft2", [
        ("complex", {}, (crand(3, 4),)),
        ("s-crop-pad", {"s": (2, 5)}, (rand(2, 3, 4),)),
    ])
    + _per_norm("ifft2", [
        ("axes", {"axes": (0, 2)}, (crand(3, 2, 4),)),
    ])
    + _per_norm("fftn", [
        ("all-axes", {}, (crand(2, 3, 2),)),
        ("axes-s", {"s": (5, 2), "axes": (2, 0)}, (rand(3, 2, 4),)),
        ("repeated-axes", {"s": (3, 4, 2), "axes": (1, 1, 0)}, (crand(2, 3),)),
    ])
    + _per_norm("ifftn", [
        ("axes", {"axes": (-1,)}, (crand(2, 5),)),
        ("s-minus-one", {"s": (-1, 3), "axes": (0, 1)}, (rand(3, 4),)),
    ])
)

REAL = (
    _per_norm("rfft", [
        ("even", {}, (rand(6),)),
        ("odd", {}, (rand(7),)),
        ("crop-odd", {"n": 5}, (rand(8),)),
        ("pad-even", {"n": 8}, (rand(5),)),
        ("axis0", {"axis": 0}, (rand(5, 2),)),
    ])
    + _per_norm("irfft", [
        ("default-n", {}, (crand(4),)),
        ("odd-n", {"n": 7}, (crand(4),)),
        ("even-n-crop", {"n": 4}, (crand(5),)),
        ("odd-n-pad", {"n": 9}, (crand(3),)),
        ("real-input", {}, (rand(5),)),
        ("axis0", {"axis": 0, "n": 5}, (crand(3, 2),)),
    ])
    + _per_norm("rfft2", [
        ("odd-last", {}, (rand(4, 5),)),
        ("s", {"s": (3, 6)}, (rand(2, 4, 5),)),
    ])
    + _per_norm("irfft2", [
        ("default", {}, (crand(3, 4),)),
        ("odd-s", {"s": (2, 5)}, (crand(3, 4),)),
    ])
    + _per_norm("rfftn", [
        ("all-axes", {}, (rand(2, 3, 4),)),
        ("axes", {"axes": (2, 0)}, (rand(3, 2, 5),)),
        ("repeated-axes", {"s": (4, 5), "axes": (1, 1)}, (rand(2, 5),)),
    ])
    + _per_norm("irfftn", [
        ("all-axes", {}, (crand(2, 3, 3),)),
        ("odd-s-axes", {"s": (3, 5), "axes": (0, 2)}, (crand(2, 2, 4),)),
        ("repeated-axes", {"s": (3, 4), "axes": (0, 0)}, (crand(4, 2),)),
    ])
    + _per_norm("hfft", [
        ("default", {}, (crand(4),)),
        ("odd-n", {"n": 5}, (crand(4),)),
    ])
    + _per_norm("ihfft", [
        ("even", {}, (rand(6),)),
        ("odd", {"axis": 0}, (rand(5, 2),)),
    ])
)

SHIFTS = [
    spec("fftshift-even", fn("fftshift"), rand(6)),
    spec("fftshift-odd-complex", fn("fftshift"), crand(5)),
    spec("fftshift-2d", fn("fftshift"), rand(3, 4)),
    spec("fftshift-axis", fn("fftshift", axes=1), crand(3, 5)),
    spec("fftshift-axes", fn("fftshift", axes=(0,)), rand(3, 5)),
    spec("ifftshift-odd", fn("ifftshift"), rand(7)),
    spec("ifftshift-2d-axes", fn("ifftshift", axes=(1, 0)), crand(3, 4)),
]

SPECS = COMPLEX + REAL + SHIFTS


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_rule(fun, args, kwargs):
    check(fun, args, kwargs)


@pytest.mark.parametrize("fun, args, kwargs", SPECS)
def test_traced_value_and_tangent_match_numpy(fun, args, kwargs):
    """Traced, the transform gives NumPy's value; being linear, its JVP is the transform
    of the tangent, and its VJP the transpose."""
    x, = args
    t = rand(*x.shape) + (1j * rand(*x.shape) if onp.iscomplexobj(x) else 0)
    out, tout = jvp(fun, (x,), (t,))
    expected = fun.numpy(x)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    onp.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    onp.testing.assert_allclose(tout, fun.numpy(t), rtol=1e-12, atol=1e-12)
    v = rand(*out.shape) + (1j * rand(*out.shape) if onp.iscomplexobj(out) else 0)
    (ct,) = vjp(fun, x)[1](v)
    assert ct.shape == x.shape and ct.dtype == x.dtype
    # HIPS autograd's convention: v stands for the real loss Re(sum(v * out)), and the
    # cotangent c of the input gives its change as Re(sum(c * t)).
    onp.testing.assert_allclose(onp.real(onp.sum(ct * t)), onp.real(onp.sum(v * tout)), rtol=1e-10, atol=1e-10)


def test_third_order():
    check(lambda x: np.fft.irfft(np.fft.rfft(x ** 3, norm="ortho") ** 2, n=7), (rand(7),), order=3)


# -- against HIPS autograd (which has only even real-transform lengths and no repeated axes) --

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402


def _losses(m):
    """Real-valued losses written against a NumPy module ``m`` (autograd's or ours)."""
    return [
        lambda x: m.sum(m.abs(m.fft.fft(m.sin(x), norm="ortho")) ** 2 * m.arange(8.0)),
        lambda x: m.sum(m.real(m.fft.ifft(x * x)) * m.cos(m.arange(8.0))) + m.sum(m.imag(m.fft.fft(x, n=6)) ** 2),
        lambda x: m.sum(m.fft.irfft(m.fft.rfft(m.tanh(x)) * m.arange(5.0)) ** 3),
        lambda x: m.sum(m.abs(m.fft.rfft2(m.reshape(x, (2, 4)), norm="ortho"))),
        lambda x: m.sum(m.fft.irfftn(m.fft.fftn(m.reshape(x, (2, 4)) ** 2), s=(2, 6), axes=(0, 1)) ** 2),
        lambda x: m.sum(m.real(m.fft.fftshift(m.fft.fft2(m.outer(x, x))) * m.arange(8.0))),
        lambda x: m.sum(m.fft.irfft(m.exp(1j * x[:5]), norm="ortho") * m.arange(8.0)),
    ]
# (autograd's rfft/irfft gradients are wrong by a factor n for an explicit norm="backward"
# and for norm="forward", which it predates; the spec tables check those against finite
# differences.)


@pytest.mark.parametrize("k", range(len(_losses(np))))
def test_gradient_matches_autograd(k):
    x = rand(8)
    onp.testing.assert_allclose(grad(_losses(np)[k])(x), autograd.grad(_losses(anp)[k])(x), rtol=1e-10, atol=1e-10)


def test_complex_gradient_matches_autograd():
    """Complex inputs: the same convention (dL/dx - i dL/dy) as HIPS autograd."""
    def loss(m):
        return lambda z: m.sum(m.abs(m.fft.ifft2(z * z, norm="ortho")) ** 2 * m.arange(3.0)) + \
            m.real(m.sum(m.fft.fftn(z) * m.arange(3.0)))
    z = crand(2, 3)
    onp.testing.assert_allclose(grad(loss(np))(z), autograd.grad(loss(anp))(z), rtol=1e-10, atol=1e-10)


# -- batched Jacobians and Hessians -----------------------------------------------------

def _split(z):
    return np.concatenate([np.real(z).ravel(), np.imag(z).ravel()])


JACOBIAN_FUNS = [
    ("fft", lambda x: _split(np.fft.fft(x, n=5, norm="ortho"))),
    ("fftn-axes", lambda x: _split(np.fft.fftn(np.reshape(x, (2, 3)), s=(3, 2), axes=(1, 0)))),
    ("rfft-odd", lambda x: _split(np.fft.rfft(x, n=5))),
    ("irfft", lambda x: np.fft.irfft(x, n=7, norm="forward")),
    ("irfftn-of-rfftn",
     lambda x: np.fft.irfftn(np.fft.rfftn(np.reshape(x, (2, 3))) * 2.0, s=(2, 3), axes=(0, 1)).ravel()),
    ("hfft-ihfft", lambda x: np.concatenate([np.fft.hfft(x), _split(np.fft.ihfft(x))])),
    ("fftshift", lambda x: np.fft.ifftshift(np.fft.fftshift(np.reshape(x, (2, 3)), axes=1) * x[0])),
]


@pytest.mark.parametrize("f", [pytest.param(f, id=n) for n, f in JACOBIAN_FUNS])
def test_jacfwd_equals_jacrev(f):
    x = rand(6)
    onp.testing.assert_allclose(jacfwd(f)(x), jacrev(f)(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("f", [pytest.param(f, id=n) for n, f in JACOBIAN_FUNS])
def test_hessian_equals_reverse_over_reverse(f):
    def loss(x):
        return np.sum(np.sin(f(x * x)))
    x = rand(6)
    onp.testing.assert_allclose(hessian(loss)(x), jacrev(jacrev(loss))(x), rtol=1e-10, atol=1e-10)


def test_primitives_have_batching_rules():
    for p in (wfft.c2c_p, wfft.r2c_p, wfft.c2r_p):
        assert p.batch is not None and not p.batch.__qualname__.startswith("loop_rule")


# -- dtypes, arguments, errors ------------------------------------------------------------

def test_float32_in_float32_out():
    x = rand(6).astype(onp.float32)
    out, pullback = vjp(lambda x: np.fft.rfft(x), x)
    assert out.dtype == onp.complex64
    assert pullback(onp.ones(4, onp.complex64))[0].dtype == onp.float32
    assert grad(lambda x: np.sum(np.fft.irfft(np.fft.fft(x)) ** 2))(x).dtype == onp.float32


def test_lists_and_untraced_calls():
    onp.testing.assert_allclose(np.fft.fft([1.0, 2.0, 3.0]), onp.fft.fft([1.0, 2.0, 3.0]))
    g = grad(lambda a: np.sum(np.real(np.fft.fft([a, 2.0 * a, 1.0]))))(0.5)
    onp.testing.assert_allclose(g, onp.real(onp.fft.fft([1.0, 2.0, 0.0])).sum())


def test_plain_numpy_dispatches_to_the_rules():
    f = lambda x: onp.sum(onp.abs(onp.fft.rfft(x)) ** 2)  # noqa: E731
    g = lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2)  # noqa: E731
    x = rand(5)
    onp.testing.assert_allclose(grad(f)(x), grad(g)(x))


def test_errors_match_numpy():
    x = rand(4)
    with pytest.raises(ValueError, match="Invalid norm value"):
        grad(lambda x: np.sum(np.real(np.fft.fft(x, norm="bad"))))(x)
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        grad(lambda x: np.sum(np.real(np.fft.fft(x, n=0))))(x)
    with pytest.raises(ValueError, match="Shape and axes have different lengths"):
        grad(lambda x: np.sum(np.real(np.fft.fftn(x, s=(2, 2), axes=(0,)))))(x)
    with pytest.raises(TypeError):
        grad(lambda z: np.sum(np.real(np.fft.rfft(z))))(crand(4))       # NumPy 2: no complex rfft
    with pytest.raises(InPlaceUpdateError):
        grad(lambda x: np.sum(np.real(np.fft.fft(x, out=onp.empty(4, complex)))))(x)


def test_s_without_axes_warns_like_numpy():
    x = rand(2, 3)
    with pytest.warns(DeprecationWarning, match="`axes` should not be `None`"):
        out = jvp(lambda x: np.fft.fftn(x, s=(3,)), (x,), (x,))[0]
    with pytest.warns(DeprecationWarning):
        expected = onp.fft.fftn(x, s=(3,))
    onp.testing.assert_allclose(out, expected)


def test_differentiable_list():
    assert set(wfft.DIFFERENTIABLE) == {
        "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
        "hfft", "ihfft", "fftshift", "ifftshift"}
    assert all(getattr(np.fft, n) is getattr(wfft, n) for n in wfft.DIFFERENTIABLE)


def test_none_in_s_warns_and_means_the_default_length():
    c = crand(3, 4)
    with pytest.warns(DeprecationWarning, match="containing `None`"):
        out = jvp(lambda c: np.fft.irfftn(c, s=(2, None), axes=(0, 1)), (c,), (c,))[0]
    with pytest.warns(DeprecationWarning):
        expected = onp.fft.irfftn(c, s=(2, None), axes=(0, 1))
    assert out.shape == expected.shape == (2, 6)
    onp.testing.assert_allclose(out, expected)
