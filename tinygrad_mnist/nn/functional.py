"""PyTorch's `torch.nn.functional` (`import tinygrad_mnist.nn.functional as F`): the layers as
functions of tensors, each one line onto a `Tensor` method or a loss."""
from __future__ import annotations

from typing import Any, Optional

from ..losses import IGNORE_INDEX, cross_entropy, nll, reduced
from ..tensor.elementwise import where
from ..tensor import Tensor
from .layers import max_pool2d, mse_loss
from .ops import dropout, log_softmax, relu, softmax

__all__ = ["relu", "tanh", "sigmoid", "log_softmax", "softmax", "dropout", "linear", "conv1d", "conv2d",
           "max_pool2d", "avg_pool2d", "nll_loss", "cross_entropy", "mse_loss"]


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """x @ weightᵀ + bias."""
    return x.linear(weight, bias)


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    return x.conv2d(weight, bias, stride, padding, dilation, groups)


def conv1d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1) -> Tensor:
    return x.conv1d(weight, bias, stride, padding, dilation, groups)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Optional[int] = None) -> Tensor:
    return x.avg_pool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def nll_loss(input: Tensor, target: Any, weight: Any = None, size_average: Any = None, ignore_index: int = IGNORE_INDEX,
             reduce: Any = None, reduction: str = "mean") -> Tensor:
    """PyTorch's `nll_loss` (`size_average` and `reduce` are its deprecated spellings of `reduction`)."""
    if size_average is not None or reduce is not None:
        reduction = "none" if reduce is False else "sum" if size_average is False else "mean"
    return nll(input, target, weight, reduction=reduction, ignore_index=ignore_index)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else slope·x:  d/dx = 1 or slope (slope at 0, as PyTorch)."""
    return where(x.array > 0, x, x * negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else α(eˣ − 1); the exponential only where it is taken (no overflow)."""
    return where(x.array > 0, x, ((x.clamp(max=0)).exp() - 1) * alpha)


def silu(x: Tensor) -> Tensor:
    """x·σ(x):  d/dx = σ(x)(1 + x(1 − σ(x)))."""
    return x * x.sigmoid()


def one_hot(t: Any, num_classes: int = -1) -> Tensor:
    """Class indices as rows of 0s and a 1 (int64), PyTorch's; `num_classes` −1: max + 1."""
    import numpy as np
    ids = np.asarray(getattr(t, "array", t))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got {ids.dtype}")
    n = int(ids.max()) + 1 if num_classes < 0 else num_classes
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"one_hot: class indices must be in [0, {n}), got {ids.min()}..{ids.max()}")
    return Tensor((ids[..., None] == np.arange(n)).astype(np.int64))


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖ₚ, eps) along `dim`."""
    return x / x.norm(p, dim, keepdim=True).clamp(min=eps)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Σ |input − target| over the elements, averaged by default."""
    return reduced((input - target).abs(), reduction, "l1_loss")


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """−(y·log p + (1 − y)·log(1 − p)) for probabilities p, each log clamped at −100 as PyTorch's."""
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    return reduced(loss if weight is None else loss * weight, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """The same on logits x, stably: max(x, 0) − x·y + log(1 + e^−|x|) (pos_weight p scales the
    positive term: (1 + (p − 1)y)·softplus(−x) + (1 − y)·x)."""
    softplus_neg = (-input).clamp(min=0) + (-input.abs()).exp().log1p()  # log(1 + e^−x)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    return reduced(loss if weight is None else loss * weight, reduction, "binary_cross_entropy_with_logits")


__all__ += ["leaky_relu", "elu", "silu", "one_hot", "normalize", "l1_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits"]
