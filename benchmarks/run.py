"""Benchmarks: the engine against its numpy twins, hand-written numpy and PyTorch.

    python benchmarks/run.py                    # the full run recorded in docs/benchmarks.md
    python benchmarks/run.py --quick            # a smoke test (one repeat each): not a measurement
    python benchmarks/run.py --json out.json    # also save the results
    python benchmarks/run.py --threads 1,2,4    # the training workloads at each thread count

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

from tinygrad_mnist.cli import tune_process

tune_process()  # the command line's process settings (docs/kernels.md), before numpy loads OpenBLAS

import argparse  # noqa: E402
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np

try:
    import torch
except ImportError:
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import baselines  # noqa: E402

from tinygrad_mnist import kernels, train  # noqa: E402
from tinygrad_mnist.datasets import mnist  # noqa: E402
from tinygrad_mnist.kernels import numba_kernels, numpy_kernels  # noqa: E402
from tinygrad_mnist.kernels.pool import usable_cores  # noqa: E402
from tinygrad_mnist.models import MODELS  # noqa: E402
from tinygrad_mnist.nn import SGD, AdamW, VarBuilder, VarMap, init  # noqa: E402

PAUSE = 0.25   # seconds between implementations: lets spinning thread pools (OpenMP, BLAS) go idle
WARM_UP = 0.5  # seconds of an implementation's own calls before it is timed (see the docstring)


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
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = ", ".join(f"{p['internal_api']} {p.get('version', '')} {p.get('architecture', '')}, "
                                 f"{p['num_threads']} threads" for p in threadpool_info())
    except ImportError:
        info["blas"] = "(install threadpoolctl to report)"
    for var in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        if var in os.environ:
            info[var] = os.environ[var]
    info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads" if torch else "not installed"
    return info


# ---------------------------------------------------------------- workloads

def kernel_workloads(rng):
    """1. The kernels at MNIST shapes (60,000 × 784 pixels, 10 classes)."""
    x8 = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
    x8[rng.random(x8.shape) < 0.8] = 0  # MNIST-like: about a fifth of the pixels are ink
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
        "log_softmax backward": lambda k: (lambda: k.log_softmax_backward(g, lp)),
        "nll": lambda k: (lambda: k.nll(lp, t)),
        "nll backward": lambda k: (lambda: k.nll_backward(1.0, t, lp)),
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
            "log_softmax backward": lambda: tg - tlp.exp() * tg.sum(dim=1, keepdim=True),
            "nll": lambda: torch.nn.functional.nll_loss(tlp, tt),
        }
    for name, make in cases.items():
        impls = {"numba": make(numba_kernels), "numpy twin": make(numpy_kernels)}
        if name in torch_cases:
            impls["torch"] = torch_cases[name]
        yield name, impls


def conv_workloads(rng):
    """1b. Candle's two convolutions on a batch of 64, forward and backward, through the engine."""
    from tinygrad_mnist import Tensor
    shapes = {"conv1 64×1×28×28 ⋆ 32×1×5×5": ((64, 1, 28, 28), (32, 1, 5, 5), np.uint8),
              "conv2 64×32×12×12 ⋆ 64×32×5×5": ((64, 32, 12, 12), (64, 32, 5, 5), np.float32)}
    for name, (xs, ws, dtype) in shapes.items():
        x = rng.integers(0, 256, xs, dtype=np.uint8) if dtype == np.uint8 else rng.standard_normal(xs).astype(dtype)
        w = (rng.standard_normal(ws) * 0.05).astype(np.float32)
        b = np.zeros(ws[0], np.float32)
        x = x.astype(np.float32) / 255 if dtype == np.uint8 else x  # pixels as 0..1, as the CNN reads them

        def engine(backend, x=x, w=w, b=b, grad_x=dtype != np.uint8):
            def step():
                with kernels.use(backend):
                    wt, bt = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
                    y = Tensor(x, requires_grad=grad_x).conv2d(wt, bt)
                    y.backward(np.ones(y.shape, np.float32))
            return step
        impls = {"numba": engine("numba"), "numpy twin": engine("numpy")}
        if torch is not None:
            tx = torch.from_numpy(x)

            def torch_step(tx=tx, w=w, b=b, grad_x=dtype != np.uint8):
                tw, tb = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
                y = torch.nn.functional.conv2d(tx.detach().requires_grad_(grad_x), tw, tb)
                y.backward(torch.ones_like(y))
            impls["torch"] = torch_step
        yield name + ", forward + backward", impls


