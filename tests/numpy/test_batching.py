"""Batched Jacobians over the family spec tables, and no slow fallbacks.

``jacfwd`` and ``jacrev`` push a whole identity basis through the batching rules in one
pass. For every row of the spec tables of the families (elementwise, reductions,
shape, indexing, products), each batched Jacobian must equal the one built row by row
from ``vjp`` without batching. While they run, no primitive of the standard library
may reach the slow fallbacks: the per-element loop of ``loop_rule`` (a primitive
without a batching rule) or a forward rule derived by transposing the reverse rule
(``jvp_from_vjp``: a reverse-mode trace per call). Hessians (forward over reverse)
must agree with reverse over reverse.
"""
import importlib
import zlib

import numpy as onp
import pytest

from tests.fallbacks import is_loop, is_transposed, record_fallbacks

import wengert
import wengert.numpy as np
from wengert.core import rules as core_rules
from wengert.core.tracer import Primitive
from tests.numpy import test_elementwise, test_indexing, test_products, test_reductions, test_shape

R = onp.random.default_rng(7)

# -- the standard library's primitives and the fallbacks they must not reach ---------------

LIBRARY_MODULES = ["wengert.core.vspace"] + [
    f"wengert.numpy.{m}" for m in ("elementwise", "reductions", "shape", "indexing", "products", "linalg",
                                   "constructors", "batching", "fft", "convolution")]


def library_primitives():
    prims = {}
    for name in LIBRARY_MODULES:
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, Primitive):
                prims[id(obj)] = obj
    return list(prims.values())


PRIMITIVES = library_primitives()


_is_loop, _is_transposed = is_loop, is_transposed


@pytest.fixture
def fallbacks(monkeypatch):
    """The set of (primitive name, fallback) reached while the test runs."""
    yield from record_fallbacks(monkeypatch, PRIMITIVES)


def test_every_library_primitive_has_a_batching_rule_and_a_forward_rule():
    names = {p.name for p in PRIMITIVES}
    assert {"max", "min", "cumsum", "cumprod", "prod", "trace", "dot", "einsum", "tensordot", "norm",
            "svd_singular_values", "svd_u", "svd_vh", "getitem", "untake", "reshape"} <= names
    for p in PRIMITIVES:
        assert (p.batch is not None and not _is_loop(p.batch)) or p.derivs, p.name
        for argnum in p.vjps:
            rule = p.jvps.get(argnum)
            assert p.jvp_joint is not None or (rule is not None and not _is_transposed(rule)), (p.name, argnum)


def test_the_recorder_sees_both_fallbacks(fallbacks):
    """A primitive with a reverse rule only, and no batching rule, reaches both."""
    from wengert.transforms.batch import vmap_flat
    rev_cumsum = Primitive(lambda x: onp.cumsum(x)[::-1], "reversed_cumsum")
    wengert.defvjp(rev_cumsum, lambda g, ans, x: np.cumsum(g)[::-1])
    jac = onp.tril(onp.ones((3, 3)))[::-1]                # symmetric
    onp.testing.assert_array_equal(wengert.jacfwd(rev_cumsum)(onp.arange(1.0, 4.0)), jac)
    onp.testing.assert_array_equal(vmap_flat(rev_cumsum, [onp.eye(3)], [True], 3), jac)
    assert fallbacks == {("reversed_cumsum", "jvp_from_vjp"), ("reversed_cumsum", "loop_rule")}


# -- the spec tables -------------------------------------------------------------------------

def _float_positions(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or (isinstance(a, onp.ndarray) and a.dtype.kind == "f")]


def _sampled(params, keep):
    """A deterministic sample (by id) of about a fraction ``keep`` of the rows, with the
    first row of every function (the id's first word) always kept."""
    seen = set()
    out = []
    for p in params:
        name = p.id.split("-")[0]
        if name not in seen or zlib.crc32(p.id.encode()) % 100 < keep * 100:
            out.append(p)
        seen.add(name)
    return out


# Cases that fail for a reason outside the batching rules (each a reported bug).
KNOWN_FAILURES = {}


