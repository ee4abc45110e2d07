"""How the numba kernels are compiled and spread over threads.

- `jit`: numba's `njit` with the options every kernel uses: cached to disk in the
  user's cache directory (`cache.py`), the GIL released, and only the fastmath flags
  that keep NaN and Inf meaningful.
- `for_rows(kernel, n, work, *args)`: a kernel body works on a contiguous range
  of rows `lo..hi`. Small jobs run once on the calling thread; large ones are
  cut into chunks of at least `MIN_CHUNK_WORK`, at most one per thread, run on
  a small pool of Python threads (the kernels release the GIL), and their
  results come back in chunk order, so a reduction summed in that order gives
  the same bits for the same thread count.
  Idle pool threads block instead of spinning, so they never steal the cores
  BLAS is using.

Nothing here runs at import: the pool starts on the first large job.
"""
from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional

import numba
import numpy as np

from .cache import KernelCache

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Work is estimated as single-thread nanoseconds. Each chunk handed to a thread must carry at
# least a quarter of a millisecond: waking an idle thread takes 0.05 to 0.2 ms here, so a
# smaller chunk costs more than it saves. A job gets as many chunks as it has quarters of a
# millisecond, up to the thread count: on 2 threads, jobs over 0.5 ms are split in two; on 16,
# a 1 ms job still uses 4 threads, never 16 slivers that would make it slower than on 8.
MIN_CHUNK_WORK = 250_000


def jit(fastmath=FASTMATH):
    """Compile a kernel (see the module docstring), cached in the user's cache directory
    (`cache.py`); warn once if no cache folder can be written."""
    def wrap(fn):
        kernel = numba.njit(cache=False, fastmath=fastmath, nogil=True)(fn)
        try:
            kernel._cache = KernelCache(fn)  # what numba's enable_caching() does, with our locator
        except RuntimeError as err:  # no writable cache directory anywhere
            warnings.warn(f"numba cannot cache compiled kernels ({err}); they will be "
                          "compiled on every run. Set NUMBA_CACHE_DIR to a writable directory.",
                          RuntimeWarning, stacklevel=2)
        return kernel
    return wrap


def usable_cores() -> int:
    """The cores this process may run on: a container's or `taskset`'s share, not the host's
    count (a pool sized to the host would oversubscribe the share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Pool:
    """The worker threads (the calling thread is one of the `threads`). A forked child does not
    inherit the parent's threads, so the pool remembers its process and starts anew in a child."""

    def __init__(self) -> None:
        self.threads = max(1, min(numba.config.NUMBA_NUM_THREADS, usable_cores()))
        self.lock = threading.Lock()
        self.executor: Optional[ThreadPoolExecutor] = None
        self.pid = 0

    def get(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None or self.pid != os.getpid():
                self.executor = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="tinygrad_mnist")
                self.pid = os.getpid()
            return self.executor

    def resize(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"threads must be >= 1, got {n}")
        with self.lock:
            if self.executor is not None and n != self.threads and self.pid == os.getpid():
                self.executor.shutdown(wait=True)
            if n != self.threads:
                self.executor = None
            self.threads = n


_pool = _Pool()


def set_num_threads(n: int) -> None:
    """Use `n` threads (the calling one included) for large kernels."""
    _pool.resize(n)


def get_num_threads() -> int:
    return _pool.threads


def is_cached(kernel) -> bool:
    """Whether numba's cache on disk holds compiled code for `kernel` that matches its source, so
    its first call loads instead of compiling. Under NUMBA_DISABLE_JIT nothing is compiled."""
    if numba.config.DISABLE_JIT:
        return True
    try:
        return bool(kernel._cache._cache_file._load_index())  # numba's own check of the source stamp
    except (AttributeError, OSError):
        return False


def chunk_count(n: int, work: float) -> int:
    """How many chunks `for_rows` cuts `n` rows of `work` (estimated ns on one thread) into:
    one per MIN_CHUNK_WORK of work, at most one per thread and per row, at least one."""
    return max(1, min(_pool.threads, n, int(work // MIN_CHUNK_WORK)))


def for_rows(kernel: Callable, n: int, work: float, *args) -> List:
    """Run `kernel(*args, lo, hi)` over rows 0..n: at once, or in `chunk_count(n, work)` chunks
    when `work` (estimated ns on one thread) is large. Returns each chunk's result, in chunk order."""
    nchunks = chunk_count(n, work)
    if nchunks <= 1:
        return [kernel(*args, 0, n)]
    step = -(-n // nchunks)
    bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    executor = _pool.get()
    futures = [executor.submit(kernel, *args, lo, hi) for lo, hi in bounds[1:]]
    first = kernel(*args, *bounds[0])  # the calling thread takes a chunk too
    return [first] + [f.result() for f in futures]


def sum_in_order(parts: List[np.ndarray]) -> np.ndarray:
    """Add per-chunk partial results in chunk order (the same bits for the same thread count)."""
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total
