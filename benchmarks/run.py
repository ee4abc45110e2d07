"""Benchmarks: the engine's kernels against their numpy twins (and PyTorch where installed).

    python benchmarks/run.py            # full run
    python benchmarks/run.py --quick    # fewer repeats, for a smoke test
    python benchmarks/run.py --json results.json

Every comparison is taken in the same run, implementations alternating, each
figure the median of several timed runs after a warm-up. On a 2-core machine
the thread pools of numba, OpenBLAS and PyTorch keep spinning for a moment
after a call and slow whichever runs next, so each implementation's timings
start after a short pause and a warm-up call.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np

try:
    import torch
except ImportError:  # PyTorch columns are optional
    torch = None

from tinygrad_mnist import Tensor, kernels
from tinygrad_mnist.kernels import numba_kernels, numpy_kernels

PAUSE = 0.25  # seconds between implementations: lets spinning thread pools (OpenMP, BLAS) go idle


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    time.sleep(PAUSE)  # let the previous implementation's threads go idle...
    fn()  # ...and wake ours (and compile, the first time)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def compare(impls: Dict[str, Callable[[], object]], repeats: int, rounds: int = 3) -> Dict[str, float]:
    """Median time of each implementation, interleaving them over `rounds` rounds."""
    samples: Dict[str, List[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            samples[name].append(median_ms(fn, max(1, repeats // rounds)))
    return {name: statistics.median(v) for name, v in samples.items()}


def machine() -> Dict[str, str]:
    import numba
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "numba threads": str(numba.get_num_threads()), "numba threading layer": numba.config.THREADING_LAYER}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in threadpool_info())
    except ImportError:
        pass
    info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads" if torch else "not installed"
    return info


def kernel_workloads(rng: np.random.Generator):
    """Workload 1: the kernels at MNIST shapes (60,000 × 784 pixels, 10 classes)."""
    x8 = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
    x32 = x8.astype(np.float32)
    w = (rng.standard_normal((10, 784)) * 0.01).astype(np.float32)
    g = rng.standard_normal((60000, 10)).astype(np.float32)
    t = rng.integers(0, 10, 60000).astype(np.uint8)
    lp = numpy_kernels.log_softmax(g)
    cases = {
        "matmul X@W.T uint8": lambda k: (lambda: k.matmul(x8, w.T, 1 / 255)),
        "matmul X@W.T float32": lambda k: (lambda: k.matmul(x32, w.T)),
        "dW = G.T@X uint8": lambda k: (lambda: k.matmul(g.T, x8, 1 / 255)),
        "dW = G.T@X float32": lambda k: (lambda: k.matmul(g.T, x32)),
        "log_softmax": lambda k: (lambda: k.log_softmax(g)),
        "nll": lambda k: (lambda: k.nll(lp, t)),
        "softmax - onehot": lambda k: (lambda: k.softmax_nll_backward(1.0, t, lp)),
    }
    torch_cases = {}
    if torch is not None:
        tx8, tx32, tw, tg = map(torch.from_numpy, (x8, x32, w, g))
        tt, tlp = torch.from_numpy(t.astype(np.int64)), torch.from_numpy(lp)
        torch_cases = {
            "matmul X@W.T uint8": lambda: (tx8.float() @ tw.T) / 255,
            "matmul X@W.T float32": lambda: tx32 @ tw.T,
            "dW = G.T@X uint8": lambda: (tg.T @ tx8.float()) / 255,
            "dW = G.T@X float32": lambda: tg.T @ tx32,
            "log_softmax": lambda: torch.log_softmax(tg, dim=1),
            "nll": lambda: torch.nn.functional.nll_loss(tlp, tt),
            "softmax - onehot": lambda: (tlp.exp() - torch.nn.functional.one_hot(tt, 10)) / 60000,
        }
    for name, make in cases.items():
        impls = {"numba": make(numba_kernels), "numpy twin": make(numpy_kernels)}
        if name in torch_cases:
            impls["torch"] = torch_cases[name]
        yield name, impls


def conv_workloads(rng: np.random.Generator):
    """Candle's two convolutions on a batch of 64, forward and backward, through the engine."""
    shapes = {"conv1 64×1×28×28 uint8, 32×1×5×5": ((64, 1, 28, 28), (32, 1, 5, 5), np.uint8),
              "conv2 64×32×12×12, 64×32×5×5": ((64, 32, 12, 12), (64, 32, 5, 5), np.float32)}
    for name, (xs, ws, dtype) in shapes.items():
        x = rng.integers(0, 256, xs, dtype=np.uint8) if dtype == np.uint8 else rng.standard_normal(xs).astype(dtype)
        w = (rng.standard_normal(ws) * 0.05).astype(np.float32)
        b = np.zeros(ws[0], np.float32)
        scale = 1 / 255 if dtype == np.uint8 else 1.0

        def engine(backend: str, x=x, w=w, b=b, scale=scale):
            def step():
                with kernels.use(backend):
                    wt, bt = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
                    y = Tensor(x, requires_grad=dtype != np.uint8).conv2d(wt, bt, scale=scale)
                    y.backward(np.ones(y.shape, np.float32))
            return step
        impls = {"numba": engine("numba"), "numpy twin": engine("numpy")}
        if torch is not None:
            tx = torch.from_numpy(x.astype(np.float32) * scale)

            def torch_step(tx=tx, w=w, b=b):
                tw = torch.from_numpy(w).requires_grad_()
                tb = torch.from_numpy(b).requires_grad_()
                inp = tx.detach().requires_grad_(tx.dtype == torch.float32 and scale == 1.0)
                y = torch.nn.functional.conv2d(inp, tw, tb)
                y.backward(torch.ones_like(y))
            impls["torch"] = torch_step
        yield name + " fwd+bwd", impls


def table(rows: List[dict], columns: List[str]) -> str:
    base = columns[0]
    head = f"| workload | {' | '.join(c + ' ms' for c in columns)} | {' | '.join(base + ' ÷ ' + c for c in columns[1:])} |"
    lines = [head, "|" + "---|" * (1 + 2 * len(columns) - 1)]
    for r in rows:
        t = r["ms"]
        cells = [f"{t[c]:.2f}" if c in t else "—" for c in columns]
        ratios = [f"{t[base] / t[c]:.2f}×" if c in t else "—" for c in columns[1:]]
        lines.append(f"| {r['workload']} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke test, not a measurement")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 15
    info = machine()
    print("# tinygrad_mnist benchmarks" + (" (quick)" if args.quick else ""))
    for k, v in info.items():
        print(f"- {k}: {v}")
    rng = np.random.default_rng(0)
    rows = []
    for name, impls in kernel_workloads(rng):
        rows.append({"workload": name, "ms": compare(impls, repeats)})
    print("\n## Kernels at MNIST shapes (a ratio below 1 means numba is faster)\n")
    print(table(rows, ["numba", "numpy twin", "torch"]))
    conv_rows = [{"workload": name, "ms": compare(impls, repeats)} for name, impls in conv_workloads(rng)]
    print("\n## Convolutions, batch of 64, through the engine\n")
    print(table(conv_rows, ["numba", "numpy twin", "torch"]))
    rows += conv_rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "quick": args.quick, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
