"""Reference kernels in plain numpy: the twins the numba kernels are tested against.

Every function here has a numba twin of the same name and signature in
`numba_kernels.py`. These are written for clarity, not speed; the engine runs
on them when `TINYGRAD_MNIST_KERNELS=numpy`.

Kernels work on plain arrays only; they never see a `Tensor`.
"""
from __future__ import annotations

import numpy as np


def result_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    """Output dtype of a product: uint8 pixels times float32 weights is float32."""
    return np.result_type(a.dtype, b.dtype)


def matmul(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """`scale * (a @ b)` for 2-D arrays of any layout (a may be uint8)."""
    dtype = result_dtype(a, b)
    out = np.matmul(a.astype(dtype, copy=False), b.astype(dtype, copy=False))
    if scale != 1.0:
        out *= dtype.type(scale)
    return out


def log_softmax(x: np.ndarray) -> np.ndarray:
    """`x - logsumexp(x)` along the last axis of a 2-D array, shifted by the row max."""
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dx of log_softmax given its output y: `grad - softmax * grad.sum(row)`."""
    return grad - np.exp(y) * grad.sum(axis=1, keepdims=True)


def nll(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""
    n = log_probs.shape[0]
    picked = log_probs[np.arange(n), targets]
    return np.asarray(-picked.astype(np.float64).sum() / n, dtype=log_probs.dtype)


def nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll / d log_probs: `-grad / N` at each row's target, zero elsewhere."""
    n = log_probs.shape[0]
    out = np.zeros_like(log_probs)
    out[np.arange(n), targets] = -grad / n
    return out


def softmax_nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll(log_softmax(x)) / dx = `grad * (softmax - onehot) / N`, from log_softmax's output."""
    n = log_probs.shape[0]
    out = np.exp(log_probs)
    out[np.arange(n), targets] -= 1
    out *= log_probs.dtype.type(grad / n)
    return out
