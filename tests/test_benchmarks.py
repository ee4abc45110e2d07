"""The benchmark suite keeps running: `benchmarks/run.py --quick` end to end."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
    assert "| tutorial epoch" in proc.stdout
