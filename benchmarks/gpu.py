"""The engine on a real GPU: every CUDA kernel against its numpy twin on the device,
compute-sanitizer's racecheck on tiny shapes, and the tutorial's epoch, an MLP epoch and a CNN
step against PyTorch on the same GPU, as ratios.

    python benchmarks/gpu.py                 # all three (a CUDA GPU; PyTorch with CUDA for the ratios)
    python benchmarks/gpu.py --check --tiny  # the kernels only, tiny shapes (racecheck runs this)
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu.py --tiny --repeat 1   # the code path, simulated

Exit status 1 when a kernel disagrees with its twin or racecheck reports a hazard.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_mnist.cuda import ops  # noqa: E402  (the device's door: loads the kernel set)
from tinygrad_mnist.cuda.array import to_device as up  # noqa: E402
from tinygrad_mnist.kernels import numpy_kernels as ref  # noqa: E402


def kernel_cases(n: int) -> dict:
    """{name: (on the device, the numpy twin)} at batch n (MNIST's widths)."""
    rng = np.random.default_rng(0)
    x8 = rng.integers(0, 256, (n, 784)).astype(np.uint8)
    w, g = (rng.standard_normal((784, 10)) * 0.01).astype(np.float32), rng.standard_normal((n, 10)).astype(np.float32)
    lp, t = ref.log_softmax(g), rng.integers(0, 10, n)
    img, filters = rng.standard_normal((max(n // 16, 1), 4, 12, 12)).astype(np.float32), (3, 3)
    geo = ((1, 1), (0, 0), (1, 1))
    cols = ref.im2col(img, *filters, *geo, np.float32)
    pooled, index = ref.max_pool2d(img, (2, 2), (2, 2), (0, 0), (6, 6))
    p, m, v, d = (rng.standard_normal(4096).astype(np.float32) for _ in range(4))

    def adamw(on_device):
        arrays = [up(a) for a in (p, m, np.abs(v))] if on_device else [a.copy() for a in (p, m, np.abs(v))]
        (ops if on_device else ref).adamw_update(arrays[0], up(d) if on_device else d,
                                                 arrays[1], arrays[2], 1e-3, 0.9, 0.999, 1e-8, 0.01, 2)
        return np.concatenate([a.get() if on_device else a for a in arrays])
    return {
        "matmul uint8 × float32": (lambda: ops.matmul(up(x8), up(w), 1 / 255).get(), lambda: ref.matmul(x8, w, 1 / 255)),
        "matmul Gᵀ @ X": (lambda: ops.matmul(up(g.T.copy()), up(x8.astype(np.float32))).get(),
                          lambda: ref.matmul(g.T, x8.astype(np.float32))),
        "log_softmax": (lambda: ops.log_softmax(up(g)).get(), lambda: lp),
        "log_softmax backward": (lambda: ops.log_softmax_backward(up(g), up(lp)).get(),
                                 lambda: ref.log_softmax_backward(g, lp)),
        "nll": (lambda: ops.nll(up(lp), up(t)).get(), lambda: ref.nll(lp, t)),
        "nll backward": (lambda: ops.nll_backward(1.0, up(t), up(lp)).get(), lambda: ref.nll_backward(1.0, t, lp)),
        "relu, backward": (lambda: ops.relu_backward(up(g), ops.relu(up(g))).get(),
                           lambda: ref.relu_backward(g, ref.relu(g))),
        "im2col": (lambda: ops.im2col(up(img), *filters, *geo, np.float32).get(), lambda: cols),
        "col2im": (lambda: ops.col2im(up(cols), img.shape, *filters, *geo).get(),
                   lambda: ref.col2im(cols, img.shape, *filters, *geo)),
        "max_pool2d": (lambda: ops.max_pool2d(up(img), (2, 2), (2, 2), (0, 0), (6, 6))[0].get(), lambda: pooled),
        "max_pool2d backward": (lambda: ops.max_pool2d_backward(up(pooled), up(index), img.shape).get(),
                                lambda: ref.max_pool2d_backward(pooled, index, img.shape)),
        "adamw": (lambda: adamw(True), lambda: adamw(False)),
        "sum, broadcast, transpose": (lambda: (up(g).sum(axis=0) + up(g).T.sum(axis=1) * 2.0).get(),
                                      lambda: g.sum(axis=0) + g.T.sum(axis=1) * 2),
    }


def check(tiny: bool) -> int:
    """Each kernel against its twin; the number that disagree."""
    bad = 0
    for name, (device, twin) in kernel_cases(16 if tiny else 4096).items():
        got, want = np.asarray(device()), np.asarray(twin())
        err = float(np.max(np.abs(got - want) / (1 + np.abs(want)))) if want.size else 0.0
        ok = got.shape == want.shape and err < 1e-4
        bad += not ok
        print(f"  {name:28} {'ok ' if ok else 'BAD'} max relative error {err:.1e}")
    return bad


def racecheck() -> bool:
    """compute-sanitizer's racecheck over `--check --tiny` (shared-memory hazards of the tiled
    product and the block trees); True when clean or not installed (said)."""
    exe = shutil.which("compute-sanitizer") or next(
        (p for p in ("/usr/local/cuda/bin/compute-sanitizer",) if os.path.exists(p)), None)
    if exe is None:
        print("compute-sanitizer: not found (the CUDA toolkit's), racecheck not run")
        return True
    run = subprocess.run([exe, "--tool", "racecheck", "--error-exitcode", "3", sys.executable, __file__, "--check",
                          "--tiny"], capture_output=True, text=True, timeout=1200)
    print("\n".join(line for line in run.stdout.splitlines()[-4:]) or run.stderr[-400:])
    return run.returncode == 0


def timed(fn, repeat: int) -> float:
    """Median wall-clock ms of fn() to the GPU's end (after one warm-up call)."""
    from numba import cuda
    fn()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def training(repeat: int, tiny: bool) -> None:
    """The tutorial's epoch (full batch, + test accuracy), an MLP epoch (batch 64) and a CNN step
    (batch 64) through the trainer's code on the GPU, beside PyTorch's on the same GPU. `tiny`:
    the first 16 training and 8 test images, linear and MLP only (what the simulator affords,
    to keep this script's code path tested)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gpu_torch
    from tinygrad_mnist.datasets import mnist
    data = mnist.load(None)
    if tiny:
        data = mnist.Dataset(*(getattr(data, f).narrow(0, 0, n) for f, n in (
            ("train_images", 16), ("train_labels", 16), ("test_images", 8), ("test_labels", 8))))
    rows = [("tutorial epoch, linear, full batch", "linear", 1 << 62, None),
            ("MLP epoch, batch 64", "mlp", 8 if tiny else 64, None), ("CNN step, batch 64", "cnn", 64, 64)]
    rows = rows[:2] if tiny else rows
    print(f"{'workload':38} {'engine ms':>10} {'torch ms':>10} {'engine ÷ torch':>15}")
    for name, kind, batch, rows_used in rows:
        engine = timed(gpu_torch.engine_run(kind, data, batch, rows_used), repeat)
        theirs = gpu_torch.torch_run(kind, data, batch, rows_used)
        torch_ms = timed(theirs, repeat) if theirs else float("nan")
        print(f"{name:38} {engine:10.1f} {torch_ms:10.1f} {engine / torch_ms:15.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="the kernels only")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (the simulator, racecheck)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("kernels against their numpy twins on the device:")
    bad = check(args.tiny)
    if args.check:
        return int(bad > 0)
    clean = racecheck()
    training(args.repeat, args.tiny)
    return int(bad > 0 or not clean)


if __name__ == "__main__":
    sys.exit(main())
