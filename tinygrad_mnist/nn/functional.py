"""PyTorch's `torch.nn.functional` (`import tinygrad_mnist.nn.functional as F`): the layers as
functions of tensors, each one line onto a `Tensor` method or a loss."""
from __future__ import annotations

from typing import Any, Optional

from ..losses import IGNORE_INDEX, cross_entropy, nll
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
