"""Log-softmax and the negative log-likelihood, with their gradients: the tutorial's loss.

Each kernel works on rows of a 2-D array (the classes along the last axis); the
op in `functions/nn.py` moves any other axis there first. The log-sum-exp is
shifted by the row maximum, so large logits do not overflow.
"""
from __future__ import annotations

import math

import numpy as np

from .pool import for_rows, jit

NS_PER_EXP = 3.0      # estimated single-thread ns per element of the exp/log kernels
NS_PER_COPY = 0.5     # per element read and written once


@jit(fastmath=False)  # reassociation would turn (x - m) - log s back into x - (m + log s)
def _log_softmax_rows(x, out, lo, hi):
    C = x.shape[1]
    for i in range(lo, hi):
        m = x[i, 0]
        for c in range(1, C):
            if x[i, c] > m:
                m = x[i, c]
        s = out.dtype.type(0)
        for c in range(C):
            s += math.exp(x[i, c] - m)
        log_s = math.log(s)
        for c in range(C):  # (x - m) - log s cancels nothing even at |x| ~ 1e4
            out[i, c] = (x[i, c] - m) - log_s


def log_softmax(x: np.ndarray) -> np.ndarray:
    """`x - logsumexp(x)` along the last axis of a 2-D array, shifted by the row max."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    for_rows(_log_softmax_rows, x.shape[0], x.size * NS_PER_EXP, x, out)
    return out


@jit()
def _log_softmax_backward_rows(grad, y, out, lo, hi):
    C = y.shape[1]
    for i in range(lo, hi):
        s = out.dtype.type(0)
        for c in range(C):
            s += grad[i, c]
        for c in range(C):
            out[i, c] = grad[i, c] - math.exp(y[i, c]) * s


def log_softmax_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dx of log_softmax given its output y: `grad - softmax * grad.sum(row)`."""
    grad, y = np.ascontiguousarray(grad, dtype=y.dtype), np.ascontiguousarray(y)
    out = np.empty_like(y)
    for_rows(_log_softmax_backward_rows, y.shape[0], y.size * NS_PER_EXP, grad, y, out)
    return out


@jit()
def _nll_rows(log_probs, targets, lo, hi):
    s = 0.0  # float64: a mean over 60,000 rows loses digits in float32
    for i in range(lo, hi):
        s -= log_probs[i, targets[i]]
    return s


def nll(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""
    log_probs, targets = np.ascontiguousarray(log_probs), np.ascontiguousarray(targets)
    n = log_probs.shape[0]
    total = 0.0
    for part in for_rows(_nll_rows, n, n * NS_PER_COPY, log_probs, targets):  # in chunk order: same bits
        total += part
    return np.asarray(total / n, dtype=log_probs.dtype)


@jit()
def _nll_backward_rows(value, targets, out):
    for i in range(targets.shape[0]):
        out[i, targets[i]] = value


def nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll / d log_probs: `-grad / N` at each row's target, zero elsewhere."""
    n = log_probs.shape[0]
    out = np.zeros_like(log_probs, order="C")
    _nll_backward_rows(log_probs.dtype.type(-grad / n), np.ascontiguousarray(targets), out)
    return out
