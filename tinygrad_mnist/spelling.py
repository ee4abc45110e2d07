"""PyTorch's top-level names, so a program ported by renaming `torch` finds them: the
constructors (`zeros`, `randint`, `from_numpy`, ...), `where`, `flatten`, `manual_seed`, the
dtypes (numpy's), devices (`device`, `cuda.is_available()`), and `save`/`load` for a state dict.

`NAMES` is read by the package's lazy exports without importing numpy; each name is looked up
here on first use (`__getattr__`)."""
from __future__ import annotations

import importlib
from typing import Any

_CONSTRUCTORS = ("zeros", "ones", "full", "randn", "rand", "randint", "arange", "eye", "zeros_like", "ones_like",
                 "full_like", "randn_like", "rand_like")
_DTYPES = {"float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "int64": "int64",
           "long": "int64", "int32": "int32", "int": "int32", "uint8": "uint8", "bool": "bool_"}
_ELSEWHERE = {"where": ("tensor.elementwise", "where"), "save": ("nn.checkpoint", "save_state_dict"),
              "load": ("nn.checkpoint", "load_state_dict"), "manual_seed": ("generator", "seed"),
              "device": ("devices", "device"), "cuda": ("devices", "cuda"), "backends": ("devices", "backends"),
              "accelerator": ("devices", "accelerator"), "Generator": ("utils.data", "Generator"),
              "checkpoint": ("utils.checkpoint", "checkpoint")}
# `torch.max(x, 1)`, `torch.exp(x)`: the function form of a Tensor method, the tensor first
_METHODS = ("max", "min", "argmax", "argmin", "sum", "mean", "prod", "var", "std", "norm", "amax", "amin", "exp",
            "log", "log1p", "sqrt", "abs", "sin", "cos", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "clamp",
            "matmul", "maximum", "minimum", "masked_fill", "reshape", "transpose", "permute", "squeeze", "unsqueeze",
            "eq", "ne", "lt", "le", "gt", "ge", "isclose", "allclose", "numel", "logsumexp", "mm", "bmm", "square",
            "rsqrt", "sign", "split", "chunk", "t")
_MORE = ("flatten", "from_numpy", "randperm", "empty", "linspace", "is_tensor", "inference_mode")
NAMES = (*_CONSTRUCTORS, *_DTYPES, *_ELSEWHERE, *_METHODS, *_MORE)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """`torch.flatten(x, 1)`: `x.flatten(start_dim, end_dim)`."""
    return x.flatten(start_dim, end_dim)


def from_numpy(array: Any) -> Any:
    """A tensor on the array itself (no copy), as `torch.from_numpy`."""
    from .tensor import Tensor
    return Tensor(array)


def randperm(n: int, dtype: Any = None, device: Any = None, **unused: Any) -> Any:
    """0 .. n−1 in a random order from the engine's generator."""
    import numpy as np

    from .generator import rng
    from .tensor import Tensor
    return Tensor(rng().permutation(n).astype(dtype or np.int64), device=device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
    """A new tensor of `size` (zeros: this engine never hands out uninitialised memory)."""
    import numpy as np

    from .tensor import Tensor
    return Tensor.zeros(*size, dtype=dtype or np.float32, requires_grad=requires_grad, device=device)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None) -> Any:
    import numpy as np

    from .tensor import Tensor
    return Tensor(np.linspace(start, end, steps, dtype=dtype or np.float32), device=device)


def is_tensor(obj: Any) -> bool:
    from .tensor import Tensor
    return isinstance(obj, Tensor)


def inference_mode(mode: bool = True) -> Any:
    """PyTorch's `inference_mode()`: here `no_grad()` (nothing is recorded)."""
    from .autograd import enable_grad, no_grad
    return no_grad() if mode else enable_grad()


def _function_of(name: str):
    def function(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(x, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`torch.{name}(x, ...)`: `x.{name}(...)`."
    return function


def __getattr__(name: str) -> Any:
    if name in _METHODS:
        return _function_of(name)
    if name in _CONSTRUCTORS:
        from .tensor import Tensor
        return getattr(Tensor, name)
    if name in _DTYPES:
        import numpy as np
        return getattr(np, _DTYPES[name])
    if name in _ELSEWHERE:
        module, attr = _ELSEWHERE[name]
        return getattr(importlib.import_module(f".{module}", __package__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
