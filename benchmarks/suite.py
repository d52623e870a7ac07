"""The benchmark suite: wengert side by side with HIPS autograd, PyTorch (eager autograd
and torch.func) and JAX (eager and jit), each where installed, in one run.

    python -m benchmarks                 # full run (from the repository root): ~6 minutes on a quiet
                                         # 2-core machine, 20-30 under heavy load
    python benchmarks/suite.py           # the same
    python -m benchmarks --quick         # every workload at a small size: ~30 s
    python -m benchmarks --only mlp64 --only recurrent --libs wengert,torch

Workloads (``workloads.py``): a scalar loop (the logistic map, 1000 iterations); the
product of (x - t_i), m = 1000 (seed notes 003); an MLP 784-256-256-10, batch 128, in
float64 and float32, with a hand-written NumPy forward + backprop; a chain of 200
elementwise operations on a 1000-vector; a 2000-step recurrent loop
x <- sin(W @ x) * 0.5, x in R^500 (time and peak memory); the Jacobian of R^200 -> R^200
and the Hessian of R^100 -> R (``bench_jacobians.py``'s contenders); a Gaussian-mixture
log-likelihood (d = 10, k = 25, n = 1000) and an LSTM sequence loss, written once for
every library.

Processes: the libraries run in one worker process each (``wengert`` with the
hand-written NumPy floors, ``autograd``, ``torch``, ``jax``), started side by side with
``multiprocessing`` (spawn), so that no library's imports, thread pools, allocator or
garbage-collector load touch another's timings. The coordinating process (this one)
drives every worker through a pipe and interleaves the timed blocks of all contenders of
all workers in rotating rounds, exactly as the single-process scripts do; a worker waits
in ``recv`` while another times. ``--in-process`` runs everything in one process
instead (the smoke test does). Peak RSS is measured in a fresh process per contender.

Method (as ``bench_reverse.py`` / ``bench_jacobians.py``): every result is validated
before anything is timed (against a hand-written or closed-form derivative where there
is one, against central differences, and every library against every other); warm-ups;
per-contender inner counts so that a timed block lasts about ``--block``; interleaved
rounds in a rotating order; medians with IQR; ratios of medians and paired ratios (the
median of per-round ratios); BLAS, torch and XLA on one thread; gc collected before and
off during each block. Contenders slower than ``slow`` seconds per call (eager JAX on the
loops: seconds per call) take part in only the first few rounds.

Output: a Markdown report (tables, targets, profiles of wengert for each unmet target)
and a PNG plot in ``benchmarks/results/`` (``suite.md``, ``suite.png``, ``suite.json``;
``suite_quick.*`` for ``--quick``).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    from . import _common
except ImportError:  # run as a script: make the package importable (the workers need it)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks import _common

LIBS = ("wengert", "autograd", "torch", "jax")
LIB_COLORS = {"wengert": "tab:blue", "numpy": "tab:gray", "autograd": "tab:green", "torch": "tab:red",
              "jax": "tab:purple"}

MODES = {
    # max / min rounds, seconds per workload the rounds may take, timed block, warm-up calls
    # (and their time cap), a contender slower than `slow` s per call runs only `slow_rounds` rounds
    # (and their time cap), a contender slower than `slow` s per call runs only `slow_rounds` rounds;
    # quick: the workers set up (validate, compile) side by side, and the XLA compile alone is not timed
    "full": dict(max_repeats=41, min_repeats=7, budget=45.0, block=0.02, warmup=3, warm_cap=1.0,
                 slow=1.0, slow_rounds=3, profile_time=3.0, parallel_setup=False, compile_probe=True),
    "quick": dict(max_repeats=3, min_repeats=3, budget=1.0, block=0.001, warmup=1, warm_cap=0.2,
                  slow=0.05, slow_rounds=1, profile_time=0.5, parallel_setup=True, compile_probe=False),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="every workload at a small size, 3 rounds; validates everything, never fails on a time")
    p.add_argument("--size", choices=("full", "quick", "tiny"), default=None,
                   help="problem sizes (default: full, or quick with --quick)")
    p.add_argument("--libs", default=",".join(LIBS),
                   help=f"comma-separated libraries to compare (default {','.join(LIBS)}); "
                        f"one that is not installed is skipped")
    p.add_argument("--only", action="append", default=None, metavar="WORKLOAD",
                   help="run only this workload (repeatable): logistic, product, mlp64, mlp32, chain, recurrent, "
                        "jacobian, hessian, gmm, lstm")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per workload (default: 7-41 within "
                                                             "the time budget; quick 3)")
    p.add_argument("--budget", type=float, default=None, help="seconds of timed rounds per workload (default 45)")
    p.add_argument("--block", type=float, default=None, help="target length of a timed block in ms "
                                                             "(default 20, quick 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS / torch / XLA threads (default 1); 0 leaves the libraries' defaults")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--in-process", action="store_true",
                   help="run every library in this one process instead of one worker process per library")
    p.add_argument("--profile", dest="profile", action="store_true", default=None,
                   help="profile wengert for every unmet target (default: on for a full run, off for --quick)")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--rss", dest="rss", action="store_true", default=None,
                   help="measure peak RSS in a fresh process per contender (default: on for a full run)")
    p.add_argument("--no-rss", dest="rss", action="store_false")
    p.add_argument("--out-dir", default=None, help="where the report goes (default benchmarks/results)")
    p.add_argument("--no-save", action="store_true", help="print only: write no report and no plot")
    return p.parse_args(argv)


# -- workers ---------------------------------------------------------------------------------

def _import_lib(lib):
    """Import a library (ImportError if it is not installed) and return what the thread
    summary needs: (torch module or None, jax module or None)."""
    if lib == "wengert":
        import numpy  # noqa: F401
        import wengert.numpy  # noqa: F401
        return None, None
    if lib == "autograd":
        import autograd.numpy  # noqa: F401
        return None, None
    if lib == "torch":
        import torch
        import torch.func  # noqa: F401
        return torch, None
    if lib == "jax":
        import jax
        import jax.numpy  # noqa: F401
        jax.config.update("jax_enable_x64", True)
        return None, jax
    raise ValueError(f"unknown library {lib!r}")


def _rss_bytes():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _maxrss_bytes():
    import resource
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _malloc_trim():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except Exception:
        pass


class LocalWorker:
    """Runs the contenders of one library. Lives in a worker process (``_worker_main``)
    or, with ``--in-process``, in the coordinating process. Every method returns plain
    data (picklable)."""

    def __init__(self, lib, cfg):
        self.lib, self.cfg = lib, cfg
        self._torch, self._jax = _import_lib(lib)
        _common.limit_threads(cfg["threads"], self._torch)
        self.wl, self.cs = None, {}

    def info(self):
        versions = {"wengert": ["wengert", "numpy"], "autograd": ["autograd"], "torch": ["torch"],
                    "jax": ["jax", "jaxlib"]}[self.lib]
        return {"lib": self.lib, "pid": os.getpid(), "versions": {d: _common.version(d) for d in versions},
                "threads": _common.thread_summary(self._torch, self._jax)}

    def setup(self, name, only=None):
        """Build the workload's contenders of this library and run each once: returns, per
        contender, its label, its result for validation and its first-call times."""
        import gc
        import time
        from . import workloads
        self.teardown()
        self.wl = workloads.make_workload(name, self.cfg["size"], self.cfg["seed"])
        cs = self.wl.contenders(self.lib)
        if only is not None:
            cs = [c for c in cs if c.key == only]
        self.cs = {c.key: c for c in cs}
        out = []
        for c in cs:
            first_g = first_f = None
            result = None
            if c.g is not None:
                t0 = time.perf_counter()
                result = c.result()             # the first call of g (a JIT compile for jax jit)
                first_g = time.perf_counter() - t0
            f_value = None
            if c.f is not None:
                t0 = time.perf_counter()
                v = c.f()
                first_f = time.perf_counter() - t0
                try:
                    from .workloads import to_numpy
                    a = to_numpy(v)
                    f_value = float(a) if a.size == 1 else None
                except Exception:
                    f_value = None
            n_ops = None
            if self.lib == "wengert" and c.key == "wengert" and self.wl.per_op:
                prims, _ = _common.census(c.g)
                n_ops = sum(n for (kind, _name), n in prims.items() if kind == "reverse")
            out.append({"key": c.key, "lib": c.lib, "label": c.label, "f_key": c.f_key, "has_f": c.f is not None,
                        "has_g": c.g is not None, "result": result, "f_value": f_value,
                        "first_call": (first_f, first_g), "jit": c.compile_probe is not None, "n_ops": n_ops})
        _common.freeze_gc()
        gc.collect()
        return out

    def _fn(self, key, kind):
        c = self.cs[key]
        return c.f if kind == "f" else c.g

    def calibrate(self, key, kind, warmup, block, warm_cap):
        import time
        fn = self._fn(key, kind)
        singles = []
        t_end = time.perf_counter() + warm_cap
        while len(singles) < max(warmup, 1):
            singles.append(_common.time_block(fn, 1))
            if time.perf_counter() > t_end:
                break
        quickest = min(singles)
        return int(min(1000, max(1, round(block / max(quickest, 1e-9))))), quickest

    def time(self, key, kind, inner):
        faults = []
        t = _common.time_block(self._fn(key, kind), inner, faults)
        return t, faults[0]

    def compile(self, key):
        return self.cs[key].compile_probe()

    def tracemalloc_peak(self, key):
        """Peak of the memory traced by Python's allocator hooks during one gradient call,
        above what was allocated before it. NumPy reports its array buffers to tracemalloc,
        so for NumPy-based libraries this covers the tape's arrays; torch and XLA allocate
        outside it."""
        import gc
        import tracemalloc
        c = self.cs[key]
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            c.g()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak - base

    def rss_peak(self, key):
        """Peak resident set size during one gradient call, above the RSS just before it
        (after a warm-up call, gc and ``malloc_trim(0)``, which hands the freed heap back
        to the kernel). Sampled from /proc/self/statm every ~0.5 ms by a thread (with a
        0.1 ms GIL switch interval), and exact from ``ru_maxrss`` when the call raised the
        process's high-water mark."""
        import gc
        import threading
        import time
        c = self.cs[key]
        gc.collect()
        _malloc_trim()
        base = _rss_bytes()
        if base is None:
            return None
        peak = [base]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                r = _rss_bytes()
                if r > peak[0]:
                    peak[0] = r
                time.sleep(0.0005)
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)
        hw0 = _maxrss_bytes()
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            c.g()
        finally:
            stop.set()
            th.join()
            sys.setswitchinterval(old)
        hw1 = _maxrss_bytes()
        top = max(peak[0], _rss_bytes(), hw1 if hw1 > hw0 else 0)
        return top - base

    def profile(self, key, label, unprofiled, seconds):
        import io
        c = self.cs[key]
        calls = int(min(50, max(5, round(seconds / max(unprofiled, 1e-6)))))
        buf = io.StringIO()
        _common.profile_wengert(label, c.g, calls=calls, unprofiled=unprofiled, file=buf)
        return buf.getvalue()

    def teardown(self):
        import gc
        self.wl, self.cs = None, {}
        gc.unfreeze()
        gc.collect()

    def call(self, cmd, *args):
        return getattr(self, cmd)(*args)

    def send(self, cmd, *args):
        self._pending = self.call(cmd, *args)

    def recv(self):
        out, self._pending = self._pending, None
        return out

    def close(self):
        self.teardown()


