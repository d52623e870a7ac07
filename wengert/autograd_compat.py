"""HIPS autograd's differential operators, on wengert's engine.

An autograd program switches to wengert by changing its imports::

    import autograd.numpy as np            ->  import wengert.numpy as np
    from autograd import grad, make_vjp    ->  from wengert import grad, make_vjp
    from autograd.extend import primitive  ->  from wengert.extend import primitive

Where the two conventions clash the JAX form stays primary: ``grad(f, argnums=0,
has_aux=False)``, and ``argnum=`` is accepted as a keyword synonym (a positional second
argument means the same in both). The operators only autograd has (``make_vjp``,
``make_hvp``, ``hessian_tensor_product``...) keep autograd's signatures and return
conventions exactly: ``make_vjp`` returns ``(vjp, ans)``, not JAX's ``(ans, vjp)``.

Second-order operators run forward mode over reverse mode (``jvp`` of ``grad``, or
``linearize`` of ``grad`` when the products are taken repeatedly at one point)
rather than autograd's reverse over reverse.

``defvjp`` and ``defjvp`` here are the top-level ``wengert.defvjp``/``defjvp``: the
wengert (unstaged) rule form is primary, autograd's staged form is detected and
adapted. ``wengert.extend`` has autograd's rule API exactly.
"""
import functools
import inspect
import itertools
import warnings

import numpy as _np

from .core.pytree import tree_flatten, tree_map
from .core.rules import defjvp as _core_defjvp
from .core.rules import defvjp as _core_defvjp
from .core.tracer import getval
from .core.vspace import ones_like_value, shape_of
from .errors import NonScalarOutputError
from .transforms import (elementwise_grad as _elementwise_grad, grad as _grad, hessian as _hessian,
                         jacfwd as _jacfwd, jacobian as _jacobian, jacrev as _jacrev, jvp, linearize,
                         value_and_grad as _value_and_grad, vjp)
from .transforms.batch import vmap_flat
from .transforms.common import argnums_tuple, nary
from .extend import _call_staged, _same_jvp, vspace

__all__ = ["grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "jacfwd", "jacrev",
           "make_vjp", "make_jvp", "make_hvp", "hessian_tensor_product", "hessian_vector_product",
           "tensor_jacobian_product", "vector_jacobian_product", "make_ggnvp", "grad_and_aux",
           "holomorphic_grad", "deriv", "grad_named", "defvjp", "defjvp"]


# -- argnums / argnum ---------------------------------------------------------------------

class _Zero(int):
    """The default argument number: 0, but told apart from an explicit 0."""

    def __repr__(self):
        return "0"


_DEFAULT = _Zero(0)


def _argnums(op, value, synonym, value_name="argnums", synonym_name="argnum"):
    """The argument numbers from the primary parameter and its keyword synonym."""
    if synonym is not None:
        if value is not _DEFAULT and _norm(value) != _norm(synonym):
            raise TypeError(f"{op}: {value_name}={value!r} and {synonym_name}={synonym!r} disagree; "
                            f"they mean the same, pass only one")
        value = synonym
    value = _norm(value)
    if not isinstance(value, (int, tuple)):
        raise TypeError(f"{op}: {value_name} must be an int, a tuple or a list of ints, not {value!r}")
    return value


def _norm(value):
    if isinstance(value, list):
        return tuple(value)
    return int(value) if isinstance(value, _Zero) else value


def _subvals(args, nums, values):
    args = list(args)
    for i, v in zip(nums, values):
        args[i] = v
    return args


def _restricted(fun, args, kwargs, nums):
    """``fun`` as a function of the arguments ``nums`` only, and those arguments."""
    def f(*xs):
        return fun(*_subvals(args, nums, xs), **kwargs)
    return f, tuple(args[i] for i in nums)


_NOTE = """

    autograd compatibility: ``argnum`` is accepted as a keyword synonym of ``argnums``
    (an int, a tuple or a list), and a positional second argument means the same in both."""


def _documented(original):
    def decorate(wrapper):
        wrapper.__doc__ = (original.__doc__ or "") + _NOTE
        wrapper.__wrapped_transform__ = original
        return wrapper
    return decorate


# -- the shared operators, with argnum= as a synonym ----------------------------------------

