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
