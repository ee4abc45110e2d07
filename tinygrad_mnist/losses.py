"""The losses, with PyTorch's options: `nll` on log-probabilities, `cross_entropy` on logits.

Both take scores [N, C] (or [N, C, d1, ...], the classes along dim 1, or [C]
for one sample) and targets: class ids [N] ([N, d1, ...]), where `ignore_index`
marks elements that do not count; `cross_entropy` also takes class
probabilities shaped like the scores. `reduction` is 'mean' (over the elements
that count), 'sum' or 'none' (one loss per element).

The default call is the seed's chain and nothing more: `cross_entropy(x, t)` is
`nll(x.log_softmax(dim=1), t)`, two ops in the graph. The options add ordinary
ops (reshapes for N-d input, a mean for label smoothing) that the graph shows.
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from . import functions as F
from .tensor import Tensor

IGNORE_INDEX = -100  # PyTorch's default: no class id is negative, so nothing is ignored by accident


def nll(log_probs: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean",
        ignore_index: int = IGNORE_INDEX) -> Tensor:
    """`-weight[t_i] · log_probs[i, t_i]`, reduced (Candle's `loss::nll`, PyTorch's `nll_loss`, whose
    argument order it keeps: the class weights [C] third)."""
    _check_reduction("nll", reduction)
    weight = _class_weights("nll", weight)
    scores, target, back = _score_rows(log_probs, _ids("nll", target), "nll")
    loss = F.NLL.apply(scores, target, reduction=reduction, ignore_index=ignore_index,
                       weight=None if weight is None else weight.astype(scores.dtype))
    return back(loss) if reduction == "none" else loss


def cross_entropy(logits: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean",
                  ignore_index: int = IGNORE_INDEX, label_smoothing: float = 0.0) -> Tensor:
    """`nll(log_softmax(logits, dim=1), target, weight)`, or for probability targets
    `-Σ_c weight_c · target_c · log_softmax(logits)_c`; with label smoothing ε the target is
    (1 − ε) · target + ε / C (class ids: (1 − ε) · nll + ε · mean_c(−weight_c · log p_c), over
    the same denominator as nll's), as PyTorch's `cross_entropy`, argument order included."""
    _check_reduction("cross_entropy", reduction)
    weight = _class_weights("cross_entropy", weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if logits.ndim == 0:
        raise ValueError("cross_entropy: expected scores with a class dimension, got a 0-d tensor")
    class_dim = 1 if logits.ndim > 1 else 0
    if logits.numel() == 0:
        raise ValueError(f"cross_entropy: empty batch (scores of shape {logits.shape})")
    log_probs = logits.log_softmax(dim=class_dim)
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if target.dtype.kind == "f":
        return _soft_targets(log_probs, target, weight, reduction, label_smoothing, class_dim)
    if label_smoothing == 0.0:
        return nll(log_probs, target, weight, reduction=reduction, ignore_index=ignore_index)
    per = nll(log_probs, target, weight, reduction="none", ignore_index=ignore_index)
    counts = target.array != ignore_index
    weighted = log_probs if weight is None else log_probs * Tensor(_along(weight, class_dim, log_probs))
    smooth = -weighted.mean(dim=class_dim) * Tensor(counts.astype(log_probs.dtype))
    loss = per * (1 - label_smoothing) + smooth * label_smoothing
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    rows = F.row_weights(target.array.reshape(-1), ignore_index, weight)  # nll's denominator
    return total / (float(target.numel()) if rows is None else float(rows.sum()))  # all ignored: NaN


def _soft_targets(log_probs: Tensor, target: Tensor, weight, reduction: str, smoothing: float,
                  class_dim: int) -> Tensor:
    if target.shape != log_probs.shape:
        if target.ndim == log_probs.ndim - 1:  # labels held as floats
            raise ValueError(f"cross_entropy: expected integer class indices as targets, got {target.dtype} of "
                             f"shape {target.shape} (use target.long()); float targets are class probabilities, "
                             f"of the scores' shape {log_probs.shape}")
        raise ValueError(f"cross_entropy: probability targets {target.shape} must have the shape of the "
                         f"scores {log_probs.shape}")
    if smoothing:
        target = target * (1 - smoothing) + smoothing / log_probs.shape[class_dim]
    if weight is not None:
        target = target * Tensor(_along(weight, class_dim, log_probs))
    return reduced(-(log_probs * target).sum(dim=class_dim), reduction)


def _class_weights(op: str, weight: Any):
    """The class weights as a 1-D float array (None: every class weighs 1)."""
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(f"{op}: the third argument is weight (torch.nn.functional's order); "
                        f"give reduction by name: reduction={weight!r}")
    w = np.asarray(getattr(weight, "array", weight))
    if w.ndim != 1 or w.dtype.kind not in "fiu":
        raise ValueError(f"{op}: weight must be a 1-D tensor of one number per class, got {w.dtype} {w.shape}")
    return w.astype(np.float64)


def _along(weight: np.ndarray, class_dim: int, like: Tensor) -> np.ndarray:
    """The class weights shaped to broadcast along the class dimension of `like`."""
    shape = [1] * like.ndim
    shape[class_dim] = len(weight)
    return weight.reshape(shape).astype(like.dtype)


def reduced(loss: Tensor, reduction: str, op: str = "") -> Tensor:
    """A per-element loss reduced as PyTorch's `reduction` says ('mean', 'sum', 'none'); with
    `op`, an unknown reduction is refused in its name first."""
    if op:
        _check_reduction(op, reduction)
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in F.REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(F.REDUCTIONS)}, got {reduction!r}")


def _ids(op: str, target: Any) -> Tensor:
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if target.dtype.kind not in "iu":
        raise ValueError(f"{op}: targets must be integer class ids, got {target.dtype}")
    return target


def _score_rows(scores: Tensor, target: Tensor, op: str) -> Tuple[Tensor, Tensor, Any]:
    """Scores as [rows, C] and targets as [rows], and how to shape a per-row result back.
    2-D input passes through untouched; [N, C, d...] moves the classes last (ops in the graph)."""
    if scores.ndim >= 1 and scores.shape[0] == 0 or scores.numel() == 0:
        raise ValueError(f"{op}: empty batch (scores of shape {scores.shape})")
    if scores.ndim == 2:
        return scores, target, lambda loss: loss
    if scores.ndim == 0:
        raise ValueError(f"{op}: expected scores with a class dimension, got a 0-d tensor")
    if scores.ndim == 1:
        if target.ndim != 0:
            raise ValueError(f"{op}: one sample of {scores.shape[0]} classes takes one target, got {target.shape}")
        return scores.unsqueeze(0), Tensor(target.array.reshape(1)), lambda loss: loss.reshape(())
    if target.shape != (scores.shape[0],) + scores.shape[2:]:
        raise ValueError(f"{op}: targets {target.shape} do not fit scores {scores.shape} "
                         "(expected [N, C, d1, ...] and [N, d1, ...])")
    order = (0,) + tuple(range(2, scores.ndim)) + (1,)
    rows = scores.permute(order).reshape(-1, scores.shape[1])
    return rows, Tensor(target.array.reshape(-1)), lambda loss: loss.reshape(target.shape)
