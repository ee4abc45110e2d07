"""`Tensor`, one unit in one folder: the core (`core.py`) and its families of methods
(`create.py`, `elementwise.py`, `shape.py`, `reduce.py`, `nn.py`) under one declared contract
(`base.py`); `cat` and `stack`, which join tensors; `MinMax`, what `max(dim)` returns."""
from .core import MinMax, Tensor, cat, stack

__all__ = ["Tensor", "cat", "stack", "MinMax"]
