"""Memory benchmark: the plain tape against checkpointing, on a long loop.

    python benchmarks/bench_memory.py            # full run: n = 10,000 steps (about half an hour on one core)
    python benchmarks/bench_memory.py --quick    # smoke run: n = 1,000 steps, 3 repeats (a minute or two)

Workload
--------
``x <- sin(W @ x) * 0.5`` iterated ``n`` times, ``x`` in R^500 (float64), ``W = 2 G / sqrt(500)``
with ``G`` standard normal (the map is then close to neutral: the gradient neither vanishes
nor explodes over 10,000 steps), loss ``sum(x_n)``. Two gradients:

- ``x0``: with respect to the initial state (``W`` a constant);
- ``x0, W``: with respect to the initial state and ``W``, which the step closes over.

Contenders, all computing the same gradient with ``wengert.grad``:

- ``plain tape``: the Python loop, every step recorded;
- ``segments``: ``checkpoint`` of ``sqrt(n)`` segments of ``sqrt(n)`` steps each (the tape keeps
  the segments' inputs; the backward pass re-runs one segment at a time under a tape);
- ``revolve s``: ``checkpoint_loop(step, x0, n, snapshots=s)`` for s = 10 and 20 (binomial
  checkpointing: at most s carries kept, the optimal number of step re-runs);
- ``hand-written``: the same gradient in plain NumPy, forward and backward written by hand (not a
  contender: the cost of a tape with no overhead at all);
- ``hand-written revolve s``: revolve's schedule (``revolve_schedule``) carried out in plain NumPy,
  each turn one step forward and backward by hand (not a contender: the cost of revolve with a
  tape of no overhead, the floor any implementation of that schedule meets);
- ``forward only``: the loop on plain NumPy, no derivative, for scale.

Method
------
- **Validation first.** Every contender's gradient is compared with the plain tape's
  (``assert_allclose``, rtol 1e-12, and atol 1e-12 times the largest element: the cotangent of
  ``W`` is a sum over steps, which some contenders add up in another order), and the plain
  tape's directional derivative along a random direction with a central difference (rtol 1e-5).
- **Memory.** Each contender runs once under ``tracemalloc`` (NumPy reports its array buffers to
  it): the peak of traced memory during the ``grad`` call minus what was allocated before it,
  the returned gradient included. The same run counts the evaluations of ``step``.
- **Time.** Separate runs without ``tracemalloc``: after a warm-up, ``--repeats`` rounds, each
  running every contender once in an order that rotates from round to round, with the garbage
  collector off during a call (as ``timeit`` does). The table gives medians and the
  interquartile range; "paired" is the median over rounds of the ratio to the plain tape in
  the same round, which is less sensitive to load that drifts between rounds.
- **Where revolve's time goes.** From the same rounds: ``a`` = forward only / n (one step on plain
  arrays), ``p`` = plain tape / n (one taped step and its backward pass). Revolve runs
  ``t(n, s)`` untaped steps and ``n`` turns (one taped step and its backward pass each), so
  ``b = (time - t a) / n`` is one turn with every other cost of revolve, and turns as cheap as the
  plain tape's steps (``b = p``) would give the ratio ``1 + (t/n)(a/p)``, set by the evaluation
  count alone. The hand-written revolve measures the floor: turns at no overhead (a
  hand-written turn costs less than ``h`` = hand-written / n, since it needs neither the
  step's output nor to store anything).
- **One BLAS thread** by default (``--threads``), set before NumPy is imported.

A full run (default ``n``, both gradients) writes its tables to ``benchmarks/results/memory.md``;
``--quick`` and other sizes write nothing unless ``--out`` is given.
"""
import argparse
import os
import sys


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="n = 1000 and 3 repeats: a smoke run")
    p.add_argument("--n", type=int, default=None, help="number of steps (default 10000, quick 1000)")
    p.add_argument("--dim", type=int, default=500, help="size of x (default 500)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 7, quick 3)")
    p.add_argument("--snapshots", type=int, nargs="+", default=[10, 20], help="revolve snapshot counts")
    p.add_argument("--only", choices=("x0", "x0W"), action="append", help="run only this gradient (repeatable)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1); 0 leaves the default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="where the Markdown tables go ('-': nowhere)")
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads > 0:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import functools  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as onp  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import wengert  # noqa: E402
import wengert.numpy as np  # noqa: E402
from wengert import grad  # noqa: E402
from wengert.transforms.checkpoint import checkpoint, checkpoint_loop, revolve_evaluations, revolve_schedule  # noqa: E402

MB = 1024.0 ** 2


# -- the contenders ------------------------------------------------------------------------------

def _loop(step, x, n):
    for _ in range(n):
        x = step(x)
    return x


def plain_tape(step, x, n):
    return _loop(step, x, n)


def segments(step, x, n):
    k = max(1, int(round(math.sqrt(n))))
    seg = checkpoint(lambda x, m: _loop(step, x, m))
    done = 0
    while done < n:
        m = min(k, n - done)
        x = seg(x, m)
        done += m
    return x


def revolve(s):
    def run(step, x, n):
        return checkpoint_loop(step, x, n, snapshots=s)
    run.__name__ = f"revolve s={s}"
    return run


def make_gradient(method, n, wrt, counter=None):
    """The gradient function of ``sum(loop(x0))`` for one contender."""
    def make_step(w):
        if counter is None:
            return lambda x: np.sin(w @ x) * 0.5

        def step(x):
            counter[0] += 1
            return np.sin(w @ x) * 0.5
        return step

    if wrt == "x0":
        def g(x0, w):
            return grad(lambda x: np.sum(method(make_step(w), x, n)))(x0)
    else:
        def g(x0, w):
            return grad(lambda x, w: np.sum(method(make_step(w), x, n)), argnums=(0, 1))(x0, w)
    return g


def forward_only(x0, w, n):
    x = x0
    for _ in range(n):
        x = onp.sin(w @ x) * 0.5
    return onp.sum(x)


def hand_written(x0, w, n, wrt):
    """The same gradient in plain NumPy, forward and backward written by hand: the cost of a
    tape with no overhead at all (it keeps each step's pre-activation, and x for W)."""
    d = x0.shape[0]
    ys = onp.empty((n, d))
    xs = onp.empty((n, d)) if wrt == "x0W" else None
    x = x0
    for i in range(n):
        if xs is not None:
            xs[i] = x
        y = w @ x
        ys[i] = y
        x = onp.sin(y) * 0.5
    g = onp.ones(d)
    for i in range(n - 1, -1, -1):
        gy = onp.cos(ys[i]) * (0.5 * g)
        ys[i] = gy                          # (reused: the cotangents of y, for W's)
        g = gy @ w
    return g if xs is None else (g, ys.T @ xs)


def hand_revolve(s):
    """revolve with ``s`` snapshots written by hand in NumPy: the schedule ``checkpoint_loop``
    runs (``revolve_schedule``), untaped steps as in ``forward_only``, and each turn one step's
    forward and backward pass by hand (no ``sin``: the turn needs only ``cos`` of the
    pre-activation). The cost of revolve with a tape of no overhead at all. W's cotangent, a
    sum of one outer product per step, is formed in blocks of ``_BLOCK`` terms by one matrix
    product each (as wengert's ``LowRank`` does)."""
    def run(x0, w, n, wrt):
        d = x0.shape[0]
        snaps = {0: x0}
        x, g = x0, onp.ones(d)
        gys = xs = gw = None
        if wrt == "x0W":
            gys, xs, gw, k = onp.empty((_BLOCK, d)), onp.empty((_BLOCK, d)), onp.zeros((d, d)), 0
        for action in revolve_schedule(n, s):
            kind = action[0]
            if kind == "advance":
                for _ in range(action[1], action[2]):
                    x = onp.sin(w @ x) * 0.5
            elif kind == "turn":
                gy = onp.cos(w @ x) * (0.5 * g)
                g = gy @ w
                if gys is not None:
                    gys[k], xs[k] = gy, x
                    k += 1
                    if k == _BLOCK:
                        gw += gys.T @ xs
                        k = 0
            elif kind == "store":
                snaps[action[1]] = x
            elif kind == "restore":
                x = snaps[action[1]]
            else:
                del snaps[action[1]]
        if gys is None:
            return g
        gw += gys[:k].T @ xs[:k]
        return g, gw
    run.__name__ = f"hand-written revolve s={s}"
    return run


_BLOCK = 125


# -- measurements ---------------------------------------------------------------------------------

def peak_memory(fun, *args):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fun(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def timed(fun, *args):
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter()
        fun(*args)
        return time.perf_counter() - t
    finally:
        gc.enable()


def _flat(g):
    return g if isinstance(g, onp.ndarray) else onp.concatenate([onp.ravel(a) for a in g])


def run_workload(wrt, n, d, repeats, snapshot_counts, rng):
    w = 2.0 * rng.standard_normal((d, d)) / math.sqrt(d)
    x0 = rng.standard_normal(d)
    methods = [("plain tape", plain_tape), ("segments", segments)] + \
              [(f"revolve s={s}", revolve(s)) for s in snapshot_counts]
    expected_evals = {"plain tape": n, "segments": 2 * n}
    for s in snapshot_counts:
        expected_evals[f"revolve s={s}"] = revolve_evaluations(n, s)

    print(f"\n== gradient with respect to {wrt.replace('x0W', 'x0, W')}: n = {n}, dim = {d} ==", flush=True)
    # validation
    t = time.perf_counter()
    ref = make_gradient(plain_tape, n, wrt)(x0, w)
    v = rng.standard_normal(d)
    h = 1e-6
    fd = (forward_only(x0 + h * v, w, n) - forward_only(x0 - h * v, w, n)) / (2 * h)
    g_x0 = ref if wrt == "x0" else ref[0]
    assert_allclose(g_x0 @ v, fd, rtol=1e-5)
    print(f"validated: plain tape vs central difference, directional derivative {g_x0 @ v:.6e} vs {fd:.6e} "
          f"(|grad x0| = {onp.linalg.norm(g_x0):.3e})", flush=True)
    hand = hand_written(x0, w, n, wrt)
    assert_allclose(_flat(hand), _flat(ref), rtol=1e-10, atol=1e-10 * onp.max(onp.abs(_flat(ref))))
    print(f"validated: hand-written vs plain tape, max relative difference "
          f"{onp.max(onp.abs(_flat(hand) - _flat(ref))) / onp.max(onp.abs(_flat(ref))):.1e}", flush=True)
    for s in snapshot_counts:
        got = hand_revolve(s)(x0, w, n, wrt)
        assert_allclose(_flat(got), _flat(ref), rtol=1e-10, atol=1e-10 * onp.max(onp.abs(_flat(ref))))
        print(f"validated: hand-written revolve s={s} vs plain tape, max relative difference "
              f"{onp.max(onp.abs(_flat(got) - _flat(ref))) / onp.max(onp.abs(_flat(ref))):.1e}", flush=True)
    for name, method in methods[1:]:
        got = make_gradient(method, n, wrt)(x0, w)
        # same operations, except that cotangents of W are summed in another order: equal to rounding
        assert_allclose(_flat(got), _flat(ref), rtol=1e-12, atol=1e-12 * onp.max(onp.abs(_flat(ref))))
        err = onp.max(onp.abs(_flat(got) - _flat(ref))) / onp.max(onp.abs(_flat(ref)))
        print(f"validated: {name} vs plain tape, max relative difference {err:.1e}", flush=True)
    print(f"(validation took {time.perf_counter() - t:.0f} s)", flush=True)

    # memory and evaluation counts
    rows = {}
    fwd_peak = peak_memory(forward_only, x0, w, n)
    hand_peak = peak_memory(hand_written, x0, w, n, wrt)
    for name, method in methods:
        counter = [0]
        peak = peak_memory(make_gradient(method, n, wrt, counter), x0, w)
        assert counter[0] == expected_evals[name], (name, counter[0], expected_evals[name])
        rows[name] = {"peak": peak, "evals": counter[0]}
        print(f"{name:>14}: peak {peak / MB:9.2f} MB, {counter[0]} step evaluations", flush=True)
    print(f"{'hand-written':>14}: peak {hand_peak / MB:9.2f} MB", flush=True)
    print(f"{'forward only':>14}: peak {fwd_peak / MB:9.2f} MB", flush=True)
    rows["hand-written"] = {"peak": hand_peak, "evals": n}
    for s in snapshot_counts:
        name = f"hand-written revolve s={s}"
        peak = peak_memory(hand_revolve(s), x0, w, n, wrt)
        rows[name] = {"peak": peak, "evals": revolve_evaluations(n, s)}
        print(f"{name:>14}: peak {peak / MB:9.2f} MB", flush=True)

    # time: interleaved rounds
    funcs = [(name, make_gradient(method, n, wrt)) for name, method in methods]
    funcs.append(("hand-written", lambda x0, w: hand_written(x0, w, n, wrt)))
    for s in snapshot_counts:
        funcs.append((f"hand-written revolve s={s}", functools.partial(hand_revolve(s), n=n, wrt=wrt)))
    funcs.append(("forward only", lambda x0, w: forward_only(x0, w, n)))
    for _, f in funcs:                                     # warm-up
        f(x0, w)
    times = {name: [] for name, _ in funcs}
    for r in range(repeats):
        order = funcs[r % len(funcs):] + funcs[:r % len(funcs)]
        for name, f in order:
            times[name].append(timed(f, x0, w))
        print(f"round {r + 1}/{repeats}: " + ", ".join(f"{name} {times[name][-1]:.2f} s" for name, _ in funcs),
              flush=True)
    return rows, times, fwd_peak


def _quartiles(xs):
    q1, med, q3 = onp.percentile(xs, [25, 50, 75])
    return med, q1, q3


def table(wrt, n, d, rows, times, fwd_peak, snapshot_counts):
    k = max(1, int(round(math.sqrt(n))))
    kept = {"plain tape": f"tape of all {n} steps",
            "segments": f"{math.ceil(n / k)} segment inputs + tape of {k} steps"}
    for s in snapshot_counts:
        kept[f"revolve s={s}"] = f"{s} carries + tape of 1 step"
    kept["hand-written"] = "each step's W x (and x)"
    base_peak = rows["plain tape"]["peak"]
    base_t = onp.median(times["plain tape"])
    lines = [f"Gradient with respect to **{wrt.replace('x0W', 'x0 and W')}**, n = {n:,} steps, x in R^{d}:", "",
             "| method | kept for the backward pass | step evaluations | peak memory | memory / plain | "
             "time (median) | IQR | time / plain | paired |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in rows:
        if name.startswith("hand-written"):
            continue
        med, q1, q3 = _quartiles(times[name])
        paired = onp.median([a / b for a, b in zip(times[name], times["plain tape"])])
        peak = rows[name]["peak"]
        lines.append(f"| {name} | {kept[name]} | {rows[name]['evals']:,} | {peak / MB:.2f} MB | "
                     f"1/{base_peak / peak:.0f} | {med:.2f} s | {q1:.2f}-{q3:.2f} | {med / base_t:.2f}x | "
                     f"{paired:.2f}x |" if name != "plain tape" else
                     f"| {name} | {kept[name]} | {rows[name]['evals']:,} | {peak / MB:.2f} MB | 1 | {med:.2f} s | "
                     f"{q1:.2f}-{q3:.2f} | 1 | 1 |")
    med, q1, q3 = _quartiles(times["hand-written"])
    paired = onp.median([a / b for a, b in zip(times["hand-written"], times["plain tape"])])
    lines.append(f"| hand-written (NumPy, forward and backward by hand) | {kept['hand-written']} | {n:,} | "
                 f"{rows['hand-written']['peak'] / MB:.2f} MB | - | {med:.2f} s | {q1:.2f}-{q3:.2f} | "
                 f"{med / base_t:.2f}x | {paired:.2f}x |")
    for s in snapshot_counts:
        name = f"hand-written revolve s={s}"
        med, q1, q3 = _quartiles(times[name])
        paired = onp.median([a / b for a, b in zip(times[name], times["plain tape"])])
        lines.append(f"| {name} (NumPy, same schedule, turns by hand) | {s} carries | {rows[name]['evals']:,} | "
                     f"{rows[name]['peak'] / MB:.2f} MB | 1/{base_peak / rows[name]['peak']:.0f} | {med:.2f} s | "
                     f"{q1:.2f}-{q3:.2f} | {med / base_t:.2f}x | {paired:.2f}x |")
    med, q1, q3 = _quartiles(times["forward only"])
    lines.append(f"| forward only (NumPy, no derivative) | - | {n:,} | {fwd_peak / MB:.2f} MB | - | {med:.2f} s | "
                 f"{q1:.2f}-{q3:.2f} | {med / base_t:.2f}x | - |")
    lines += ["", *decomposition(n, times, snapshot_counts)]
    return "\n".join(lines)


def decomposition(n, times, snapshot_counts):
    """Where the time of revolve goes, per round (then medians): with a = forward only / n (one
    step on plain arrays) and p = plain tape / n (one taped step and its share of the backward
    pass), revolve with s snapshots costs t(n, s) advances and n turns, so its ratio to the plain
    tape is t/n * a/p + b/p, where b = (revolve - t a) / n is one turn and whatever else revolve
    does per step. Turns as cheap as the plain tape's steps (b = p) give the bound 1 + t/n * a/p.
    The hand-written revolve gives the floor: the same advances, turns at no overhead."""
    plain, fwd = times["plain tape"], times["forward only"]
    a = [f / n for f in fwd]
    p = [t / n for t in plain]
    h = [t / n for t in times["hand-written"]]
    lines = [f"Per step (medians of per-round values): a = forward only / n = {onp.median(a) * 1e6:.1f} us, "
             f"p = plain tape / n = {onp.median(p) * 1e6:.1f} us, a / p = "
             f"{onp.median([x / y for x, y in zip(a, p)]):.3f}, h = hand-written / n = {onp.median(h) * 1e6:.1f} us "
             f"(h / a = {onp.median([x / y for x, y in zip(h, a)]):.2f}). Revolve runs t(n, s) untaped steps and n "
             f"turns (taped step + backward), b = (time - t a) / n each; b = p would give the bound 1 + (t/n)(a/p), "
             f"and the hand-written revolve (the same advances, turns by hand) is the floor:", "",
             "| method | t / n | bound 1 + (t/n)(a/p) | hand-written revolve / plain "
             "(paired) | time / plain (paired) | b | b / p |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in snapshot_counts:
        name = f"revolve s={s}"
        if name not in times:
            continue
        t = revolve_evaluations(n, s) - n
        bound = [1 + t / n * x / y for x, y in zip(a, p)]
        paired = [r / q for r, q in zip(times[name], plain)]
        hand = [r / q for r, q in zip(times[f"hand-written revolve s={s}"], plain)]
        b = [(r - t * x) / n for r, x in zip(times[name], a)]
        lines.append(f"| {name} | {t / n:.3f} | {onp.median(bound):.2f}x | "
                     f"{onp.median(hand):.2f}x | {onp.median(paired):.2f}x | "
                     f"{onp.median(b) * 1e6:.1f} us | {onp.median([x / y for x, y in zip(b, p)]):.2f} |")
    return lines


def main(args):
    n = args.n or (1000 if args.quick else 10_000)
    repeats = args.repeats or (3 if args.quick else 7)
    workloads = args.only or ["x0", "x0W"]
    rng = onp.random.default_rng(args.seed)
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    header = (f"wengert {wengert.__version__}, NumPy {onp.__version__}, Python {platform.python_version()}, "
              f"{platform.machine()}, {os.cpu_count()} CPUs, BLAS threads: "
              f"{args.threads if args.threads > 0 else 'default'}, load average at start "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, {repeats} timed rounds")
    print(header, flush=True)
    tables = []
    t0 = time.perf_counter()
    for wrt in workloads:
        rows, times, fwd_peak = run_workload(wrt, n, args.dim, repeats, args.snapshots, rng)
        tables.append(table(wrt, n, args.dim, rows, times, fwd_peak, args.snapshots))
        print("\n" + tables[-1] + "\n", flush=True)
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    footer = (f"Total {time.perf_counter() - t0:.0f} s; load average at the end "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")
    print(footer)
    out = args.out
    full = not args.quick and args.n is None and args.only is None and args.dim == 500 and args.snapshots == [10, 20]
    if out is None and full:
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "memory.md")
    if out and out != "-":
        text = ("# Memory: plain tape vs checkpointing\n\n"
                "Written by `python benchmarks/bench_memory.py` (see the script's docstring for the method).\n\n"
                f"{header}.\n\n" + "\n\n".join(tables) + f"\n\n{footer}\n")
        with open(out, "w") as f:
            f.write(text)
        print(f"tables written to {out}")


if __name__ == "__main__":
    main(ARGS)
