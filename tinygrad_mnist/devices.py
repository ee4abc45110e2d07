"""Devices by name, PyTorch's spelling: `device("cpu")`, `device("cuda")`, `tensor.device`,
`tensor.to(device)`, `cuda.is_available()`.

The engine computes on the CPU, and on an NVIDIA GPU through numba's CUDA target where one is
there (`tinygrad_mnist/cuda/`; numba's simulator counts as one: `NUMBA_ENABLE_CUDASIM=1`).
Asking for a device the engine cannot use raises one clear error, never a silent fallback;
`host(a)` is an array's values on the host, the one place a checkpoint or a state dict copies a
GPU's back.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import cuda  # PyTorch's `torch.cuda`: is_available(), synchronize()
from .kernels.interface import DeviceArray

_KNOWN = ("cpu", "cuda", "mps", "meta", "xpu")


class device:
    """A device by type and optional index (`device("cuda:0")`, `device("cuda", 0)`), compared by
    value, as `torch.device`. Naming any known device is allowed; using one other than the CPU
    raises (`check`)."""

    __slots__ = ("type", "index")

    def __init__(self, kind: Any, index: Optional[int] = None):
        if isinstance(kind, device):
            kind, index = kind.type, kind.index if index is None else index
        if not isinstance(kind, str):
            raise TypeError(f"device(): expected a string such as 'cpu' or 'cuda:0', got {kind!r}")
        name, _, number = kind.partition(":")
        if name not in _KNOWN or (number and not number.isdigit()):
            raise RuntimeError(f"Expected one of {', '.join(_KNOWN)} device type at start of device string: {kind}")
        self.type, self.index = name, int(number) if number else index

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"


CPU = device("cpu")


def is_device_name(a: Any) -> bool:
    """A device or a device's name ('cuda:0'), as opposed to a dtype given by name."""
    return isinstance(a, device) or isinstance(a, str) and a.split(":")[0] in _KNOWN


CUDA = device("cuda", 0)


def check(where: Any) -> device:
    """`where` as a device this engine computes on (the CPU, or CUDA where it is available), or a
    RuntimeError saying why not, in one line."""
    d = where if isinstance(where, device) else device(where if isinstance(where, str) else str(where))
    if d.type == "cuda" and d.index in (None, 0):
        if cuda.is_available():
            return CUDA
        raise RuntimeError(f"device {str(d)!r} is not available: {cuda.reason()} (cuda.is_available() is False); "
                           "use 'cpu'")
    if d.type != "cpu":
        raise RuntimeError(f"device {str(d)!r} is not available: this engine computes on the CPU and on one CUDA "
                           f"GPU (cuda:0); use 'cpu'")
    return CPU


def host(a: Any, copy: bool = False) -> np.ndarray:
    """An array's values on the host: numpy's (or anything numpy reads) as they are, or a copy
    with `copy`; a GPU's copied back (always a fresh array)."""
    if isinstance(a, DeviceArray):
        return a.get()
    return np.array(a) if copy else np.asarray(a)


class _Absent:
    """`cuda`, `backends.mps` and `accelerator` as PyTorch programs ask them: nothing available."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def manual_seed(seed: int) -> None:  # a program seeds CUDA beside the CPU: nothing to seed
        pass

    manual_seed_all = manual_seed


accelerator = _Absent()


class backends:
    """`backends.mps.is_available()`, `backends.cudnn.deterministic = True`: as PyTorch programs ask."""

    mps = _Absent()

    class cudnn:
        deterministic = True
        benchmark = False
        enabled = False
