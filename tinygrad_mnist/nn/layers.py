"""Layers: Candle's `Linear`, `Conv2d`, `Dropout` and their builders, which also take PyTorch's
constructors (`Linear(784, 10)`), and PyTorch's `Conv1d`, `ReLU`, `MaxPool2d`, `AvgPool2d`,
`CrossEntropyLoss`.

A layer computes what its formula says for any input dtype: a uint8 input is
multiplied by value, as numpy does. A model that wants pixels read as 0..1
says so: `Linear(..., input_scale=PIXEL_SCALE)` (applied inside the product,
so MNIST stays uint8 in memory, and shown in the graph), or an explicit
`x.astype(np.float32) * PIXEL_SCALE`.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..losses import IGNORE_INDEX, cross_entropy, reduced
from ..tensor import Tensor
from ..tensor.base import is_int
from .init import DEFAULT_KAIMING_NORMAL, Uniform
from .module import Module, Parameter
from .ops import dropout
from .varmap import VarBuilder

PIXEL_SCALE = 1.0 / 255.0  # 8-bit pixel intensities as 0..1 (torchvision's ToTensor convention)


def _bind(layer: str, form, args: tuple, kwargs: dict) -> dict:
    """The arguments of one constructor form (a function whose signature is the form's), by name."""
    try:
        bound = inspect.signature(form).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{layer}: {err}") from None
    bound.apply_defaults()
    return bound.arguments


def _pytorch_form(args: tuple, kwargs: dict, first: str) -> bool:
    """PyTorch's constructor (sizes) rather than Candle's (tensors): the first argument is an int."""
    return is_int(args[0]) if args else is_int(kwargs.get(first))


def _fresh(weight_shape: tuple, fan_in: int, bias: bool, dtype: Any):
    """PyTorch's default initialisation: weight and bias uniform in ±1/√fan_in (kaiming_uniform with
    a = √5), as Parameters."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
    weight = Parameter(Uniform(-bound, bound)(weight_shape, np.dtype(dtype)))
    return weight, (Parameter(Uniform(-bound, bound)((weight_shape[0],), np.dtype(dtype))) if bias else None)


def _torch_linear(in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32): ...
def _candle_linear(weight: Tensor, bias: Optional[Tensor] = None, input_scale: float = 1.0): ...


class Linear(Module):
    """y = (input_scale · x) @ weightᵀ + bias, weight [out, in] (Candle's and PyTorch's layout).
    Built Candle's way, `Linear(weight, bias=None, input_scale=1.0)` from tensors (`input_scale`
    is for a first layer that reads raw pixels as 0..1), or PyTorch's,
    `Linear(in_features, out_features, bias=True)`, with PyTorch's initialisation."""

    def __init__(self, *args: Any, **kwargs: Any):
        if _pytorch_form(args, kwargs, "in_features"):
            a = _bind("Linear", _torch_linear, args, kwargs)
            self.weight, self.bias = _fresh((a["out_features"], a["in_features"]), a["in_features"], a["bias"],
                                            a["dtype"])
            self.input_scale = 1.0
            return
        a = _bind("Linear", _candle_linear, args, kwargs)
        if not isinstance(a["weight"], Tensor) or not isinstance(a["bias"], (Tensor, type(None))):
            raise TypeError("Linear: give tensors (weight [out, in], bias [out]) as Candle does, or sizes "
                            "(in_features, out_features) as PyTorch does")
        self.weight, self.bias, self.input_scale = a["weight"], a["bias"], a["input_scale"]

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"in_features={inp}, out_features={out}, bias={self.bias is not None}"

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


def _torch_conv(in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1, bias: bool = True, dtype: Any = np.float32): ...
def _candle_conv(weight: Tensor, bias: Optional[Tensor] = None, config: Conv2dConfig = Conv2dConfig()): ...


