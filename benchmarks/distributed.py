"""Data-parallel training measured: 1, 2 and 3 ranks on this machine, the MLP's epoch and CNN
steps, with the share of each rank's time spent waiting in collectives, overlap on and off; and
when each gradient of the CNN is ready during its backward pass (the overlap window).

    python benchmarks/distributed.py                 # the table in docs/distributed.md
    python benchmarks/distributed.py --quick         # a smoke test: not a measurement

It starts `mpiexec -n N` on itself for each N (the [mpi] extra); each job prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(model_kind: str, steps: int, overlap: bool) -> dict:
    """Inside a job: `steps` training steps of batch 64 (0: a whole epoch), timed on every rank."""
    import numpy as np
    from tinygrad_mnist import kernels
    from tinygrad_mnist.app.epoch import DivergenceGuard, parallel_step, step_on
    from tinygrad_mnist.app.models import MODELS
    from tinygrad_mnist.app.runner import StopRequest
    from tinygrad_mnist.datasets import mnist
    from tinygrad_mnist.distributed import DataParallel, init_group
    from tinygrad_mnist.kernels.pool import usable_cores
    from tinygrad_mnist.nn import SGD, AdamW, VarBuilder, VarMap, init

    group = init_group()
    kernels.set_threads(max(1, usable_cores() // group.local_size))
    data = mnist.load()
    init.seed(0)
    varmap = VarMap()
    model = MODELS[model_kind](VarBuilder.from_varmap(varmap)).train()
    if group.size > 1:
        model = DataParallel(model, group, overlap=overlap)
    optimizer = (AdamW if model_kind == "cnn" else SGD)(varmap.all_vars(), 1e-3 if model_kind == "cnn" else 0.1)
    images, labels = data.images("train", model.sparse_input), data.train_labels
    order = np.random.default_rng(0).permutation(len(labels))
    batches = [order[i:i + 64] for i in range(0, len(order), 64)][:steps or None]
    stop, guard = StopRequest(agree=group.size > 1), DivergenceGuard()
    for warm in batches[:3]:  # compile and warm up
        (parallel_step(model, optimizer, images, labels, warm, stop, guard, 1) if group.size > 1
         else step_on(model, optimizer, images, labels, warm, guard, 1))
    waited = getattr(group, "waited", 0.0)
    start = time.perf_counter()
    for idx in batches:
        (parallel_step(model, optimizer, images, labels, idx, stop, guard, 1) if group.size > 1
         else step_on(model, optimizer, images, labels, idx, guard, 1))
    seconds = time.perf_counter() - start
    waits = group.all_gather((seconds, getattr(group, "waited", 0.0) - waited))
    return {"seconds": max(s for s, _ in waits), "wait_share": float(np.mean([w / s for s, w in waits])),
            "steps": len(batches)}


def ready_times() -> list:
    """One process: when each CNN parameter's gradient is final, in ms from the start of backward."""
    import numpy as np
    from tinygrad_mnist.app.models import MODELS
    from tinygrad_mnist.datasets import mnist
    from tinygrad_mnist.nn import VarBuilder, VarMap, init
    data = mnist.load()
    init.seed(0)
    varmap = VarMap()
    model = MODELS["cnn"](VarBuilder.from_varmap(varmap)).train()
    x, y = data.train_images.narrow(0, 0, 64), data.train_labels.narrow(0, 0, 64)
    stamps: dict = {}
    for name, p in varmap.named_vars():
        p.register_post_accumulate_grad_hook(lambda t, name=name: stamps.setdefault(name, []).append(time.perf_counter()))
    runs = []
    for _ in range(8):
        loss = model.loss(x, y)
        for v in varmap.all_vars():
            v.grad = None
        stamps.clear()
        start = time.perf_counter()
        loss.backward()
        runs.append({n: 1e3 * (t[0] - start) for n, t in stamps.items()} | {"(end)": 1e3 * (time.perf_counter() - start)})
    return sorted(((n, float(np.median([r[n] for r in runs[2:]]))) for n in runs[0]), key=lambda kv: kv[1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/distributed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps each: a smoke test")
    parser.add_argument("--job", nargs=3, metavar=("MODEL", "STEPS", "OVERLAP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        result = measure(args.job[0], int(args.job[1]), args.job[2] == "overlap")
        if int(os.environ.get("PMI_RANK", "0")) == 0:
            print(json.dumps(result), flush=True)
        return 0
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")  # the mpich wheel's
    mpiexec = beside if os.path.exists(beside) else "mpiexec"
    print("| workload | ranks | overlap | seconds | × 1 rank | waiting in collectives |\n|---|---|---|---|---|---|")
    for model, steps in (("mlp", 20 if args.quick else 0), ("cnn", 5 if args.quick else 100)):
        base = None
        for n, overlap in ((1, "overlap"), (2, "overlap"), (2, "no-overlap"), (3, "overlap"), (3, "no-overlap")):
            command = [sys.executable, __file__, "--job", model, str(steps), overlap]
            out = subprocess.run([mpiexec, "-n", str(n), *command] if n > 1 else command, capture_output=True,
                                 text=True, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            r = json.loads(out.stdout.strip().splitlines()[-1])
            base = base or r["seconds"]
            what = "MLP epoch, batch 64" if model == "mlp" else f"CNN, {r['steps']} steps of batch 64"
            waiting = "—" if n == 1 else f"{100 * r['wait_share']:.0f} %"
            print(f"| {what} | {n} | {'—' if n == 1 else overlap} | {r['seconds']:.2f} | {r['seconds'] / base:.2f} | "
                  f"{waiting} |", flush=True)
    print("\nWhen each CNN gradient is final, ms from the start of backward (batch 64, one process):\n")
    print("| parameter | ms |\n|---|---|")
    for name, ms in ready_times():
        print(f"| {name} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
