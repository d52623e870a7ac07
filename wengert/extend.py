"""autograd's extension API (``autograd.extend``) on wengert's rule tables.

``from autograd.extend import primitive, defvjp`` becomes
``from wengert.extend import primitive, defvjp``, and the rules stay as written:

- ``defvjp(prim, vjpmaker0, vjpmaker1, ..., argnums=None)``: autograd's *staged*
  reverse rules ``vjpmaker(ans, *args, **kwargs)`` returning ``g -> cotangent``, one per
  argument; ``None`` means a zero cotangent (autograd's meaning).
- ``defjvp(prim, jvp0, ..., argnums=None)``: ``jvp(g, ans, *args, **kwargs)`` returning
  the output tangent; ``None`` means zero, ``'same'`` that ``prim`` is linear in that
  argument (its tangent is ``prim`` applied to the argument's tangent).
- ``defvjp_argnum(prim, maker)``: ``maker(argnum, ans, args, kwargs) -> (g -> ct)``.
- ``defvjp_argnums(prim, maker)``: ``maker(argnums, ans, args, kwargs) -> (g -> cts)``.
- ``defjvp_argnum(prim, maker)``: ``maker(argnum, g, ans, args, kwargs) -> tangent``.
- ``defjvp_argnums(prim, maker)``: ``maker(argnums, gs, ans, args, kwargs) -> tangent``.
- ``def_linear(prim)``: ``prim`` is linear in each argument (its JVP is the sum over
  arguments of ``prim`` with that argument replaced by its tangent).

As in autograd, each ``def*`` call replaces the rules of that kind defined before.
Rules written with ``wengert.numpy`` are differentiable, so a primitive with rules of
only one mode is differentiated in the other (by transposition) and to any order.

Differences: ``Box`` is wengert's traced value (``isinstance`` works, ``Box.register``
does not: differentiable containers are pytrees); ``vspace`` covers arrays, scalars and
pytrees; ``VJPNode``, ``JVPNode``, ``SparseObject`` and ``register_notrace`` have no
counterpart and raise an ``AttributeError`` naming the replacement.
"""
import functools
import itertools

import numpy as _np

from .core.pytree import tree_flatten, tree_map
from .core.rules import _transpose
from .core.rules import defjvp as _core_defjvp
from .core.rules import defvjp as _core_defvjp
from .core.tracer import Box, Primitive, getval
from .core.tracer import primitive as _core_primitive
from .core.vspace import fit_tangent, zeros_like_value

__all__ = ["Box", "VSpace", "def_linear", "defjvp", "defjvp_argnum", "defjvp_argnums", "defvjp", "defvjp_argnum",
           "defvjp_argnums", "notrace_primitive", "primitive", "vspace"]


def primitive(f_raw):
    """Make ``f_raw`` a primitive: a function whose derivative rules are given with
    ``defvjp``/``defjvp`` instead of being traced through. ``.fun`` is ``f_raw``."""
    prim = f_raw if isinstance(f_raw, Primitive) else _core_primitive(f_raw)
    prim.fun = getattr(prim, "impl", f_raw)
    return prim


def notrace_primitive(f_raw):
    """``f_raw`` called on the raw values of its arguments: its result is a constant for
    every derivative (for functions such as ``argmax`` or a random draw)."""
    @functools.wraps(f_raw)
    def f_wrapped(*args, **kwargs):
        return f_raw(*[getval(a) for a in args], **{k: getval(v) for k, v in kwargs.items()})
    return f_wrapped


def _check_primitive(op, prim):
    if not isinstance(prim, Primitive):
        raise TypeError(f"{op}: {prim!r} is not a primitive; decorate the function with "
                        f"wengert.extend.primitive first")


def _argnums(argnums, n):
    """The argument numbers of ``n`` rules (``argnums`` may be any iterable, as in autograd)."""
    return list(range(n)) if argnums is None else list(itertools.islice(argnums, n))


# -- reverse rules -----------------------------------------------------------------------

def _call_staged(prim, argnum, maker, g, ans, args, kwargs):
    vjp = maker(ans, *args, **kwargs)
    if not callable(vjp):
        raise TypeError(
            f"{prim.name}: the reverse rule for argument {argnum} was called in autograd's staged form "
            f"rule(ans, *args, **kwargs) (its signature binds that way for {len(args)} argument(s) and not as "
            f"rule(g, ans, *args, **kwargs)) but returned {type(vjp).__name__}, not a function of g. "
            f"Give the rule one parameter per argument of the primitive, after g and ans.")
    return vjp(g)


