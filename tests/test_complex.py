"""Complex numbers: HIPS autograd's convention, checked in the real and imaginary directions.

For a real-valued f of z = x + iy, ``grad`` returns df/dx - i df/dy; forward mode gives
J t for complex t; holomorphic functions get f'(z) from ``holomorphic_grad``."""
import numpy as onp
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert.numpy as np
from wengert import grad, holomorphic_grad, jvp

REAL_FUNCTIONS = {
    "abs2": lambda z: np.sum(np.abs(z) ** 2),
    "real-square": lambda z: np.sum(np.real(z * z)),
    "abs-exp": lambda z: np.sum(np.abs(np.exp(z / 3))),
    "imag-sin": lambda z: np.sum(np.imag(np.sin(z)) * np.real(z)),
    "angle-free": lambda z: np.sum(np.real(np.conj(z) * np.log(z + 3.0))),
}
HOLOMORPHIC = {"cube": lambda z: z ** 3, "exp": np.exp, "sin-times": lambda z: np.sin(z) * z}
parts = st.floats(-1.5, 1.5, allow_nan=False)
SETTINGS = settings(max_examples=30, deadline=None)


def _directional(f, z, direction, eps=1e-6):
    return (f(z + eps * direction) - f(z - eps * direction)) / (2 * eps)


@SETTINGS
@given(re=st.lists(parts, min_size=3, max_size=3), im=st.lists(parts, min_size=3, max_size=3),
       name=st.sampled_from(sorted(REAL_FUNCTIONS)))
def test_gradient_is_d_dx_minus_i_d_dy(re, im, name):
    f = REAL_FUNCTIONS[name]
    z = onp.array(re) + 1j * onp.array(im)
    g = grad(f)(z)
    for k in range(3):
        e = onp.eye(3)[k]
        dfdx = _directional(f, z, e)
        dfdy = _directional(f, z, 1j * e)
        assert abs(g[k].real - dfdx) <= 1e-6 * (1 + abs(dfdx))
        assert abs(g[k].imag + dfdy) <= 1e-6 * (1 + abs(dfdy))


@SETTINGS
@given(re=parts, im=parts, tr=parts, ti=parts, name=st.sampled_from(sorted(REAL_FUNCTIONS)))
def test_forward_mode_in_any_complex_direction(re, im, tr, ti, name):
    f = REAL_FUNCTIONS[name]
    z, t = onp.array([re + 1j * im]), onp.array([tr + 1j * ti])
    _, jt = jvp(f, (z,), (t,))
    assert abs(jt - _directional(f, z, t)) <= 1e-6 * (1 + abs(jt))
    # and the pairing with reverse mode: df = Re(grad . t) under this convention
    g = grad(f)(z)
    assert abs(jt - onp.real(onp.sum(g * t))) <= 1e-9 * (1 + abs(jt))


@SETTINGS
@given(re=parts, im=parts, name=st.sampled_from(sorted(HOLOMORPHIC)))
def test_holomorphic_grad_is_the_complex_derivative(re, im, name):
    f = HOLOMORPHIC[name]
    z = re + 1j * im
    d = holomorphic_grad(f)(z)
    # the same derivative in the real and in the imaginary direction (Cauchy-Riemann)
    assert abs(d - _directional(f, z, 1.0)) <= 1e-6 * (1 + abs(d))
    assert abs(d - _directional(f, z, 1j) / 1j) <= 1e-6 * (1 + abs(d))
    assert abs(jvp(f, (z,), (1.0 + 0j,))[1] - d) <= 1e-12 * (1 + abs(d))