class WorkerError(RuntimeError):
    pass


def _worker_main(conn, lib, cfg):
    import traceback
    try:
        w = LocalWorker(lib, cfg)
    except ImportError as e:
        conn.send(("missing", f"{type(e).__name__}: {e}"))
        return
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("ok", w.info()))
    while True:
        try:
            cmd, args = conn.recv()
        except EOFError:
            return
        if cmd == "quit":
            return
        try:
            conn.send(("ok", getattr(w, cmd)(*args)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


def _rss_probe_main(conn, lib, cfg, name, key):
    import traceback
    try:
        w = LocalWorker(lib, cfg)
        w.setup(name, only=key)                # builds the contender and runs it once (warm-up)
        conn.send(("ok", w.rss_peak(key)))
    except Exception:
        conn.send(("error", traceback.format_exc()))


class ProcessWorker:
    """A ``LocalWorker`` in its own process, driven synchronously through a pipe."""

    def __init__(self, lib, cfg, ctx):
        self.lib = lib
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, lib, cfg), daemon=True,
                                name=f"bench-{lib}")
        self.proc.start()
        child.close()

    def ready(self):
        """(status, info): status 'ok', 'missing' (not installed) or 'error'."""
        try:
            return self.conn.recv()
        except EOFError:
            return "error", f"the {self.lib} worker exited during start-up"

    def send(self, cmd, *args):
        self._sent = (cmd, args)
        self.conn.send((cmd, args))

    def recv(self):
        cmd, args = self._sent
        try:
            status, payload = self.conn.recv()
        except EOFError:
            raise WorkerError(f"the {self.lib} worker process died during {cmd}{args!r}") from None
        if status != "ok":
            raise WorkerError(f"{self.lib} worker, {cmd}{args!r}:\n{payload}")
        return payload

    def call(self, cmd, *args):
        self.send(cmd, *args)
        return self.recv()

    def close(self):
        try:
            self.conn.send(("quit", ()))
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():            # our own child: end it by its handle
            self.proc.terminate()
            self.proc.join(timeout=5)


