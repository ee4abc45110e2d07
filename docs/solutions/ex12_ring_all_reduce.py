"""Exercise 12: ring all-reduce with Sendrecv, checked against MPI's own Allreduce on 3 ranks.

`check()` starts `mpiexec -n 3 python -m mpi4py` on this file when it runs alone (it needs the
[mpi] extra). `-m mpi4py` makes a rank whose check fails abort the job: without it, that rank
would exit while the others wait for it in their next collective, forever."""
import os
import subprocess
import sys

import numpy as np


def ring_all_reduce(comm, x: np.ndarray) -> np.ndarray:
    """Sum `x` over the ranks, in place: p - 1 steps of reduce-scatter, then p - 1 of all-gather,
    each rank sending one chunk of about n/p elements to its right neighbour and receiving one
    from its left. Every rank sends 2(p - 1)/p · n elements in all, however many ranks there are."""
    p, r = comm.Get_size(), comm.Get_rank()
    flat = x.reshape(-1)
    bounds = np.linspace(0, flat.size, p + 1).astype(int)
    chunk = [slice(bounds[i], bounds[i + 1]) for i in range(p)]
    right, left = (r + 1) % p, (r - 1) % p
    for s in range(p - 1):  # reduce-scatter: after it, rank r holds the whole sum of chunk r + 1
        send, recv = chunk[(r - s) % p], chunk[(r - s - 1) % p]
        got = np.empty(recv.stop - recv.start, flat.dtype)
        comm.Sendrecv(np.ascontiguousarray(flat[send]), dest=right, recvbuf=got, source=left)
        flat[recv] += got
    for s in range(p - 1):  # all-gather: pass the finished chunks around the ring
        send, recv = chunk[(r + 1 - s) % p], chunk[(r - s) % p]
        got = np.empty(recv.stop - recv.start, flat.dtype)
        comm.Sendrecv(np.ascontiguousarray(flat[send]), dest=right, recvbuf=got, source=left)
        flat[recv] = got
    return x


def _on_ranks(reduce=None) -> None:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    for n in (1, 2, 7, 1000):
        x = np.random.default_rng(comm.Get_rank() * 100 + n).integers(-50, 50, n).astype(np.float64)
        want = x.copy()
        comm.Allreduce(MPI.IN_PLACE, want, op=MPI.SUM)
        got = (reduce or ring_all_reduce)(comm, x.copy())
        np.testing.assert_array_equal(got, want)  # whole numbers: the sums are exact in any order


def check() -> None:
    if int(os.environ.get("PMI_SIZE", "1")) > 1:
        _on_ranks()
        return
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")  # the mpich wheel's, in this environment
    mpiexec = beside if os.path.exists(beside) else "mpiexec"
    proc = subprocess.run([mpiexec, "-n", "3", sys.executable, "-m", "mpi4py", __file__], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.count("ok") == 3, proc.stdout + proc.stderr


if __name__ == "__main__":
    check()
    print("ok")
