"""Benchmarks: the engine against its numpy twins, hand-written numpy and PyTorch.

    python benchmarks/run.py                    # the full run recorded in docs/benchmarks.md
    python benchmarks/run.py --quick            # a smoke test (one repeat each): not a measurement
    python benchmarks/run.py --json out.json    # also save the results
    python benchmarks/run.py --threads 1,2,4    # the training workloads at each thread count
    python benchmarks/step_profile.py           # the CNN step kernel by kernel, on 1 and 2 threads

Every comparison is taken in the same run, implementations alternating over
several rounds, each figure the median of its timed runs after a warm-up.
On a 2-core machine the thread pools of OpenBLAS and PyTorch keep spinning for
a moment after a call and slow whichever runs next, so each implementation's
turn starts with a pause. Then it warms up for half a second of its own calls:
on the virtual machines this was measured on, a thread woken after a long idle
stays slow to wake (about 2x on a 1 ms kernel) until the vCPUs have been busy
for a while, and a single warm-up call does not undo that. PyTorch columns
appear when torch is importable (`pip install -e '.[bench]'`).
"""
from __future__ import annotations

from tinygrad_mnist.app.cli import tune_process

tune_process()  # the command line's process settings (docs/kernels.md), before numpy loads OpenBLAS

import argparse  # noqa: E402
import json
import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import baselines  # noqa: E402
import timing  # noqa: E402
from process import process_workloads  # noqa: E402
from sweep import sweep_table, thread_count_list, thread_limit, thread_sweep  # noqa: E402,F401  (tests use run.thread_limit)
from timing import compare, machine, table, torch  # noqa: E402,F401  (torch: the tests ask run.torch)
from workloads import conv_workloads, epoch_workloads, kernel_workloads  # noqa: E402
from higher import higher_workloads  # noqa: E402

from tinygrad_mnist.datasets import mnist  # noqa: E402
from tinygrad_mnist.kernels.pool import usable_cores  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of everything: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--threads", type=thread_count_list, metavar="N,N,...",
                        help="instead of the full run, the training workloads at each of these thread counts "
                             "(engine and PyTorch limited alike, BLAS included); counts above the cores are skipped")
    args = parser.parse_args(argv)
    repeats, rounds = (1, 1) if args.quick else (5, 3)
    if args.quick:
        timing.WARM_UP = 0.0
    started = time.perf_counter()
    results: Dict[str, object] = {"machine": header(args), "quick": args.quick}
    if args.threads:
        results.update(sweep_section(args.threads, repeats, rounds, args.quick))
    else:
        results.update(full_run(repeats, rounds, args.quick))
    return finish(results, args.json, started)


def header(args) -> Dict[str, str]:
    info = machine()
    print("# tinygrad_mnist benchmarks" + (" (--quick: one repeat, not a measurement)" if args.quick else ""))
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + \
        (f" --threads {','.join(map(str, args.threads))}" if args.threads else "")
    print(f"\ncommand: {command}\n")
    for k, v in info.items():
        print(f"- {k}: {v}")
    return info


def sweep_section(counts: List[int], repeats: int, rounds: int, quick: bool) -> Dict[str, object]:
    rows, skipped = thread_sweep(counts, mnist.load(), baselines.float_data(), repeats, rounds, quick)
    base = rows[0]["threads"]
    print(f"\n## 6. Thread sweep (speedups over {base} thread{'s' if base > 1 else ''}; "
          "ratios below 1: the engine is faster)\n")
    print(sweep_table(rows))
    if skipped:
        print(f"\nskipped (more threads than the {usable_cores()} cores here): {', '.join(map(str, skipped))}")
    return {"sweep": rows, "skipped_threads": skipped}


def section(title: str, workloads, repeats: int, rounds: int, columns: List[str]) -> List[dict]:
    rows = [{"workload": n, "ms": compare(i, repeats, rounds)} for n, i in workloads]
    print(f"\n## {title}\n")
    print(table(rows, columns))
    return rows


def full_run(repeats: int, rounds: int, quick: bool) -> Dict[str, object]:
    rng = np.random.default_rng(0)
    results: Dict[str, object] = {}
    kernel_columns = ["numba", "numpy twin", "torch"]
    results["kernels"] = section("1. Kernels at MNIST shapes (ratios below 1: numba is faster)",
                                 kernel_workloads(rng), repeats * 3, rounds, kernel_columns)
    results["convolutions"] = section("1b. Convolutions, batch of 64, through the engine",
                                      conv_workloads(rng), repeats * 3, rounds, kernel_columns)
    results["training"] = section("2-4. Training (ratios below 1: the engine is faster)",
                                  epoch_workloads(mnist.load(), baselines.float_data(), quick), repeats, rounds,
                                  ["engine", "engine, numpy kernels", "hand-written numpy", "torch"])
    results["higher_order"] = section("7. Higher order (ratios below 1: the engine is faster)", higher_workloads(rng),
                                      repeats * 3, rounds, ["engine", "engine, vhp (reverse over reverse)", "torch"])
    procs = process_workloads(1 if quick else 3)
    print("\n## 5. Whole process: `python -m tinygrad_mnist.train` with defaults (10 epochs)\n")
    print("| run | wall s | peak RSS MiB | wall ÷ engine's (warm) |\n|---|---|---|---|")
    warm = procs["engine, warm cache"][0]
    for name, (wall, rss) in procs.items():
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {wall / warm:.2f} |")
    results["process"] = {k: {"wall_s": w, "peak_rss_mib": r} for k, (w, r) in procs.items()}
    return results


def finish(results: Dict[str, object], json_path: Optional[str], started: float) -> int:
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
