"""Reverse-mode benchmark: wengert side by side with HIPS autograd and hand-written NumPy.

    python benchmarks/bench_reverse.py            # full run (about a minute)
    python benchmarks/bench_reverse.py --quick    # short run (a few seconds)

Workloads
---------
(a) ``logistic``: the scalar loop ``x <- 4 x (1 - x)`` iterated 1000 times (3000
    primitive operations on Python floats), differentiated with ``grad``. This measures
    the per-operation overhead of the tape: reported as microseconds per primitive
    operation for wengert and autograd, and their ratio (target: wengert <= 0.25x
    autograd).
(b) ``mlp``: the softmax cross-entropy loss of a 784-256-256-10 tanh MLP on a batch of
    128, differentiated with ``value_and_grad`` over a dict of parameters, in float64 and
    in float32 (``--dtype`` picks one). Compared with a hand-written NumPy forward pass +
    backpropagation (the floor any AD tool can hope for) and with autograd (target:
    wengert <= 1.1x hand-written, in both precisions). A tiny MLP of the same shape
    (8-8-8-4, batch 4: the arithmetic is negligible) measures the fixed cost the tape
    adds per call: wengert minus hand-written.

Method: every gradient is first validated against the others (``assert_allclose``:
wengert vs autograd vs the analytic/hand-written gradient); then each contender is
warmed up, and the timed repeats are interleaved (in each round every contender runs
once, in a rotating order) so that drifts in machine load hit all of them alike. A
repeat is the mean over ``inner`` calls, timed with the garbage collector off (as
``timeit`` does); the table reports the median over repeats and the interquartile
range. BLAS runs on one thread unless ``--threads`` says otherwise, which keeps the
matrix products comparable and the numbers stable on a shared machine.
"""
import argparse
import os
import sys


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke run of a few seconds")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per workload (default 41, quick 7)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1); 0 leaves the default")
    p.add_argument("--only", choices=("logistic", "mlp"), action="append",
                   help="run only this workload (repeatable)")
    p.add_argument("--dtype", choices=("float64", "float32"), action="append",
                   help="MLP precision (repeatable; default both)")
    p.add_argument("--no-tiny", action="store_true", help="skip the tiny-MLP fixed-overhead row")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None

try:
    from . import _common  # noqa: E402
except ImportError:  # run as a script: benchmarks/ is on sys.path
    import _common  # noqa: E402

if ARGS is not None:
    _common.set_thread_env(ARGS.threads, xla=False)     # must happen before NumPy loads its BLAS

import platform  # noqa: E402

import numpy as onp  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402
from autograd.tracer import getval as ag_getval  # noqa: E402

import wengert  # noqa: E402
import wengert.numpy as wnp  # noqa: E402
from wengert import grad, stop_gradient, value_and_grad  # noqa: E402

try:
    from .workloads import make_mlp_hand, mlp_problem as _mlp_problem  # noqa: E402
except ImportError:
    from workloads import make_mlp_hand, mlp_problem as _mlp_problem  # noqa: E402


# -- timing (_common.py, shared with bench_jacobians.py and the suite) ----------------------

def interleaved(contenders, repeats, warmup, inner):
    """{name: per-call times, one per round}. Each round runs every contender once (one
    block of ``inner`` calls), starting from a different contender each round."""
    return _common.interleaved(contenders, repeats, warmup, inner=inner)[0]


median, paired_ratio, iqr = _common.median, _common.paired_ratio, _common.iqr


# -- (a) logistic map -----------------------------------------------------------------

N_ITER = 1000
OPS_PER_ITER = 3        # 4.0 * x, 1.0 - x, and their product


def logistic(x):
    for _ in range(N_ITER):
        x = 4.0 * x * (1.0 - x)
    return x


def logistic_analytic(x):
    """d/dx0 of the 1000th iterate: the chain-rule product of 4 (1 - 2 x_k)."""
    d = 1.0
    for _ in range(N_ITER):
        d *= 4.0 * (1.0 - 2.0 * x)
        x = 4.0 * x * (1.0 - x)
    return d


def bench_logistic(repeats, warmup, inner, x0=0.3):
    g_w = grad(logistic)
    g_a = autograd.grad(logistic)
    dw, da, dref = g_w(x0), g_a(x0), logistic_analytic(x0)
    assert onp.isfinite(dw), dw
    assert_allclose(dw, da, rtol=1e-12, err_msg="wengert vs autograd (logistic)")
    assert_allclose(dw, dref, rtol=1e-9, err_msg="wengert vs analytic chain rule (logistic)")
    times = interleaved({"plain": lambda: logistic(x0), "wengert": lambda: g_w(x0),
                         "autograd": lambda: g_a(x0)}, repeats, warmup, inner)
    n_ops = N_ITER * OPS_PER_ITER
    per_op = {k: median(v) / n_ops for k, v in times.items()}
    return {"grad": dw, "times": times, "per_op": per_op, "n_ops": n_ops,
            "ratio": per_op["wengert"] / per_op["autograd"],
            "paired": paired_ratio(times["wengert"], times["autograd"])}


