"""Optimizers: `SGD` and `AdamW`, with Candle's defaults and PyTorch's update rules.

Updates happen in place on the variables' arrays and record no graph.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .. import kernels
from ..tensor import Tensor


def _check_lr(lr: float) -> float:
    lr = float(lr)
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"learning rate must be a finite number >= 0, got {lr}")
    return lr


class Optimizer:
    """Shared plumbing: the variables, the learning rate, Candle's `backward_step`."""

    def __init__(self, vars: Iterable[Tensor], lr: float):
        self.vars: List[Tensor] = list(vars)
        for v in self.vars:
            if not v.requires_grad:
                raise ValueError(f"optimizer: variable {v.name or v.shape} does not require a gradient")
        self._lr = _check_lr(lr)

    @property
    def learning_rate(self) -> float:
        return self._lr

    def set_learning_rate(self, lr: float) -> None:
        self._lr = _check_lr(lr)

    def zero_grad(self) -> None:
        for v in self.vars:
            v.grad = None

    def backward_step(self, loss: Tensor) -> None:
        """Zero the gradients, backpropagate `loss`, update the variables."""
        self.zero_grad()
        loss.backward()
        self.step()

    def step(self) -> None:
        for i, v in enumerate(self.vars):
            if v.grad is not None:  # a tensor (an array set by hand works too)
                self._update(i, v.data, np.asarray(v.grad))

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def state(self) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
        """A copy of what the next steps depend on besides the weights: arrays by name, and numbers
        as strings (for a checkpoint's metadata). `load_state` puts it back."""
        return {}, {}

    def load_state(self, arrays: Dict[str, np.ndarray], numbers: Dict[str, str]) -> None:
        """Restore `state()`; the arrays must have the variables' shapes and dtypes."""
        for name, arr in arrays.items():
            i = int(name.rsplit(".", 1)[1])
            if not 0 <= i < len(self.vars) or arr.shape != self.vars[i].shape or arr.dtype != self.vars[i].dtype:
                raise ValueError(f"optimizer state {name}: {list(arr.shape)} {arr.dtype} does not fit the model")


class SGD(Optimizer):
    """p ← p − lr · d, where g = ∇ + weight_decay · p and d = g, or with momentum
    b ← momentum · b + g and d = b (d = g + momentum · b with nesterov)."""

    def __init__(self, vars: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(vars, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError("SGD: momentum and weight_decay must be >= 0")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov needs a momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self._buffers: List = [None] * len(self.vars)

    def _update(self, i, param, grad):
        if self.weight_decay:
            grad = grad + param.dtype.type(self.weight_decay) * param
        if self.momentum:
            buf = self._buffers[i]
            if buf is None:
                buf = self._buffers[i] = grad.astype(param.dtype, copy=True)
            else:
                buf *= param.dtype.type(self.momentum)
                buf += grad
            grad = grad + param.dtype.type(self.momentum) * buf if self.nesterov else buf
        param -= param.dtype.type(self._lr) * grad

    def state(self):
        return {f"momentum.{i}": b.copy() for i, b in enumerate(self._buffers) if b is not None}, {}

    def load_state(self, arrays, numbers):
        super().load_state(arrays, numbers)
        self._buffers = [None] * len(self.vars)
        for name, arr in arrays.items():
            self._buffers[int(name.rsplit(".", 1)[1])] = arr.copy()


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch and Candle:
    p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
    p ← p − lr · m̂ / (√v̂ + eps),  m̂ = m/(1−β1ᵗ),  v̂ = v/(1−β2ᵗ)."""

    def __init__(self, vars: Iterable[Tensor], lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01, *, betas: Optional[Tuple[float, float]] = None):
        """Candle's `beta1`, `beta2` or PyTorch's `betas=(beta1, beta2)`."""
        super().__init__(vars, lr)
        if betas is not None:
            if (beta1, beta2) != (0.9, 0.999):
                raise ValueError("AdamW: give betas=(beta1, beta2) or beta1/beta2, not both")
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(f"AdamW: betas must be a pair (beta1, beta2), got {betas!r}")
            beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1) or eps <= 0 or weight_decay < 0:
            raise ValueError("AdamW: needs 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0")
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay
        # C-ordered whatever the parameter's layout: the fused update works on flat views
        self._m = [np.zeros(v.shape, v.dtype) for v in self.vars]
        self._v = [np.zeros(v.shape, v.dtype) for v in self.vars]
        self.step_count = 0

    def step(self) -> None:
        self.step_count += 1
        super().step()

    def state(self):
        arrays = {f"m.{i}": m.copy() for i, m in enumerate(self._m)}
        arrays.update({f"v.{i}": v.copy() for i, v in enumerate(self._v)})
        return arrays, {"step_count": str(self.step_count)}

    def load_state(self, arrays, numbers):
        super().load_state(arrays, numbers)
        for i in range(len(self.vars)):
            if f"m.{i}" not in arrays or f"v.{i}" not in arrays:
                raise ValueError(f"optimizer state: the moments of variable {i} are missing")
            self._m[i][...], self._v[i][...] = arrays[f"m.{i}"], arrays[f"v.{i}"]
        self.step_count = int(numbers["step_count"])

    def _update(self, i, param, grad):
        kernels.impl.adamw_update(param, grad, self._m[i], self._v[i], self._lr, self.beta1, self.beta2,
                                  self.eps, self.weight_decay, self.step_count)
