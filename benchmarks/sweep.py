"""6. The thread sweep: the training workloads at each thread count, the engine and PyTorch side
by side, every pool limited alike."""
from __future__ import annotations

import argparse
import contextlib
import statistics
from typing import Dict, List

try:
    import torch
except ImportError:
    torch = None

from timing import median_ms
from tinygrad_mnist import kernels
from tinygrad_mnist.datasets import mnist
from tinygrad_mnist.kernels.pool import usable_cores
from workloads import epoch_workloads


@contextlib.contextmanager
def thread_limit(n: int):
    """Every pool at `n` threads inside the block: the engine's kernels and its BLAS
    (`kernels.set_threads`), PyTorch's intra-op pool, and any other BLAS or OpenMP pool
    threadpoolctl finds (PyTorch's OpenMP among them)."""
    from threadpoolctl import threadpool_limits  # a dependency of the engine (kernels/blas.py)

    from tinygrad_mnist.kernels import blas
    before, before_blas = kernels.get_threads(), blas.threads()
    before_torch = torch.get_num_threads() if torch is not None else None
    kernels.set_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        kernels.set_threads(before)
        if before_blas is not None:
            blas.set_threads(before_blas)
        if torch is not None:
            torch.set_num_threads(before_torch)


def thread_sweep(counts: List[int], data: mnist.Dataset, floats, repeats: int, rounds: int, quick: bool):
    """6. The training workloads at each thread count, the engine and PyTorch side by side.
    Counts above the cores this process may use are skipped: they would measure time slicing.
    Thread counts alternate within each round as the implementations do, so a machine that
    gets busier during the run slows every count alike rather than the last ones."""
    cores = usable_cores()
    ran = sorted(set(c for c in counts if c <= cores))
    rows = []
    for name, impls in epoch_workloads(data, floats, quick):
        impls = {k: v for k, v in impls.items() if k in ("engine", "torch")}
        samples: Dict[int, Dict[str, List[float]]] = {n: {k: [] for k in impls} for n in ran}
        for _ in range(rounds):
            for n in ran:
                with thread_limit(n):
                    for k, fn in impls.items():
                        samples[n][k].append(median_ms(fn, repeats))
        rows += [{"workload": name, "threads": n,
                  "ms": {k: statistics.median(v) for k, v in samples[n].items()}} for n in ran]
    return rows, sorted(set(c for c in counts if c > cores))


def sweep_table(rows: List[dict]) -> str:
    """One row per workload and thread count: times, the ratio, and each side's speedup over the
    sweep's smallest count; a workload slower than at a smaller count is marked."""
    lines = ["| workload | threads | engine ms | torch ms | engine ÷ torch | engine speedup | torch speedup |",
             "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == name]
        base, best = mine[0]["ms"], float("inf")
        for r in mine:
            t = r["ms"]
            slower = " (slower than fewer threads)" if t["engine"] > best * 1.05 else ""
            best = min(best, t["engine"])
            cells = [f"{t['engine']:.2f}{slower}", f"{t['torch']:.2f}" if "torch" in t else "—",
                     f"{t['engine'] / t['torch']:.2f}" if "torch" in t else "—",
                     f"{base['engine'] / t['engine']:.2f}×",
                     f"{base['torch'] / t['torch']:.2f}×" if "torch" in t else "—"]
            lines.append(f"| {name} | {r['threads']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def thread_count_list(text: str) -> List[int]:
    try:
        counts = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2,4, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected thread counts >= 1, got {text!r}")
    return counts
