"""A process group: the ranks of a job and the collectives they call together (PyTorch's
`torch.distributed` spelling: rank, size, all_reduce, broadcast, all_gather, barrier).

Two implementations of one interface: `SingleProcess` (a job of one, no MPI at all) and
`MPIGroup`, over mpi4py (an optional extra: `pip install 'tinygrad_mnist[mpi]'`, which brings the
mpich wheel and its `mpiexec`). `init_group` picks the second only when the process was started
by `mpiexec` with more than one rank, so nothing imports MPI unless it is used.

No collective waits forever. MPI's blocking calls would: a rank that is stopped, or stuck in a
loop, holds every other rank in its next collective. Here each collective is started
non-blocking and then polled until it completes or `timeout` seconds pass; past that,
`CollectiveTimeout` names the collective, and the trainer turns it into one line and ends the
job. Polling sleeps between tests, so a waiting rank leaves the cores to the ranks still
computing (three ranks on two cores is the tested case).
"""
from __future__ import annotations

import ctypes
import os
import pickle
import sys
import time
from typing import Any, List, Optional

import numpy as np

DEFAULT_TIMEOUT = 120.0  # seconds a collective may wait for the slowest rank (--collective-timeout)
SPIN = 5e-4  # seconds of a wait spent yielding before it sleeps
_LAUNCHERS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")  # MPICH, Open MPI, PMIx


class CollectiveTimeout(RuntimeError):
    """A collective did not complete within the group's timeout: another rank is stopped, stuck
    or gone."""


class Work:
    """A collective under way (`all_reduce(..., wait=False)`): `wait()` returns its array."""

    def __init__(self, array: np.ndarray, request: Any = None, group: Optional["MPIGroup"] = None,
                 what: str = "all_reduce"):
        self.array, self._request, self._group, self._what = array, request, group, what

    def done(self) -> bool:
        return self._request is None or bool(self._request.Test())

    def wait(self) -> np.ndarray:
        if self._request is not None:
            self._group._wait(self._request, self._what)
            self._request = None
        return self.array


class Group:
    """What every rank of a job shares: its rank (0 .. size-1), the size, how many ranks share
    this machine (`local_size`), and the collectives. Every rank must call the same collectives
    in the same order."""

    rank = 0
    size = 1
    local_size = 1
    timeout = DEFAULT_TIMEOUT

    def all_reduce(self, array: np.ndarray, wait: bool = True):
        """Sum `array` over the ranks, in place on every rank (a contiguous numeric array)."""
        raise NotImplementedError

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        """Rank `root`'s `array`, written into every other rank's, in place."""
        raise NotImplementedError

    def all_gather(self, value: Any) -> List[Any]:
        """Every rank's `value` (a small Python object), in rank order."""
        raise NotImplementedError

    def barrier(self) -> None:
        raise NotImplementedError

    def finalize(self) -> None:
        """The job's end, on every rank together: once it returns, a rank may exit. (mpiexec ends
        the whole job when a rank exits without it, as it does when one fails.)"""

    def abort(self, status: int) -> None:
        """End this rank at once; `mpiexec` then ends the others (a rank that exits without
        `finalize` ends the job)."""
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


class SingleProcess(Group):
    """A job of one process: every collective is the identity."""

    def all_reduce(self, array: np.ndarray, wait: bool = True):
        return array if wait else Work(array)

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        return array

    def all_gather(self, value: Any) -> List[Any]:
        return [value]

    def barrier(self) -> None:
        pass


class MPIGroup(Group):
    """The ranks `mpiexec` started, over mpi4py's COMM_WORLD."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        import mpi4py
        mpi4py.rc.finalize = False  # a rank that raises exits unfinalized: mpiexec then ends the job (finalize())
        from mpi4py import MPI
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        self.timeout = float(timeout)
        self.waited = 0.0  # seconds spent waiting for collectives (benchmarks/distributed.py)

    def _wait(self, request: Any, what: str) -> None:
        """Poll `request` until it completes, sleeping a little longer each time (up to 1 ms);
        CollectiveTimeout after `timeout` seconds."""
        start, pause = time.monotonic(), 0.0
        try:
            self._poll(request, what, start, pause)
        finally:
            self.waited += time.monotonic() - start

    def _poll(self, request: Any, what: str, start: float, pause: float) -> None:
        while not request.Test():
            now = time.monotonic()
            if now - start > self.timeout:
                raise CollectiveTimeout(f"no answer from the other ranks within {self.timeout:g} s ({what}); "
                                        "one is stopped, stuck or gone (--collective-timeout)")
            if now - start > SPIN:  # a long wait: sleep, a little longer each time, leaving the core
                time.sleep(pause)
                pause = min(pause * 2 or 2e-5, 1e-3)
            else:  # a short one: only yield, so a collective that completes soon costs no sleep
                time.sleep(0)

    def all_reduce(self, array: np.ndarray, wait: bool = True):
        work = Work(array, self.comm.Iallreduce(self._MPI.IN_PLACE, array, op=self._MPI.SUM), self)
        return work.wait() if wait else work

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        self._wait(self.comm.Ibcast(array, root=root), "broadcast")
        return array

    def all_gather(self, value: Any) -> List[Any]:
        sizes = np.zeros(self.size, np.int64)
        data = np.frombuffer(pickle.dumps(value), np.uint8)
        sizes[self.rank] = len(data)
        self.all_reduce(sizes)
        buffer = np.zeros(int(sizes.sum()), np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._wait(self.comm.Iallgatherv(data, [buffer, sizes, offsets, self._MPI.BYTE]), "all_gather")
        return [pickle.loads(buffer[o:o + n].tobytes()) for o, n in zip(offsets, sizes)]

    def barrier(self) -> None:
        self._wait(self.comm.Ibarrier(), "barrier")

    def finalize(self) -> None:
        global _finalized
        self.barrier()  # rank 0 may still be writing the checkpoint
        self._MPI.Finalize()
        _finalized = True


_finalized = False  # this process's MPIGroup has finalized MPI


def exit_process(code: int) -> None:
    """End this process at once with `code`, skipping the interpreter's teardown (the command line's
    way out). After MPI's finalize it leaves through libc's `exit`, which runs MPI's own exit
    handlers: after `os._exit`, mpiexec sometimes killed the other ranks as they ended (7 of 40
    jobs of 3 ranks; 0 of 60 through `exit`). Any other process leaves through `os._exit`, and a
    rank that fails, unfinalized, so ends its job."""
    if _finalized:
        ctypes.CDLL(None).exit(code)
    os._exit(code)


def launched_size() -> int:
    """How many ranks `mpiexec` started this job with (1 when it did not start it)."""
    for name in _LAUNCHERS:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class MPIMissing(RuntimeError):
    """Started by mpiexec with several ranks, but mpi4py is not installed."""


def init_group(timeout: float = DEFAULT_TIMEOUT) -> Group:
    """The job's group: over MPI when `mpiexec` started several ranks, else a job of one."""
    size = launched_size()
    if size <= 1:
        return SingleProcess()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise MPIMissing(f"started by mpiexec with {size} ranks, but mpi4py is not installed: "
                         "pip install 'tinygrad_mnist[mpi]'") from None
    return MPIGroup(timeout)
