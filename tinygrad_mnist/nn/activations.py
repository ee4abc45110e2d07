"""PyTorch's activation and loss modules built on `nn.functional`: `LeakyReLU`, `ELU`, `SiLU`,
`L1Loss`, `BCELoss`, `BCEWithLogitsLoss` (each a module that keeps its settings and calls the
function)."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .functional import binary_cross_entropy, binary_cross_entropy_with_logits, elu, l1_loss, leaky_relu, silu
from .module import Module


class _Elementwise(Module):
    """An activation from `nn.functional`, as a module with its settings."""

    fn: Any = None
    settings: tuple = ()

    def __init__(self, *args: Any, **kwargs: Any):
        names = self.settings
        values = dict(zip(names, args), **kwargs)
        for name, default in zip(names, self.defaults):
            setattr(self, name, values.get(name, default))

    def extra_repr(self) -> str:
        return ", ".join(f"{n}={getattr(self, n)}" for n in self.settings if n != "inplace")

    def forward(self, x: Tensor) -> Tensor:
        return type(self).fn(x, *[getattr(self, n) for n in self.settings if n != "inplace"])


class LeakyReLU(_Elementwise):
    settings, defaults = ("negative_slope", "inplace"), (0.01, False)
    fn = staticmethod(lambda x, slope: leaky_relu(x, slope))


class ELU(_Elementwise):
    settings, defaults = ("alpha", "inplace"), (1.0, False)
    fn = staticmethod(lambda x, alpha: elu(x, alpha))


class SiLU(_Elementwise):
    settings, defaults = ("inplace",), (False,)
    fn = staticmethod(lambda x: silu(x))


class _Loss(Module):
    """A loss from `nn.functional` as a module: `reduction` (and `weight`) kept."""

    fn: Any = None

    def __init__(self, weight: Any = None, reduction: str = "mean", **options: Any):
        self.weight, self.reduction, self.options = weight, reduction, options

    def forward(self, input: Tensor, target: Any) -> Tensor:
        extra = {} if self.weight is None else {"weight": self.weight}
        return type(self).fn(input, target, reduction=self.reduction, **extra, **self.options)


class L1Loss(_Loss):
    fn = staticmethod(lambda *a, **k: l1_loss(*a, **{n: v for n, v in k.items() if n != "weight"}))


class BCELoss(_Loss):
    fn = staticmethod(lambda *a, **k: binary_cross_entropy(*a, **k))


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(lambda *a, **k: binary_cross_entropy_with_logits(*a, **k))
