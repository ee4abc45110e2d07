"""tinygrad_mnist: a minimal reverse-mode autograd engine that trains MNIST in seconds.

Layers, bottom up: `kernels` (numba and numpy twins on plain arrays) →
`functions` (one op each) and `autograd` (the graph) → `tensor` (the user's
handle) → `nn` (parameters, layers, optimizers) → `train` (the MNIST trainer).
"""
import ctypes
import os
import sys

# OpenBLAS's worker threads busy-wait for about 2^28 cycles after every call; on a 2-core
# machine that steals the core the numba kernels need next (a CNN step ran 25% slower).
# A short spin keeps large products on all cores without starving what follows. This only
# takes effect if numpy is imported after this package, and never overrides the user's choice.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def _keep_freed_memory() -> None:
    """A training step allocates the same large temporaries and frees them again (a CNN step:
    13 MB of patches, twice). glibc serves blocks above its mmap threshold (128 KiB, rising
    with use to 32 MiB) from fresh mappings and unmaps them on free, so every step faults
    them in again, zero-filled page by page: 2 of a CNN step's 28 ms on this VM. Raising the
    threshold and keeping freed memory lets the next step reuse it. Skipped when the user
    tunes glibc's malloc through its environment (MALLOC_*), and outside glibc."""
    if any(k.startswith("MALLOC_") for k in os.environ) or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 256 << 20)
    mallopt(M_TRIM_THRESHOLD, 512 << 20)


_keep_freed_memory()

from .autograd import no_grad  # noqa: E402
from .gradcheck import GradcheckError, gradcheck  # noqa: E402
from .tensor import Tensor, cross_entropy, linear_cross_entropy, nll  # noqa: E402

__all__ = ["Tensor", "no_grad", "gradcheck", "GradcheckError", "nll", "cross_entropy", "linear_cross_entropy"]
__version__ = "0.1.0"
