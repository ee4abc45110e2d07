"""The contract of `Tensor`'s parts: what a family of its methods may use of a tensor besides its
own methods, declared once here, and the rules every method applies to arguments (dimensions,
pairs, shapes) and to dtypes (PyTorch's promotion).

`Tensor` (`core.py`) is its families put together: `create.py`, `elementwise.py`, `shape.py`,
`reduce.py`, `nn.py`, each a subclass of `TensorBase`. A family uses its own methods, what
`TensorBase` implements (the properties and the dtype hooks `_lift`, `_to`, `_real`), what the
core provides (the attributes annotated below), and a method of another family only where
`TensorBase` declares it (`reshape`, ...: tinygrad's mixins declare what they need the same way).
`tests/engine/test_tensor_contract.py` holds every family to it.

dtype rules, as in PyTorch: a Python float makes float32; an integer tensor meets a float
(a Python float or a float tensor) as that float dtype; ops that only make sense on reals
turn integer input into float32.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple, Union

import numpy as np

from .. import devices
from .. import functions as F
from ..kernels.interface import DeviceArray

if TYPE_CHECKING:
    from typing import Self

Scalar = Union[int, float]
Dims = Union[None, int, Sequence[int]]


class TensorBase:
    """The base of `Tensor` and of each family of its methods: `isinstance(x, TensorBase)` is
    "x is a tensor"."""

    __slots__ = ()
    # Provided by the core (core.py): the class of the tensors its methods and ops make (`Tensor`;
    # an `nn.Parameter`'s results are plain tensors), the values, and whether a gradient is wanted.
    plain: type
    array: np.ndarray  # the values (a CSR for sparse images); `.data` is PyTorch's tensor view of them
    requires_grad: bool
    _ctx: Optional[Any]  # the recorded op that made it (autograd.Context), None for a leaf

    shape = property(lambda self: self.array.shape)
    device = property(lambda self: devices.CUDA if isinstance(self.array, DeviceArray) else devices.CPU,
                      doc="Where the tensor lives: the CPU or the GPU (`devices.py`).")
    dtype = property(lambda self: self.array.dtype)
    ndim = property(lambda self: self.array.ndim)

    def numel(self) -> int:
        return self.array.size

    # ---------------------------------------------------------------- the dtype hooks
    def _lift(self, other: Any) -> Self:
        """A Python or numpy scalar or array becomes a constant tensor. A Python number takes this
        tensor's dtype when that can hold it (a float meeting an integer tensor makes float32)."""
        if isinstance(other, TensorBase):
            return other
        if isinstance(other, (bool, int, float)) and not isinstance(other, np.generic):
            if is_float(self.dtype):
                return self.plain(np.asarray(other, dtype=self.dtype))
            if isinstance(other, float):
                return self.plain(np.asarray(other, dtype=np.float32))
            return self.plain(np.asarray(other, dtype=np.result_type(self.dtype, other)))
        return self.plain(other)

    def _to(self, dtype: np.dtype) -> Self:
        """This tensor in `dtype`: a recorded cast if it carries a gradient, else plain data."""
        if self.dtype == dtype:
            return self
        return F.Cast.apply(self, dtype=np.dtype(dtype)) if self.requires_grad else self.plain(self.array.astype(dtype))

    def _real(self) -> Self:
        """Integer and bool tensors as float32, for ops that only make sense on reals."""
        return self if is_float(self.dtype) else self._to(np.dtype(np.float32))

    # ---------------------------------------------------------------- declared here, made by shape.py
    def reshape(self, *shape) -> Self:
        raise NotImplementedError("tensor/shape.py")

    def unsqueeze(self, dim: int) -> Self:
        raise NotImplementedError("tensor/shape.py")

    def gather(self, dim: int, index: Any) -> Self:
        raise NotImplementedError("tensor/shape.py")


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """numpy arrays and numpy scalars keep their dtype; Python floats become float32."""
    if dtype is None and isinstance(data, np.ndarray):
        return data
    if isinstance(data, DeviceArray):  # on a device: stays there
        return data if dtype is None else data.astype(dtype, copy=False)
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
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