def _cases():
    tables = [
        ("elementwise", _sampled(test_elementwise._specs(), 0.5)),
        ("reductions", test_reductions.SPECS + test_reductions.NORM_SPECS),
        ("shape", test_shape.SPECS),
        ("indexing", test_indexing.INDEX_SPECS + test_indexing.FUNCTION_SPECS),
        ("products", test_products.SPECS),
    ]
    cases = []
    for family, table in tables:
        for p in table:
            fun, args, kwargs = p.values
            for i in _float_positions(args):
                case_id = f"{family}-{p.id}-arg{i}"
                marks = [pytest.mark.xfail(reason=KNOWN_FAILURES[case_id], raises=wengert.MissingRuleError,
                                           strict=True)] if case_id in KNOWN_FAILURES else []
                cases.append(pytest.param(fun, args, kwargs, i, id=case_id, marks=marks))
    return cases


def _one_arg(fun, args, kwargs, i):
    """``fun`` as a function of argument ``i`` alone, its output made one array."""
    def f(x):
        full = list(args)
        full[i] = x
        out = fun(*full, **kwargs)
        if isinstance(out, (tuple, list)):
            out = np.concatenate([np.ravel(o) for o in out])
        return out
    return f


def rowwise_jacobian(f, x):
    """The Jacobian one ``vjp`` per output element, without batching."""
    out, pull = wengert.vjp(f, x)
    oshape, xshape = onp.shape(out), onp.shape(x)
    rows = [onp.asarray(pull(e.reshape(oshape))[0]) for e in onp.eye(onp.size(out))]
    return onp.array(rows).reshape(oshape + xshape) if rows else onp.zeros(oshape + xshape)


@pytest.mark.parametrize("fun, args, kwargs, i", _cases())
def test_batched_jacobians_match_rowwise(fun, args, kwargs, i, fallbacks):
    f = _one_arg(fun, args, kwargs, i)
    x = args[i]
    expected = rowwise_jacobian(f, x)
    for jac in (wengert.jacfwd, wengert.jacrev):
        onp.testing.assert_allclose(jac(f)(x), expected, rtol=1e-10, atol=1e-12, err_msg=jac.__name__)
    assert fallbacks == set()


# -- Hessians: forward over reverse agrees with reverse over reverse ---------------------------

MASK = onp.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])


def h_reductions(x):
    return np.sum(np.max(x, axis=1) * np.prod(x[::-1, [0, 2]], axis=1)) + np.sum(np.cumprod(x, axis=1) ** 2) \
        + np.min(np.cumsum(x, axis=0)) * np.trace(x) + np.std(x, axis=0) @ np.mean(x, axis=1)[[0, 1, 2, 0]]


def h_indexing(x):
    y = x[MASK] ** 2
    z = x[None, [0, 2], ..., [1, 3]]               # non-adjacent advanced indices and a new axis
    return np.sum(y * y[::-1]) + np.sum(np.sort(x, axis=None)[::2] ** 3) + np.sum(z * np.diag(x[:, :3])) \
        + np.sum(np.take_along_axis(x, onp.array([[3], [0], [1]]), axis=1) * x[:, True, 1:2])


def h_products(x):
    y = np.einsum("ij,kj->ik", x, np.sin(x))
    return np.einsum("ii->", y @ y) + np.sum(np.dot(x.T, y) ** 2) * 0.1 + np.tensordot(x, np.cos(x), axes=2) \
        + np.sum(np.einsum("i...,i->...", x, x[:, 0]) ** 2)


def h_norms(x):
    return np.linalg.norm(x) * np.linalg.norm(x, axis=1) @ np.linalg.norm(x, 3, axis=0)[:3] \
        + np.linalg.norm(x, "nuc") + np.linalg.norm(x.T @ x, 2) + np.linalg.norm(x, -2) ** 2 \
        + np.linalg.norm(x, onp.inf) + np.linalg.norm(x[0], 1.5)


def h_mixed(x):
    z = np.reshape(x, (2, 6), order="F")
    return np.sum(np.exp(np.tanh(z) @ z.T)) + np.sum(np.abs(x) ** 3) / np.ptp(x) \
        + np.linalg.norm(np.einsum("ij,jk->ik", x[:, :3], np.triu(x[:, 1:])), "fro")


@pytest.mark.parametrize("f", [h_reductions, h_indexing, h_products, h_norms, h_mixed],
                         ids=lambda f: f.__name__)
def test_hessian_matches_reverse_over_reverse(f, fallbacks):
    x = R.uniform(0.5, 1.5, size=(3, 4)) * onp.where(R.uniform(size=(3, 4)) < 0.5, -1.0, 1.0)
    H = wengert.hessian(f)(x)
    assert H.shape == (3, 4, 3, 4)
    onp.testing.assert_allclose(H, wengert.jacrev(wengert.jacrev(f))(x), rtol=1e-9, atol=1e-10)
    onp.testing.assert_allclose(H, onp.swapaxes(onp.swapaxes(H, 0, 2), 1, 3), rtol=1e-9, atol=1e-10)
    assert fallbacks == set()


