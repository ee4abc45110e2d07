"""Optimizers with per-element step sizes: `Adam`, `AdamW` (PyTorch's and Candle's) and `Adadelta`.

Each parameter counts its own steps (`state[p]["step"]`), as PyTorch does: a parameter whose
first gradient arrives at the third step gets the bias corrections of its own first step.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple

import numpy as np

from .. import kernels
from ..tensor import Tensor
from ..devices import host
from .optimizer import Optimizer, beside, zeros_for


def _betas(name: str, beta1: float, beta2: float, betas: Optional[Tuple[float, float]]) -> Tuple[float, float]:
    """Candle's `beta1`, `beta2` or PyTorch's `betas=(beta1, beta2)`, not both."""
    if betas is not None:
        if (beta1, beta2) != (0.9, 0.999):
            raise ValueError(f"{name}: give betas=(beta1, beta2) or beta1/beta2, not both")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = betas
    return float(beta1), float(beta2)


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch and Candle:
    p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
    p ← p − lr · m̂ / (√v̂ + eps),  m̂ = m/(1−β1ᵗ),  v̂ = v/(1−β2ᵗ), t this parameter's step."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: Optional[float] = None, *,
                 betas: Optional[Tuple[float, float]] = None, amsgrad: bool = False, maximize: bool = False,
                 **unused: Any):
        name = type(self).__name__
        beta1, beta2 = _betas(name, beta1, beta2, betas)
        weight_decay = (0.01 if self.decoupled else 0.0) if weight_decay is None else weight_decay
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1) or eps <= 0 or weight_decay < 0:
            raise ValueError(f"{name}: needs 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0")
        if amsgrad:
            raise NotImplementedError(f"{name}: amsgrad is not implemented")
        super().__init__(params, dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    beta1 = property(lambda self: self.param_groups[0]["betas"][0])
    beta2 = property(lambda self: self.param_groups[0]["betas"][1])

    @property
    def step_count(self) -> int:
        """The most steps any parameter has taken (all of them, in a model whose every parameter
        gets a gradient each step)."""
        return max((s.get("step", 0) for s in self.state.values()), default=0)

    def _update(self, p: Tensor, grad: np.ndarray, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        if not state:  # C-ordered whatever the parameter's layout: the fused update works on flat views
            state.update(step=0, exp_avg=zeros_for(p), exp_avg_sq=zeros_for(p))
        state["step"] += 1
        wd = group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if not self.decoupled and wd:  # Adam's L2 penalty: added to the gradient, then adapted
            grad, wd = grad + p.dtype.type(wd) * p.array, 0.0
        beta1, beta2 = group["betas"]
        kernels.impl.adamw_update(p.array, grad, state["exp_avg"], state["exp_avg_sq"], group["lr"], beta1, beta2,
                                  group["eps"], wd, state["step"])

    def checkpoint_state(self):
        params = self.vars
        blank = [self.state.get(p) or {"exp_avg": np.zeros(p.shape, p.dtype), "exp_avg_sq": np.zeros(p.shape, p.dtype)}
                 for p in params]
        arrays = {f"m.{i}": host(s["exp_avg"], copy=True) for i, s in enumerate(blank)}
        arrays.update({f"v.{i}": host(s["exp_avg_sq"], copy=True) for i, s in enumerate(blank)})
        steps = [s.get("step", 0) for s in blank]
        numbers = {"step_count": str(max(steps, default=0))}
        if len(set(steps)) > 1:  # parameters that joined late: each one's own count
            numbers.update({f"step.{i}": str(n) for i, n in enumerate(steps)})
        return arrays, numbers

    def load_checkpoint_state(self, arrays, numbers):
        super().load_checkpoint_state(arrays, numbers)
        self.state = {}
        for i, p in enumerate(self.vars):
            if f"m.{i}" not in arrays or f"v.{i}" not in arrays:
                raise ValueError(f"optimizer state: the moments of variable {i} are missing")
            step = int(numbers.get(f"step.{i}", numbers["step_count"]))
            if step:
                self.state[p] = {"step": step, "exp_avg": beside(p, arrays[f"m.{i}"]),
                                 "exp_avg_sq": beside(p, arrays[f"v.{i}"])}


class Adam(AdamW):
    """Adam (Kingma & Ba), PyTorch's: AdamW's update with the weight decay, if any (0 by
    default), added to the gradient as an L2 penalty (g ← g + wd·p) instead of decoupled."""

    decoupled = False


class Adadelta(Optimizer):
    """Adadelta (Zeiler), PyTorch's rule: g ← g + wd·p;  s ← ρ·s + (1−ρ)·g²;
    d = √(a + eps) / √(s + eps) · g;  a ← ρ·a + (1−ρ)·d²;  p ← p − lr·d."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False, **unused: Any):
        if not 0 <= rho <= 1 or eps < 0 or weight_decay < 0:
            raise ValueError("Adadelta: needs 0 <= rho <= 1, eps >= 0, weight_decay >= 0")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p: Tensor, grad: np.ndarray, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        t, rho, eps = p.dtype.type, group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=zeros_for(p), acc_delta=zeros_for(p))
        state["step"] += 1
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            grad = grad + t(group["weight_decay"]) * p.array
        s, a = state["square_avg"], state["acc_delta"]
        s *= t(rho)
        s += t(1 - rho) * grad * grad
        delta = np.sqrt(a + t(eps)) / np.sqrt(s + t(eps)) * grad
        a *= t(rho)
        a += t(1 - rho) * delta * delta
        p.array -= t(group["lr"]) * delta