def engine_epoch(kind: str, data: mnist.Dataset, batch_size: int, backend: str = "numba",
                 evaluate: bool = True) -> Callable[[], float]:
    """One epoch through the trainer's own code (train_epoch, then accuracy), on kernel set `backend`."""
    init.seed(0)
    varmap = VarMap()
    model = MODELS[kind](VarBuilder.from_varmap(varmap))
    lr = train.cli.DEFAULT_LEARNING_RATE[kind]
    opt = (SGD if train.cli.DEFAULT_OPTIMIZER[kind] == "sgd" else AdamW)(varmap.all_vars(), lr)
    stop = train.StopRequest()  # never entered: no signal handler, never requested

    def epoch() -> float:
        with kernels.use(backend):
            loss = train.train_epoch(model, opt, data, batch_size, 1, stop, False)
            if evaluate:
                train.accuracy(model, data.test_images, data.test_labels, train.EVAL_BATCH.get(kind))
        return loss
    return epoch


def epoch_workloads(data: mnist.Dataset, floats, quick: bool):
    """2-4. Training epochs and steps: the engine against numpy and PyTorch."""
    x, y, xt, yt = floats
    full = 1 << 62
    impls = {"engine": engine_epoch("linear", data, full),
             "engine, numpy kernels": engine_epoch("linear", data, full, "numpy"),
             "hand-written numpy": baselines.numpy_linear_epoch(x, y, xt, yt)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("linear", x, y, xt, yt, 0.1)
    yield "tutorial epoch: linear, full batch, + test accuracy", impls

    impls = {"engine": engine_epoch("mlp", data, full)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("mlp", x, y, xt, yt, train.cli.DEFAULT_LEARNING_RATE["mlp"])
    yield "MLP epoch, full batch, + test accuracy", impls

    impls = {"engine": engine_epoch("mlp", data, 64)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("mlp", x, y, xt, yt, train.cli.DEFAULT_LEARNING_RATE["mlp"], batch_size=64)
    yield "MLP epoch, batch 64 (938 steps), + test accuracy", impls

    batch = mnist.Dataset(data.train_images.narrow(0, 0, 64), data.train_labels.narrow(0, 0, 64),
                          data.test_images, data.test_labels)
    impls = {"engine": engine_epoch("cnn", batch, 64, evaluate=False)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("cnn", x[:64], y[:64], xt, yt, 0.001, batch_size=64, steps=1,
                                               optimizer="adamw")
    yield "CNN training step, batch 64", impls


@contextlib.contextmanager
def thread_limit(n: int):
    """Every pool at `n` threads inside the block: the engine's kernels and its BLAS
    (`kernels.set_threads`), PyTorch's intra-op pool, and any other BLAS or OpenMP pool
    threadpoolctl finds (PyTorch's OpenMP among them)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    from tinygrad_mnist.kernels import blas
    before, before_blas = kernels.get_threads(), blas.threads()
    before_torch = torch.get_num_threads() if torch is not None else None
    kernels.set_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with (threadpool_limits(n) if threadpool_limits else contextlib.nullcontext()):
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


# Runs a module or script and reports its own peak memory at exit. ru_maxrss from wait4 would not
# do: Linux carries the forking parent's high-water mark across exec.
PEAK_WRAPPER = """
import atexit, os, runpy, sys
def report():
    with open('/proc/self/status') as f:
        kb = next(line.split()[1] for line in f if line.startswith('VmHWM'))
    sys.stderr.write(f'\\nPEAK_KB={kb}\\n')
    sys.stderr.flush()
atexit.register(report)
_exit = os._exit
def exit_reporting(code):  # the trainer's command line ends with os._exit, which skips atexit
    report()
    _exit(code)
os._exit = exit_reporting
kind, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
(runpy.run_module(target, run_name='__main__', alter_sys=True) if kind == '-m'
 else runpy.run_path(target, run_name='__main__'))
"""


def run_process(target: List[str], env: Optional[Dict[str, str]] = None):
    """Wall time (s) and peak resident memory (MiB) of `python -m module` or `python script`."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *target], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or "PEAK_KB=" not in proc.stderr:
        raise RuntimeError(f"{' '.join(target)} failed: {proc.stderr[-500:]}")
    return wall, int(proc.stderr.rsplit("PEAK_KB=", 1)[1].split()[0]) / 1024


def process_workloads(repeats: int):
    """5. The whole default run, start to finish, as a user runs it."""
    engine = ["-m", "tinygrad_mnist.train"]
    run_process(engine)  # make sure the kernel cache is warm
    cases = {"engine, warm cache": lambda: run_process(engine)}

    def cold():
        with tempfile.TemporaryDirectory() as empty:
            return run_process(engine, dict(os.environ, NUMBA_CACHE_DIR=empty))
    cases["engine, empty cache"] = cold
    script = os.path.join(HERE, "baselines.py")
    cases["numpy script"] = lambda: run_process(["-p", script, "numpy"])
    if torch is not None:
        cases["torch script"] = lambda: run_process(["-p", script, "torch"])
    results = {}
    for name, fn in cases.items():
        runs = [fn() for _ in range(repeats)]
        results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
    return results


# ---------------------------------------------------------------- output

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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of everything: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--threads", type=thread_count_list, metavar="N,N,...",
                        help="instead of the full run, the training workloads at each of these thread counts "
                             "(engine and PyTorch limited alike, BLAS included); counts above the cores are skipped")
    args = parser.parse_args(argv)
    global WARM_UP
    repeats, rounds = (1, 1) if args.quick else (5, 3)
    if args.quick:
        WARM_UP = 0.0
    started = time.perf_counter()
    info = machine()
    print("# tinygrad_mnist benchmarks" + (" (--quick: one repeat, not a measurement)" if args.quick else ""))
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + \
        (f" --threads {','.join(map(str, args.threads))}" if args.threads else "")
    print(f"\ncommand: {command}\n")
    for k, v in info.items():
        print(f"- {k}: {v}")
    results: Dict[str, object] = {"machine": info, "quick": args.quick}
    if args.threads:
        rows, skipped = thread_sweep(args.threads, mnist.load(), baselines.float_data(), repeats, rounds, args.quick)
        base = rows[0]["threads"]
        print(f"\n## 6. Thread sweep (speedups over {base} thread{'s' if base > 1 else ''}; "
              "ratios below 1: the engine is faster)\n")
        print(sweep_table(rows))
        if skipped:
            print(f"\nskipped (more threads than the {usable_cores()} cores here): {', '.join(map(str, skipped))}")
        results.update(sweep=rows, skipped_threads=skipped)
        return finish(results, args.json, started)

    rng = np.random.default_rng(0)
    rows = [{"workload": n, "ms": compare(i, repeats * 3, rounds)} for n, i in kernel_workloads(rng)]
    print("\n## 1. Kernels at MNIST shapes (ratios below 1: numba is faster)\n")
    print(table(rows, ["numba", "numpy twin", "torch"]))
    results["kernels"] = rows
    rows = [{"workload": n, "ms": compare(i, repeats * 3, rounds)} for n, i in conv_workloads(rng)]
    print("\n## 1b. Convolutions, batch of 64, through the engine\n")
    print(table(rows, ["numba", "numpy twin", "torch"]))
    results["convolutions"] = rows

    data = mnist.load()
    floats = baselines.float_data()
    rows = [{"workload": n, "ms": compare(i, repeats, rounds)} for n, i in epoch_workloads(data, floats, args.quick)]
    print("\n## 2-4. Training (ratios below 1: the engine is faster)\n")
    print(table(rows, ["engine", "engine, numpy kernels", "hand-written numpy", "torch"]))
    results["training"] = rows

    procs = process_workloads(1 if args.quick else 3)
    print("\n## 5. Whole process: `python -m tinygrad_mnist.train` with defaults (10 epochs)\n")
    print("| run | wall s | peak RSS MiB | wall ÷ engine's (warm) |\n|---|---|---|---|")
    warm = procs["engine, warm cache"][0]
    for name, (wall, rss) in procs.items():
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {wall / warm:.2f} |")
    results["process"] = {k: {"wall_s": w, "peak_rss_mib": r} for k, (w, r) in procs.items()}
    return finish(results, args.json, started)


def finish(results: Dict[str, object], json_path: Optional[str], started: float) -> int:
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
