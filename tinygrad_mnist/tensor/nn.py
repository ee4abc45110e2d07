"""`Tensor`'s products and network ops: matmul, linear, conv1d, conv2d, max- and average pooling,
unpooling and softmax."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .. import functions as F
from .. import kernels
from .base import TensorBase, is_int, norm_dim, pair, promote
from .shape import cat as cat_fn

if TYPE_CHECKING:  # each method returns a tensor of its own class (Tensor)
    from typing import Self


class NetworkMethods(TensorBase):
    """Products, layers and softmax, as `Tensor` methods."""

    __slots__ = ()

    def __matmul__(self, other: Self) -> Self:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Self:
        return self._lift(other).matmul(self)

    def matmul(self, other: Any) -> Self:
        """`self @ other`, numpy's and PyTorch's rules: 2-D, batched over leading dimensions, and a
        1-D operand taken as a row (left) or column (right) vector, that dimension dropped after.
        Integer operands are multiplied by value, as numpy does (uint8 pixels stay 0..255)."""
        other = self._lift(other)
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {self.shape} and {other.shape}")
        a = self.unsqueeze(0) if self.ndim == 1 else self
        b = other.unsqueeze(-1) if other.ndim == 1 else other
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not match "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        dtype = promote(a.dtype, b.dtype)
        out = F.MatMul.apply(a._to(dtype), b._to(dtype))
        drop = ([out.ndim - 2] if self.ndim == 1 else []) + ([out.ndim - 1] if other.ndim == 1 else [])
        return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in drop)) if drop else out

    def mm(self, other: Any) -> Self:
        """The product of two 2-D tensors."""
        if self.ndim != 2 or getattr(other, "ndim", 2) != 2:
            raise ValueError(f"mm: expected two 2-D tensors, got {self.shape} and {getattr(other, 'shape', None)}")
        return self.matmul(other)

    def bmm(self, other: Any) -> Self:
        """Products of two batches of matrices, [B, n, k] @ [B, k, m]."""
        if self.ndim != 3 or getattr(other, "ndim", 3) != 3:
            raise ValueError(f"bmm: expected two 3-D tensors, got {self.shape} and {getattr(other, 'shape', None)}")
        return self.matmul(other)

    def dot(self, other: Self) -> Self:
        """The inner product of two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"dot: expected two 1-D tensors, got {self.shape} and {other.shape}")
        return self.matmul(other)

    def linear(self, weight: Self, bias: Optional[Self] = None, scale: float = 1.0) -> Self:
        """`(scale * self) @ weight.T + bias`, weight shaped [out, in] (Candle's and PyTorch's layout).
        `scale` is an input scale a layer asks for explicitly; it shows in the graph."""
        _check_linear("linear", self, weight, bias)
        dtype = promote(promote(self.dtype, weight.dtype), weight.dtype if bias is None else bias.dtype)
        # `@`'s dtype rule; uint8 pixels stay uint8 (the kernel multiplies them by value, in the weight's dtype)
        x = self if self.dtype == np.uint8 and dtype == weight.dtype else self._to(dtype)
        weight, bias = weight._to(dtype), None if bias is None else bias._to(dtype)
        if bias is None:
            return F.Linear.apply(x, weight, scale=scale)
        return F.Linear.apply(x, weight, bias, scale=scale)

    def conv2d(self, weight: Self, bias: Optional[Self] = None, stride: Any = 1, padding: Any = 0,
               dilation: Any = 1, groups: int = 1) -> Self:
        """2-D cross-correlation of [B, C, H, W] with weight [O, C/groups, kh, kw] (+ bias [O]);
        stride, padding and dilation are an int or a (rows, columns) pair, as in PyTorch."""
        stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
        if self.ndim != 4 or weight.ndim != 4 or groups < 1 or self.shape[1] != weight.shape[1] * groups \
                or weight.shape[0] % groups:
            raise ValueError(f"conv2d: input {self.shape} does not fit weight {weight.shape} with groups={groups} "
                             "(expected [batch, C, H, W] and [out, C/groups, kh, kw], out divisible by groups)")
        if min(stride) < 1 or min(padding) < 0 or min(dilation) < 1:
            raise ValueError(f"conv2d: stride and dilation must be >= 1 and padding >= 0, "
                             f"got {stride}, {dilation} and {padding}")
        for n, k, p, d in zip(self.shape[2:], weight.shape[2:], padding, dilation):
            if n + 2 * p < d * (k - 1) + 1:
                raise ValueError(f"conv2d: kernel {weight.shape[2:]} (dilation {dilation}) is larger than "
                                 f"the padded input {tuple(s + 2 * q for s, q in zip(self.shape[2:], padding))}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias {bias.shape} does not fit weight {weight.shape}")
        params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if bias is None:
            return F.Conv2d.apply(self, weight, **params)
        return F.Conv2d.apply(self, weight, bias, **params)

    def conv1d(self, weight: Self, bias: Optional[Self] = None, stride: int = 1, padding: int = 0,
               dilation: int = 1, groups: int = 1) -> Self:
        """1-D cross-correlation of [B, C, L] with weight [O, C/groups, k] (+ bias [O]): conv2d on
        a height of 1, `[B, C, 1, L]` with `[O, C/groups, 1, k]`, the graph shows the reshapes."""
        if self.ndim != 3 or weight.ndim != 3:
            raise ValueError(f"conv1d: expected input [batch, C, L] and weight [out, C/groups, k], "
                             f"got {self.shape} and {weight.shape}")
        one = [_one(v, what) for v, what in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))]
        out = self.unsqueeze(2).conv2d(weight.unsqueeze(2), bias, (1, one[0]), (0, one[1]), (1, one[2]), groups)
        return out.squeeze(2)

    def max_pool2d(self, kernel_size: Any = 2, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                   ceil_mode: bool = False, return_indices: bool = False):
        """Max over windows of [B, C, H, W] (PyTorch's `max_pool2d`, its argument order): kernel_size,
        stride (default: the kernel size), padding and dilation are an int or a (rows, columns)
        pair; padding counts as -inf. `return_indices`: also each maximum's flat index in its
        (H, W) plane, int64, what `max_unpool2d` takes."""
        kernel, stride, padding, dilation, out_size = _pooling(self, "max_pool2d", kernel_size, stride, padding,
                                                               dilation, ceil_mode)
        out, (index,) = F.MaxPool2d.apply_saving(self, kernel=kernel, stride=stride, padding=padding,
                                                 dilation=dilation, out_size=out_size)
        return (out, self.plain(index)) if return_indices else out

    def max_unpool2d(self, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                     output_size: Any = None) -> Self:
        """max_pool2d undone: zeros of the pooled input's size, each value put back at its index (the
        indices max_pool2d returned). The size is (n − 1)·stride − 2·padding + kernel per side, or
        `output_size` (its last two numbers)."""
        kernel, stride, padding = _pool_pairs(kernel_size, stride, padding)
        index = indices.array if isinstance(indices, TensorBase) else np.asarray(indices)
        if self.ndim != 4 or index.shape != self.shape or index.dtype.kind not in "iu":
            raise ValueError(f"max_unpool2d: expected input [B, C, H, W] and integer indices of its shape, "
                             f"got {self.shape} and {index.dtype} {index.shape}")
        size = tuple(output_size[-2:]) if output_size is not None else tuple(
            (n - 1) * s - 2 * p + k for n, s, p, k in zip(self.shape[2:], stride, padding, kernel))
        if index.size and (index.min() < 0 or index.max() >= size[0] * size[1]):
            raise ValueError(f"max_unpool2d: an index is out of range for an output of {size}")
        return F.MaxUnpool2d.apply(self, index=index, shape=self.shape[:2] + size)

    def avg_pool2d(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                   count_include_pad: bool = True, divisor_override: Optional[int] = None) -> Self:
        """The mean over windows of [B, C, H, W] (PyTorch's `avg_pool2d`, its arguments): a
        convolution of each plane with a constant kernel of ones, divided by the window's size
        (the padding counted or not, or `divisor_override`); the graph shows those ops."""
        kernel, stride, padding, _, out_size = _pooling(self, "avg_pool2d", kernel_size, stride, padding, 1,
                                                        ceil_mode)
        divisor = _pool_divisor(self.shape[2:], kernel, stride, padding, out_size, count_include_pad,
                                divisor_override)
        B, C, H, W = self.shape
        x = self.reshape(B * C, 1, H, W)
        for axis, (n, k, s, p, o) in enumerate(zip((H, W), kernel, stride, padding, out_size)):
            extra = (o - 1) * s + k - (n + 2 * p)  # ceil_mode's last window passes the padding
            if extra > 0:
                zeros = np.zeros(x.shape[:2 + axis] + (extra,) + x.shape[3 + axis:], self.dtype)
                x = cat_fn([x, self.plain(zeros)], dim=2 + axis)
        ones = np.full((1, 1) + kernel, 1.0 / divisor if np.ndim(divisor) == 0 else 1.0, self.dtype)
        window = self.plain(ones)
        window.name = f"avg_pool2d window {kernel[0]}x{kernel[1]}"
        out = x.conv2d(window, None, stride, padding).reshape(B, C, *out_size)
        return out if np.ndim(divisor) == 0 else out / self.plain(divisor.astype(self.dtype))

    def log_softmax(self, dim: int = -1, *, axis: Optional[int] = None) -> Self:
        x = self._real()
        if x.ndim == 0:  # one element: log_softmax is 0, and so is its gradient
            norm_dim(dim if axis is None else axis, 0)
            return F.LogSoftmax.apply(x.reshape(1), axis=0).reshape(())
        return F.LogSoftmax.apply(x, axis=norm_dim(dim if axis is None else axis, x.ndim))

    def softmax(self, dim: int = -1, *, axis: Optional[int] = None) -> Self:
        """exp(log_softmax(x)): the same stable shift, and the graph shows both ops."""
        return self.log_softmax(dim, axis=axis).exp()


