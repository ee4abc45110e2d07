"""The kernel set the engine runs on: numba (default) or the numpy reference twins.

`TINYGRAD_MNIST_KERNELS=numba|numpy` picks the set when the engine is imported;
`use("numpy")` switches it for a block of code on the calling thread (tests and
benchmarks compare the two in one process; another thread keeps its own set).
Both sets implement `interface.KernelSet`; the graph code calls
`kernels.impl.<name>(...)` and never knows which set it got. numba is imported
only when its set is chosen.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import threading
from types import ModuleType
from typing import Any, Iterator

from . import blas
from .interface import DeviceUnsupported

BACKENDS = ("numba", "numpy")
ENV_VAR = "TINYGRAD_MNIST_KERNELS"


def load(name: str) -> ModuleType:
    """The kernel module called `name` ('numba' or 'numpy')."""
    if name not in BACKENDS:
        raise ValueError(f"{ENV_VAR}={name!r}: expected one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"{__name__}.{name}_kernels")


class _Current(threading.local):
    """The set each thread runs on; every thread starts on the one chosen at import."""
    impl: ModuleType = load(os.environ.get(ENV_VAR, "numba") or "numba")


_current = _Current()


def __getattr__(name: str) -> Any:
    """`kernels.impl`: the calling thread's kernel set."""
    if name == "impl":
        return _current.impl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def set_threads(n: int) -> None:
    """Use `n` threads in all: the kernel set's own (the calling thread included) and the BLAS
    that large products call (both kernel sets call it)."""
    _current.impl.set_num_threads(n)
    blas.set_threads(n)


def get_threads() -> int:
    return _current.impl.get_num_threads()


def is_compiled() -> bool:
    """Whether the current set's first training step will compile nothing."""
    return _current.impl.is_compiled()


@contextlib.contextmanager
def running_on(array: Any, what: str) -> Iterator[ModuleType]:
    """Run the block on the kernel set of `array`'s device (a `DeviceArray`), on this thread: the
    ops inside call `kernels.impl` as ever and reach the device's kernels. What the device cannot
    do is reported as `what` (an op's name) with the way out, `.cpu()`."""
    previous, _current.impl = _current.impl, type(array).kernel_set()
    try:
        yield _current.impl
    except DeviceUnsupported as err:
        raise RuntimeError(f"{what} has no CUDA kernel for {err}; move its tensors to the CPU with .cpu()") from None
    finally:
        _current.impl = previous


@contextlib.contextmanager
def use(name: str) -> Iterator[ModuleType]:
    """Run the engine on kernel set `name` inside the block, on this thread."""
    previous, _current.impl = _current.impl, load(name)
    try:
        yield _current.impl
    finally:
        _current.impl = previous
