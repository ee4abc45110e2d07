"""Candle's `candle_nn::loss`: `nll` on log-probabilities and `cross_entropy` on logits,
both averaged over the batch."""
from ..tensor import cross_entropy, nll

__all__ = ["nll", "cross_entropy"]
