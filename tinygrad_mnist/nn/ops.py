"""Candle's `candle_nn::ops`: activation helpers and dropout on tensors (PyTorch's
`torch.nn.functional` spelling too)."""
from __future__ import annotations

import numpy as np

from ..generator import device_draws, draw_rows, rng
from ..tensor import Tensor


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(axis=dim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(axis=dim).exp()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """In training, zero each element with probability p and scale the rest by 1/(1-p) (so the
    expected value is unchanged; p = 1 zeros everything); otherwise x itself. The graph shows a
    `Mul` by the mask, named `dropout mask (p=...)`: dL/dx = G · mask."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = Tensor.zeros(*x.shape, dtype=x.dtype, device=x.device)
    elif x.device.type == "cuda":  # drawn on the GPU, from the engine's generator's stream
        from ..cuda.ops import dropout_mask
        mask = Tensor(dropout_mask(x.shape, x.dtype, p, *device_draws(x.numel())))
    else:
        keep = draw_rows(lambda shape: rng().random(shape, dtype=np.float32), x.shape) >= p  # a shard: its rows
        mask = Tensor(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))
    mask.name = f"dropout mask (p={p:g})"
    return x * mask
