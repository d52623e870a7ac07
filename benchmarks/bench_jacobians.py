"""Jacobian, Hessian and Hessian-vector-product benchmark: wengert side by side with
torch.func, JAX (eager and jitted) and HIPS autograd.

    python benchmarks/bench_jacobians.py            # full run (about a minute on a quiet machine)
    python benchmarks/bench_jacobians.py --quick    # smoke run (10-15 s: imports and JAX compiles)

Workloads (float64)
-------------------
(1) ``jacobian``: the Jacobian of ``y = tanh(W @ x)``, ``x`` in R^200, ``W`` 200 x 200.
    wengert ``jacfwd``, ``jacrev`` and ``jacobian`` (mode='auto'); ``torch.func.jacrev``
    and ``jacfwd``; ``jax.jacrev`` and ``jax.jacfwd``, eager and jitted (the jit
    compile time is reported on its own rows, never mixed into the steady-state
    time); ``autograd.jacobian``; hand-written NumPy (the closed form, and the
    algorithm of a batched reverse-mode Jacobian: the identity basis pulled back through
    tanh, then one n x n x n product). Headline: the best wengert Jacobian /
    ``torch.func.jacrev`` (target: at most 0.5).
(2) ``hessian``: the Hessian of ``sum(tanh(A @ x)**2)``, ``x`` in R^100, ``A`` 100 x 100.
    wengert ``hessian`` (and ``jacrev(jacrev)``, ``jacfwd(jacfwd)`` for reference),
    ``torch.func.hessian``, ``jax.hessian`` eager and jitted, ``autograd.hessian``, the
    hand-written closed form.
    Headline: wengert ``hessian`` / ``torch.func.hessian`` (target: at most 0.5).
(3) ``hvp``: the Hessian-vector product of the same function along a random ``v``.
    wengert ``hvp`` against wengert ``grad`` (target: hvp / grad at most 4), and for
    context the same pair in torch.func (``jvp`` of ``grad``), JAX (eager and jitted)
    and autograd (``hessian_tensor_product``, reverse over reverse), and the hand-written
    closed forms.

Method: as in ``bench_reverse.py``. Every result is first validated (``assert_allclose``)
against a closed-form derivative, against central differences and against every other
contender; then each contender is warmed up, and the timed repeats are interleaved (in
each round every contender runs once, in a rotating order). A repeat is the mean over
``inner`` back-to-back calls with the garbage collector off; because the contenders
here differ in speed by three orders of magnitude, ``inner`` is chosen per contender so
that a block lasts about the same time (``--block``). The table gives the median over
repeats and the interquartile range; ratios are ratios of medians, "paired" is the
median of the per-round ratios. JAX results are waited for (``block_until_ready``)
inside the timed call. The table also gives the minor page faults per call, which flag a
call slowed down by fresh memory (see the README). BLAS, torch and XLA run on one thread
unless ``--threads`` says otherwise. ``--profile`` adds a cProfile summary of the wengert contenders and a census
of the primitives they apply and of the slow fallbacks they hit (``loop_rule`` batching,
JVP rules derived by transposition).
"""
import argparse
import os
import sys

WORKLOADS = ("jacobian", "hessian", "hvp")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "jacobians.md")


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke run of a few seconds")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per workload (default 41, quick 5)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS / torch / XLA threads (default 1); 0 leaves the libraries' defaults")
    p.add_argument("--only", choices=WORKLOADS, action="append", help="run only this workload (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--block", type=float, default=None,
                   help="target duration of one timed block in ms (default 20, quick 2)")
    p.add_argument("--out", default=None,
                   help=f"write the table here (default: {os.path.relpath(DEFAULT_OUT)} for a full run of all "
                        f"workloads, nowhere for --quick or --only; '-' never)")
    p.add_argument("--profile", action="store_true",
                   help="after timing, profile the wengert contenders (cProfile + fallback census)")
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None

try:
    from . import _common  # noqa: E402
except ImportError:  # run as a script: benchmarks/ is on sys.path
    import _common  # noqa: E402

if ARGS is not None:
    # Must happen before NumPy, torch and jax load their thread pools.
    _common.set_thread_env(ARGS.threads)
