"""What backward and jvp formulas call where numpy and `Tensor` spell a thing differently.

A formula is written once: a first-order backward hands it numpy arrays, a create_graph one
tensors (`autograd.py`). Operators (`*`, `/`, `-`), `.sum(axis=, keepdims=)`, `.reshape`,
`.transpose(perm)` and `.T` mean the same on both; the few functions below pick numpy's or
the tensor's spelling. `value(x)` is x's numbers, for masks and conditions: a mask is a
constant (its derivative is zero almost everywhere), as in PyTorch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import is_array
from ..kernels.interface import DeviceArray


def value(x: Any) -> np.ndarray:
    """The numbers of an array or a tensor (no gradient flows through them)."""
    return x if is_array(x) else x.array


def contiguous(x: Any) -> Any:
    """x in row-major order: itself if it is, else a copy (numpy's, or a device array's)."""
    return x if x.flags.c_contiguous else x.copy()


def array(x: Any) -> Any:
    """A reduction's result as an array: numpy's scalar as a 0-d array, a device's as it is."""
    return x if isinstance(x, DeviceArray) else np.asarray(x)


def number(x: Any) -> Any:
    """A one-element host array as a float; a device's stays on its device (reading it would wait)."""
    return x if isinstance(x, DeviceArray) else float(x)


def exp(x: Any) -> Any:
    return np.exp(x) if is_array(x) else x.exp()


def log(x: Any) -> Any:
    return np.log(x) if is_array(x) else x.log()


def swap_last(x: Any) -> Any:
    """x with its last two dimensions swapped (a batched transpose)."""
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return x.transpose(perm)


def plus(*terms: Any) -> Any:
    """The sum of the terms that are not None (None: an input without a tangent)."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total
