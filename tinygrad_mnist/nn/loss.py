"""Candle's `candle_nn::loss`: `nll` on log-probabilities and `cross_entropy` on logits
(PyTorch's options too: reduction, ignore_index, label_smoothing, probability targets)."""
from ..losses import cross_entropy, nll

__all__ = ["nll", "cross_entropy"]