os.environ.setdefault("JAX_PLATFORMS", "cpu")      # a CPU benchmark: do not probe for accelerators

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as onp  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import wengert  # noqa: E402
import wengert.numpy as wnp  # noqa: E402
from wengert import grad, hessian, hvp, jacfwd, jacobian, jacrev  # noqa: E402

# The peers are imported by ``load_libraries`` (the script loads all three; the suite
# loads only the one its worker process runs). A library that is not installed stays None.
torch = tfunc = jax = jnp = autograd = anp = None
PEERS = ("torch", "jax", "autograd")


def load_libraries(names=PEERS):
    """Import the peers among ``names`` that are installed; returns the ones missing."""
    global torch, tfunc, jax, jnp, autograd, anp
    missing = []
    for name in names:
        try:
            if name == "torch" and torch is None:
                import torch as _torch
                import torch.func as _tfunc
                torch, tfunc = _torch, _tfunc
            elif name == "jax" and jax is None:
                import jax as _jax
                import jax.numpy as _jnp
                _jax.config.update("jax_enable_x64", True)
                jax, jnp = _jax, _jnp
            elif name == "autograd" and autograd is None:
                import autograd as _autograd
                import autograd.numpy as _anp
                autograd, anp = _autograd, _anp
        except ImportError:
            missing.append(name)
    return missing


RTOL, ATOL = 1e-9, 1e-12     # between contenders and against the closed forms (float64)


# -- threads, timing, statistics: shared with bench_reverse.py and the suite (_common.py) --

def limit_threads(n):
    """BLAS/OpenMP pools (threadpoolctl) and torch's intra-op pool to ``n`` threads; the
    environment variables (and XLA_FLAGS for jax) were set before the imports."""
    _common.limit_threads(n, torch)


def _thread_summary():
    return _common.thread_summary(torch, jax)


def interleaved(contenders, repeats, warmup, block):
    """{name: per-call times, one per round}, {name: median page faults per call}: after
    ``warmup`` calls each contender gets an ``inner`` count that makes one block last about
    ``block`` seconds; each round then runs every contender once (one block), starting from
    a different one each round (``_common.interleaved``)."""
    return _common.interleaved(contenders, repeats, warmup, block=block)


median, iqr, paired_ratio = _common.median, _common.iqr, _common.paired_ratio
_fmt, _cell = _common.fmt, _common.cell


# -- contenders -------------------------------------------------------------------------

class Contender:
    """``run()`` is what is timed (it waits for JAX's asynchronous results); ``value()``
    returns the result as a NumPy array, for validation."""

    def __init__(self, tool, label, run, to_numpy=onp.asarray):
        self.tool, self.label, self.run, self._to_numpy = tool, label, run, to_numpy

    def value(self):
        return onp.asarray(self._to_numpy(self.run()), dtype=onp.float64)


def _torch_np(t):
    return t.detach().numpy()


def _jax_call(fn, *args):
    return lambda: jax.block_until_ready(fn(*args))


def jit_compile_times(make, args, n):
    """Compile cost of a jitted JAX function, measured on ``n`` fresh functions (a fresh
    Python function misses every cache): (median first-call time, i.e. trace + lower +
    compile + one run; median XLA compile time alone, from ``lower().compile()``)."""
    first, compile_only = [], []
    for _ in range(n):
        fn = make()
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        first.append(time.perf_counter() - t0)
        lowered = make().lower(*args)
        t0 = time.perf_counter()
        lowered.compile()
        compile_only.append(time.perf_counter() - t0)
    return statistics.median(first), statistics.median(compile_only)


def validate(contenders, reference, what):
    """Every contender against the closed form ``reference`` and against each other."""
    values = {}
    for name, c in contenders.items():
        v = c.value()
        assert v.shape == reference.shape, f"{what}: {name} has shape {v.shape}, expected {reference.shape}"
        assert onp.all(onp.isfinite(v)), f"{what}: {name} is not finite"
        assert_allclose(v, reference, rtol=RTOL, atol=ATOL, err_msg=f"{what}: {name} vs closed form")
        values[name] = v
    names = list(values)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert_allclose(values[a], values[b], rtol=RTOL, atol=ATOL, err_msg=f"{what}: {a} vs {b}")
    return values