# -- (b) MLP ----------------------------------------------------------------------------

SIZES = (784, 256, 256, 10)
BATCH = 128


TINY_SIZES = (8, 8, 8, 4)
TINY_BATCH = 4


def mlp_problem(seed, dtype=onp.float64, sizes=SIZES, batch=BATCH):
    return _mlp_problem(seed, sizes, batch, dtype)


def make_mlp_loss(xp, const, X, Y):
    """The same loss for wengert (xp=wengert.numpy) and autograd (xp=autograd.numpy).
    ``const`` strips the trace: the max subtracted for stability is a constant shift."""
    n = X.shape[0]

    def loss(p):
        h = xp.tanh(X @ p["W0"] + p["b0"])
        h = xp.tanh(h @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        s = z - const(z).max(axis=1, keepdims=True)
        logp = s - xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))
        return -xp.sum(Y * logp) / n
    return loss


_TOL = {onp.dtype(onp.float64): dict(loss=1e-12, rtol=1e-9, fd=1e-6),
        onp.dtype(onp.float32): dict(loss=1e-5, rtol=1e-3, fd=1e-3)}


def bench_mlp(repeats, warmup, inner, seed, dtype=onp.float64, sizes=SIZES, batch=BATCH, with_autograd=True):
    dtype = onp.dtype(dtype)
    tol = _TOL[dtype]
    params, X, Y = mlp_problem(seed, dtype, sizes, batch)
    forward, hand = make_mlp_hand(X, Y)
    vg_w = value_and_grad(make_mlp_loss(wnp, stop_gradient, X, Y))
    vg_a = autograd.value_and_grad(make_mlp_loss(anp, ag_getval, X, Y))

    (lh, gh), (lw, gw), (la, ga) = hand(params), vg_w(params), vg_a(params)
    assert set(gw) == set(params) and all(gw[k].shape == params[k].shape for k in params)
    assert all(gw[k].dtype == dtype for k in params), {k: g.dtype for k, g in gw.items()}
    assert_allclose(lw, lh, rtol=tol["loss"], err_msg="loss: wengert vs hand-written")
    assert_allclose(la, lh, rtol=tol["loss"], err_msg="loss: autograd vs hand-written")
    assert_allclose(forward(params), lh, rtol=tol["loss"])
    for k in params:
        scale = float(onp.max(onp.abs(gh[k])))
        assert_allclose(gw[k], gh[k], rtol=tol["rtol"], atol=tol["rtol"] * 1e-3 * scale,
                        err_msg=f"d/d{k}: wengert vs hand-written")
        assert_allclose(ga[k], gh[k], rtol=tol["rtol"], atol=tol["rtol"] * 1e-3 * scale,
                        err_msg=f"d/d{k}: autograd vs hand-written")
    # An independent spot check of the shared gradient: central differences along a random
    # direction, in float64 (the same problem; float32 differences would be all rounding).
    p64 = {k: a.astype(onp.float64) for k, a in params.items()}
    forward64 = make_mlp_hand(X.astype(onp.float64), Y.astype(onp.float64))[0]
    rng = onp.random.default_rng(seed + 1)
    v = {k: rng.normal(size=a.shape) for k, a in params.items()}
    eps = 1e-6
    fd = (forward64({k: p64[k] + eps * v[k] for k in params})
          - forward64({k: p64[k] - eps * v[k] for k in params})) / (2 * eps)
    dd = sum(float(onp.sum(gw[k].astype(onp.float64) * v[k])) for k in params)
    assert_allclose(dd, fd, rtol=tol["fd"], err_msg="directional derivative vs central differences")

    contenders = {"forward": lambda: forward(params), "hand": lambda: hand(params),
                  "wengert": lambda: vg_w(params)}
    if with_autograd:
        contenders["autograd"] = lambda: vg_a(params)
    times = interleaved(contenders, repeats, warmup, inner)
    med = {k: median(v) for k, v in times.items()}
    out = {"loss": lh, "times": times, "median": med, "dtype": dtype,
           "ratio_hand": med["wengert"] / med["hand"],
           "paired_hand": paired_ratio(times["wengert"], times["hand"]),
           "overhead": med["wengert"] - med["hand"],
           "paired_overhead": median([w - h for w, h in zip(times["wengert"], times["hand"])])}
    if with_autograd:
        out.update(ratio_autograd=med["wengert"] / med["autograd"],
                   paired_autograd=paired_ratio(times["wengert"], times["autograd"]))
    return out


# -- report -----------------------------------------------------------------------------