class _Conv(Module):
    """What Conv1d and Conv2d share: the two constructors and the settings."""

    dims = 2

    def __init__(self, *args: Any, **kwargs: Any):
        name = type(self).__name__
        if _pytorch_form(args, kwargs, "in_channels"):
            a = _bind(name, _torch_conv, args, kwargs)
            k = a["kernel_size"]
            kernel = (k,) * self.dims if is_int(k) else tuple(k)
            if a["in_channels"] % a["groups"] or a["out_channels"] % a["groups"]:
                raise ValueError(f"{name}: in_channels and out_channels must be divisible by groups")
            shape = (a["out_channels"], a["in_channels"] // a["groups"]) + kernel
            self.weight, self.bias = _fresh(shape, math.prod(shape[1:]), a["bias"], a["dtype"])
            self.stride, self.padding, self.dilation, self.groups = a["stride"], a["padding"], a["dilation"], a["groups"]
            return
        a = _bind(name, _candle_conv, args, kwargs)
        c = a["config"]
        self.weight, self.bias, self.config = a["weight"], a["bias"], c
        self.stride, self.padding, self.dilation, self.groups = c.stride, c.padding, c.dilation, c.groups


    def extra_repr(self) -> str:
        out, per_group, *kernel = self.weight.shape
        text = f"{per_group * self.groups}, {out}, kernel_size={tuple(kernel)}, stride={_spread(self.stride, kernel)}"
        for name, default in (("padding", 0), ("dilation", 1), ("groups", 1)):
            if getattr(self, name) not in (default, (default,) * len(kernel)):
                text += f", {name}={_spread(getattr(self, name), kernel) if name != 'groups' else self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


def _spread(v: Any, kernel: list) -> tuple:
    return (v,) * len(kernel) if is_int(v) else tuple(v)


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) of NCHW input, weight [out, in/groups, kh, kw]: Candle's
    `Conv2d(weight, bias=None, config=Conv2dConfig())` or PyTorch's
    `Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True)`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.conv2d(self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution of [B, C, L], weight [out, in/groups, k]: PyTorch's
    `Conv1d(in_channels, out_channels, kernel_size, ...)` or Candle's `Conv1d(weight, bias, config)`."""

    dims = 1

    def forward(self, x: Tensor) -> Tensor:
        return x.conv1d(self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


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

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"

    def forward(self, x: Tensor, train: Optional[bool] = None) -> Tensor:
        """`train` overrides the module's mode for this call (Candle's `forward_t`)."""
        return dropout(x, self.p, self.training if train is None else train)

    def forward_t(self, x: Tensor, train: bool) -> Tensor:
        return self.forward(x, train)


class ReLU(Module):
    """max(x, 0), as a module (PyTorch's `nn.ReLU`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """tanh(x), as a module (PyTorch's `nn.Tanh`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    """σ(x), as a module (PyTorch's `nn.Sigmoid`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """`x.flatten(start_dim, end_dim)`, by default every dimension after the batch's."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)


class LogSoftmax(Module):
    def __init__(self, dim: int = -1):
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, x: Tensor) -> Tensor:
        return x.log_softmax(self.dim)


class Softmax(LogSoftmax):
    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.dim)


class MaxPool2d(Module):
    """`max_pool2d` as a module, PyTorch's arguments."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        self.settings = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)

    def extra_repr(self) -> str:
        k, s, p, d, c, _ = self.settings
        return f"kernel_size={k}, stride={k if s is None else s}, padding={p}, dilation={d}, ceil_mode={c}"

    def forward(self, x: Tensor):
        return x.max_pool2d(*self.settings)


class AvgPool2d(Module):
    """`avg_pool2d` as a module, PyTorch's arguments."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Optional[int] = None):
        self.settings = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)

    def extra_repr(self) -> str:
        k, s, p = self.settings[:3]
        return f"kernel_size={k}, stride={k if s is None else s}, padding={p}"

    def forward(self, x: Tensor) -> Tensor:
        return x.avg_pool2d(*self.settings)


class CrossEntropyLoss(Module):
    """`cross_entropy` as a module, PyTorch's arguments: `CrossEntropyLoss()(logits, targets)`."""

    def __init__(self, weight: Any = None, ignore_index: int = IGNORE_INDEX, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        self.weight, self.ignore_index, self.reduction, self.label_smoothing = (weight, ignore_index, reduction,
                                                                                label_smoothing)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, self.weight, reduction=self.reduction, ignore_index=self.ignore_index,
                             label_smoothing=self.label_smoothing)


class MSELoss(Module):
    """The mean (or sum) of squared differences, PyTorch's `nn.MSELoss(reduction=)`."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return mse_loss(input, target, self.reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Σ (input − target)² over the elements, averaged by default: d/dinput = 2(input − target)/N."""
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"mse_loss: input of shape {input.shape} and target of shape {target.shape} differ "
                         "(PyTorch would broadcast them, and warn that it is probably a mistake)")
    d = input - target
    return reduced(d * d, reduction, "mse_loss")


def relu(x: Tensor) -> Tensor:
    return x.relu()


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return x.max_pool2d(kernel_size, stride, padding, dilation, ceil_mode, return_indices)
