"""How the benchmarks time code: implementations alternating over rounds, each figure the median
of its timed runs after a pause and a warm-up (benchmarks/run.py's docstring says why), and the
machine each run was taken on."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable, Dict, List

import numpy as np

try:
    import torch
except ImportError:
    torch = None

from tinygrad_mnist.kernels import numba_kernels
from tinygrad_mnist.kernels.pool import usable_cores

PAUSE = 0.25   # seconds between implementations: lets spinning thread pools (OpenMP, BLAS) go idle
WARM_UP = 0.5  # seconds of an implementation's own calls before it is timed (0 for --quick)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    time.sleep(PAUSE)  # let the previous implementation's threads go idle...
    end = time.perf_counter() + WARM_UP
    fn()  # ...then wake ours (and compile, the first time) and keep them busy a while
    while time.perf_counter() < end:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def compare(impls: Dict[str, Callable[[], object]], repeats: int, rounds: int) -> Dict[str, float]:
    """Median time of each implementation, interleaving them over `rounds` rounds."""
    samples: Dict[str, List[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            samples[name].append(median_ms(fn, repeats))
    return {name: statistics.median(v) for name, v in samples.items()}


def machine() -> Dict[str, str]:
    import numba
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": str(usable_cores()), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "kernel threads": f"{numba_kernels.get_num_threads()} (tinygrad_mnist's pool)"}
    from threadpoolctl import threadpool_info  # a dependency of the engine (kernels/blas.py)
    info["blas"] = ", ".join(f"{p['internal_api']} {p.get('version', '')} {p.get('architecture', '')}, "
                             f"{p['num_threads']} threads" for p in threadpool_info())
    for var in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS", "PYTHONDONTWRITEBYTECODE"):
        if var in os.environ:
            info[var] = os.environ[var]
    info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads" if torch else "not installed"
    return info


def table(rows: List[dict], columns: List[str]) -> str:
    base = columns[0]
    present = [c for c in columns if any(c in r["ms"] for r in rows)]
    head = "| workload | " + " | ".join(f"{c} ms" for c in present) + " | " + \
           " | ".join(f"{base} ÷ {c}" for c in present[1:]) + " |"
    lines = [head, "|" + "---|" * (2 * len(present))]
    for r in rows:
        t = r["ms"]
        cells = [f"{t[c]:.2f}" if c in t else "—" for c in present]
        ratios = [f"{t[base] / t[c]:.2f}" if c in t else "—" for c in present[1:]]
        lines.append(f"| {r['workload']} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines)