def _staged(prim, argnum, maker):
    def vjp_rule(g, ans, *args, **kwargs):
        return _call_staged(prim, argnum, maker, g, ans, args, kwargs)
    vjp_rule.__name__ = getattr(maker, "__name__", "vjp")
    vjp_rule.__wrapped__ = maker
    return vjp_rule


def _zero_vjp(g, ans, *args, **kwargs):
    return None             # the engine skips a None cotangent: zero, at no cost


def defvjp(prim, *vjpmakers, argnums=None):
    """autograd's ``defvjp``: staged reverse rules ``vjpmaker(ans, *args, **kwargs)``
    returning ``g -> cotangent``, one per argument (``argnums`` says which; ``None``
    gives a zero cotangent). Replaces the reverse rules defined before."""
    _check_primitive("defvjp", prim)
    rules = []
    for argnum, maker in zip(_argnums(argnums, len(vjpmakers)), vjpmakers):
        if maker is None:
            rules.append(_zero_vjp)
        elif callable(maker):
            rules.append(_staged(prim, argnum, maker))
        else:
            raise TypeError(f"defvjp: bad VJP {maker!r} for {prim.name}: a function or None")
    prim.vjps.clear()
    prim.vjp_joint = None
    return _core_defvjp(prim, *rules, argnums=_argnums(argnums, len(vjpmakers)))


def defvjp_argnums(prim, vjpmaker):
    """autograd's ``defvjp_argnums``: ``vjpmaker(argnums, ans, args, kwargs)`` returns
    ``g -> (cotangent of each argument in argnums)``."""
    _check_primitive("defvjp_argnums", prim)

    def vjp_joint(argnums, g, ans, *args, **kwargs):
        return list(vjpmaker(tuple(argnums), ans, args, kwargs)(g))
    prim.vjps.clear()
    prim.vjp_joint = vjp_joint
    return prim


def defvjp_argnum(prim, vjpmaker):
    """autograd's ``defvjp_argnum``: ``vjpmaker(argnum, ans, args, kwargs)`` returns
    ``g -> cotangent`` of that argument."""
    _check_primitive("defvjp_argnum", prim)

    def vjp_joint(argnums, g, ans, *args, **kwargs):
        return [vjpmaker(argnum, ans, args, kwargs)(g) for argnum in argnums]
    prim.vjps.clear()
    prim.vjp_joint = vjp_joint
    return prim


# -- forward rules ----------------------------------------------------------------------

def _zero_jvp(t, ans, *args, **kwargs):
    return None             # no contribution to the output tangent


def _not_transposable(prim, argnum):
    """The reverse rule of an argument whose only rule is ``'same'``: transposing ``prim``
    needs a reverse rule of ``prim`` itself, so there is none to derive."""
    from .errors import MissingRuleError

    def vjp_rule(g, ans, *args, **kwargs):
        raise MissingRuleError(prim.name, argnum, "reverse")
    vjp_rule.placeholder = True
    return vjp_rule


def _same_jvp(prim, argnum):
    def jvp_rule(t, ans, *args, **kwargs):
        args = list(args)
        args[argnum] = t
        return prim(*args, **kwargs)
    jvp_rule.__name__ = f"{prim.name}_linear_jvp{argnum}"
    jvp_rule.linear_in = argnum
    if argnum not in prim.vjps and prim.vjp_joint is None:
        prim.vjps[argnum] = _not_transposable(prim, argnum)
    return jvp_rule


def defjvp(prim, *jvpfuns, argnums=None):
    """autograd's ``defjvp``: ``jvp(g, ans, *args, **kwargs)`` returning the output
    tangent for the tangent ``g`` of one argument (``None``: zero; ``'same'``: ``prim``
    is linear in that argument). Replaces the forward rules defined before."""
    _check_primitive("defjvp", prim)
    argnums = _argnums(argnums, len(jvpfuns))
    prim.jvps.clear()
    prim.jvp_joint = None
    if getattr(prim.vjp_joint, "from_jvp", False):
        prim.vjp_joint = None           # it transposed the joint forward rule being replaced
    rules = []
    for argnum, fun in zip(argnums, jvpfuns):
        if fun is None:
            rules.append(_zero_jvp)
        elif isinstance(fun, str) and fun == "same":
            rules.append(_same_jvp(prim, argnum))
        elif callable(fun):
            rules.append(fun)
        else:
            raise TypeError(f"defjvp: bad JVP {fun!r} for {prim.name}: a function, None or 'same'")
    return _core_defjvp(prim, *rules, argnums=argnums)