# -- problems and closed forms ------------------------------------------------------------

N_JAC, N_HESS = 200, 100


def make_problem(seed, n_jac=None, n_hess=None):
    n_jac, n_hess = n_jac or N_JAC, n_hess or N_HESS
    rng = onp.random.default_rng(seed)
    W = rng.normal(size=(n_jac, n_jac)) / onp.sqrt(n_jac)   # scaled so that tanh is not saturated
    x = rng.normal(size=n_jac)
    A = rng.normal(size=(n_hess, n_hess)) / onp.sqrt(n_hess)
    x2 = rng.normal(size=n_hess)
    v = rng.normal(size=n_hess)
    return W, x, A, x2, v


def jac_closed_form(W, x):
    """d tanh(W x) / dx = diag(1 - tanh^2(W x)) W."""
    return (1.0 - onp.tanh(W @ x) ** 2)[:, None] * W


def loss_np(A, x):
    return float(onp.sum(onp.tanh(A @ x) ** 2))


def grad_closed_form(A, x):
    """d/dx sum(tanh(A x)^2) = A^T [2 t (1 - t^2)], t = tanh(A x)."""
    t = onp.tanh(A @ x)
    return A.T @ (2.0 * t * (1.0 - t * t))


def hess_closed_form(A, x):
    """A^T diag((2 - 6 t^2)(1 - t^2)) A, the derivative of the gradient above."""
    t = onp.tanh(A @ x)
    return A.T @ (((2.0 - 6.0 * t * t) * (1.0 - t * t))[:, None] * A)


def hvp_closed_form(A, x, v):
    """H v without forming H: A^T (s * (A v)), s = (2 - 6 t^2)(1 - t^2)."""
    t = onp.tanh(A @ x)
    return A.T @ ((2.0 - 6.0 * t * t) * (1.0 - t * t) * (A @ v))


def central_difference(f, x, d, eps=1e-6):
    return (f(x + eps * d) - f(x - eps * d)) / (2 * eps)


# -- (1) Jacobian -----------------------------------------------------------------------

def jacobian_contenders(W, x):
    c = {}

    def f_w(x):
        return wnp.tanh(W @ x)
    c["wengert jacfwd"] = Contender("wengert", "`jacfwd`", lambda f=jacfwd(f_w): f(x))
    c["wengert jacrev"] = Contender("wengert", "`jacrev`", lambda f=jacrev(f_w): f(x))
    c["wengert jacobian"] = Contender("wengert", "`jacobian` (mode='auto')", lambda f=jacobian(f_w): f(x))
    if torch is not None:
        Wt, xt = torch.from_numpy(W), torch.from_numpy(x)

        def f_t(x):
            return torch.tanh(Wt @ x)
        c["torch jacrev"] = Contender("torch", "`torch.func.jacrev`", lambda f=tfunc.jacrev(f_t): f(xt), _torch_np)
        c["torch jacfwd"] = Contender("torch", "`torch.func.jacfwd`", lambda f=tfunc.jacfwd(f_t): f(xt), _torch_np)
    compile_rows = []
    if jax is not None:
        Wj, xj = jnp.asarray(W), jnp.asarray(x)

        def make_f_j():                       # a fresh function each time: a cold JIT cache
            def f_j(x, W):
                return jnp.tanh(W @ x)
            return f_j
        for mode, transform in (("jacrev", jax.jacrev), ("jacfwd", jax.jacfwd)):
            c[f"jax {mode}"] = Contender("jax", f"`jax.{mode}` (eager)",
                                         _jax_call(transform(make_f_j()), xj, Wj))
            c[f"jax jit {mode}"] = Contender("jax", f"`jax.jit(jax.{mode})` steady state",
                                             _jax_call(jax.jit(transform(make_f_j())), xj, Wj))
            compile_rows.append((f"jax jit {mode}", f"`jax.jit(jax.{mode})` first call / compile",
                                 lambda transform=transform: jax.jit(transform(make_f_j())), (xj, Wj)))
    if autograd is not None:
        def f_a(x):
            return anp.tanh(W @ x)
        c["autograd jacobian"] = Contender("autograd", "`autograd.jacobian`",
                                           lambda f=autograd.jacobian(f_a): f(x))
    # Hand-written floors, for scale: the closed form, and the algorithm every batched
    # reverse-mode Jacobian above runs (the identity basis pulled back through tanh, then
    # one n x n x n matrix product for W).
    c["numpy basis"] = Contender("numpy", "hand-written, same algorithm: `(I * (1 - t^2)) @ W`",
                                 lambda: numpy_basis_jacobian(W, x))
    c["numpy closed"] = Contender("numpy", "hand-written closed form `(1 - t^2)[:, None] * W`",
                                  lambda: jac_closed_form(W, x))
    return c, compile_rows


