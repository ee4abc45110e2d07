"""`Tensor`'s reductions: sum, mean, max, min, argmax, argmin."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional

import numpy as np

from . import functions as F
from . import kernels
from .tensor_base import Dims, TensorBase, norm_dim

if TYPE_CHECKING:  # each method returns a tensor of its own class (Tensor)
    from typing import Self


class MinMax(NamedTuple):
    """What `max(dim)` and `min(dim)` return, as in PyTorch: `values` and their `indices`."""
    values: Self
    indices: Self


class ReductionMethods(TensorBase):
    """Reductions, as `Tensor` methods. PyTorch's `dim=`/`keepdim=` and numpy's `axis=`/`keepdims=`
    both work. A 0-d tensor counts as one element along dim 0 (or -1), as in PyTorch."""

    __slots__ = ()

    def sum(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None) -> Self:
        axes, keep = self._reduction(dim, keepdim, axis, keepdims)
        return F.Sum.apply(self, axis=axes, keepdims=keep)

    def mean(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None) -> Self:
        axes, keep = self._reduction(dim, keepdim, axis, keepdims)
        return F.Mean.apply(self._real(), axis=axes, keepdims=keep)

    def max(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None):
        """With no dim: the largest element (ties share the gradient). With `dim` (PyTorch's
        spelling): `(values, indices)` of the first largest along it, the gradient going to those
        indices. With `axis=` (numpy's): the values only."""
        return self._max_or_min(F.Max, kernels.impl.argmax, dim, keepdim, axis, keepdims)

    def min(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None):
        """As `max`, for the smallest."""
        return self._max_or_min(F.Min, np.argmin, dim, keepdim, axis, keepdims)

    def argmax(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None) -> Self:
        """Index of the first largest element (a NaN counts as largest); no gradient."""
        return self._arg(kernels.impl.argmax, dim if axis is None else axis, keepdim)

    def argmin(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None) -> Self:
        return self._arg(np.argmin, dim if axis is None else axis, keepdim)

    def _reduction(self, dim: Dims, keepdim: bool, axis: Dims, keepdims: Optional[bool]):
        dims = axis if dim is None else dim
        keep = keepdim if keepdims is None else keepdims
        if dims is None:
            return None, keep
        axes = tuple(norm_dim(d, self.ndim) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
        return (None if self.ndim == 0 else axes), keep

    def _arg(self, pick, dim: Optional[int], keepdim: bool) -> Self:
        if dim is None or self.ndim == 0:
            return type(self)(np.asarray(pick(self.data.reshape(-1), axis=0) if self.size else pick(self.data)))
        d = norm_dim(dim, self.ndim)
        out = pick(self.data, axis=d)
        return type(self)(np.expand_dims(out, d) if keepdim else np.asarray(out))

    def _max_or_min(self, op, pick, dim, keepdim, axis, keepdims):
        if dim is None:
            axes, keep = self._reduction(None, keepdim, axis, keepdims)
            return op.apply(self, axis=axes[0] if axes and len(axes) == 1 else axes, keepdims=keep)
        if isinstance(dim, (tuple, list)):
            raise TypeError("max/min(dim) takes one dimension; use amax-style axis= for several")
        if self.ndim == 0:
            return MinMax(self, type(self)(np.asarray(0)))
        d = norm_dim(dim, self.ndim)
        indices = np.expand_dims(pick(self.data, axis=d), d)
        values = self.gather(d, indices)
        if not keepdim:
            values, indices = values.squeeze(d), np.squeeze(indices, d)
        return MinMax(values, type(self)(indices))
