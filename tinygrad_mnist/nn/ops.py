"""Candle's `candle_nn::ops`: activation helpers on tensors."""
from __future__ import annotations

from ..tensor import Tensor


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(axis=dim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(axis=dim).exp()


def relu(x: Tensor) -> Tensor:
    return x.relu()