def numpy_basis_jacobian(W, x):
    t = onp.tanh(W @ x)
    return (onp.eye(t.shape[0]) * (1.0 - t * t)) @ W


def bench_jacobian(W, x, repeats, warmup, block, n_compile):
    contenders, compile_rows = jacobian_contenders(W, x)
    ref = jac_closed_form(W, x)
    d = onp.random.default_rng(1).normal(size=x.shape)
    assert_allclose(ref @ d, central_difference(lambda y: onp.tanh(W @ y), x, d), rtol=1e-6, atol=1e-9,
                    err_msg="closed-form Jacobian vs central differences")
    validate(contenders, ref, "Jacobian")
    times, faults = interleaved({k: c.run for k, c in contenders.items()}, repeats, warmup, block)
    compiles = [(label, *jit_compile_times(make, args, n_compile)) for _name, label, make, args in compile_rows]
    return contenders, times, faults, compiles


# -- (2) Hessian and (3) HVP: f(x) = sum(tanh(A x)^2) ------------------------------------

def hessian_contenders(A, x):
    c = {}

    def g_w(x):
        return wnp.sum(wnp.tanh(A @ x) ** 2)
    c["wengert hessian"] = Contender("wengert", "`hessian` (jacfwd of jacrev)", lambda f=hessian(g_w): f(x))
    c["wengert jacrev(jacrev)"] = Contender("wengert", "`jacrev(jacrev)` (reference)",
                                            lambda f=jacrev(jacrev(g_w)): f(x))
    c["wengert jacfwd(jacfwd)"] = Contender("wengert", "`jacfwd(jacfwd)` (reference)",
                                            lambda f=jacfwd(jacfwd(g_w)): f(x))
    if torch is not None:
        At, xt = torch.from_numpy(A), torch.from_numpy(x)

        def g_t(x):
            return torch.sum(torch.tanh(At @ x) ** 2)
        c["torch hessian"] = Contender("torch", "`torch.func.hessian`", lambda f=tfunc.hessian(g_t): f(xt), _torch_np)
    compile_rows = []
    if jax is not None:
        Aj, xj = jnp.asarray(A), jnp.asarray(x)

        def make_h_j():
            def g_j(x, A):
                return jnp.sum(jnp.tanh(A @ x) ** 2)
            return jax.hessian(g_j)
        c["jax hessian"] = Contender("jax", "`jax.hessian` (eager)", _jax_call(make_h_j(), xj, Aj))
        c["jax jit hessian"] = Contender("jax", "`jax.jit(jax.hessian)` steady state",
                                         _jax_call(jax.jit(make_h_j()), xj, Aj))
        compile_rows.append(("jax jit hessian", "`jax.jit(jax.hessian)` first call / compile",
                             lambda: jax.jit(make_h_j()), (xj, Aj)))
    if autograd is not None:
        def g_a(x):
            return anp.sum(anp.tanh(A @ x) ** 2)
        c["autograd hessian"] = Contender("autograd", "`autograd.hessian`", lambda f=autograd.hessian(g_a): f(x))
    c["numpy closed"] = Contender("numpy", "hand-written closed form `A.T @ (s[:, None] * A)`",
                                  lambda: hess_closed_form(A, x))
    return c, compile_rows


