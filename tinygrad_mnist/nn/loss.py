"""Candle's `candle_nn::loss`: `nll` on log-probabilities and `cross_entropy` on logits,
both averaged over the batch; `linear_cross_entropy` fuses a last linear layer into the latter."""
from ..tensor import cross_entropy, linear_cross_entropy, nll

__all__ = ["nll", "cross_entropy", "linear_cross_entropy"]
