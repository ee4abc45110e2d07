"""A training step kernel by kernel: each kernel call of the step timed in place, on 1 and on 2 threads.

    python benchmarks/step_profile.py             # the CNN step, batch 64 (docs/kernels.md's table)
    python benchmarks/step_profile.py --steps 20  # fewer steps (a smoke test)

The kernel set is wrapped by a timer for the timed steps only (the step's own time is taken
unwrapped first), after a second of warm-up steps on each thread count; "Python" is the step's
time outside any kernel: the graph, the dropout mask, the optimizer's loop.
"""
from __future__ import annotations

from tinygrad_mnist.app.cli import tune_process

tune_process()  # the command line's process settings, before numpy loads OpenBLAS

import argparse  # noqa: E402
import collections
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import cnn_step  # noqa: E402

from tinygrad_mnist import kernels  # noqa: E402
from tinygrad_mnist.datasets import mnist  # noqa: E402
from tinygrad_mnist.kernels.interface import ARITHMETIC  # noqa: E402

Key = Tuple[str, str]


def operands(args) -> str:
    shapes = [str(tuple(a.shape)) for a in args[:2] if hasattr(a, "shape") and a.shape]
    return " · ".join(shapes)


def timed_kernels(stats: Dict[Key, List[float]]):
    """Wrap every kernel of the current set with a timer; returns a function that unwraps them."""
    impl, saved = kernels.impl, {}
    for name in ARITHMETIC:
        fn = saved[name] = getattr(impl, name)

        def wrapper(*args, _fn=fn, _name=name, **kw):
            start = time.perf_counter()
            out = _fn(*args, **kw)
            stats[(_name, operands(args))].append(time.perf_counter() - start)
            return out
        setattr(impl, name, wrapper)
    return lambda: [setattr(impl, n, f) for n, f in saved.items()]


def profile(threads: int, steps: int) -> Tuple[float, Dict[Key, Tuple[int, float]]]:
    """The step's milliseconds, and each kernel's calls per step and milliseconds per step."""
    kernels.set_threads(threads)
    step = cnn_step(mnist.load())
    warm = time.perf_counter() + 1.0
    while time.perf_counter() < warm:
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    total = (time.perf_counter() - start) / steps * 1e3
    stats: Dict[Key, List[float]] = collections.defaultdict(list)
    unwrap = timed_kernels(stats)
    try:
        for _ in range(steps):
            step()
    finally:
        unwrap()
    return total, {k: (len(v) // steps, sum(v) / steps * 1e3) for k, v in stats.items()}


def table(one: Tuple[float, dict], two: Tuple[float, dict], least: float = 0.05) -> str:
    (t1, k1), (t2, k2) = one, two
    lines = ["| kernel | operands | calls | 1 thread ms | 2 threads ms | speed-up |", "|---|---|---|---|---|---|"]
    small1 = small2 = 0.0
    for key in sorted(k2, key=lambda k: -k2[k][1]):
        calls, ms2 = k2[key]
        ms1 = k1.get(key, (0, float("nan")))[1]
        if ms2 < least:
            small1, small2 = small1 + ms1, small2 + ms2
            continue
        lines.append(f"| `{key[0]}` | {key[1]} | {calls} | {ms1:.2f} | {ms2:.2f} | {ms1 / ms2:.2f}× |")
    lines.append(f"| the other kernels (< {least} ms each) | | | {small1:.2f} | {small2:.2f} | |")
    rest1, rest2 = t1 - sum(v[1] for v in k1.values()), t2 - sum(v[1] for v in k2.values())
    lines.append(f"| Python: graph, dropout mask, optimizer loop | | | {rest1:.2f} | {rest2:.2f} | |")
    lines.append(f"| **step** | | | **{t1:.2f}** | **{t2:.2f}** | {t1 / t2:.2f}× |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/step_profile.py", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per thread count (default: 60)")
    args = parser.parse_args(argv)
    print("# the CNN training step, batch 64, kernel by kernel\n")
    print(table(profile(1, args.steps), profile(2, args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
