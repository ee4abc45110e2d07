"""tinygrad_mnist: a minimal reverse-mode autograd engine that trains MNIST in seconds.

Layers, bottom up: `kernels` (numba and numpy twins on plain arrays) →
`functions` (one op each) and `autograd` (the graph) → `tensor` (the user's
handle) → `nn` (parameters, layers, optimizers) → `train` (the MNIST trainer).

Importing the package changes nothing in the process: no environment variable,
allocator setting, signal handler or thread. The kernels' thread pool starts
with the first large kernel call.
"""
from .autograd import no_grad
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor, cross_entropy, nll

__all__ = ["Tensor", "no_grad", "gradcheck", "GradcheckError", "nll", "cross_entropy"]
__version__ = "0.1.0"