def start_workers(libs, cfg, in_process, log):
    """{lib: worker} for the libraries that import; the others are reported and skipped."""
    workers, missing = {}, {}
    if in_process:
        for lib in libs:
            try:
                workers[lib] = LocalWorker(lib, cfg)
            except ImportError as e:
                missing[lib] = f"{type(e).__name__}: {e}"
        return workers, missing
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    pending = {lib: ProcessWorker(lib, cfg, ctx) for lib in libs}   # start all: imports run side by side
    for lib, w in pending.items():
        status, payload = w.ready()
        if status == "ok":
            workers[lib] = w
        else:
            missing[lib] = payload if status == "missing" else f"failed to start:\n{payload}"
            w.close()
            if status != "missing":
                log(f"(the {lib} worker failed to start; skipped)\n{payload}")
    return workers, missing


def rss_probe(lib, cfg, name, key):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    p = ctx.Process(target=_rss_probe_main, args=(child, lib, cfg, name, key), daemon=True, name=f"rss-{lib}")
    p.start()
    child.close()
    try:
        status, payload = conn.recv()
    except EOFError:
        status, payload = "error", "the probe process died"
    p.join(timeout=30)
    if p.is_alive():
        p.terminate()
        p.join(timeout=5)
    if status != "ok":
        raise WorkerError(f"RSS probe {lib} {name} {key}:\n{payload}")
    return payload


