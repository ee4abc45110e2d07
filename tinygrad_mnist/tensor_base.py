"""What every part of `Tensor` shares: the base class of its method families, and the rules its
methods apply to arguments (dimensions, pairs, shapes) and to dtypes (PyTorch's promotion).

dtype rules, as in PyTorch: a Python float makes float32; an integer tensor meets a float
(a Python float or a float tensor) as that float dtype; ops that only make sense on reals
turn integer input into float32.
"""
from __future__ import annotations

from typing import Any, Sequence, Tuple, Union

import numpy as np

Scalar = Union[int, float]
Dims = Union[None, int, Sequence[int]]


class TensorBase:
    """The base of `Tensor` and of each family of its methods (`tensor_shape.py`,
    `tensor_reduce.py`, `tensor_nn.py`): `isinstance(x, TensorBase)` is "x is a tensor".
    `plain` is the class of the tensors its methods and ops make (`Tensor`, set by tensor.py;
    an `nn.Parameter`'s results are plain tensors)."""

    __slots__ = ()
    plain: type


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """numpy arrays and numpy scalars keep their dtype; Python floats become float32."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        arr = arr.astype(np.float32)
    return arr


def is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's category rule: a float beats an integer and keeps its own width
    (int64 with float32 is float32, where numpy says float64); otherwise numpy's."""
    if is_float(a) != is_float(b):
        return a if is_float(a) else b
    return np.result_type(a, b)


def is_int(i: Any) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, bool)


def splits_advanced(idx: tuple) -> bool:
    """Whether numpy and PyTorch would disagree: integers beside array (advanced) indices."""
    arrays = [isinstance(i, np.ndarray) and i.ndim > 0 for i in idx]
    return any(arrays) and any(is_int(i) for i in idx)


def norm_dim(d: int, ndim: int) -> int:
    """A dimension in 0..ndim-1 (negative counts from the end); a 0-d tensor has dims 0 and -1."""
    n = max(ndim, 1)
    if not is_int(d) or not -n <= d < n:
        raise IndexError(f"dimension {d} is out of range for a {ndim}-d tensor (expected -{n} to {n - 1})")
    return d % n


def pair(v: Any, what: str) -> Tuple[int, int]:
    if is_int(v):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(is_int(x) for x in v):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{what}: expected an int or a pair of ints, got {v!r}")


def shape_arg(shape: tuple) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)
