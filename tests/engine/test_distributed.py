"""Data-parallel training (tinygrad_mnist/distributed): the summed shard gradients are the
full-batch gradient, every rank ends with the same bits, uneven and empty shards and no_sync
included, with overlap on and off and buckets large and small; a job of one needs no MPI; no
collective waits forever."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from launch import job, needs_mpi
from tinygrad_mnist import Tensor
from tinygrad_mnist.distributed import DataParallel, SingleProcess
from tinygrad_mnist.nn import VarBuilder, VarMap, init, linear

WORKER = Path(__file__).with_name("dp_worker.py")


def alone(tmp_path, *args):
    out = tmp_path / "alone.npz"
    proc = subprocess.run([sys.executable, WORKER, out, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return np.load(out)


def test_a_job_of_one_imports_no_mpi_and_changes_no_bit():
    code = ("import sys; from tinygrad_mnist.distributed import init_group; g = init_group(); "
            "print(type(g).__name__, g.rank, g.size, 'mpi4py' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["SingleProcess", "0", "1", "False"]
    grads = []
    for wrap in (False, True):  # the same step with and without the data-parallel wrapper
        init.seed(0)
        varmap = VarMap()
        layer = linear(6, 3, VarBuilder.from_varmap(varmap))
        model = DataParallel(layer, SingleProcess()) if wrap else layer
        x = Tensor(np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
        if wrap:
            with model.shard(5):
                (model(x) ** 2).sum().backward()
            model.synchronize()
        else:
            (model(x) ** 2).sum().backward()
        grads.append([v.grad.numpy().tobytes() for v in varmap.all_vars()])
    assert grads[0] == grads[1]


@needs_mpi
@pytest.mark.parametrize("ranks,overlap,bucket", [
    (2, "no-overlap", 1 << 20), pytest.param(3, "overlap", 64, marks=pytest.mark.slow),
    pytest.param(3, "no-overlap", 1 << 20, marks=pytest.mark.slow), pytest.param(2, "overlap", 64, marks=pytest.mark.slow)])
def test_data_parallel_sgd_matches_one_process(tmp_path, ranks, overlap, bucket):
    want = alone(tmp_path, overlap, bucket)
    out = tmp_path / "job.npz"
    proc = job(ranks, WORKER, out, overlap, bucket)
    assert proc.returncode == 0 and proc.stdout.count("ok") == ranks, proc.stdout + proc.stderr
    got = np.load(out)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


@needs_mpi
@pytest.mark.slow
def test_a_rank_that_does_not_answer_ends_the_job_in_bounded_time(tmp_path):
    """Rank 1 sleeps 20 s before its first collective; rank 0 goes on (a broadcast's root does not
    wait) until its first all-reduce, which times out after 3 s and ends the job (exit status 3),
    long before rank 1 would have answered."""
    start = time.monotonic()
    proc = job(2, WORKER, tmp_path / "x.npz", "overlap", 1 << 20, "sleepy", timeout=60)
    assert proc.returncode == 3 and time.monotonic() - start < 15, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("rank 0: no answer from the other ranks within 3 s (all_reduce)"), proc.stderr


def test_the_shards_cover_a_batch_once_in_order():
    class Fake(SingleProcess):
        def __init__(self, rank, size):
            self.rank, self.size = rank, size
    init.seed(0)
    layer = linear(2, 2, VarBuilder.from_varmap(VarMap()))
    for rows in (0, 1, 2, 10, 64):
        for size in (1, 2, 3):
            spans = []
            for rank in range(size):
                model = DataParallel(layer, Fake(rank, size))
                with model.shard(rows) as (lo, hi):
                    spans.append((lo, hi))
                    assert model.share == ((hi - lo) / rows if rows else 0.0)
            assert [lo for lo, _ in spans] == [0] + [hi for _, hi in spans[:-1]] and spans[-1][1] == rows