# -- validation ----------------------------------------------------------------------------

class ValidationError(AssertionError):
    pass


def _close(a, ref, rtol, atol_rel, what):
    import numpy as onp
    from numpy.testing import assert_allclose
    a, ref = onp.asarray(a, dtype=onp.float64), onp.asarray(ref, dtype=onp.float64)
    if a.shape != ref.shape:
        raise ValidationError(f"{what}: shape {a.shape}, expected {ref.shape}")
    if not onp.all(onp.isfinite(a)):
        raise ValidationError(f"{what}: not finite")
    scale = float(onp.max(onp.abs(ref))) if ref.size else 0.0
    try:
        assert_allclose(a, ref, rtol=rtol, atol=atol_rel * scale, err_msg=what)
    except AssertionError as e:
        raise ValidationError(str(e)) from None


def _fd_check(wl, grads, what):
    """The directional derivative along a random direction against central differences
    of the function in plain NumPy (float64 parameters)."""
    import numpy as onp
    from .workloads import tree_leaves, tree_map
    rng = onp.random.default_rng(wl.seed + 17)
    p64 = tree_map(lambda a: onp.asarray(a, dtype=onp.float64) if isinstance(a, onp.ndarray) else a, wl.params)
    d = tree_map(lambda a: rng.normal(size=onp.shape(a)) if isinstance(a, onp.ndarray) else 1.0, p64)
    eps = 1e-6
    fd = (float(wl.numpy_f(_zip_tree(p64, d, eps))) - float(wl.numpy_f(_zip_tree(p64, d, -eps)))) / (2 * eps)
    dd = sum(float(onp.sum(g * onp.asarray(v))) for g, v in zip(grads, tree_leaves(d)))
    scale = sum(float(onp.sum(onp.abs(g) * onp.abs(onp.asarray(v)))) for g, v in zip(grads, tree_leaves(d)))
    if not abs(dd - fd) <= 1e-5 * abs(fd) + 1e-7 * scale:
        raise ValidationError(f"{what}: directional derivative {dd!r} vs central differences {fd!r}")


def _zip_tree(p, d, s):
    if isinstance(p, dict):
        return {k: _zip_tree(p[k], d[k], s) for k in p}
    if isinstance(p, (tuple, list)):
        return type(p)(_zip_tree(a, b, s) for a, b in zip(p, d))
    return p + s * d


def validate(wl, setups):
    """Every contender's result against the hand-written / closed-form reference if there
    is one, else against the first (wengert's), which is checked against central
    differences; and every one against every other through the reference. Returns a
    one-line summary."""
    results = [(s["lib"], s["key"], s["result"], s["f_value"]) for ss in setups.values() for s in ss]
    graded = [(lib, key, r) for lib, key, r, _ in results if r is not None]
    if hasattr(wl, "check_reference"):
        wl.check_reference()
    ref = wl.reference()
    if ref is not None:
        ref_value, ref_grads = ref
        ref_name = "the hand-written / closed-form derivative"
        if wl.fd_check:
            _fd_check(wl, ref_grads, f"{wl.name}: the reference")
    elif graded:
        lib0, key0, (ref_value, ref_grads) = graded[0]
        ref_name = key0
        _fd_check(wl, ref_grads, f"{wl.name}: {key0}")
    else:
        return "nothing to validate"
    for lib, key, (value, grads) in graded:
        if ref_value is not None and value is not None:
            _close(value, ref_value, wl.rtol, 0.0, f"{wl.name}: value of {key} vs {ref_name}")
        if len(grads) != len(ref_grads):
            raise ValidationError(f"{wl.name}: {key} returned {len(grads)} gradient arrays, expected {len(ref_grads)}")
        for i, (g, rg) in enumerate(zip(grads, ref_grads)):
            _close(g, rg, wl.rtol, wl.atol_rel, f"{wl.name}: gradient leaf {i} of {key} vs {ref_name}")
        if wl.name == "hessian":
            _close(grads[0], grads[0].T, wl.rtol, wl.atol_rel, f"hessian: {key} is not symmetric")
    for lib, key, _r, f_value in results:
        if f_value is not None and ref_value is not None:
            _close(f_value, ref_value, max(wl.rtol, 1e-12), 0.0, f"{wl.name}: f of {key} vs {ref_name}")
    n = len(graded)
    how = ref_name + (" (itself checked against central differences)" if ref is None or wl.fd_check else "")
    return f"{n} gradients agree with {how} and so with each other"


# -- targets -----------------------------------------------------------------------------------

