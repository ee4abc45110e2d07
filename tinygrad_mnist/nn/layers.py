"""Layers with Candle's names: `Linear`, `Conv2d`, `Dropout` and their builders.

A layer computes what its formula says for any input dtype: a uint8 input is
multiplied by value, as numpy does. A model that wants pixels read as 0..1
says so: `Linear(..., input_scale=PIXEL_SCALE)` (applied inside the product,
so MNIST stays uint8 in memory, and shown in the graph), or an explicit
`x.astype(np.float32) * PIXEL_SCALE`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..tensor import Tensor, cross_entropy
from . import init
from .varmap import VarBuilder

PIXEL_SCALE = 1.0 / 255.0  # 8-bit pixel intensities as 0..1 (torchvision's ToTensor convention)


class Module:
    """Something callable on a tensor: `module(x)` is `module.forward(x)`."""

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> Tensor:
        return self.forward(*args, **kwargs)

    def loss(self, x: Tensor, targets, train: bool = False) -> Tensor:
        """The training loss, `cross_entropy(self(x, train), targets)`: log_softmax then nll."""
        return cross_entropy(self.forward(x, train=train), targets)


class Linear(Module):
    """y = (input_scale · x) @ weightᵀ + bias, weight [out, in] (Candle's and PyTorch's layout).
    `input_scale` (default 1) is for a first layer that reads raw pixels as 0..1."""

    def __init__(self, weight: Tensor, bias: Optional[Tensor] = None, input_scale: float = 1.0):
        self.weight, self.bias, self.input_scale = weight, bias, input_scale

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            return x.linear(self.weight, self.bias, self.input_scale)
        lead = x.shape[:-1]  # [..., in]: apply to the last axis
        y = x.reshape(-1, x.shape[-1]).linear(self.weight, self.bias, self.input_scale)
        return y.reshape(*lead, self.weight.shape[0])


def linear(in_dim: int, out_dim: int, vb: VarBuilder, input_scale: float = 1.0) -> Linear:
    """Candle's `linear`: Kaiming-normal weight, bias uniform in ±1/√in."""
    weight = vb.get_with_hints((out_dim, in_dim), "weight", init.DEFAULT_KAIMING_NORMAL)
    bound = 1.0 / math.sqrt(in_dim)
    bias = vb.get_with_hints((out_dim,), "bias", init.Uniform(-bound, bound))
    return Linear(weight, bias, input_scale)


def linear_no_bias(in_dim: int, out_dim: int, vb: VarBuilder) -> Linear:
    return Linear(vb.get_with_hints((out_dim, in_dim), "weight", init.DEFAULT_KAIMING_NORMAL))


@dataclass(frozen=True)
class Conv2dConfig:
    """Candle's `Conv2dConfig`; dilation and groups other than 1 are not implemented."""
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    groups: int = 1


class Conv2d(Module):
    """2-D convolution (cross-correlation) of NCHW input, weight [out, in, k, k]."""

    def __init__(self, weight: Tensor, bias: Optional[Tensor] = None, config: Conv2dConfig = Conv2dConfig()):
        if config.dilation != 1 or config.groups != 1:
            raise NotImplementedError("conv2d: only dilation=1 and groups=1 are implemented")
        self.weight, self.bias, self.config = weight, bias, config

    def forward(self, x: Tensor) -> Tensor:
        return x.conv2d(self.weight, self.bias, self.config.stride, self.config.padding)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, cfg: Conv2dConfig, vb: VarBuilder) -> Conv2d:
    """Candle's `conv2d`: Kaiming-normal weight, bias uniform in ±1/√(in·k·k)."""
    shape = (out_channels, in_channels, kernel_size, kernel_size)
    weight = vb.get_with_hints(shape, "weight", init.DEFAULT_KAIMING_NORMAL)
    bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
    bias = vb.get_with_hints((out_channels,), "bias", init.Uniform(-bound, bound))
    return Conv2d(weight, bias, cfg)


def conv2d_no_bias(in_channels: int, out_channels: int, kernel_size: int, cfg: Conv2dConfig,
                   vb: VarBuilder) -> Conv2d:
    shape = (out_channels, in_channels, kernel_size, kernel_size)
    return Conv2d(vb.get_with_hints(shape, "weight", init.DEFAULT_KAIMING_NORMAL), None, cfg)


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p)
    (so the expected value is unchanged); outside training, the identity."""

    def __init__(self, p: float):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor, train: bool = False) -> Tensor:
        if not train or self.p == 0.0:
            return x
        keep = init.rng().random(x.shape, dtype=np.float32) >= self.p
        return x * Tensor(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p)))

    forward_t = forward


def relu(x: Tensor) -> Tensor:
    return x.relu()


def max_pool2d(x: Tensor, kernel: int, stride: Optional[int] = None) -> Tensor:
    return x.max_pool2d(kernel, stride)
