"""`Tensor`'s shape and indexing methods: reshape, view, transpose, expand, squeeze, indexing,
narrow and gather; and `cat` and `stack`, which join tensors."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import functions as F
from .base import Dims, TensorBase, is_int, norm_dim, promote, shape_arg, splits_advanced

if TYPE_CHECKING:  # each method returns a tensor of its own class (Tensor)
    from typing import Self


class ShapeMethods(TensorBase):
    """Methods that move elements, as `Tensor` methods."""

    __slots__ = ()

    def reshape(self, *shape) -> Self:
        return F.Reshape.apply(self, shape=shape_arg(shape))

    def view(self, *shape) -> Self:
        """`reshape` where no copy is needed, as PyTorch's `view`: after `permute` or a strided
        slice the elements are not in row-major order, and it raises (use reshape, or contiguous())."""
        shape = shape_arg(shape)
        try:
            np.reshape(self.array, shape, copy=False)
        except ValueError:
            self.array.reshape(shape)  # a shape that does not fit at all raises reshape's error
            raise RuntimeError(f"view: a tensor of shape {self.shape} whose elements are not in row-major "
                               f"order (after permute or a strided slice) cannot be viewed as {shape}; use "
                               ".reshape(...) (which copies), or .contiguous().view(...)") from None
        return F.Reshape.apply(self, shape=shape)

    def view_as(self, other: Any) -> Self:
        return self.view(*other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Self:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = norm_dim(start_dim, self.ndim), norm_dim(end_dim, self.ndim)
        merged = int(np.prod(self.shape[start:end + 1]))  # not -1: an empty batch has no size to infer
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def unsqueeze(self, dim: int) -> Self:
        d = norm_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: Dims = None) -> Self:
        """Drop size-1 dimensions: all of them, or the given ones (a given dim of another size stays)."""
        if dim is None:
            drop = {i for i, n in enumerate(self.shape) if n == 1}
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            drop = {d for d in (norm_dim(d, self.ndim) for d in dims) if self.ndim and self.shape[d] == 1}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def expand(self, *sizes) -> Self:
        """A broadcast view of size-1 dimensions (-1 keeps a size), as in PyTorch."""
        sizes = shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a {self.ndim}-d tensor")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        return F.Expand.apply(self, shape=shape)

    def transpose(self, *axes) -> Self:
        """`transpose(d0, d1)` swaps two dimensions (PyTorch's and Candle's); `transpose(perm)` with one
        tuple, or no argument, permutes them as numpy does (all reversed by default)."""
        if len(axes) == 2 and all(is_int(a) for a in axes):
            perm = list(range(self.ndim))
            d0, d1 = norm_dim(axes[0], self.ndim), norm_dim(axes[1], self.ndim)
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return F.Transpose.apply(self, axes=tuple(perm))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return self.permute(*axes) if axes else F.Transpose.apply(self, axes=tuple(reversed(range(self.ndim))))

    def permute(self, *dims) -> Self:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        norm = tuple(norm_dim(d, self.ndim) for d in dims)
        if sorted(norm) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dimensions of {self.shape}")
        return F.Transpose.apply(self, axes=norm)

    @property
    def T(self) -> Self:
        return self.transpose()

    def __getitem__(self, idx: Any) -> Self:
        if isinstance(idx, TensorBase):
            idx = idx.array
        elif isinstance(idx, tuple):
            idx = tuple(i.array if isinstance(i, TensorBase) else np.asarray(i) if isinstance(i, list) else i
                        for i in idx)
        elif isinstance(idx, list):
            idx = np.asarray(idx)
        if isinstance(idx, tuple) and splits_advanced(idx):
            # PyTorch applies integer indices first, as basic indexing (t[0, :, idx] is t[0][:, idx]);
            # numpy would count them as advanced and move the result's axes to the front.
            first = tuple(i if is_int(i) or i is Ellipsis else slice(None) for i in idx if i is not None)
            rest = tuple(i for i in idx if not is_int(i))
            return F.Index.apply(F.Index.apply(self, idx=first), idx=rest)
        return F.Index.apply(self, idx=idx)

    def t(self) -> Self:
        """The transpose of a tensor of at most 2 dimensions (PyTorch's `t()`)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}; use transpose(d0, d1)")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def split(self, split_size: Any, dim: int = 0) -> tuple:
        """Pieces of `split_size` along `dim` (the last one smaller), or of the sizes listed."""
        dim = norm_dim(dim, self.ndim)
        n = self.shape[dim]
        sizes = list(split_size) if isinstance(split_size, (list, tuple)) else \
            [min(split_size, n - s) for s in range(0, n, split_size)]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to dimension {dim}'s {n}")
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(self.narrow(dim, int(a), int(k)) for a, k in zip(starts, sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """`chunks` pieces along `dim` (fewer when it does not divide), as PyTorch's `chunk`."""
        n = self.shape[norm_dim(dim, self.ndim)]
        return self.split(max(1, -(-n // chunks)), dim)

    def narrow(self, dim: int, start: int, length: int) -> Self:
        """Elements start .. start+length-1 along `dim` (Candle's narrow), as a view."""
        dim = norm_dim(dim, self.ndim)
        n = self.shape[dim]
        if not (0 <= start and 0 <= length and start + length <= n):
            raise ValueError(f"narrow: start {start} + length {length} is out of range "
                             f"for dimension {dim} of size {n}")
        idx = [slice(None)] * self.ndim
        idx[dim] = slice(start, start + length)
        return self[tuple(idx)]

    def gather(self, dim: int, index: Any) -> Self:
        """out[i][j] = self[i][index[i][j]] along `dim` (PyTorch's gather)."""
        index = index.array if isinstance(index, TensorBase) else np.asarray(index)
        return F.Gather.apply(self, index=index, axis=norm_dim(dim, self.ndim))


def cat(tensors: Sequence, dim: int = 0):
    """Tensors joined along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: no tensors to join")
    ndim = tensors[0].ndim
    if ndim == 0 or any(t.ndim != ndim for t in tensors):
        raise ValueError(f"cat: tensors of shapes {[t.shape for t in tensors]} cannot be joined")
    return F.Cat.apply(*_common(tensors), axis=norm_dim(dim, ndim))


def stack(tensors: Sequence, dim: int = 0):
    """Tensors of one shape stacked along a new dimension."""
    tensors = list(tensors)
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: expected tensors of one shape, got {[t.shape for t in tensors]}")
    return F.Stack.apply(*_common(tensors), axis=norm_dim(dim, tensors[0].ndim + 1))


def _common(tensors: Sequence) -> list:
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote(dtype, t.dtype)
    return [t._to(dtype) for t in tensors]