TARGETS = [
    # (workload, numerator, denominator(s), limit, strict, what)
    ("logistic", "wengert", ("autograd",), 0.25, False, "scalar loop (logistic): wengert per-op <= 1/4 autograd's"),
    ("logistic", "wengert", ("torch eager",), 0.5, False, "scalar loop (logistic): wengert per-op <= 1/2 torch eager"),
    ("product", "wengert", ("autograd",), 0.25, False, "scalar loop (product): wengert per-op <= 1/4 autograd's"),
    ("product", "wengert", ("torch eager",), 0.5, False, "scalar loop (product): wengert per-op <= 1/2 torch eager"),
    ("mlp64", "wengert", ("numpy hand",), 1.1, False, "MLP float64: value_and_grad <= 1.1x hand-written NumPy"),
    ("mlp64", "wengert", ("torch eager",), 1.0, True, "MLP float64: value_and_grad faster than torch eager"),
    ("mlp32", "wengert", ("numpy hand",), 1.1, False, "MLP float32: value_and_grad <= 1.1x hand-written NumPy"),
    ("mlp32", "wengert", ("torch eager",), 1.0, True, "MLP float32: value_and_grad faster than torch eager"),
    ("recurrent", "wengert", ("torch eager",), 0.8, False, "recurrent loop: gradient time <= 0.8x torch eager"),
    ("jacobian", "wengert jacobian", ("torch jacrev", "torch jacfwd"), 0.5, False,
     "Jacobian: wengert `jacobian` <= 0.5x the faster torch.func Jacobian"),
    ("hessian", "wengert hessian", ("torch hessian",), 0.5, False,
     "Hessian: wengert `hessian` <= 0.5x torch.func.hessian"),
]


def evaluate_targets(name, times):
    """The targets of workload ``name`` that can be evaluated from ``times``
    ({(key, kind): [per-round times]})."""
    out = []
    for wl, num, dens, limit, strict, what in TARGETS:
        if wl != name:
            continue
        g = {k: ts for (k, kind), ts in times.items() if kind == "g"}
        avail = [d for d in dens if d in g]
        if num not in g or not avail:
            out.append({"what": what, "workload": wl, "num": num, "den": dens[0], "ratio": None,
                        "paired": None, "limit": limit, "met": None, "strict": strict})
            continue
        den = min(avail, key=lambda d: _common.median(g[d]))
        ratio = _common.median(g[num]) / _common.median(g[den])
        paired = _common.paired_ratio(g[num], g[den])
        met = ratio < limit if strict else ratio <= limit
        out.append({"what": what, "workload": wl, "num": num, "den": den, "ratio": ratio, "paired": paired,
                    "limit": limit, "met": met, "strict": strict})
    return out


# -- one workload --------------------------------------------------------------------------

MAIN_WENGERT = {"jacobian": "wengert jacobian", "hessian": "wengert hessian"}