# -- the forward rules equal the transposed reverse rules, at the kinks too -------------------

def _rand(*shape):
    return R.standard_normal(shape)


def _crand(*shape):
    return R.standard_normal(shape) + 1j * R.standard_normal(shape)


TIES = onp.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [0.5, onp.nan, 1.0, onp.nan]])
ZEROS = onp.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [1.0, -2.0, 0.5, 3.0]])
WHERE = onp.array([[True, False, True, True], [False, True, True, False], [True, True, False, False]])
_red = importlib.import_module("wengert.numpy.reductions")
_lin = importlib.import_module("wengert.numpy.linalg")

JVP_CASES = [
    ("max-ties", _red._max_p, (TIES,), dict(axis=1)),
    ("max-ties-all", _red._max_p, (TIES[:2],), {}),
    ("max-ties-keepdims-neg", _red._max_p, (TIES,), dict(axis=-2, keepdims=True)),
    ("max-where-initial", _red._max_p, (TIES[:2],), dict(axis=1, initial=2.5, where=WHERE[:2])),
    ("min-ties", _red._min_p, (-TIES,), dict(axis=(0, 1))),
    ("prod-one-zero", _red._prod_p, (ZEROS,), dict(axis=1)),
    ("prod-two-zeros", _red._prod_p, (ZEROS,), dict(axis=0, keepdims=True)),
    ("prod-all", _red._prod_p, (ZEROS[2:],), {}),
    ("prod-where", _red._prod_p, (ZEROS,), dict(axis=1, where=WHERE)),
    ("cumprod-zeros-axis1", _red._cumprod_p, (ZEROS,), dict(axis=1)),
    ("cumprod-zeros-axis0", _red._cumprod_p, (ZEROS,), dict(axis=0)),
    ("cumprod-long", _red._cumprod_p, (onp.r_[_rand(5), 0.0, _rand(3), 0.0, _rand(2)],), dict(axis=0)),
    ("norm-zero-vector", _lin._norm_p, (onp.zeros(3),), {}),
    ("norm-rows-with-zero-row", _lin._norm_p, (ZEROS * [[1], [0], [1]],), dict(axis=(1,))),
    ("norm-p3-zero-entries", _lin._norm_p, (ZEROS,), dict(ord=3, axis=(0,), keepdims=True)),
    ("norm-fro-axes", _lin._norm_p, (_rand(2, 3, 4),), dict(ord="fro", axis=(2, 0))),
    ("norm-complex", _lin._norm_p, (_crand(3, 4),), dict(axis=(1,))),
    ("norm-complex-p", _lin._norm_p, (_crand(4),), dict(ord=1.5, axis=(0,))),
    ("svals-tall", _lin._svals_p, (_rand(5, 3),), {}),
    ("svals-wide-stack", _lin._svals_p, (_rand(2, 3, 4),), {}),
    ("svals-complex", _lin._svals_p, (_crand(3, 4),), {}),
    ("svals-rank-deficient", _lin._svals_p, (onp.outer(_rand(4), _rand(3)),), {}),
    ("svd_u-tall", _lin._svd_u_p, (_rand(5, 3),), {}),
    ("svd_u-wide", _lin._svd_u_p, (_rand(3, 5),), {}),
    ("svd_u-square-stack", _lin._svd_u_p, (_rand(2, 3, 3),), {}),
    ("svd_vh-tall", _lin._svd_vh_p, (_rand(5, 3),), {}),
    ("svd_vh-wide", _lin._svd_vh_p, (_rand(3, 5),), {}),
    ("svd_vh-square-stack", _lin._svd_vh_p, (_rand(2, 3, 3),), {}),
]


@pytest.mark.parametrize("prim, args, kwargs", [pytest.param(*c[1:], id=c[0]) for c in JVP_CASES])
def test_forward_rule_is_the_transposed_reverse_rule(prim, args, kwargs):
    ans = prim(*args, **kwargs)
    derived = core_rules.jvp_from_vjp(prim, 0)
    assert not _is_transposed(prim.jvps[0])
    for _ in range(2):
        x = args[0]
        t = _crand(*x.shape) if onp.iscomplexobj(x) else _rand(*x.shape)
        onp.testing.assert_allclose(prim.jvps[0](t, ans, *args, **kwargs), derived(t, ans, *args, **kwargs),
                                    rtol=1e-10, atol=1e-12)