def _transposed_vjp_joint(prim):
    """Reverse rules of a primitive that has only a joint forward rule: each argument's
    cotangent is the transpose of its JVP (a linear map written with differentiable
    functions), obtained by running reverse mode through it."""
    def vjp_joint(argnums, g, ans, *args, **kwargs):
        def jvp_of(argnum):
            return lambda t: fit_tangent(prim.jvp_joint((argnum,), [t], ans, *args, **kwargs), ans)
        return [_transpose(jvp_of(a), zeros_like_value(getval(args[a])), g) for a in argnums]
    vjp_joint.from_jvp = True
    return vjp_joint


def _set_jvp_joint(prim, jvp_joint, transposable=True):
    for argnum, rule in list(prim.vjps.items()):
        if getattr(rule, "placeholder", False):
            del prim.vjps[argnum]
    prim.jvps.clear()
    prim.jvp_joint = jvp_joint
    if transposable and not prim.vjps and (prim.vjp_joint is None or getattr(prim.vjp_joint, "from_jvp", False)):
        prim.vjp_joint = _transposed_vjp_joint(prim)
    elif not transposable and getattr(prim.vjp_joint, "from_jvp", False):
        prim.vjp_joint = None
    return prim


def _sum_tangents(tangents):
    out = None
    for t in tangents:
        if t is not None:
            out = t if out is None else out + t
    return out


def defjvp_argnum(prim, jvpmaker):
    """autograd's ``defjvp_argnum``: ``jvpmaker(argnum, g, ans, args, kwargs)`` returns
    the output tangent caused by the tangent ``g`` of argument ``argnum``."""
    _check_primitive("defjvp_argnum", prim)

    def jvp_joint(argnums, tangents, ans, *args, **kwargs):
        return _sum_tangents(jvpmaker(a, t, ans, args, kwargs) for a, t in zip(argnums, tangents))
    return _set_jvp_joint(prim, jvp_joint)


def defjvp_argnums(prim, jvpmaker):
    """autograd's ``defjvp_argnums``: ``jvpmaker(argnums, gs, ans, args, kwargs)``
    returns the output tangent caused by the tangents ``gs`` of the arguments ``argnums``."""
    _check_primitive("defjvp_argnums", prim)

    def jvp_joint(argnums, tangents, ans, *args, **kwargs):
        return jvpmaker(tuple(argnums), tuple(tangents), ans, args, kwargs)
    return _set_jvp_joint(prim, jvp_joint)


def def_linear(prim):
    """autograd's ``def_linear``: ``prim`` is linear in each of its arguments (multilinear,
    like ``multiply`` or ``dot``). Defines the JVP only; as in autograd, reverse mode needs
    a ``defvjp`` as well (the transpose of ``prim`` is another function)."""
    _check_primitive("def_linear", prim)

    def jvp_joint(argnums, tangents, ans, *args, **kwargs):
        def with_tangent(argnum, t):
            a = list(args)
            a[argnum] = t
            return prim(*a, **kwargs)
        return _sum_tangents(with_tangent(a, t) for a, t in zip(argnums, tangents))
    return _set_jvp_joint(prim, jvp_joint, transposable=False)


# -- vector spaces ----------------------------------------------------------------------

class VSpace:
    """autograd's description of the vector space of a value, for arrays and scalars
    (``ArrayVSpace``) and for pytrees of them. Its arithmetic uses ``wengert.numpy``, so it
    is differentiable inside rules."""

    iscomplex = False

    def zeros(self):
        raise NotImplementedError

    def ones(self):
        raise NotImplementedError

    def standard_basis(self):
        raise NotImplementedError

    def randn(self):
        raise NotImplementedError

    def add(self, x, y):
        return tree_map(lambda a, b: a + b, x, y)

    def mut_add(self, x_prev, x_new):
        return x_new if x_prev is None else self.add(x_prev, x_new)

    def scalar_mul(self, x, a):
        return tree_map(lambda v: v * a, x)

    def covector(self, x):
        from . import numpy as wnp
        return tree_map(lambda v: wnp.conj(v) if _np.iscomplexobj(getval(v)) else v, x)

    def inner_prod(self, x, y):
        from . import numpy as wnp
        total = 0.0
        for a, b in zip(tree_flatten(x)[0], tree_flatten(y)[0]):
            if _np.iscomplexobj(getval(a)) or _np.iscomplexobj(getval(b)):
                total = total + wnp.real(wnp.dot(wnp.conj(wnp.ravel(a)), wnp.ravel(b)))
            else:
                total = total + wnp.dot(wnp.ravel(a), wnp.ravel(b))
        return total

    @classmethod
    def register(cls, value_type, vspace_maker=None):
        raise NotImplementedError(
            "wengert has no vector-space registry: differentiable values are float/complex scalars and "
            "arrays, and pytrees of them (tuples, lists, dicts, namedtuples, dataclasses). Make a custom "
            "container a dataclass or namedtuple instead of registering a VSpace.")

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __repr__(self):
        return f"{type(self).__name__}_{self.__dict__}"


