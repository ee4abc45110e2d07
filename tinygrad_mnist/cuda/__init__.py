"""The engine on NVIDIA GPUs through numba's CUDA target: the kernels (`kernels`), the array
they compute on (`array.CudaArray`) and the kernel set the ops call on it (`ops`). This module
is also PyTorch's `torch.cuda` as programs ask it (`tinygrad_mnist.cuda.is_available()`); it
imports nothing heavy, and numba only when asked whether a GPU is there.
"""
from __future__ import annotations

from typing import Optional

_why: Optional[str] = None


def is_available() -> bool:
    """Whether CUDA tensors can be made: a GPU with its driver, or numba's simulator
    (`NUMBA_ENABLE_CUDASIM=1`, set before numba is imported)."""
    return reason() is None


def reason() -> Optional[str]:
    """Why CUDA is not available, in words (None when it is)."""
    global _why
    if _why is None:
        try:
            import sys
            if "numba.cuda" not in sys.modules:  # numba read NUMBA_ENABLE_CUDASIM when the CPU kernels
                from numba.core import config    # loaded it: read it again, it may have been set since
                config.reload_config()
            from numba import cuda
            _why = "" if cuda.is_available() else "no CUDA GPU or driver was found"
        except ImportError as err:  # numba-cuda is an extra: pip install 'tinygrad_mnist[cuda]'
            _why = f"numba's CUDA target is not installed ({err}); pip install 'tinygrad_mnist[cuda]'"
    return _why or None


def device_count() -> int:
    return int(is_available())


def synchronize() -> None:
    """Wait until the GPU has finished what was launched (reading a value back waits too)."""
    if is_available():
        from numba import cuda
        cuda.synchronize()


def manual_seed(seed: int) -> None:
    """Nothing to do: dropout's device draws are seeded from the engine's generator
    (`tinygrad_mnist.manual_seed`)."""


manual_seed_all = manual_seed