def test_extremum_tangent_is_the_mean_over_ties_and_prod_tangent_is_exact_with_zeros():
    t = onp.arange(12.0).reshape(3, 4)
    x = onp.where(onp.isnan(TIES), -5.0, TIES)
    onp.testing.assert_array_equal(wengert.jvp(lambda x: np.max(x, axis=1), (x,), (t,))[1], [1.5, 5.5, 10.0])
    # one zero: the product of the others; two zeros: 0
    x = onp.array([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0]])
    t = onp.ones((2, 3))
    onp.testing.assert_array_equal(wengert.jvp(lambda x: np.prod(x, axis=1), (x,), (t,))[1], [6.0, 0.0])
    onp.testing.assert_array_equal(wengert.jvp(lambda x: np.cumprod(x, axis=1), (x,), (t,))[1],
                                   [[1.0, 2.0, 6.0], [1.0, 4.0, 0.0]])
    assert wengert.jvp(np.linalg.norm, (onp.zeros(3),), (onp.ones(3),))[1] == 0.0


# -- batching rules applied directly: every pattern of batched arguments ---------------------

B = 3


def _batch_cases():
    td = np.tensordot
    return [
        ("tensordot-axes-pairs", lambda a, b: td(a, b, ((0, 2), (2, 0))), (2, 3, 4), (4, 5, 2)),
        ("tensordot-int", lambda a, b: td(a, b, 1), (2, 3), (3, 4)),
        ("tensordot-outer", lambda a, b: td(a, b, 0), (2,), (3,)),
        ("dot-1d-1d", np.dot, (3,), (3,)),
        ("dot-2d-1d", np.dot, (2, 3), (3,)),
        ("dot-1d-3d", np.dot, (3,), (2, 3, 4)),
        ("dot-3d-3d", np.dot, (2, 2, 3), (2, 3, 2)),
        ("dot_p-0d", lambda a, b: importlib.import_module("wengert.numpy.products").dot_p(a, b), (), (3,)),
        ("matmul-3d-1d", np.matmul, (2, 3, 4), (4,)),
        ("einsum-matmul", lambda a, b: np.einsum("ij,jk->ik", a, b), (2, 3), (3, 4)),
        ("einsum-diagonal-trace", lambda a, b: np.einsum("ii,i->", a, b), (3, 3), (3,)),
        ("einsum-ellipsis-three", lambda a, b: np.einsum("...ij,jk,...k->...i", a, b, a[..., 0, :]),
         (2, 3, 4), (4, 4)),
        ("einsum-path", lambda a, b: np.einsum("ij,jk,kl->il", a, b, b.T, optimize=["einsum_path", (0, 1), (0, 1)]),
         (2, 3), (3, 3)),
        ("max-axis-where-initial", lambda a, b: np.max(a * b, axis=1, where=WHERE[:2, :3], initial=-3.0),
         (2, 3), (3,)),
        ("min-keepdims-tuple", lambda a, b: np.min(a + b, axis=(-1, 0), keepdims=True), (2, 3), (3,)),
        ("prod-axis-where", lambda a, b: np.prod(a * b, axis=0, where=WHERE[:2, :3]), (2, 3), (3,)),
        ("cumsum-cumprod", lambda a, b: np.cumsum(a, axis=-1) + np.cumprod(b), (2, 3), (3,)),
        ("cumprod-flat", lambda a, b: np.cumprod(a * b), (2, 3), (3,)),
        ("trace-axes", lambda a, b: np.trace(a, 1, -1, 0) * b[0], (3, 2, 3), (2,)),
        ("norm-variants", lambda a, b: np.concatenate([
            np.ravel(np.linalg.norm(a)), np.ravel(np.linalg.norm(a, keepdims=True)),
            np.linalg.norm(a, axis=1), np.linalg.norm(a, 3, axis=-2, keepdims=True)[0],
            np.ravel(np.linalg.norm(a, "fro")), np.ravel(np.linalg.norm(b, 2)), np.ravel(np.linalg.norm(b, 0.5))]),
         (2, 3), (3,)),
        ("norm_p-axis-None-ords", lambda a, b: np.concatenate(
            [np.ravel(_lin._norm_p(b, o)) for o in (1, 3, -onp.inf)]
            + [np.ravel(_lin._norm_p(a, o, None, True)) for o in ("nuc", 1, 2, "fro", None)]), (3, 2), (3,)),
        ("norm-3d-flat", lambda a, b: np.linalg.norm(a) * np.linalg.norm(b, axis=(0, 1)), (2, 3, 2), (2, 2)),
        ("norm-matrix-ords", lambda a, b: np.stack([np.linalg.norm(a, o) for o in ("fro", 1, -onp.inf)]),
         (3, 2), (1,)),
        ("svd-parts", lambda a, b: np.sum(_lin._svd_u_p(a) * _lin._svd_vh_p(a)[..., :1, :1], -1)
         + _lin._svals_p(a)[..., :1], (2, 3, 3), (1,)),
        ("reshape-F", lambda a, b: np.reshape(a, (3, 2), order="F") * np.ravel(b, order="F"), (2, 3), (1, 2)),
        ("complex-parts", lambda a, b: np.real(a * 1j + b) + np.imag(np.conj(a * (1 + 2j))), (2, 3), (3,)),
    ]


