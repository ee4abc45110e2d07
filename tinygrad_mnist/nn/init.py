"""Parameter initialisers, with Candle's names and PyTorch's formulas.

All random draws come from the engine's one generator (`tinygrad_mnist.generator`, re-exported
here as `seed` and `rng`): `seed(n)` makes weights, shuffling and dropout reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Tuple

import numpy as np

from ..generator import rng, seed

__all__ = ["seed", "rng", "Init", "Const", "ZERO", "ONE", "Randn", "Uniform", "FanInOut", "NormalOrUniform",
           "NonLinearity", "RELU", "LINEAR", "SIGMOID", "TANH", "SELU", "Kaiming", "DEFAULT_KAIMING_NORMAL",
           "DEFAULT_KAIMING_UNIFORM"]

Shape = Tuple[int, ...]


class Init:
    """An initialiser: `init(shape, dtype)` returns a fresh array."""

    def __call__(self, shape: Shape, dtype=np.float32) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Init):
    value: float

    def __call__(self, shape, dtype=np.float32):
        return np.full(shape, self.value, dtype=dtype)


ZERO = Const(0.0)
ONE = Const(1.0)


@dataclass(frozen=True)
class Randn(Init):
    mean: float = 0.0
    stdev: float = 1.0

    def __call__(self, shape, dtype=np.float32):
        return rng().normal(self.mean, self.stdev, shape).astype(dtype)


@dataclass(frozen=True)
class Uniform(Init):
    lo: float
    up: float

    def __call__(self, shape, dtype=np.float32):
        return rng().uniform(self.lo, self.up, shape).astype(dtype)


class FanInOut(Enum):
    FAN_IN = "fan_in"
    FAN_OUT = "fan_out"

    def of(self, shape: Shape) -> int:
        """PyTorch's fans: [out, in, *kernel] has fan_in = in·Πkernel, fan_out = out·Πkernel."""
        if len(shape) < 2:
            raise ValueError(f"Kaiming init needs a shape of at least 2 dimensions, got {shape}")
        receptive = math.prod(shape[2:])
        return (shape[1] if self is FanInOut.FAN_IN else shape[0]) * receptive


class NormalOrUniform(Enum):
    NORMAL = "normal"
    UNIFORM = "uniform"


@dataclass(frozen=True)
class NonLinearity:
    """The gain of `torch.nn.init.calculate_gain`."""
    name: str
    gain: float

    @staticmethod
    def explicit(gain: float) -> "NonLinearity":
        return NonLinearity("explicit", gain)


RELU = NonLinearity("relu", math.sqrt(2.0))
LINEAR = NonLinearity("linear", 1.0)
SIGMOID = NonLinearity("sigmoid", 1.0)
TANH = NonLinearity("tanh", 5.0 / 3.0)
SELU = NonLinearity("selu", 0.75)


@dataclass(frozen=True)
class Kaiming(Init):
    """He initialisation: std = gain / sqrt(fan); uniform bound = sqrt(3) · std."""
    dist: NormalOrUniform = NormalOrUniform.NORMAL
    fan: FanInOut = FanInOut.FAN_IN
    non_linearity: NonLinearity = RELU

    def __call__(self, shape, dtype=np.float32):
        std = self.non_linearity.gain / math.sqrt(self.fan.of(shape))
        if self.dist is NormalOrUniform.NORMAL:
            return rng().normal(0.0, std, shape).astype(dtype)
        bound = math.sqrt(3.0) * std
        return rng().uniform(-bound, bound, shape).astype(dtype)


DEFAULT_KAIMING_NORMAL = Kaiming(NormalOrUniform.NORMAL, FanInOut.FAN_IN, RELU)
DEFAULT_KAIMING_UNIFORM = Kaiming(NormalOrUniform.UNIFORM, FanInOut.FAN_IN, RELU)


# ---------------------------------------------------------------- PyTorch's in-place initialisers
# `nn.init.kaiming_uniform_(layer.weight)` and its siblings: the tensor's array filled in place
# (outside the graph, as under PyTorch's no_grad), the tensor returned. Same formulas as above.
_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
          "selu": 0.75}


def calculate_gain(nonlinearity: str, param: float = None) -> float:
    """PyTorch's gain: the factor that keeps the activations' variance through `nonlinearity`."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def _fill(tensor, values: np.ndarray):
    tensor.array[...] = values.astype(tensor.dtype)
    return tensor


def _fans(tensor) -> Tuple[int, int]:
    shape = tuple(tensor.shape)
    return FanInOut.FAN_IN.of(shape), FanInOut.FAN_OUT.of(shape)


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    return _fill(tensor, rng().uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    return _fill(tensor, rng().normal(mean, std, tensor.shape))


def constant_(tensor, val: float):
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """Uniform in ±gain·√(3/fan) (PyTorch's He initialisation)."""
    fan = _fans(tensor)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    fan = _fans(tensor)[0 if mode == "fan_in" else 1]
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def xavier_uniform_(tensor, gain: float = 1.0):
    """Uniform in ±gain·√(6/(fan_in + fan_out)) (Glorot's)."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain: float = 1.0):
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


__all__ += ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
            "kaiming_normal_", "xavier_uniform_", "xavier_normal_"]
