"""Smoke test of the benchmark suite (benchmarks/suite.py): the quick mode's wengert-only
part at tiny sizes, in this process. It asserts that every workload's gradients were
validated and that the table was printed; it never looks at a time. The peers (autograd,
torch, JAX) are not needed: a peer whose import fails is skipped."""
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

suite = pytest.importorskip("benchmarks.suite")
workloads = pytest.importorskip("benchmarks.workloads")

ARGS = ["--quick", "--size", "tiny", "--libs", "wengert", "--in-process", "--repeats", "2",
        "--threads", "0", "--no-rss", "--no-profile"]


@pytest.fixture
def quiet_env(monkeypatch):
    # the suite sets JAX_PLATFORMS if unset; keep the test process's environment as it was
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")


def test_quick_wengert_only_validates_and_prints_the_table(tmp_path, quiet_env):
    lines = []
    out = suite.run(ARGS + ["--out-dir", str(tmp_path)], log=lines.append)
    printed = "\n".join(lines)

    names = [r["name"] for r in out["results"]]
    assert names == list(workloads.WORKLOADS)
    for r in out["results"]:
        # validate() raises on any disagreement; its summary counts what was compared
        assert " gradients agree with " in r["summary"], (r["name"], r["summary"])
        assert not r["summary"].startswith("0 "), (r["name"], r["summary"])
        assert any(s["lib"] == "wengert" and s["has_g"] and s["result"] is not None
                   for s in r["contenders"].values()), r["name"]
        assert all(ts for (key, kind), ts in r["times"].items()), r["name"]

    assert "| workload | contender | f (IQR) | gradient (IQR) |" in printed
    assert "## Targets" in printed
    for name in names:
        assert f"| {name} | **wengert" in printed
    assert (tmp_path / "suite_quick.md").read_text(encoding="utf-8").startswith("# wengert benchmark suite")


def test_a_peer_that_does_not_import_is_skipped(monkeypatch, quiet_env):
    real = suite._import_lib

    def fake(lib):
        if lib == "torch":
            raise ImportError("No module named 'torch' (simulated)")
        return real(lib)
    monkeypatch.setattr(suite, "_import_lib", fake)
    workers, missing = suite.start_workers(["wengert", "torch"], {"size": "tiny", "seed": 0, "threads": 0},
                                           in_process=True, log=lambda *a: None)
    assert set(workers) == {"wengert"}
    assert "torch" in missing and "simulated" in missing["torch"]
    for w in workers.values():
        w.close()


def test_a_wrong_gradient_fails_validation(monkeypatch, quiet_env):
    """A validation failure is an error, never a skipped row."""
    from benchmarks.workloads import Chain
    real = Chain.reference

    def off_by_a_bit(self):
        v, g = real(self)
        return v, [g[0] * (1 + 1e-6)]
    monkeypatch.setattr(Chain, "reference", off_by_a_bit)
    with pytest.raises(suite.ValidationError):
        suite.run(["--quick", "--size", "tiny", "--libs", "wengert", "--in-process", "--repeats", "1",
                   "--threads", "0", "--no-save", "--only", "chain"], log=lambda *a: None)


@pytest.mark.parametrize("wrt", ["x0", "x0W"])
@pytest.mark.parametrize("s", [1, 3, 40])
def test_memory_benchmark_hand_written_references_agree(wrt, s):
    """bench_memory.py's no-overhead references (the gradient by hand, and revolve's schedule
    carried out by hand) compute the gradient of the plain tape."""
    import numpy as onp
    bench = pytest.importorskip("benchmarks.bench_memory")
    rng = onp.random.default_rng(1)
    n, d = 40, 6
    w = 2.0 * rng.standard_normal((d, d)) / onp.sqrt(d)
    x0 = rng.standard_normal(d)
    g = bench.make_gradient(bench.plain_tape, n, wrt)(x0, w)
    flat = bench._flat(g)
    bench._BLOCK, block = 7, bench._BLOCK           # several blocks of W's terms and a partial one
    try:
        for got in (bench.hand_written(x0, w, n, wrt), bench.hand_revolve(s)(x0, w, n, wrt)):
            onp.testing.assert_allclose(bench._flat(got), flat, rtol=1e-10, atol=1e-12)
    finally:
        bench._BLOCK = block