@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)], ids=["a", "b", "ab"])
@pytest.mark.parametrize("f, sa, sb", [pytest.param(*c[1:], id=c[0]) for c in _batch_cases()])
def test_batching_rules_match_a_loop(f, sa, sb, batched, fallbacks):
    from wengert.transforms.batch import vmap_flat
    a = _rand(*(((B,) if batched[0] else ()) + sa))
    b = _rand(*(((B,) if batched[1] else ()) + sb))
    out = vmap_flat(f, [a, b], list(batched), B)
    expected = onp.stack([f(a[i] if batched[0] else a, b[i] if batched[1] else b) for i in range(B)])
    onp.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert fallbacks == set()


# -- indexing: every kind of index, batched ----------------------------------------------------

INDEX_ATOMS = {
    "0": 0, "-1": -1, ":": slice(None), "1::2": slice(1, None, 2), "::-1": slice(None, None, -1),
    "...": Ellipsis, "None": None, "[0,2]": onp.array([0, 2]), "[[0,1],[2,1]]": onp.array([[0, 1], [2, 1]]),
    "0d-array": onp.array(1), "intp": onp.intp(2), "True": True, "False": False, "np.True_": onp.True_,
    "mask3": onp.array([True, False, True]), "mask4": onp.array([True, False, True, True]),
    "mask3x5": R.uniform(size=(3, 5)) < 0.5, "mask4x3": R.uniform(size=(4, 3)) < 0.5,
    "empty": onp.array([], dtype=onp.intp),
}


def _indices():
    """Every index of one to three atoms that NumPy accepts for an element of shape (4, 3, 5)."""
    import itertools
    import warnings
    x = onp.zeros((4, 3, 5))
    out = []
    for k in (1, 2, 3):
        for combo in itertools.product(INDEX_ATOMS, repeat=k):
            idx = tuple(INDEX_ATOMS[n] for n in combo)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    x[idx]
            except (IndexError, ValueError, TypeError, DeprecationWarning):
                continue
            out.append((",".join(combo), idx))
    return out


INDICES = _indices()
CHUNKS = 12


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_getitem_and_untake_batch_every_index_kind(chunk, fallbacks):
    """Scalar booleans, masks, Ellipsis, None, non-adjacent advanced indices: the batch
    axis stays in front, for indexing and for its transpose ``untake``."""
    from wengert.transforms.batch import vmap_flat
    indexing = importlib.import_module("wengert.numpy.indexing")
    x = _rand(B, 4, 3, 5)
    for name, idx in INDICES[chunk::CHUNKS]:
        expected = onp.stack([x[i][idx] for i in range(B)])
        out = vmap_flat(lambda v: indexing.getitem_p(v, idx), [x], [True], B)
        assert out.shape == expected.shape, name
        onp.testing.assert_array_equal(out, expected, err_msg=name)
        g = _rand(*expected.shape)
        back = vmap_flat(lambda c: indexing.untake(c, idx, (4, 3, 5), onp.float64), [g], [True], B)
        for i in range(B):
            onp.testing.assert_array_equal(back[i], indexing.untake(g[i], idx, (4, 3, 5), onp.float64), err_msg=name)
    assert fallbacks == set()


def test_index_table_covers_the_tricky_kinds():
    names = {n for n, _ in INDICES}
    assert len(INDICES) > 3000
    for n in ("0,:,True", ":,True,[0,2]", "[0,2],:,[0,2]", "None,[0,2],[0,2]", "[0,2],None,[0,2]", "mask4x3",
              "0,mask3x5", "...,mask3x5", "0,...,[0,2]", "np.True_,0,:", "0d-array,:,0d-array"):
        assert n in names, n