def _check_linear(op: str, x, weight, bias) -> None:
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: input {x.shape} does not fit weight {weight.shape} "
                         "(expected [batch, in] and [out, in])")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias {bias.shape} does not fit weight {weight.shape}")




def _one(v: Any, what: str) -> int:
    """conv1d's stride, padding, dilation: an int (or a one-element tuple, as PyTorch accepts)."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not is_int(v):
        raise ValueError(f"conv1d: {what} must be an int, got {v!r}")
    return int(v)


def _pool_pairs(kernel_size, stride, padding):
    """A pooling's kernel, stride (default: the kernel) and padding, each a (rows, columns) pair."""
    kernel = pair(kernel_size, "kernel_size")
    return kernel, kernel if stride is None else pair(stride, "stride"), pair(padding, "padding")


def _pooling(x, op: str, kernel_size, stride, padding, dilation, ceil_mode: bool):
    """Pairs of kernel, stride (default: the kernel), padding and dilation, checked against x's
    [B, C, H, W], and the output size (PyTorch's rule)."""
    kernel, stride, padding = _pool_pairs(kernel_size, stride, padding)
    dilation = pair(dilation, "dilation")
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if x.ndim != 4 or min(kernel) < 1 or min(stride) < 1 or min(padding) < 0 or min(dilation) < 1 \
            or any(2 * p > k for p, k in zip(padding, kernel)) \
            or any(n + 2 * p < k for n, p, k in zip(x.shape[2:], padding, span)):
        raise ValueError(f"{op}: kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation} does "
                         f"not fit input {x.shape} (padding may be at most half the kernel)")
    out_size = tuple(kernels.impl.pool_out_size(n, k, s, p, ceil_mode)
                     for n, k, s, p in zip(x.shape[2:], span, stride, padding))
    return kernel, stride, padding, dilation, out_size


def _pool_divisor(size, kernel, stride, padding, out_size, count_include_pad: bool, divisor_override):
    """What avg_pool2d divides each window's sum by (PyTorch's rule): the window clipped to the
    padded input (count_include_pad) or to the input, or `divisor_override`. A number where every
    window has the same, else an [OH, OW] array."""
    if divisor_override is not None:
        if not is_int(divisor_override) or divisor_override == 0:
            raise ValueError(f"avg_pool2d: divisor_override must be a nonzero int, got {divisor_override!r}")
        return float(divisor_override)
    sides = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        sides.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    divisor = np.outer(sides[0], sides[1]).astype(np.float64)
    return float(divisor.flat[0]) if (divisor == divisor.flat[0]).all() else divisor