def bench_hessian(A, x, repeats, warmup, block, n_compile):
    contenders, compile_rows = hessian_contenders(A, x)
    ref = hess_closed_form(A, x)
    d = onp.random.default_rng(2).normal(size=x.shape)
    assert_allclose(ref @ d, central_difference(lambda y: grad_closed_form(A, y), x, d), rtol=1e-6, atol=1e-9,
                    err_msg="closed-form Hessian vs central differences of the closed-form gradient")
    assert_allclose(grad_closed_form(A, x) @ d, central_difference(lambda y: loss_np(A, y), x, d), rtol=1e-6,
                    err_msg="closed-form gradient vs central differences of the loss")
    values = validate(contenders, ref, "Hessian")
    for name, h in values.items():
        assert_allclose(h, h.T, rtol=RTOL, atol=ATOL, err_msg=f"Hessian: {name} is not symmetric")
    times, faults = interleaved({k: c.run for k, c in contenders.items()}, repeats, warmup, block)
    compiles = [(label, *jit_compile_times(make, args, n_compile)) for _name, label, make, args in compile_rows]
    return contenders, times, faults, compiles


def hvp_contenders(A, x, v):
    """Pairs per tool: its Hessian-vector product and its gradient (for the ratio)."""
    hv, gr = {}, {}

    def g_w(x):
        return wnp.sum(wnp.tanh(A @ x) ** 2)
    hv["wengert"] = Contender("wengert", "`hvp`", lambda: hvp(g_w, (x,), (v,)))
    gr["wengert"] = Contender("wengert", "`grad`", lambda f=grad(g_w): f(x))
    compile_rows = []
    if torch is not None:
        At, xt, vt = torch.from_numpy(A), torch.from_numpy(x), torch.from_numpy(v)

        def g_t(x):
            return torch.sum(torch.tanh(At @ x) ** 2)
        g_t_grad = tfunc.grad(g_t)
        hv["torch"] = Contender("torch", "`torch.func.jvp(torch.func.grad(f))`",
                                lambda: tfunc.jvp(g_t_grad, (xt,), (vt,))[1], _torch_np)
        gr["torch"] = Contender("torch", "`torch.func.grad`", lambda: g_t_grad(xt), _torch_np)
    if jax is not None:
        Aj, xj, vj = jnp.asarray(A), jnp.asarray(x), jnp.asarray(v)

        def make_g_j():
            def g_j(x, A):
                return jnp.sum(jnp.tanh(A @ x) ** 2)
            return g_j

        def make_hvp_j():
            g_j_grad = jax.grad(make_g_j())

            def hvp_j(x, A, v):
                return jax.jvp(lambda y: g_j_grad(y, A), (x,), (v,))[1]
            return hvp_j
        hv["jax"] = Contender("jax", "`jax.jvp(jax.grad(f))` (eager)", _jax_call(make_hvp_j(), xj, Aj, vj))
        gr["jax"] = Contender("jax", "`jax.grad` (eager)", _jax_call(jax.grad(make_g_j()), xj, Aj))
        hv["jax jit"] = Contender("jax", "`jax.jit(jax.jvp(jax.grad(f)))` steady state",
                                  _jax_call(jax.jit(make_hvp_j()), xj, Aj, vj))
        gr["jax jit"] = Contender("jax", "`jax.jit(jax.grad)` steady state",
                                  _jax_call(jax.jit(jax.grad(make_g_j())), xj, Aj))
        compile_rows.append(("jax jit hvp", "`jax.jit(jax.jvp(jax.grad(f)))` first call / compile",
                             lambda: jax.jit(make_hvp_j()), (xj, Aj, vj)))
    if autograd is not None:
        def g_a(x):
            return anp.sum(anp.tanh(A @ x) ** 2)
        hv["autograd"] = Contender("autograd", "`autograd.hessian_tensor_product` (rev over rev)",
                                   lambda f=autograd.hessian_tensor_product(g_a): f(x, v))
        gr["autograd"] = Contender("autograd", "`autograd.grad`", lambda f=autograd.grad(g_a): f(x))
    hv["numpy"] = Contender("numpy", "hand-written closed-form HVP `A.T @ (s * (A @ v))`",
                            lambda: hvp_closed_form(A, x, v))
    gr["numpy"] = Contender("numpy", "hand-written closed-form gradient", lambda: grad_closed_form(A, x))
    return hv, gr, compile_rows


