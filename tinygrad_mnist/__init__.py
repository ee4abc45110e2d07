"""tinygrad_mnist: a minimal reverse-mode autograd engine that trains MNIST in seconds.

Layers, bottom up: `kernels` (numba and numpy twins on plain arrays) →
`functions` (one op each) and `autograd` (the graph) → `tensor` (the user's
handle) → `nn` (parameters, layers, optimizers) → `train` (the MNIST trainer).
"""
import os

# OpenBLAS's worker threads busy-wait for about 2^28 cycles after every call; on a 2-core
# machine that steals the core the numba kernels need next (a CNN step ran 25% slower).
# A short spin keeps large products on all cores without starving what follows. This only
# takes effect if numpy is imported after this package, and never overrides the user's choice.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .autograd import no_grad  # noqa: E402
from .gradcheck import GradcheckError, gradcheck  # noqa: E402
from .tensor import Tensor, cross_entropy, linear_cross_entropy, nll  # noqa: E402

__all__ = ["Tensor", "no_grad", "gradcheck", "GradcheckError", "nll", "cross_entropy", "linear_cross_entropy"]
__version__ = "0.1.0"
