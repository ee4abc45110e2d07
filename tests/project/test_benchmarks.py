"""The benchmark suite keeps running: `benchmarks/run.py --quick` end to end."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports_every_workload(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True and results["machine"]["cores"]
    assert {r["workload"] for r in results["kernels"]} >= {"matmul X@W.T uint8", "dW = G.T@X uint8", "log_softmax"}
    training = {r["workload"]: r["ms"] for r in results["training"]}
    assert len(training) == 4
    tutorial = training["tutorial epoch: linear, full batch, + test accuracy"]
    assert {"engine", "engine, numpy kernels", "hand-written numpy"} <= set(tutorial)
    assert all(v > 0 for row in training.values() for v in row.values())
    assert {"engine, warm cache", "engine, empty cache", "numpy script"} <= set(results["process"])
    assert len(results["convolutions"]) == 2
    assert {r["workload"][:3] for r in results["higher_order"]} == {"HVP", "JVP"}
    assert "| tutorial epoch" in proc.stdout


@pytest.mark.slow
def test_thread_sweep_runs_each_count_and_skips_those_above_the_cores(tmp_path):
    """`benchmarks/run.py --threads 1,2,N` (quick): every training workload at each count the
    machine has cores for, engine and PyTorch limited alike; a count above the cores is skipped."""
    import os
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = tmp_path / "sweep.json"
    counts = [1, 2, cores + 1]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--threads",
                           ",".join(map(str, counts)), "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    ran = sorted({r["threads"] for r in results["sweep"]})
    assert ran == [c for c in (1, 2) if c <= cores] and results["skipped_threads"] == [cores + 1]
    workloads = {r["workload"] for r in results["sweep"]}
    assert len(workloads) == 4 and len(results["sweep"]) == 4 * len(ran)
    assert all(r["ms"]["engine"] > 0 and set(r["ms"]) <= {"engine", "torch"} for r in results["sweep"])
    assert "| CNN training step, batch 64 | 1 |" in proc.stdout and f"skipped (more threads than the {cores} cores" in proc.stdout
    has_torch = results["machine"]["torch"] != "not installed"
    assert all(("torch" in r["ms"]) == has_torch for r in results["sweep"])


def test_thread_limit_restores_every_pool():
    code = """
import sys; sys.path.insert(0, sys.argv[1])
import run
from tinygrad_mnist import kernels
from tinygrad_mnist.kernels import blas
before = (kernels.get_threads(), blas.threads())
with run.thread_limit(1):
    assert kernels.get_threads() == 1 and blas.threads() in (1, None)
    if run.torch is not None:
        assert run.torch.get_num_threads() == 1
assert (kernels.get_threads(), blas.threads()) == before, before
"""
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_the_step_profile_prints_every_kernel_and_the_whole_step():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "step_profile.py"), "--steps", "2"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "| `matmul` | (4096, 800) · (800, 64) | 1 |" in out and "| **step** |" in out and "im2col" in out


@pytest.mark.slow
def test_the_gpu_benchmark_runs_in_the_simulator():
    """`benchmarks/gpu.py --tiny` in numba's CUDA simulator: every kernel checked against its twin
    and the training workloads' code path run (a GPU session measures them for real)."""
    import os
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--tiny", "--repeat", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(" ok ") >= 13 and " BAD " not in proc.stdout
    assert "tutorial epoch, linear, full batch" in proc.stdout and "MLP epoch" in proc.stdout