def bench_hvp(A, x, v, repeats, warmup, block, n_compile):
    hv, gr, compile_rows = hvp_contenders(A, x, v)
    H, g = hess_closed_form(A, x), grad_closed_form(A, x)
    assert_allclose(H @ v, central_difference(lambda y: grad_closed_form(A, y), x, v), rtol=1e-6, atol=1e-9,
                    err_msg="closed-form HVP vs central differences of the gradient")
    validate(hv, H @ v, "HVP")
    validate(gr, g, "gradient")
    contenders = {f"{k} hvp": c for k, c in hv.items()}
    contenders.update({f"{k} grad": c for k, c in gr.items()})
    times, faults = interleaved({k: c.run for k, c in contenders.items()}, repeats, warmup, block)
    compiles = [(label, *jit_compile_times(make, args, n_compile)) for _name, label, make, args in compile_rows]
    return hv, gr, contenders, times, faults, compiles


# -- profiling wengert: _common.census, kernel_times, profile_wengert ----------------------

census, kernel_times, profile_wengert = _common.census, _common.kernel_times, _common.profile_wengert


# -- report -------------------------------------------------------------------------------

def _versions():
    v = _common.version
    return (f"wengert {wengert.__version__}, torch {v('torch')}, jax {v('jax')} (jaxlib {v('jaxlib')}), "
            f"autograd {v('autograd')}; numpy {onp.__version__}, Python {platform.python_version()}")


def _target(ratio, limit):
    return f"target <= {limit:g}: {'met' if ratio <= limit else 'NOT met'}"


