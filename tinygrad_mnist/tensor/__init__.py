"""`Tensor`, one unit in one folder: the core (`core.py`) and its families of methods
(`create.py`, `elementwise.py`, `shape.py`, `reduce.py`, `nn.py`) under one declared contract
(`base.py`); `cat` and `stack`, which join tensors; `MinMax`, what `max(dim)` returns.

The folder can be called, as PyTorch's function of the same name: `tinygrad_mnist.tensor([1, 2])`
makes a tensor, so `torch.tensor(...)` ports by renaming `torch`."""
import sys
import types

from .core import MinMax, Tensor, cat, stack

__all__ = ["Tensor", "cat", "stack", "MinMax"]


class _CallableFolder(types.ModuleType):
    def __call__(self, data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
        """`torch.tensor(data, dtype=None, requires_grad=False, device=None)`."""
        return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


sys.modules[__name__].__class__ = _CallableFolder
