"""Helpers shared by the benchmark scripts (``bench_reverse.py``, ``bench_jacobians.py``)
and the suite (``suite.py``): thread limits, timing, statistics, formatting, versions,
and the wengert profiler (census of primitives and slow paths, time in each primitive's
kernel, cProfile summary).

Nothing here imports NumPy, torch or JAX at import time: a script sets the thread
environment (``set_thread_env``) first and imports the numerical libraries after.
"""
import cProfile
import gc
import os
import platform
import pstats
import statistics
import sys
import time
from collections import Counter

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


# -- threads ----------------------------------------------------------------------------

def set_thread_env(threads, xla=True):
    """Limit BLAS/OpenMP (and XLA's CPU backend) to ``threads`` threads. Must run before
    NumPy, torch or JAX are imported; ``threads <= 0`` leaves the libraries' defaults.
    Also points JAX at the CPU (a CPU benchmark: no probing for accelerators)."""
    if threads > 0:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
        if xla:
            flags = (f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
                     f"intra_op_parallelism_threads={threads}")
            current = os.environ.get("XLA_FLAGS", "")
            if flags not in current:
                os.environ["XLA_FLAGS"] = (current + " " + flags).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


_LIMITS = []


def limit_threads(n, torch=None):
    """Limit the BLAS and OpenMP pools found by threadpoolctl (for libraries loaded before
    the environment was set) and torch's intra-op pool to ``n`` threads."""
    if n <= 0:
        return
    try:
        from threadpoolctl import threadpool_limits
        _LIMITS.append(threadpool_limits(limits=n))     # keep the controller: the limits stay
    except ImportError:
        pass
    if torch is not None:
        torch.set_num_threads(n)


