"""Batch normalisation, PyTorch's `nn.BatchNorm1d` and `nn.BatchNorm2d`.

In training, each channel c is normalised by the statistics of the batch:
    μ = mean(x_c),  σ² = mean((x_c − μ)²),  x̂ = (x_c − μ) / √(σ² + eps),  y = γ_c · x̂ + β_c
and the running statistics move toward them (the variance unbiased, N/(N−1)·σ², as PyTorch).
In evaluation, μ and σ² are the running ones: y is then an affine function of x.

The layer is composed of recorded ops (mean, subtraction, product, power), so backward, the
JVP and second derivatives follow from theirs. docs/autodiff.md derives what they add up to:
with x̂ and N elements per channel, dL/dx = γ/√(σ²+eps) · (g − mean(g) − x̂ · mean(g·x̂)).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..autograd import no_grad
from ..devices import check
from ..tensor import Tensor
from .module import Module, Parameter


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; `ranks` are the input ranks each accepts."""

    ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = np.float32, *, bias: bool = True):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.has_bias = affine, track_running_stats, bias
        if device is not None:
            check(device)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype)) if bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.has_bias}, track_running_stats={self.track_running_stats}")

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of rank "
                             f"{' or '.join(map(str, self.ranks))} with {self.num_features} channels in dim 1, got "
                             f"shape {tuple(x.shape)}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            mean = x.mean(dim=axes, keepdim=True)
            var = ((x - mean) * (x - mean)).mean(dim=axes, keepdim=True)
            if self.training and self.track_running_stats:
                self._track(mean, var, x.numel() // self.num_features)
        else:
            mean, var = self.running_mean.reshape(*shape), self.running_var.reshape(*shape)
        y = (x - mean) / (var + self.eps) ** 0.5
        if not self.affine:
            return y
        y = y * self.weight.reshape(*shape)
        return y + self.bias.reshape(*shape) if self.bias is not None else y

    def _track(self, mean: Tensor, var: Tensor, n: int) -> None:
        """Move the running statistics toward this batch's (PyTorch's update, unbiased variance)."""
        if n < 2:
            raise ValueError(f"Expected more than 1 value per channel when training, got input of {n} per channel")
        with no_grad():
            self.num_batches_tracked.array[...] += 1
            m = 1.0 / float(self.num_batches_tracked.array) if self.momentum is None else self.momentum
            for run, new in ((self.running_mean, mean.array), (self.running_var, var.array * (n / (n - 1)))):
                run.array[...] = (1 - m) * run.array + m * new.reshape(-1)


class BatchNorm1d(_BatchNorm):
    """Over [N, C] or [N, C, L]: statistics per channel over the batch (and L)."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over [N, C, H, W]: statistics per channel over the batch and the image."""

    ranks = (4,)