@_documented(_grad)
def grad(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _grad(fun, _argnums("grad", argnums, argnum), has_aux=has_aux)


@_documented(_value_and_grad)
def value_and_grad(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _value_and_grad(fun, _argnums("value_and_grad", argnums, argnum), has_aux=has_aux)


@_documented(_elementwise_grad)
def elementwise_grad(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _elementwise_grad(fun, _argnums("elementwise_grad", argnums, argnum), has_aux=has_aux)


@_documented(_jacobian)
def jacobian(fun, argnums=_DEFAULT, has_aux=False, mode="auto", *, argnum=None):
    return _jacobian(fun, _argnums("jacobian", argnums, argnum), has_aux=has_aux, mode=mode)


@_documented(_hessian)
def hessian(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _hessian(fun, _argnums("hessian", argnums, argnum), has_aux=has_aux)


@_documented(_jacfwd)
def jacfwd(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _jacfwd(fun, _argnums("jacfwd", argnums, argnum), has_aux=has_aux)


@_documented(_jacrev)
def jacrev(fun, argnums=_DEFAULT, has_aux=False, *, argnum=None):
    return _jacrev(fun, _argnums("jacrev", argnums, argnum), has_aux=has_aux)


# -- autograd's own operators ---------------------------------------------------------------

def _autograd_op(op, impl):
    """``op(fun, argnum=0)`` from ``impl(fun, args, kwargs, nums, single)`` (``argnums=``
    is accepted as a keyword synonym)."""
    transform = nary(op)(impl)

    def operator(fun, argnum=_DEFAULT, *, argnums=None):
        return transform(fun, _argnums(op, argnum, argnums, "argnum", "argnums"))
    operator.__name__ = operator.__qualname__ = op
    operator.__doc__ = impl.__doc__
    return operator


def _select(values, single):
    return values[0] if single else tuple(values)


def _make_vjp(fun, args, kwargs, nums, single):
    """``make_vjp(fun, argnum=0)(*args, **kwargs)`` returns ``(vjp, ans)`` (autograd's
    order; JAX's ``wengert.vjp`` returns ``(ans, vjp_fn)``). ``vjp(g)`` is the cotangent
    of argument ``argnum`` (a tuple for a tuple ``argnum``) and may be called again."""
    f, xs = _restricted(fun, args, kwargs, nums)
    ans, pull = vjp(f, *xs)

    def vjp_fn(g):
        return _select(pull(g), single)
    return vjp_fn, ans


def _make_jvp(fun, args, kwargs, nums, single):
    """``make_jvp(fun, argnum=0)(*args, **kwargs)`` returns ``jvp``; ``jvp(v)`` returns
    ``(ans, J v)`` by forward mode (``v`` a tuple for a tuple ``argnum``). As in autograd,
    ``fun`` runs at each call of ``jvp``."""
    f, xs = _restricted(fun, args, kwargs, nums)

    def jvp_fn(v):
        return jvp(f, xs, (v,) if single else tuple(v))
    return jvp_fn


def _make_hvp(fun, args, kwargs, nums, single):
    """``make_hvp(fun, argnum=0)(*args, **kwargs)`` returns ``(hvp, grad_value)``:
    ``hvp(v)`` is the Hessian-vector product ``H v`` of scalar ``fun``. The gradient is
    traced once (forward over reverse, by ``linearize``); each ``hvp`` call replays that
    trace with tangent ``v``, without re-running ``fun``."""
    f, xs = _restricted(fun, args, kwargs, nums)
    grad_value, lin = linearize(_grad(f, 0 if single else tuple(range(len(xs)))), *xs)

    def hvp_fn(v):
        return lin(v) if single else lin(*v)
    return hvp_fn, grad_value


def _deriv(fun, args, kwargs, nums, single):
    """``deriv(fun, argnum=0)(*args)``: the JVP along a tangent of ones (autograd's
    ``vspace(x).ones()``, so ``1+1j`` for a complex argument), by forward mode."""
    f, xs = _restricted(fun, args, kwargs, nums)
    return jvp(f, xs, tuple(tree_map(lambda leaf: vspace(leaf).ones(), x) for x in xs))[1]


def _holomorphic_grad(fun, args, kwargs, nums, single):
    """``holomorphic_grad(fun, argnum=0)(*args)``: ``f'(z)`` of a holomorphic scalar
    ``fun``, the VJP with cotangent ``1+0j`` (rules follow autograd's convention
    ``g * f'(z)`` without conjugation). Warns, as autograd does, if the input is not
    complex; the result is then the gradient of ``real(fun)``."""
    f, xs = _restricted(fun, args, kwargs, nums)
    if not all(_np.iscomplexobj(getval(leaf)) for leaf in tree_flatten(xs)[0]):
        warnings.warn("Input to holomorphic_grad is not complex", stacklevel=3)
    ans, pull = vjp(f, *xs)
    if shape_of(ans) != ():
        raise NonScalarOutputError("holomorphic_grad", f"an output of shape {shape_of(ans)}")
    return _select(pull(ones_like_value(getval(ans))), single)


make_vjp = _autograd_op("make_vjp", _make_vjp)
make_jvp = _autograd_op("make_jvp", _make_jvp)
make_hvp = _autograd_op("make_hvp", _make_hvp)
deriv = _autograd_op("deriv", _deriv)
holomorphic_grad = _autograd_op("holomorphic_grad", _holomorphic_grad)


def grad_and_aux(fun, argnum=_DEFAULT, *, argnums=None):
    """Builds ``(*args) -> (gradient, aux)`` for a ``fun`` returning two values
    ``(out, aux)``: the gradient of ``out``, and ``aux`` unchanged (autograd's name for
    ``grad(fun, argnums, has_aux=True)``)."""
    nums = _argnums("grad_and_aux", argnum, argnums, "argnum", "argnums")
    pair = functools.wraps(fun)(lambda *args, **kwargs: tuple(fun(*args, **kwargs)))
    return _grad(pair, nums, has_aux=True)


def _tensor_operator(op, fun, argnum, argnums, impl):
    """``(*args, tensor, **kwargs) -> impl(fun, args, kwargs, nums, single, tensor)``."""
    spec = _argnums(op, argnum, argnums, "argnum", "argnums")

    @functools.wraps(fun)
    def operator(*args, **kwargs):
        if not args:
            raise TypeError(f"{op}: call it with the arguments of fun followed by the tensor")
        args, tensor = args[:-1], args[-1]
        single, nums = argnums_tuple(spec, len(args), op)
        return impl(fun, args, kwargs, nums, single, tensor)
    return operator


def _htp(fun, args, kwargs, nums, single, tensor):
    f, xs = _restricted(fun, args, kwargs, nums)
    g = _grad(f, 0 if single else tuple(range(len(xs))))
    return jvp(g, xs, (tensor,) if single else tuple(tensor))[1]


def hessian_tensor_product(fun, argnum=_DEFAULT, *, argnums=None):
    """Builds ``htp(*args, tensor, **kwargs)``: the Hessian of scalar ``fun`` with
    respect to argument ``argnum`` applied to ``tensor`` (shaped like that argument; a
    tuple of them for a tuple ``argnum``). Forward mode over reverse: ``jvp(grad(fun))``,
    about the cost of a few gradients."""
    return _tensor_operator("hessian_tensor_product", fun, argnum, argnums, _htp)


hessian_vector_product = hessian_tensor_product


def _tjp(fun, args, kwargs, nums, single, tensor):
    from . import numpy as wnp
    f, xs = _restricted(fun, args, kwargs, nums)
    ans, pull = vjp(f, *xs)
    oshape, tshape = shape_of(ans), shape_of(tensor)
    if oshape == tshape:
        return _select(pull(tensor), single)
    k = len(tshape)
    if oshape[:k] != tshape:
        raise ValueError(f"tensor_jacobian_product: the tensor has shape {tshape}, which is not a leading "
                         f"part of the output's shape {oshape}")
    rest = oshape[k:]
    n = int(_np.prod(rest))
    # the cotangents tensor (x) e_r for each element r of the remaining output axes, in one batch
    basis = _np.eye(n, dtype=getattr(getval(ans), "dtype", None))
    cts = wnp.reshape(wnp.moveaxis(wnp.tensordot(tensor, basis, axes=0), -2, 0), (n,) + oshape)
    rows = vmap_flat(lambda c: list(pull(c)), [cts], [True], n)
    return _select([wnp.reshape(r, rest + shape_of(x)) for r, x in zip(rows, xs)], single)


def tensor_jacobian_product(fun, argnum=_DEFAULT, *, argnums=None):
    """Builds ``tjp(*args, tensor, **kwargs)``: ``tensor`` contracted with the leading
    axes of the Jacobian of ``fun`` with respect to argument ``argnum``
    (``np.tensordot(tensor, J, tensor.ndim)``). For a tensor of the output's shape this
    is one vector-Jacobian product by reverse mode; otherwise the rows left over are
    pulled back in one batched backward pass."""
    return _tensor_operator("tensor_jacobian_product", fun, argnum, argnums, _tjp)


vector_jacobian_product = tensor_jacobian_product


def _half_sum_of_squares(x):
    from . import numpy as wnp
    return 0.5 * wnp.sum(x ** 2, axis=-1)


def make_ggnvp(f, g=_half_sum_of_squares, f_argnum=0):
    """Builds ``ggnvp_maker(*args)``, returning ``ggnvp(v) = J^T H_g J v``: the
    generalized Gauss-Newton matrix of ``g(f(x))`` (J the Jacobian of ``f`` at ``x``,
    H_g the Hessian of scalar ``g`` at ``f(x)``) times ``v``. ``g`` defaults to
    autograd's ``0.5 * sum(y**2, axis=-1)``. ``f`` and ``grad(g)`` are traced once;
    each product replays them: ``J v`` and ``H_g u`` forward (``linearize``), ``J^T w``
    backward (``vjp``)."""
    @nary("make_ggnvp")
    def impl(fun, args, kwargs, nums, single):
        fx, xs = _restricted(fun, args, kwargs, nums)
        f_value, f_vjp = vjp(fx, *xs)
        _, f_jvp = linearize(fx, *xs)
        _, g_hvp = linearize(_grad(g), f_value)

        def ggnvp(v):
            return _select(f_vjp(g_hvp(f_jvp(*((v,) if single else tuple(v))))), single)
        return ggnvp
    return impl(f, _argnums("make_ggnvp", f_argnum, None, "f_argnum"))


def grad_named(fun, argname):
    """The gradient with respect to the argument named ``argname`` (not ``*args`` or
    ``**kwargs``), like autograd's."""
    return grad(fun, inspect.getfullargspec(fun).args.index(argname))


# -- rules: the wengert (unstaged) form is primary, autograd's staged form is accepted ----

def _binds(sig, n, kwargs):
    try:
        sig.bind(*([None] * n), **kwargs)
    except TypeError:
        return False
    return True


def _is_staged(rule, nargs, kwargs):
    """Whether ``rule`` is a staged rule ``rule(ans, *args, **kwargs) -> (g -> ct)`` for
    a call with ``nargs`` positional arguments and these keywords: true only when it binds
    that way and does not bind as ``rule(g, ans, *args, **kwargs)``."""
    try:
        sig = inspect.signature(rule)
    except (TypeError, ValueError):
        return False
    return _binds(sig, nargs + 1, kwargs) and not _binds(sig, nargs + 2, kwargs)


def _either_form(prim, argnum, rule):
    forms = {}          # (number of positional arguments, keyword names) -> staged?

    def vjp_rule(g, ans, *args, **kwargs):
        key = (len(args), frozenset(kwargs)) if kwargs else len(args)
        staged = forms.get(key)
        if staged is None:
            staged = forms[key] = _is_staged(rule, len(args), kwargs)
        if staged:
            return _call_staged(prim, argnum, rule, g, ans, args, kwargs)
        out = rule(g, ans, *args, **kwargs)
        if callable(out):
            # a cotangent is never a function: this is a staged rule whose signature also
            # binds the other way (defaults absorbing an argument); call it as staged from now on
            forms[key] = True
            return _call_staged(prim, argnum, rule, g, ans, args, kwargs)
        return out
    vjp_rule.__name__ = getattr(rule, "__name__", "vjp_rule")
    vjp_rule.__wrapped__ = rule
    return vjp_rule


def defvjp(prim, *rules, argnums=None):
    """Reverse rules of ``prim``, one per argument (``None``: not differentiable in it).

    The wengert form ``rule(g, ans, *args, **kwargs)`` returning the cotangent is the
    documented, primary one. autograd's staged form ``rule(ans, *args, **kwargs)``
    returning ``g -> cotangent`` is also accepted: on the first use with a given number
    of arguments (and keyword names), the rule's signature is bound both ways; it is
    taken as staged only if it binds as staged and *not* as unstaged. A rule that binds
    both ways (``*args``, or defaults that absorb the extra argument) is called in the
    primary form; if that call returns a function instead of a cotangent, the rule is
    staged after all and is called (and from then on treated) as staged. Prefer
    ``wengert.extend.defvjp``, which is always staged, for autograd rules.
    """
    argnums = list(range(len(rules)) if argnums is None else itertools.islice(argnums, len(rules)))
    wrapped = [None if r is None else _either_form(prim, a, r) for a, r in zip(argnums, rules)]
    return _core_defvjp(prim, *wrapped, argnums=argnums)


def defjvp(prim, *rules, argnums=None):
    """Forward rules of ``prim``, one per argument: ``rule(t, ans, *args, **kwargs)``
    returning the output tangent (the same form in wengert and autograd), ``None`` for
    an argument it is not differentiable in, or ``'same'`` for an argument ``prim`` is
    linear in (its tangent is ``prim`` applied with the tangent in that argument's place).
    """
    argnums = list(range(len(rules)) if argnums is None else itertools.islice(argnums, len(rules)))
    out = []
    for argnum, rule in zip(argnums, rules):
        if isinstance(rule, str) and rule == "same":
            rule = _same_jvp(prim, argnum)
        elif rule is not None and not callable(rule):
            raise TypeError(f"defjvp: bad JVP rule {rule!r} for {prim!r}: a function, None or 'same'")
        elif getattr(prim.vjps.get(argnum), "placeholder", False):
            del prim.vjps[argnum]       # a real forward rule can be transposed again
        out.append(rule)
    return _core_defjvp(prim, *out, argnums=argnums)
