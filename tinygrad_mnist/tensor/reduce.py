"""`Tensor`'s reductions: sum, mean, prod, var, std, norm, max, min, amax, amin, argmax, argmin."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Optional

import numpy as np

from .. import functions as F
from .. import kernels
from ..kernels.interface import DeviceArray
from .base import Dims, TensorBase, norm_dim
from .elementwise import where

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

    def sum(self, dim: Dims = None, keepdim: bool = False, *, dtype: Any = None, axis: Dims = None,
            keepdims: Optional[bool] = None) -> Self:
        """`dtype` casts first (a recorded cast), as PyTorch does; integers and bools sum as int64."""
        x = self._accumulating(dtype)
        axes, keep = x._reduction(dim, keepdim, axis, keepdims)
        return F.Sum.apply(x, axis=axes, keepdims=keep)

    def mean(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None) -> Self:
        axes, keep = self._reduction(dim, keepdim, axis, keepdims)
        return F.Mean.apply(self._real(), axis=axes, keepdims=keep)

    def prod(self, dim: Optional[int] = None, keepdim: bool = False, *, dtype: Any = None) -> Self:
        """The product along one dimension, or of every element (as PyTorch, one dim at most);
        zeros in the input are exact (no division: see `Prod`)."""
        x = self._accumulating(dtype)
        if dim is not None and x.ndim:
            return F.Prod.apply(x, axis=norm_dim(dim, x.ndim), keepdims=keepdim)
        if dim is not None:
            norm_dim(dim, 0)  # a 0-d tensor has dims 0 and -1 only
        return F.Prod.apply(x.reshape(-1), axis=0, keepdims=False)  # everything: of the flattened tensor

    def var(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
            correction: Optional[float] = None, axis: Dims = None, keepdims: Optional[bool] = None) -> Self:
        """Σ (x − mean)² / (N − correction), composed of the ops it is made of; `correction` is 1
        by default (Bessel's), `unbiased=False` is `correction=0`, as in PyTorch."""
        if isinstance(dim, bool):  # x.var(False): PyTorch's overload without a dim
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise ValueError("var/std: give unbiased or correction, not both")
        c = correction if correction is not None else 0 if unbiased is False else 1
        x = self._real()
        axes, keep = x._reduction(dim, keepdim, axis, keepdims)
        n = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
        centred = x - x.mean(dim=axes, keepdim=True)
        return (centred * centred).sum(dim=axes, keepdim=keep) / float(max(n - c, 0))

    def std(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
            correction: Optional[float] = None, axis: Dims = None, keepdims: Optional[bool] = None) -> Self:
        """√var, with var's arguments."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims).sqrt()

    def norm(self, p: Any = "fro", dim: Dims = None, keepdim: bool = False) -> Self:
        """The p-norm of every element or along `dim`: (Σ |x|ᵖ)^(1/p), p = 2 ('fro') by default;
        p = inf and -inf are the largest and smallest |x|. d/dx = sign(x)·|x|ᵖ⁻¹ / ‖x‖ᵖ⁻¹, and 0
        where the norm is 0 (PyTorch's choice): the root is taken only where the sum is not 0,
        so no 0/0 reaches the gradient."""
        x = F.Abs.apply(self._real())
        if p in (float("inf"), float("-inf")):
            return x.amax(dim, keepdim) if p > 0 else x.amin(dim, keepdim)
        p = 2.0 if p == "fro" else float(p)
        if p == 1:
            return x.sum(dim, keepdim)
        s = (x * x if p == 2 else x ** p).sum(dim, keepdim)
        zero = s.array == 0
        return where(zero, 0.0, where(zero, 1.0, s) ** (1 / p))

    def logsumexp(self, dim: Dims, keepdim: bool = False) -> Self:
        """log Σ exp(x) along `dim`, shifted by the largest value (a constant: the gradient, the
        softmax, does not depend on it), so nothing overflows."""
        x = self._real()
        axes, _ = x._reduction(dim, True, None, None)
        shift = x.plain(np.max(x.array, axis=axes, keepdims=True) if x.numel() else np.zeros(()))
        shift = x.plain(np.where(np.isfinite(shift.array), shift.array, 0).astype(x.dtype))
        out = F.Log.apply((x - shift).exp().sum(axes, keepdim=True)) + shift
        return out if keepdim else out.reshape(*[n for i, n in enumerate(out.shape) if i not in (axes or ())])

    def _accumulating(self, dtype: Any) -> Self:
        """What sum and prod run on: `dtype` if given, else int64 for integers and bools (PyTorch's)."""
        if dtype is not None:
            return self._to(np.dtype(dtype))
        return self if self.dtype.kind in "fc" or self.dtype == np.int64 else self._to(np.dtype(np.int64))

    def max(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None,
            keepdims: Optional[bool] = None):
        """PyTorch's two `max`es, whichever keyword names the dimension: with no dimension, the
        largest element (tied maxima share the gradient evenly); along one dimension,
        `(values, indices)` of the first largest, and the gradient goes to the index returned.
        `amax` is the reduction over one or several dimensions that splits ties evenly."""
        return self._max_or_min(F.Max, kernels.impl.argmax, dim, keepdim, axis, keepdims)

    def min(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None,
            keepdims: Optional[bool] = None):
        """As `max`, for the smallest (`min` is `max` picking the smallest, not `-max(-x)`: the
        graph shows one node)."""
        return self._max_or_min(F.Min, np.argmin, dim, keepdim, axis, keepdims)

    def amax(self, dim: Dims = (), keepdim: bool = False, *, axis: Dims = None, keepdims: Optional[bool] = None) -> Self:
        """The largest values along `dim` (one or several; `()` or None: all): tied maxima share the
        gradient evenly, as PyTorch's amax."""
        axes, keep = self._reduction(dim if dim != () else None, keepdim, axis, keepdims)
        return F.Max.apply(self, axis=axes, keepdims=keep)

    def amin(self, dim: Dims = (), keepdim: bool = False, *, axis: Dims = None, keepdims: Optional[bool] = None) -> Self:
        """As `amax`, for the smallest."""
        axes, keep = self._reduction(dim if dim != () else None, keepdim, axis, keepdims)
        return F.Min.apply(self, axis=axes, keepdims=keep)

    def argmax(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None) -> Self:
        """Index of the first largest element (a NaN counts as largest); no gradient."""
        dim = dim if axis is None else axis
        if isinstance(self.array, DeviceArray):  # on the GPU: its rows' kernel (2-D, or all elements)
            d = None if dim is None else norm_dim(dim, self.ndim)
            out = self.array.argmax(d)
            return self.plain(out.reshape(out.shape[:d] + (1,) + out.shape[d:]) if keepdim and d is not None else out)
        return self._arg(kernels.impl.argmax, dim, keepdim)

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
            return self.plain(np.asarray(pick(self.array.reshape(-1), axis=0) if self.numel() else pick(self.array)))
        d = norm_dim(dim, self.ndim)
        out = pick(self.array, axis=d)
        return self.plain(np.expand_dims(out, d) if keepdim else np.asarray(out))

    def _max_or_min(self, op, pick, dim, keepdim, axis, keepdims):
        dim, keepdim = (axis if dim is None else dim), (keepdim if keepdims is None else keepdims)
        if dim is None:
            return op.apply(self, axis=None, keepdims=False)
        if isinstance(dim, (tuple, list)):
            raise TypeError("max/min take one dimension (they return values and indices); "
                            "amax/amin reduce over several")
        if self.ndim == 0:
            norm_dim(dim, 0)
            return MinMax(self, self.plain(np.asarray(0)))
        d = norm_dim(dim, self.ndim)
        indices = np.expand_dims(pick(self.array, axis=d), d)
        values = self.gather(d, indices)
        if not keepdim:
            values, indices = values.squeeze(d), np.squeeze(indices, d)
        return MinMax(values, self.plain(indices))
