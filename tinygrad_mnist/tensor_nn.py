"""`Tensor`'s products and network ops: matmul, linear, conv2d, max-pooling and softmax."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from . import functions as F
from . import kernels
from .tensor_base import TensorBase, norm_dim, pair, promote

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

    def dot(self, other: Self) -> Self:
        """The inner product of two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"dot: expected two 1-D tensors, got {self.shape} and {other.shape}")
        return self.matmul(other)

    def linear(self, weight: Self, bias: Optional[Self] = None, scale: float = 1.0) -> Self:
        """`(scale * self) @ weight.T + bias`, weight shaped [out, in] (Candle's and PyTorch's layout).
        `scale` is an input scale a layer asks for explicitly; it shows in the graph."""
        _check_linear("linear", self, weight, bias)
        if bias is None:
            return F.Linear.apply(self, weight, scale=scale)
        return F.Linear.apply(self, weight, bias, scale=scale)

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

    def max_pool2d(self, kernel_size: Any = 2, stride: Any = None, padding: Any = 0,
                   ceil_mode: bool = False) -> Self:
        """Max over windows of [B, C, H, W] (PyTorch's `max_pool2d`): kernel_size, stride (default:
        the kernel size) and padding are an int or a (rows, columns) pair; padding counts as -inf."""
        kernel = pair(kernel_size, "kernel_size")
        stride = kernel if stride is None else pair(stride, "stride")
        padding = pair(padding, "padding")
        if self.ndim != 4 or min(kernel) < 1 or min(stride) < 1 or min(padding) < 0 \
                or any(2 * p > k for p, k in zip(padding, kernel)) \
                or any(n + 2 * p < k for n, p, k in zip(self.shape[2:], padding, kernel)):
            raise ValueError(f"max_pool2d: kernel {kernel}, stride {stride}, padding {padding} does not fit "
                             f"input {self.shape} (padding may be at most half the kernel)")
        out_size = tuple(kernels.impl.pool_out_size(n, k, s, p, ceil_mode)
                         for n, k, s, p in zip(self.shape[2:], kernel, stride, padding))
        return F.MaxPool2d.apply(self, kernel=kernel, stride=stride, padding=padding, out_size=out_size)

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