class ArrayVSpace(VSpace):
    def __init__(self, value):
        value = _np.asarray(getval(value))
        self.shape, self.dtype = value.shape, value.dtype
        self.iscomplex = value.dtype.kind == "c"

    @property
    def size(self):
        n = int(_np.prod(self.shape))
        return 2 * n if self.iscomplex else n

    @property
    def ndim(self):
        return len(self.shape)

    def zeros(self):
        return _np.zeros(self.shape, self.dtype)

    def ones(self):
        ones = _np.ones(self.shape, self.dtype)
        return ones + 1j * ones if self.iscomplex else ones      # autograd's convention

    def standard_basis(self):
        for idx in _np.ndindex(*self.shape):
            for unit in ((1.0, 1j) if self.iscomplex else (1.0,)):
                v = _np.zeros(self.shape, self.dtype)
                v[idx] = unit
                yield v

    def randn(self):
        r = _np.array(_np.random.randn(*self.shape)).astype(self.dtype)
        if self.iscomplex:
            r = r + 1j * _np.array(_np.random.randn(*self.shape)).astype(self.dtype)
        return r


class TreeVSpace(VSpace):
    """The vector space of a pytree: the product of its leaves' spaces."""

    def __init__(self, value):
        leaves, self.treedef = tree_flatten(value)
        self.spaces = [vspace(leaf) for leaf in leaves]
        self.iscomplex = any(s.iscomplex for s in self.spaces)

    @property
    def size(self):
        return sum(s.size for s in self.spaces)

    def zeros(self):
        return self.treedef.unflatten([s.zeros() for s in self.spaces])

    def ones(self):
        return self.treedef.unflatten([s.ones() for s in self.spaces])

    def randn(self):
        return self.treedef.unflatten([s.randn() for s in self.spaces])

    def standard_basis(self):
        zeros = [s.zeros() for s in self.spaces]
        for k, s in enumerate(self.spaces):
            for v in s.standard_basis():
                yield self.treedef.unflatten(zeros[:k] + [v] + zeros[k + 1:])

    def __eq__(self, other):
        return type(self) is type(other) and self.treedef == other.treedef and self.spaces == other.spaces


def vspace(value):
    """autograd's ``vspace(x)``: ``zeros()``, ``ones()``, ``standard_basis()``, ``randn()``,
    ``shape``, ``size``, ``ndim``, ``dtype``, ``iscomplex`` (arrays and scalars), and the
    same for pytrees of them (no ``shape``)."""
    raw = getval(value)
    leaves, treedef = tree_flatten(raw)
    if treedef.kind != "leaf":
        return TreeVSpace(raw)
    dtype = _np.result_type(raw) if not hasattr(raw, "dtype") else raw.dtype
    if not isinstance(raw, (int, float, complex, _np.ndarray, _np.generic)) or dtype.kind not in "fciub":
        raise TypeError(f"vspace: no vector space for {type(raw).__name__} values; valid values are numeric "
                        f"scalars and arrays and pytrees of them")
    return ArrayVSpace(raw)


_MISSING = {
    "VJPNode": "wengert records a tape of primitive applications instead of nodes; define rules with defvjp",
    "JVPNode": "wengert's forward mode carries tangents in boxes; define rules with defjvp",
    "SparseObject": "sparse cotangents are internal to wengert (wengert.core.Sparse) and need no registration",
    "register_notrace": "use notrace_primitive(f), or wengert.stop_gradient(x) on the arguments",
}


def __getattr__(name):
    if name in _MISSING:
        raise AttributeError(f"wengert.extend has no {name} (autograd.extend has): {_MISSING[name]}")
    raise AttributeError(f"module 'wengert.extend' has no attribute {name!r}")

