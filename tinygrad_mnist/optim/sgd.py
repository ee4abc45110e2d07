"""Stochastic gradient descent, PyTorch's rule (and Candle's, without momentum)."""
from __future__ import annotations

from typing import Any, Dict, Iterable

import numpy as np

from ..tensor import Tensor
from ..devices import host
from .optimizer import Optimizer, beside


class SGD(Optimizer):
    """p ← p − lr · d, where g = ∇ + weight_decay · p and d = g, or with momentum
    b ← momentum · b + (1 − dampening) · g (b = g at the first step) and d = b
    (d = g + momentum · b with nesterov)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False, **unused: Any):
        if momentum < 0 or weight_decay < 0:
            raise ValueError("SGD: momentum and weight_decay must be >= 0")
        if nesterov and (momentum == 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs a momentum > 0 and no dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p: Tensor, grad: np.ndarray, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        param, t = p.array, p.array.dtype.type
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + t(group["weight_decay"]) * param
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.astype(param.dtype, copy=True)
            else:
                buf *= t(group["momentum"])
                buf += t(1 - group["dampening"]) * grad if group["dampening"] else grad
            grad = grad + t(group["momentum"]) * buf if group["nesterov"] else buf
        param -= t(group["lr"]) * grad

    def checkpoint_state(self):
        arrays = {f"momentum.{i}": host(self.state[p]["momentum_buffer"], copy=True) for i, p in enumerate(self.vars)
                  if self.state.get(p, {}).get("momentum_buffer") is not None}
        return arrays, {}

    def load_checkpoint_state(self, arrays, numbers):
        super().load_checkpoint_state(arrays, numbers)
        self.state = {}
        params = self.vars
        for name, arr in arrays.items():
            p = params[int(name.rsplit(".", 1)[1])]
            self.state[p] = {"momentum_buffer": beside(p, arr)}