def _fmt(seconds, unit):
    scale = {"us": 1e6, "ms": 1e3}[unit]
    return f"{seconds * scale:.3g} {'µs' if unit == 'us' else 'ms'}"


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return ",".join(str(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas") or "?"
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS", "default")


def main(args):
    quick = args.quick
    repeats = args.repeats or (7 if quick else 41)
    only = set(args.only or ("logistic", "mlp"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# wengert {wengert.__version__} vs autograd {_version('autograd')} "
          f"(numpy {onp.__version__}, Python {platform.python_version()}, BLAS threads {_blas_threads()}, "
          f"{os.cpu_count()} CPUs, load {load:.2f}){' [quick]' if quick else ''}")
    print(f"# {repeats} interleaved repeats per contender; median (IQR) of per-call times; ratios are ratios")
    print("# of medians, 'paired' is the median of the per-round ratios\n")

    rows = []
    if "logistic" in only:
        r = bench_logistic(repeats, warmup=2 if quick else 5, inner=1 if quick else 3)
        po, t = r["per_op"], r["times"]
        n = r["n_ops"]
        print(f"(a) logistic map, {N_ITER} iterations = {n} primitive ops, grad at x0 = 0.3: "
              f"d x_{N_ITER}/d x0 = {r['grad']:.6e} (wengert == autograd == chain-rule product)")
        rows.append(("(a) logistic: plain Python forward", f"{_fmt(median(t['plain']), 'us')} total",
                     f"{_fmt(po['plain'], 'us')}/op", ""))
        rows.append(("(a) logistic: autograd `grad`", f"{_fmt(median(t['autograd']), 'ms')} "
                     f"(IQR {_fmt(iqr(t['autograd']), 'ms')})", f"{_fmt(po['autograd'], 'us')}/op", "1"))
        rows.append(("(a) logistic: wengert `grad`", f"{_fmt(median(t['wengert']), 'ms')} "
                     f"(IQR {_fmt(iqr(t['wengert']), 'ms')})", f"{_fmt(po['wengert'], 'us')}/op",
                     f"**{r['ratio']:.3f}** x autograd (paired {r['paired']:.3f}; target <= 0.25: "
                     f"{'met' if r['ratio'] <= 0.25 else 'NOT met'})"))
    if "mlp" in only:
        for dtype in args.dtype or ("float64", "float32"):
            r = bench_mlp(repeats, warmup=2 if quick else 5, inner=1 if quick else 2, seed=args.seed, dtype=dtype)
            m, t = r["median"], r["times"]
            print(f"(b) MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {dtype}, tanh, softmax cross-entropy: "
                  f"loss {r['loss']:.6f}; gradients agree (hand-written == wengert == autograd, "
                  f"and central differences)")
            label = "(b) MLP: " if dtype == "float64" else f"(b) MLP {dtype}: "
            rows.append((label + "hand-written NumPy forward only", f"{_fmt(m['forward'], 'ms')} "
                         f"(IQR {_fmt(iqr(t['forward']), 'ms')})", "", f"{m['forward'] / m['hand']:.2f} x hand"))
            rows.append((label + "hand-written NumPy forward + backprop", f"{_fmt(m['hand'], 'ms')} "
                         f"(IQR {_fmt(iqr(t['hand']), 'ms')})", "", "1"))
            rows.append((label + "autograd `value_and_grad`", f"{_fmt(m['autograd'], 'ms')} "
                         f"(IQR {_fmt(iqr(t['autograd']), 'ms')})", "", f"{m['autograd'] / m['hand']:.3f} x hand"))
            rows.append((label + "wengert `value_and_grad`", f"{_fmt(m['wengert'], 'ms')} "
                         f"(IQR {_fmt(iqr(t['wengert']), 'ms')})", "",
                         f"**{r['ratio_hand']:.3f}** x hand (paired {r['paired_hand']:.3f}; target <= 1.1: "
                         f"{'met' if r['ratio_hand'] <= 1.1 else 'NOT met'}); "
                         f"{r['ratio_autograd']:.3f} x autograd (paired {r['paired_autograd']:.3f})"))
        if not args.no_tiny:
            # The arithmetic of a tiny MLP is negligible: wengert minus hand-written is the
            # fixed cost of the tape (dispatch of the recorded and backward operations).
            r = bench_mlp(repeats, warmup=2 if quick else 5, inner=10 if quick else 50, seed=args.seed,
                          sizes=TINY_SIZES, batch=TINY_BATCH, with_autograd=False)
            m, t = r["median"], r["times"]
            print(f"(b) tiny MLP {'-'.join(map(str, TINY_SIZES))}, batch {TINY_BATCH}, float64: the fixed cost "
                  f"of the tape per value_and_grad call")
            rows.append(("(b) tiny MLP: hand-written NumPy forward + backprop", f"{_fmt(m['hand'], 'us')} "
                         f"(IQR {_fmt(iqr(t['hand']), 'us')})", "", "1"))
            rows.append(("(b) tiny MLP: wengert `value_and_grad`", f"{_fmt(m['wengert'], 'us')} "
                         f"(IQR {_fmt(iqr(t['wengert']), 'us')})", "",
                         f"fixed cost {_fmt(r['overhead'], 'us')} per call (paired {_fmt(r['paired_overhead'], 'us')})"))

    print()
    print("| workload | median time (IQR) | per op | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


_version = _common.version


if __name__ == "__main__":
    sys.exit(main(ARGS))
