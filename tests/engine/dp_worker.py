"""Run by test_distributed.py, alone and under mpiexec: data-parallel SGD steps of a small MLP
with dropout, on batches that split unevenly (a batch of 2 or 1 leaves ranks without rows) and
with gradient accumulation under no_sync. Rank 0 saves the weights to ARGV[1]; every rank checks
that all hold the same bits.

    python dp_worker.py OUT.npz overlap|no-overlap BUCKET_BYTES [sleep-rank-1]
"""
import hashlib
import sys
import time

import numpy as np

from tinygrad_mnist import Tensor, no_grad
from tinygrad_mnist.distributed import CollectiveTimeout, DataParallel, init_group
from tinygrad_mnist.generator import seed
from tinygrad_mnist.nn import SGD, Dropout, Module, VarBuilder, VarMap, init, linear

BATCHES = [32, 16, 10, 2, 1, 9]


class Net(Module):
    def __init__(self, vb):
        self.a, self.b, self.drop = linear(20, 16, vb.pp("a")), linear(16, 4, vb.pp("b")), Dropout(0.3)

    def forward(self, x):
        return self.b(self.drop(self.a(x).relu()))


def step(model, x, y, rows_from):
    rows = len(y)
    with model.shard(rows) as (lo, hi):
        if hi > lo:
            model.loss(Tensor(x[lo:hi]), Tensor(y[lo:hi])).backward()
        else:
            with no_grad():  # no rows here: the forward pass still draws the batch's dropout mask
                model(Tensor(x[lo:hi]))


def main(out, overlap, bucket, sleepy=False):
    group = init_group(timeout=3 if sleepy else 60)
    if sleepy and group.rank == 1:
        time.sleep(20)
    try:
        train(group, out, overlap, bucket)
    except CollectiveTimeout as err:
        print(f"rank {group.rank}: {err}", file=sys.stderr, flush=True)
        group.abort(3)


def train(group, out, overlap, bucket):
    init.seed(0)
    varmap = VarMap()
    model = DataParallel(Net(VarBuilder.from_varmap(varmap)), group, bucket_bytes=bucket, overlap=overlap)
    optimizer = SGD(varmap.all_vars(), 0.1)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((70, 20)).astype(np.float32), rng.integers(0, 4, 70)
    seed(5)  # the dropout masks: the same stream on every rank
    start = 0
    for i, rows in enumerate(BATCHES):
        optimizer.zero_grad()
        if i == 1:  # accumulate two batches, then sum: as one process adding both gradients
            with model.no_sync():
                step(model, x[start:start + rows], y[start:start + rows], start)
            start += rows
        step(model, x[start:start + rows], y[start:start + rows], start)
        model.synchronize()
        optimizer.step()
        start += rows
    weights = {n: v.numpy() for n, v in varmap.named_vars()}
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights.values())).hexdigest()
    assert len(set(group.all_gather(digest))) == 1, "the ranks' weights differ"
    if group.rank == 0:
        np.savez(out, **weights)
    print("ok", flush=True)
    group.finalize()  # every rank ends together: one that exits without it ends the job


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "overlap", int(sys.argv[3]), len(sys.argv) > 4)
