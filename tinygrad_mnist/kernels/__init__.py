"""The kernel set the engine runs on: numba (default) or the numpy reference twins.

`TINYGRAD_MNIST_KERNELS=numba|numpy` picks the set when the engine is imported;
`use("numpy")` switches it for a block of code (tests and benchmarks compare the
two in one process). The graph code calls `kernels.impl.<name>(...)` and never
knows which set it got; numba is imported only when its set is chosen.
"""
from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Iterator

BACKENDS = ("numba", "numpy")
ENV_VAR = "TINYGRAD_MNIST_KERNELS"


def load(name: str) -> ModuleType:
    """The kernel module called `name` ('numba' or 'numpy')."""
    if name not in BACKENDS:
        raise ValueError(f"{ENV_VAR}={name!r}: expected one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"{__name__}.{name}_kernels")


impl: ModuleType = load(os.environ.get(ENV_VAR, "numba") or "numba")


def set_threads(n: int) -> None:
    """Threads for the numba kernels (the calling one included); the numpy set has no pool."""
    if impl.__name__.endswith("numba_kernels"):
        impl.set_num_threads(n)


def get_threads() -> int:
    return impl.get_num_threads() if impl.__name__.endswith("numba_kernels") else 1


@contextlib.contextmanager
def use(name: str) -> Iterator[ModuleType]:
    """Run the engine on kernel set `name` inside the block."""
    global impl
    previous, impl = impl, load(name)
    try:
        yield impl
    finally:
        impl = previous