def thread_summary(torch=None, jax=None):
    parts = []
    try:
        from threadpoolctl import threadpool_info
        parts += [f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()]
    except ImportError:
        parts.append(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    if torch is not None:
        parts.append(f"torch {torch.get_num_threads()}")
    if jax is not None:
        parts.append(f"XLA_FLAGS='{os.environ.get('XLA_FLAGS', '')}'")
    return ", ".join(parts)


def version(dist):
    try:
        from importlib.metadata import version as _v
        return _v(dist)
    except Exception:
        return "not installed"


def python_version():
    return platform.python_version()


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# -- timing -------------------------------------------------------------------------------

def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


def time_block(fn, inner, faults=None):
    """Mean time of ``inner`` back-to-back calls of ``fn``, with the garbage collector run
    before and off during the block (as ``timeit`` does). Appends the minor page faults
    per call to ``faults`` if given."""
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        f0 = minor_faults()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        dt = (time.perf_counter() - t0) / inner
        if faults is not None:
            faults.append((minor_faults() - f0) / inner)
        return dt
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(fn, warmup, block, max_inner=1000):
    """Warm ``fn`` up (``warmup`` timed single calls, at least one) and return
    ``(inner, quickest single call)``: the number of back-to-back calls that makes a
    timed block last about ``block`` seconds."""
    single = [time_block(fn, 1) for _ in range(max(warmup, 1))]
    quickest = min(single)
    return int(min(max_inner, max(1, round(block / max(quickest, 1e-9))))), quickest


def freeze_gc():
    """torch and JAX bring about a million Python objects, which make every ``gc.collect()``
    take ~0.15 s: move the objects alive now out of the collector's view."""
    gc.collect()
    gc.freeze()


def interleaved(contenders, repeats, warmup, block=None, inner=None):
    """Time ``contenders`` ({name: callable}) in interleaved rounds: each round runs every
    contender once (one block of back-to-back calls), starting from a different contender
    each round, so that a drift in machine load hits them all alike.

    With ``inner`` every block is ``inner`` calls after ``warmup`` untimed calls; with
    ``block`` (seconds) each contender gets its own inner count, chosen after ``warmup``
    timed calls so that a block lasts about ``block``.
    Returns ({name: per-call time of each round}, {name: median minor page faults per call})."""
    names = list(contenders)
    freeze_gc()
    counts = {}
    for name in names:
        fn = contenders[name]
        if inner is not None:
            for _ in range(warmup):
                fn()
            counts[name] = inner
        else:
            counts[name] = calibrate(fn, warmup, block)[0]
    times = {name: [] for name in names}
    faults = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(time_block(contenders[name], counts[name], faults[name]))
    return times, {name: median(f) for name, f in faults.items()}


# -- statistics and formatting ------------------------------------------------------------

def median(ts):
    return float(statistics.median(ts))


def iqr(ts):
    import numpy as onp
    q1, q3 = onp.percentile(ts, [25, 75])
    return float(q3 - q1)


def paired_ratio(num, den):
    """Median over rounds of num[r] / den[r]: the two ran in the same round, so this ratio
    is robust to load that drifts between rounds. Only the rounds both took part in."""
    n = min(len(num), len(den))
    return float(statistics.median(a / b for a, b in zip(num[:n], den[:n])))


def fmt(seconds):
    if seconds != seconds:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_bytes(n):
    if n is None:
        return "n/a"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def cell(ts):
    return f"{fmt(median(ts))} (IQR {fmt(iqr(ts))})"


# -- profiling wengert --------------------------------------------------------------------

def _inner_code(fun, name):
    for const in fun.__code__.co_consts:
        if hasattr(const, "co_name") and const.co_name == name:
            return const
    return None


def census(fn):
    """Run ``fn`` once under a read-only profile hook (``sys.setprofile``) and count (a)
    the primitives applied under each kind of trace and (b) the slow paths taken: the
    ``loop_rule`` batching fallback (one primitive call per batch element) and the rules
    derived by transposition (``jvp_from_vjp`` / ``vjp_from_jvp`` in core/rules.py)."""
    from wengert.core import batching as core_batching, forward as core_forward, reverse as core_reverse
    from wengert.core import rules as core_rules
    from wengert.numpy import batching as np_batching
    slow = {_inner_code(np_batching.loop_rule, "rule"): "loop_rule (batching fallback)",
            _inner_code(core_rules.jvp_from_vjp, "jvp"): "jvp_from_vjp (JVP by transposition)",
            _inner_code(core_rules.vjp_from_jvp, "vjp"): "vjp_from_jvp (VJP by transposition)"}
    traces = {core_batching.BatchTrace.process.__code__: "batch",
              core_forward.JVPTrace.process.__code__: "jvp",
              core_reverse.ReverseTrace.process.__code__: "reverse"}
    prims, fallbacks = Counter(), Counter()

    def hook(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        kind = traces.get(code)
        if kind is not None:
            prims[(kind, frame.f_locals["prim"].name)] += 1
            return
        kind = slow.get(code)
        if kind is not None:
            fallbacks[(kind, frame.f_locals["prim"].name)] += 1

    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return prims, fallbacks


def kernel_times(fn, calls):
    """Per call (medians over ``calls`` calls): (total time, {primitive: time in its NumPy
    implementation}). Each primitive's ``impl`` is wrapped with a timer for the duration
    (about a microsecond per primitive application) and restored afterwards; the rest of
    the total is Python (tracing, the rules' own code, batching and transform plumbing)
    and NumPy work done outside any primitive (e.g. the identity basis of a Jacobian)."""
    from wengert.core.tracer import Primitive
    gc.unfreeze()
    all_prims = [o for o in gc.get_objects() if issubclass(type(o), Primitive)]   # no attribute lookups
    gc.collect()
    gc.freeze()
    acc = Counter()
    depth = [0]
    clock = time.perf_counter

    def timed(prim, impl):
        name = prim.name

        def run(*args, **kwargs):
            if depth[0]:
                return impl(*args, **kwargs)
            depth[0] += 1
            t0 = clock()
            try:
                return impl(*args, **kwargs)
            finally:
                acc[name] += clock() - t0
                depth[0] -= 1
        return run

    saved = [(p, p.impl) for p in all_prims]
    for p, impl in saved:
        p.impl = timed(p, impl)
    totals, per_call = [], []
    gc.disable()
    try:
        for _ in range(calls):
            acc.clear()
            t0 = clock()
            fn()
            totals.append(clock() - t0)
            per_call.append(dict(acc))
    finally:
        gc.enable()
        for p, impl in saved:
            p.impl = impl
    names = set().union(*per_call)       # medians over calls: robust to a preempted call
    return statistics.median(totals), {k: statistics.median(d.get(k, 0.0) for d in per_call) for k in names}


def profile_wengert(label, fn, calls, unprofiled=None, top=10, file=None):
    """Print a profile summary of ``fn`` (a call of a wengert transform): the primitives
    applied per call by trace, the slow paths taken, the time in each primitive's NumPy
    kernel against the rest, and the top functions of a cProfile run by own time."""
    import wengert
    out = file if file is not None else sys.stdout
    prims, fallbacks = census(fn)
    total, kernels = kernel_times(fn, calls)
    # cProfile in 5 chunks, keeping the quickest: a chunk in which the process was
    # preempted (a busy machine) would otherwise swamp the per-call numbers.
    chunk = max(1, calls // 5)
    best = None
    for _ in range(5):
        pr = cProfile.Profile()
        gc.disable()
        pr.enable()
        for _ in range(chunk):
            fn()
        pr.disable()
        gc.enable()
        st = pstats.Stats(pr)
        if best is None or st.total_tt < best.total_tt:
            best = st
    st, calls_profiled = best, chunk
    timed = f" ({fmt(unprofiled)} per call in the timed repeats)" if unprofiled else ""
    print(f"\n## profile: {label}{timed}", file=out)
    counts = Counter()
    for (kind, name), n in prims.items():
        counts[kind] += n
    print("primitives applied per call, by trace: " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
          + "; " + ", ".join(f"{kind}:{name} x{n}" for (kind, name), n in sorted(prims.items(), key=lambda kv: -kv[1])),
          file=out)
    if fallbacks:
        print("SLOW PATHS per call: " + ", ".join(f"{kind} for `{name}` x{n}"
                                                 for (kind, name), n in sorted(fallbacks.items())), file=out)
    else:
        print("slow paths per call: none (no loop_rule batching fallback, no transposition-derived rule)", file=out)
    inside = sum(kernels.values())
    shares = ", ".join(f"{name} {fmt(t)} ({100 * t / total:.0f}%)"
                       for name, t in sorted(kernels.items(), key=lambda kv: -kv[1]) if t / total >= 0.01)
    print(f"NumPy kernels by primitive, per call of {fmt(total)} (impls timed, medians of {calls} calls): "
          f"{shares or 'none above 1%'}; total inside the kernels {fmt(inside)} ({100 * inside / total:.0f}%); "
          f"outside the primitives' kernels (Python: tracing, rules, batching, plumbing; and NumPy calls that "
          f"are no primitive) {fmt(total - inside)} ({100 * (total - inside) / total:.0f}%)", file=out)
    print(f"cProfile, top {top} by own time, per call (the quickest of 5 runs of {calls_profiled} calls; NumPy "
          f"ufunc time is charged to the Python caller, e.g. Primitive.__call__ or a trace's process):", file=out)
    root = os.path.dirname(os.path.dirname(wengert.__file__)) + os.sep
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:top]
    print(f"  {'calls':>7} {'own':>9} {'cumulative':>11}  function", file=out)
    for (file_, line, func), (cc, nc, tt, ct, _) in rows:
        where = f"{file_.replace(root, '')}:{line}({func})" if line else func
        print(f"  {nc / calls_profiled:7.1f} {fmt(tt / calls_profiled):>9} {fmt(ct / calls_profiled):>11}  {where}",
              file=out)