def main(args):
    quick = args.quick
    repeats = args.repeats or (5 if quick else 41)
    warmup = 1 if quick else 5
    block = (args.block if args.block is not None else (2.0 if quick else 20.0)) * 1e-3
    n_compile = 1 if quick else 3
    only = [w for w in WORKLOADS if w in set(args.only or WORKLOADS)]
    load_libraries()
    limit_threads(args.threads)
    W, x, A, x2, v = make_problem(args.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        f"# {_versions()}",
        f"# threads: {_thread_summary()}; {os.cpu_count()} CPUs, load {load:.2f}{' [quick]' if quick else ''}",
        f"# {repeats} interleaved repeats per contender, blocks of ~{block * 1e3:g} ms; median (IQR) of per-call "
        f"times; ratios are ratios of medians, 'paired' the median of per-round ratios; float64",
    ]
    print("\n".join(header) + "\n")
    rows = []
    missing = [name for name, mod in (("torch", torch), ("jax", jax), ("autograd", autograd)) if mod is None]
    if missing:
        print(f"(not installed, skipped: {', '.join(missing)})")
    profiles = []

    def compile_rows(workload, compiles):
        for label, first, comp in compiles:
            rows.append((workload, label, f"{_fmt(first)} first call; {_fmt(comp)} XLA compile", "",
                         "one-off, not in the ratios"))

    def timed_row(workload, label, ts, faults, ratio):
        rows.append((workload, label, _cell(ts), f"{faults:.0f}", ratio))

    if "jacobian" in only:
        c, t, flt, compiles = bench_jacobian(W, x, repeats, warmup, block, n_compile)
        wl = f"(1) Jacobian of tanh(W x), {N_JAC}x{N_JAC}"
        print(f"{wl}: all {len(c)} Jacobians agree with diag(1 - tanh^2(Wx)) W, with each other and with "
              f"central differences")
        med = {k: median(ts) for k, ts in t.items()}
        w_names = [k for k in c if k.startswith("wengert")]
        best = min(w_names, key=med.get)
        ref = "torch jacrev" if "torch jacrev" in c else None
        for k, con in c.items():
            if ref is None:
                ratio = ""
            elif k == ref:
                ratio = "1 (reference)"
            elif k == best:
                r = med[k] / med[ref]
                ratio = (f"**{r:.3f}** x torch.func.jacrev (paired {paired_ratio(t[k], t[ref]):.3f}; best wengert; "
                         f"{_target(r, 0.5)}); {med[k] / med['numpy basis']:.2f} x the same algorithm in NumPy")
            else:
                ratio = f"{med[k] / med[ref]:.3f} x torch.func.jacrev"
                if k in w_names:
                    ratio += f" (paired {paired_ratio(t[k], t[ref]):.3f})"
            timed_row(wl, f"{con.tool} {con.label}", t[k], flt[k], ratio)
        compile_rows(wl, compiles)
        for k in w_names:
            profiles.append((f"(1) wengert {c[k].label}", c[k].run, med[k]))

    if "hessian" in only:
        c, t, flt, compiles = bench_hessian(A, x2, repeats, warmup, block, n_compile)
        wl = f"(2) Hessian of sum(tanh(A x)^2), {N_HESS}x{N_HESS}"
        print(f"{wl}: all {len(c)} Hessians agree with A^T diag((2 - 6t^2)(1 - t^2)) A, with each other, are "
              f"symmetric, and match central differences of the gradient")
        med = {k: median(ts) for k, ts in t.items()}
        ref = "torch hessian" if "torch hessian" in c else None
        for k, con in c.items():
            if ref is None:
                ratio = ""
            elif k == ref:
                ratio = "1 (reference)"
            elif k == "wengert hessian":
                r = med[k] / med[ref]
                ratio = (f"**{r:.3f}** x torch.func.hessian (paired {paired_ratio(t[k], t[ref]):.3f}; "
                         f"{_target(r, 0.5)})")
            else:
                ratio = f"{med[k] / med[ref]:.3f} x torch.func.hessian"
                if k.startswith("wengert"):
                    ratio += f" (paired {paired_ratio(t[k], t[ref]):.3f})"
            timed_row(wl, f"{con.tool} {con.label}", t[k], flt[k], ratio)
        compile_rows(wl, compiles)
        for k in c:
            if k.startswith("wengert"):
                profiles.append((f"(2) wengert {c[k].label}", c[k].run, med[k]))

    if "hvp" in only:
        hv, gr, c, t, flt, compiles = bench_hvp(A, x2, v, repeats, warmup, block, n_compile)
        wl = f"(3) HVP of sum(tanh(A x)^2), n = {N_HESS}"
        print(f"{wl}: all {len(hv)} HVPs agree with H v and with central differences of the gradient; "
              f"all {len(gr)} gradients agree")
        med = {k: median(ts) for k, ts in t.items()}
        for tool in hv:
            h, g = f"{tool} hvp", f"{tool} grad"
            r, p = med[h] / med[g], paired_ratio(t[h], t[g])
            if tool == "wengert":
                timed_row(wl, f"wengert {gr[tool].label}", t[g], flt[g], "1 (reference)")
                timed_row(wl, f"wengert {hv[tool].label}", t[h], flt[h],
                          f"**{r:.3f}** x wengert grad (paired {p:.3f}; {_target(r, 4)})")
            else:
                timed_row(wl, f"{gr[tool].tool} {gr[tool].label}", t[g], flt[g],
                          f"{med[g] / med['wengert grad']:.3f} x wengert grad")
                timed_row(wl, f"{hv[tool].tool} {hv[tool].label}", t[h], flt[h],
                          f"{r:.3f} x its own grad (paired {p:.3f}); {med[h] / med['wengert hvp']:.3f} x "
                          f"wengert hvp")
        compile_rows(wl, compiles)
        profiles.append(("(3) wengert `hvp`", hv["wengert"].run, med["wengert hvp"]))
        profiles.append(("(3) wengert `grad`", gr["wengert"].run, med["wengert grad"]))

    table = ["| workload | contender | median time (IQR) | page faults / call | ratio |", "|---|---|---|---:|---|"]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    print()
    print("\n".join(table))

    out = args.out
    if out is None:
        out = DEFAULT_OUT if not quick and args.only is None else "-"
    if out != "-":
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w", encoding="utf-8") as fh:
            fh.write("# Jacobians, Hessians and HVPs: wengert vs torch.func, JAX, autograd\n\n")
            fh.write("Written by `python benchmarks/bench_jacobians.py " + " ".join(sys.argv[1:]) + "`.\n\n")
            fh.write("```\n" + "\n".join(header) + "\n```\n\n")
            fh.write("\n".join(table) + "\n")
        print(f"\n(table written to {out if args.out else os.path.relpath(out)})")

    if args.profile:
        for label, fn, unprofiled in profiles:
            fn()
            profile_wengert(label, fn, calls=10 if quick else 50, unprofiled=unprofiled)
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