def run_workload(name, workers, cfg, mode, args, log):
    import time
    from . import workloads
    t_start = time.perf_counter()
    wl = workloads.make_workload(name, cfg["size"], cfg["seed"])
    if mode["parallel_setup"]:          # quick: validation runs and JIT compiles side by side
        for w in workers.values():
            w.send("setup", name)
        setups = {lib: w.recv() for lib, w in workers.items()}
    else:                               # full: one at a time, so that the first-call times are clean
        setups = {lib: w.call("setup", name) for lib, w in workers.items()}
    summary = validate(wl, setups)
    log(f"[{name}] {wl.title}: validated: {summary}")
    contenders = {s["key"]: s for ss in setups.values() for s in ss}
    # the items timed: (lib, key, kind)
    items = [(s["lib"], s["key"], kind) for ss in setups.values() for s in ss
             for kind, has in (("f", s["has_f"]), ("g", s["has_g"])) if has]
    lib_of = {s["key"]: lib for lib, ss in setups.items() for s in ss}
    calib = {}
    for lib, key, kind in items:
        first = contenders[key]["first_call"][0 if kind == "f" else 1]
        if mode["parallel_setup"] and first is not None and first > mode["slow"]:
            calib[(key, kind)] = (1, first)     # quick: no second warm-up call of a slow contender
            continue
        calib[(key, kind)] = workers[lib].call("calibrate", key, kind, mode["warmup"], mode["block"],
                                               mode["warm_cap"])
    slow = {it for it, (inner, single) in calib.items() if single > mode["slow"]}
    round_time = sum(inner * single for it, (inner, single) in calib.items() if it not in slow)
    slow_time = sum(single for it, (inner, single) in calib.items() if it in slow)
    if args.repeats:
        repeats = args.repeats
    else:
        budget = (args.budget if args.budget is not None else mode["budget"]) - slow_time * mode["slow_rounds"]
        repeats = int(max(mode["min_repeats"], min(mode["max_repeats"], budget // max(round_time, 1e-9))))
    slow_rounds = min(repeats, mode["slow_rounds"])
    times = {(key, kind): [] for _lib, key, kind in items}
    faults = {(key, kind): [] for _lib, key, kind in items}
    order = list(items)
    for r in range(repeats):
        k = r % len(order) if order else 0
        for lib, key, kind in order[k:] + order[:k]:
            if (key, kind) in slow and r >= slow_rounds:
                continue
            t, flt = workers[lib].call("time", key, kind, calib[(key, kind)][0])
            times[(key, kind)].append(t)
            faults[(key, kind)].append(flt)
    compiles = {}
    for key, s in contenders.items():
        if s["jit"]:
            # the XLA compile alone, on a fresh function (skipped in --quick, and when the first call
            # took over a minute: the first call already says what the one-off cost is)
            probe = mode["compile_probe"] and s["first_call"][1] < 60.0
            compiles[key] = {"first_f": s["first_call"][0], "first_g": s["first_call"][1],
                             "compile_g": workers[lib_of[key]].call("compile", key) if probe else None}
    memory = {}
    if wl.memory:
        for key, s in contenders.items():
            if s["has_g"] and s["lib"] in ("wengert", "autograd"):
                memory.setdefault(key, {})["tracemalloc"] = workers[s["lib"]].call("tracemalloc_peak", key)
    targets = evaluate_targets(name, times)
    profiles = []
    if args.profile:
        for t in targets:
            if t["met"] is False and "wengert" in workers and t["num"] in contenders:
                med = _common.median(times[(t["num"], "g")])
                label = f"{name}: wengert {contenders[t['num']]['label']} (target: {t['what']})"
                profiles.append(workers["wengert"].call("profile", t["num"], label, med, mode["profile_time"]))
    for w in workers.values():
        w.call("teardown")
    n_ops = next((s["n_ops"] for s in contenders.values() if s.get("n_ops")), None) or wl.static_ops
    return {"name": name, "title": wl.title, "summary": summary, "contenders": contenders, "times": times,
            "faults": faults, "calib": calib, "slow": sorted(slow), "repeats": repeats, "slow_rounds": slow_rounds,
            "compiles": compiles, "memory": memory, "targets": targets, "profiles": profiles,
            "n_ops": n_ops if wl.per_op else None, "static_ops": wl.static_ops, "memory_workload": wl.memory,
            "seconds": time.perf_counter() - t_start}


# -- report ------------------------------------------------------------------------------------

def _med(res, key, kind):
    ts = res["times"].get((key, kind))
    return _common.median(ts) if ts else None


def _cell(res, key, kind):
    ts = res["times"].get((key, kind))
    if not ts:
        return ""
    c = _common.cell(ts) if len(ts) > 1 else _common.fmt(ts[0])
    return c + (f" [{len(ts)} rounds]" if (key, kind) in set(map(tuple, res["slow"])) else "")


def main_table(results):
    rows = ["| workload | contender | f (IQR) | gradient (IQR) | gradient / f | µs per op | gradient vs wengert |",
            "|---|---|---|---|---:|---:|---:|"]
    for res in results:
        main = MAIN_WENGERT.get(res["name"], "wengert")
        gw = _med(res, main, "g")
        for key, s in res["contenders"].items():
            g = _med(res, key, "g")
            f = _med(res, s["f_key"], "f")
            ratio = f"{g / f:.2f}" if (g and f) else ""
            per_op = f"{g / res['n_ops'] * 1e6:.3g}" if (g and res["n_ops"]) else ""
            vs = ("1" if key == main else f"{g / gw:.3g}x") if (g and gw) else ""
            fcell = _cell(res, key, "f") if s["has_f"] else (f"(as {s['f_key']})" if f else "")
            rows.append(f"| {res['name']} | **{key}**: {s['label']} | {fcell} | {_cell(res, key, 'g')} | {ratio} | "
                        f"{per_op} | {vs} |")
    return "\n".join(rows)


def targets_table(results):
    rows = ["| target | measured: ratio of medians (paired) | met? |", "|---|---|---|"]
    for res in results:
        for t in res["targets"]:
            if t["ratio"] is None:
                rows.append(f"| {t['what']} | n/a ({t['den']} not run) | n/a |")
                continue
            cmp = "<" if t["strict"] else "<="
            rows.append(f"| {t['what']} | {t['num']} / {t['den']} = **{t['ratio']:.3f}** (paired {t['paired']:.3f}); "
                        f"target {cmp} {t['limit']:g} | {'met' if t['met'] else '**NOT met**'} |")
    return "\n".join(rows)


def compile_table(results):
    rows = ["| workload | contender | f: first call | gradient: first call (trace + compile + run) | "
            "gradient: XLA compile alone |", "|---|---|---|---|---|"]
    n = 0
    for res in results:
        for key, c in res["compiles"].items():
            n += 1
            rows.append(f"| {res['name']} | {key} | {_common.fmt(c['first_f']) if c['first_f'] else ''} | "
                        f"{_common.fmt(c['first_g'])} | "
                        f"{_common.fmt(c['compile_g']) if c['compile_g'] is not None else 'not measured'} |")
    return "\n".join(rows) if n else ""


def memory_table(results):
    rows = ["| workload | contender | gradient time | tracemalloc peak | peak RSS increase |", "|---|---|---|---|---|"]
    n = 0
    for res in results:
        if not res["memory_workload"]:
            continue
        for key, s in res["contenders"].items():
            if not s["has_g"]:
                continue
            m = res["memory"].get(key, {})
            n += 1
            tm = _common.fmt_bytes(m["tracemalloc"]) if "tracemalloc" in m else "n/a (not Python's allocator)"
            rss = _common.fmt_bytes(m["rss"]) if m.get("rss") is not None else "not measured"
            g = _med(res, key, "g")
            rows.append(f"| {res['name']} | {key} | {_common.fmt(g) if g else ''} | {tm} | {rss} |")
    return "\n".join(rows) if n else ""


def plot(results, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(results)
    cols = 2 if n > 1 else 1
    rows_ = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_, cols, figsize=(7.5 * cols, 0.28 * 14 * rows_ + 1), squeeze=False)
    for ax, res in zip(axes.flat, results):
        keys = [k for k, s in res["contenders"].items() if s["has_g"] or s["has_f"]]
        y = list(range(len(keys)))[::-1]
        gs = [(_med(res, k, "g") or 0) * 1e3 for k in keys]
        fs = [(_med(res, res["contenders"][k]["f_key"], "f") or float("nan")) * 1e3 for k in keys]
        colors = [LIB_COLORS.get(res["contenders"][k]["lib"] if not k.startswith(("numpy", "plain")) else "numpy",
                                 "tab:gray") for k in keys]
        ax.barh(y, gs, color=colors, alpha=0.85, label="gradient")
        ax.plot(fs, y, "k|", markersize=12, mew=2, label="f")
        ax.set_yticks(y)
        ax.set_yticklabels(keys, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("ms per call (median)", fontsize=8)
        ax.set_title(res["title"], fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3, which="both")
        for yi, g in zip(y, gs):
            if g:
                ax.text(g, yi, f" {g:.3g}", va="center", fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Patch(color=c, label=lib) for lib, c in LIB_COLORS.items()]
    handles.append(Line2D([], [], color="k", marker="|", linestyle="none", markersize=10, mew=2,
                          label="f (same library)"))
    fig.legend(handles=handles, loc="upper right", fontsize=8, title="gradient (bars)", title_fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(results):
    out = []
    for res in results:
        r = {k: v for k, v in res.items() if k not in ("times", "faults", "calib", "contenders")}
        r["contenders"] = {k: {kk: vv for kk, vv in s.items() if kk != "result"} for k, s in res["contenders"].items()}
        r["times"] = {f"{k}|{kind}": ts for (k, kind), ts in res["times"].items()}
        r["median"] = {f"{k}|{kind}": _common.median(ts) for (k, kind), ts in res["times"].items() if ts}
        r["page_faults_per_call"] = {f"{k}|{kind}": _common.median(fs) for (k, kind), fs in res["faults"].items()
                                     if fs}
        r["slow"] = [list(s) for s in res["slow"]]
        out.append(r)
    return out


# -- main ---------------------------------------------------------------------------------------

def run(argv=None, log=print):
    """Run the suite; returns a dict with the results, the Markdown report and the paths
    written. Raises ValidationError if any gradient disagrees (never on a time)."""
    args = parse_args(argv)
    mode_name = "quick" if args.quick else "full"
    mode = dict(MODES[mode_name])
    if args.block is not None:
        mode["block"] = args.block * 1e-3
    if args.profile is None:
        args.profile = not args.quick
    if args.rss is None:
        args.rss = not args.quick and not args.in_process
    size = args.size or ("quick" if args.quick else "full")
    _common.set_thread_env(args.threads)          # before NumPy, torch, jax (inherited by the workers)
    import json
    import time
    from . import workloads
    libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    for lib in libs:
        if lib not in LIBS:
            raise SystemExit(f"unknown library {lib!r}; choose from {', '.join(LIBS)}")
    names = list(workloads.WORKLOADS)
    if args.only:
        bad = [n for n in args.only if n not in names]
        if bad:
            raise SystemExit(f"unknown workload(s) {bad}; choose from {', '.join(names)}")
        names = [n for n in names if n in args.only]
    cfg = {"size": size, "seed": args.seed, "threads": args.threads}
    t0 = time.perf_counter()
    load0 = _common.load_average()
    workers, missing = start_workers(libs, cfg, args.in_process, log)
    results = []
    try:
        infos = {lib: w.call("info") for lib, w in workers.items()}
        versions = ", ".join(f"{d} {v}" for info in infos.values() for d, v in info["versions"].items())
        procs = ("one process for all libraries (--in-process)" if args.in_process else
                 "one worker process per library (" + ", ".join(f"{lib} pid {i['pid']}" for lib, i in infos.items())
                 + "), driven and interleaved by a coordinating process")
        threads = "; ".join(f"{lib}: {i['threads']}" for lib, i in infos.items())
        header = [f"# {versions}; Python {_common.python_version()}",
                  f"# {procs}",
                  f"# threads: {threads}",
                  f"# {os.cpu_count()} CPUs, load average {load0:.2f} at the start; mode {mode_name}, sizes {size}"]
        if missing:
            header.append("# not installed, skipped: " + "; ".join(f"{lib} ({why.splitlines()[-1]})"
                                                                    for lib, why in missing.items()))
        log("\n".join(header) + "\n")
        for name in names:
            res = run_workload(name, workers, cfg, mode, args, log)
            results.append(res)
            log(f"[{name}] {res['repeats']} rounds in {res['seconds']:.1f} s")
        if args.rss:
            for res in results:
                if not res["memory_workload"]:
                    continue
                for key, s in res["contenders"].items():
                    if s["has_g"] and s["lib"] in workers:
                        res["memory"].setdefault(key, {})["rss"] = rss_probe(s["lib"], cfg, res["name"], key)
                        log(f"[{res['name']}] peak RSS increase of {key}: "
                            f"{_common.fmt_bytes(res['memory'][key]['rss'])}")
    finally:
        for w in workers.values():
            w.close()
    load1 = _common.load_average()
    elapsed = time.perf_counter() - t0
    header.append(f"# load average {load1:.2f} at the end; {elapsed:.0f} s in all. Rounds per workload: "
                  + ", ".join(f"{r['name']} {r['repeats']}" for r in results)
                  + f"; contenders slower than {mode['slow']:g} s per call ran only the first "
                    f"{mode['slow_rounds']} round(s) (marked [n rounds])")
    report = build_report(results, header, argv)
    log("\n" + report)
    paths = []
    if not args.no_save:
        out_dir = args.out_dir or os.path.join(HERE, "results")
        os.makedirs(out_dir, exist_ok=True)
        stem = "suite_quick" if args.quick else "suite"
        md = os.path.join(out_dir, stem + ".md")
        with open(md, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
        paths.append(md)
        with open(os.path.join(out_dir, stem + ".json"), "w", encoding="utf-8") as fh:
            json.dump({"header": header, "results": _jsonable(results)}, fh, indent=1, default=str)
        paths.append(os.path.join(out_dir, stem + ".json"))
        try:
            png = os.path.join(out_dir, stem + ".png")
            plot(results, png, f"wengert benchmark suite ({mode_name}, sizes {size}; {os.cpu_count()} CPUs, "
                               f"1 thread; median time per call, log scale)")
            paths.append(png)
        except ImportError:
            log("(matplotlib is not installed: no plot)")
        log("written: " + ", ".join(os.path.relpath(p) for p in paths))
    return {"results": results, "report": report, "paths": paths, "missing": missing, "header": header}


def build_report(results, header, argv):
    cmd = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    parts = ["# wengert benchmark suite", "", f"Written by `{cmd.strip()}`.", "", "```", *header, "```", "",
             "## Validation", ""]
    parts += [f"- **{r['name']}** ({r['title']}): {r['summary']}" for r in results]
    parts += ["", "## Times", "",
              "Median per-call time over the interleaved rounds (IQR). *f*: the function evaluated in the same "
              "library without derivatives; *gradient*: value and gradient (or the Jacobian / Hessian); "
              "*µs per op*: gradient time / the number of primitive operations wengert records for f "
              "(where that is meaningful); *gradient vs wengert*: this row's gradient time / wengert's "
              "(> 1: wengert is faster).", "", main_table(results), "", "## Targets", "", targets_table(results)]
    ct = compile_table(results)
    if ct:
        parts += ["", "## JAX jit: one-off costs (not in any ratio)", "", ct]
    mt = memory_table(results)
    if mt:
        parts += ["", "## Peak memory of one gradient call", "",
                  "tracemalloc: peak of Python-allocator-traced memory above the memory before the call (NumPy "
                  "reports its array buffers to tracemalloc; torch and XLA do not). Peak RSS increase: in a fresh "
                  "process per contender, after one warm-up call, gc and `malloc_trim(0)`, the highest resident "
                  "set size during the call (sampled every ~0.5 ms from /proc/self/statm, or exact from "
                  "`ru_maxrss` when the call set a new high-water mark) minus the RSS just before it.", "", mt]
    profs = [p for r in results for p in r["profiles"]]
    if profs:
        parts += ["", "## Where wengert's time goes, for each unmet target", "", "```", *[p.strip() for p in profs],
                  "```"]
    return "\n".join(parts)


def cli(argv=None):
    try:
        run(argv)
    except ValidationError as e:
        print(f"\nVALIDATION FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        from benchmarks.suite import cli as _cli     # the package's copy: the workers unpickle by that name
        sys.exit(_cli())
    sys.exit(cli())
