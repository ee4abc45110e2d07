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
from typing import Iterator, List, Optional, Tuple

import numpy as np

from ..losses import cross_entropy
from ..tensor import Tensor
from .init import DEFAULT_KAIMING_NORMAL, Uniform
from .ops import dropout
from .varmap import VarBuilder

PIXEL_SCALE = 1.0 / 255.0  # 8-bit pixel intensities as 0..1 (torchvision's ToTensor convention)


class Module:
    """Something callable on a tensor, one protocol for every layer and model:

    - `module(x)` is `module.forward(x)`;
    - `train()` and `eval()` switch `training` on the module and every module inside it (only
      dropout behaves differently). Modules start in training mode, as `torch.nn.Module` does
      (the trainer and the evaluator set the mode they need), and `forward_t(x, train)`
      (Candle's `ModuleT`) runs one call in the mode asked for;
    - `parameters()` and `named_parameters()`: the tensors that require a gradient, by
      attribute path (`ln1.weight`), as in PyTorch;
    - `loss(x, targets)`: `cross_entropy(self(x), targets)`, log_softmax then nll.
    """

    training = True

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> Tensor:
        return self.forward(*args, **kwargs)

    def loss(self, x: Tensor, targets) -> Tensor:
        return cross_entropy(self(x), targets)

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def forward_t(self, x: Tensor, train: bool) -> Tensor:
        modes = [(m, m.training) for m in self.modules()]
        self.train(train)
        try:
            return self(x)
        finally:
            for m, mode in modes:
                m.training = mode

    def children(self) -> Iterator[Tuple[str, object]]:
        """(attribute, value) of the modules and tensors this module holds, lists included."""
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
            for i, v in items:
                if isinstance(v, (Module, Tensor)):
                    yield (name if i is None else f"{name}.{i}"), v

    def modules(self) -> List["Module"]:
        out, todo = [], [self]
        while todo:
            m = todo.pop(0)
            if all(m is not seen for seen in out):
                out.append(m)
                todo.extend(v for _, v in m.children() if isinstance(v, Module))
        return out

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        seen: List[Tensor] = []
        for name, v in self.children():
            pairs = v.named_parameters(f"{prefix}{name}.") if isinstance(v, Module) else [(prefix + name, v)]
            for path, t in pairs:
                if t.requires_grad and all(t is not s for s in seen):
                    seen.append(t)
                    yield path, t

    def parameters(self) -> List[Tensor]:
        return [t for _, t in self.named_parameters()]


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
    weight = vb.get_with_hints((out_dim, in_dim), "weight", DEFAULT_KAIMING_NORMAL)
    bound = 1.0 / math.sqrt(in_dim)
    bias = vb.get_with_hints((out_dim,), "bias", Uniform(-bound, bound))
    return Linear(weight, bias, input_scale)


def linear_no_bias(in_dim: int, out_dim: int, vb: VarBuilder) -> Linear:
    return Linear(vb.get_with_hints((out_dim, in_dim), "weight", DEFAULT_KAIMING_NORMAL))


@dataclass(frozen=True)
class Conv2dConfig:
    """Candle's `Conv2dConfig`: padding, stride and dilation, the same on both sides, and groups."""
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    groups: int = 1


class Conv2d(Module):
    """2-D convolution (cross-correlation) of NCHW input, weight [out, in/groups, k, k]."""

    def __init__(self, weight: Tensor, bias: Optional[Tensor] = None, config: Conv2dConfig = Conv2dConfig()):
        self.weight, self.bias, self.config = weight, bias, config

    def forward(self, x: Tensor) -> Tensor:
        c = self.config
        return x.conv2d(self.weight, self.bias, c.stride, c.padding, c.dilation, c.groups)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, cfg: Conv2dConfig, vb: VarBuilder) -> Conv2d:
    """Candle's `conv2d`: Kaiming-normal weight, bias uniform in ±1/√(in/groups·k·k)."""
    shape = (out_channels, in_channels // cfg.groups, kernel_size, kernel_size)
    weight = vb.get_with_hints(shape, "weight", DEFAULT_KAIMING_NORMAL)
    bound = 1.0 / math.sqrt(in_channels // cfg.groups * kernel_size * kernel_size)
    bias = vb.get_with_hints((out_channels,), "bias", Uniform(-bound, bound))
    return Conv2d(weight, bias, cfg)


def conv2d_no_bias(in_channels: int, out_channels: int, kernel_size: int, cfg: Conv2dConfig,
                   vb: VarBuilder) -> Conv2d:
    shape = (out_channels, in_channels // cfg.groups, kernel_size, kernel_size)
    return Conv2d(vb.get_with_hints(shape, "weight", DEFAULT_KAIMING_NORMAL), None, cfg)


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p)
    (so the expected value is unchanged; p = 1 gives zeros); outside training, the identity.
    `ops.dropout` is the function."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor, train: Optional[bool] = None) -> Tensor:
        """`train` overrides the module's mode for this call (Candle's `forward_t`)."""
        return dropout(x, self.p, self.training if train is None else train)

    def forward_t(self, x: Tensor, train: bool) -> Tensor:
        return self.forward(x, train)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return x.max_pool2d(kernel_size, stride, padding, dilation, ceil_mode, return_indices)
