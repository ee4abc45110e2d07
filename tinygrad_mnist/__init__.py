"""tinygrad_mnist: a minimal reverse-mode autograd engine that trains MNIST in seconds.

Layers, bottom up (docs/architecture.md has the module-by-module table a test keeps true):
`kernels` (numba and numpy twins on plain arrays) → `autograd` (the graph, reverse mode) and
`forward_ad` (forward mode) → `functions` (one op each, by family) → `tensor` (the user's
handle), `functional` (vjp, jvp, jacobian, hessian, hvp) → `nn` (parameters, layers,
optimizers) → `train` (the MNIST trainer).

Importing the package changes nothing in the process: no environment variable,
allocator setting, signal handler or thread. The kernels' thread pool starts
with the first large kernel call. The names below load on first use, so
`python -m tinygrad_mnist.train` can settle its process (`cli.tune_process`)
before numpy is imported.
"""
import importlib
from typing import Any

from ._version import VERSION as __version__  # noqa: F401
from . import spelling  # names only: imports no numpy
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, jvpcheck  # import no numpy until they run

_EXPORTS = {"Tensor": "tensor", "cat": "tensor", "stack": "tensor", "nll": "losses", "cross_entropy": "losses",
            "no_grad": "autograd", "is_grad_enabled": "autograd", "enable_grad": "autograd",
            "set_grad_enabled": "autograd"}
_EXPORTS.update(dict.fromkeys(spelling.NAMES, "spelling"))  # `torch.zeros`, `torch.device`, `torch.save`, ...
_MODULES = ("autograd", "functional", "forward_ad", "optim", "utils", "nn", "tensor")  # PyTorch's layout
__all__ = list(_EXPORTS) + list(_MODULES) + ["gradcheck", "gradgradcheck", "jvpcheck", "GradcheckError"]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(list(globals()) + __all__)
