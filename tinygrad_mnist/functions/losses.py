"""The loss op: NLL on log-probabilities, with PyTorch's reductions and `ignore_index`, and the
target checks every loss shares. `losses.py` builds `nll` and `cross_entropy` from it."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Op
from ..kernels.interface import DeviceArray
from .either import number, value


def check_targets(op: str, shape: tuple, targets: np.ndarray, ignore_index=None) -> None:
    """Raise a clear error unless `targets` are class ids (or `ignore_index`) for the rows of
    scores shaped `shape`."""
    if len(shape) != 2:
        raise ValueError(f"{op}: expected a 2-D [batch, classes] input, got shape {shape}")
    if targets.ndim != 1 or targets.dtype.kind not in "iu":
        raise ValueError(f"{op}: targets must be a 1-D array of integer class ids, "
                         f"got {targets.dtype} of shape {targets.shape}")
    if targets.shape[0] != shape[0]:
        raise ValueError(f"{op}: {targets.shape[0]} targets for a batch of {shape[0]}")
    if isinstance(targets, DeviceArray):  # reading them would wait for the GPU: its kernel makes a bad one NaN
        return
    bad = (targets < 0) | (targets >= shape[1])
    if ignore_index is not None:
        bad &= targets != ignore_index
    if bad.any():
        raise ValueError(f"{op}: target {targets[bad][0]} is out of range for {shape[1]} classes")


REDUCTIONS = ("mean", "sum", "none")


class NLL(Op):
    """loss_i = −w_i · log_probs[i, t_i], then their sum over D ('mean'), their sum ('sum') or each
    row's ('none'): d/d log_probs[i, c] = −w_i / D if c = t_i, else 0. w_i is the class weight of
    row i's target (1 without `weight`), 0 where t_i is `ignore_index`; D = Σ w_i (the rows that
    count, without weights)."""

    @staticmethod
    def forward(ctx: Context, log_probs, targets, reduction="mean", ignore_index=None, weight=None):
        check_targets("nll", log_probs.shape, targets, ignore_index)
        if weight is not None and weight.shape != (log_probs.shape[1],):
            raise ValueError(f"nll: weight of shape {weight.shape} for {log_probs.shape[1]} classes")
        w = row_weights(targets, ignore_index, weight)
        ctx.save_for_backward(log_probs, targets, w, weight)
        ctx.reduction, ctx.ignore_index = reduction, ignore_index
        return NLL.losses(log_probs, targets, w, reduction, ignore_index)

    @staticmethod
    def losses(log_probs, targets, w, reduction, ignore_index):
        if reduction == "mean" and w is None:  # the training loss: one kernel pass
            return kernels.impl.nll(log_probs, targets)
        t = targets if ignore_index is None else np.where(targets == ignore_index, 0, targets)
        losses = -log_probs[np.arange(len(t)), t]
        if w is not None:
            losses = np.where(w == 0, 0, losses * w).astype(log_probs.dtype)  # an ignored row is 0, not 0 · inf
        if reduction == "none":
            return losses
        total = losses.astype(np.float64).sum()
        count = len(t) if w is None else w.astype(np.float64).sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in PyTorch
            return np.asarray(total / count if reduction == "mean" else total, log_probs.dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        log_probs, targets, w, weight = ctx.saved_tensors
        return NLLBackward.call(grad, log_probs=value(log_probs), targets=value(targets),
                                w=None if w is None else value(w), weight=None if weight is None else value(weight),
                                reduction=ctx.reduction, ignore_index=ctx.ignore_index), None

    @staticmethod
    def jvp(ctx: Context, t, _):
        _, targets, w, _ = ctx.saved_tensors  # linear in the log-probabilities: the loss of the tangent
        return NLL.losses(t, targets, w, ctx.reduction, ctx.ignore_index)


def row_weights(targets: np.ndarray, ignore_index, weight):
    """Each row's weight: its target's class weight (1 without weights), 0 for an ignored row;
    None where every row weighs 1 (the training loss's fast path)."""
    if isinstance(targets, DeviceArray) and weight is None:  # ignore_index is not looked for on a device
        return None
    ignored = targets == ignore_index if ignore_index is not None else None
    if ignored is not None and not ignored.any():
        ignored = None
    if weight is None and ignored is None:
        return None
    t = targets if ignored is None else np.where(ignored, 0, targets)
    w = np.ones(len(t)) if weight is None else weight[t].astype(np.float64)
    return w if ignored is None else np.where(ignored, 0.0, w)


class NLLBackward(Op):
    """NLL's gradient as an op: −g · w_i / D at each row's target, zero elsewhere. Linear in g,
    so d/dg of ⟨H, out⟩ is NLL of H (the gather this scatter undoes); log-probabilities and
    targets take no gradient."""

    @staticmethod
    def forward(ctx: Context, grad, log_probs, targets, w, weight, reduction, ignore_index):
        ctx.save_for_backward(log_probs, targets, w, weight)
        ctx.reduction, ctx.ignore_index = reduction, ignore_index
        if reduction == "mean" and w is None:
            return kernels.impl.nll_backward(number(grad), targets, log_probs)
        keep = np.ones(len(targets)) if w is None else w.astype(np.float64)
        if reduction == "mean":
            keep = keep / (keep.sum() or 1)
        rows = -np.broadcast_to(grad, keep.shape) * keep
        out = np.zeros_like(log_probs)
        t = targets if ignore_index is None else np.where(targets == ignore_index, 0, targets)
        out[np.arange(len(t)), t] = rows
        return out

    @staticmethod
    def backward(ctx: Context, h):
        _, targets, _, weight = ctx.saved_tensors
        return NLL.call(h, value(targets), reduction=ctx.reduction, ignore_index=ctx.ignore_index,
                        weight=None if weight is None else value(weight))

    @staticmethod
    def jvp(ctx: Context, t):
        log_probs, targets, w, weight = ctx.saved_tensors
        return NLLBackward.forward(Context(NLLBackward, (), ()), t, log_probs, targets, w, weight, ctx.reduction,
                                   ctx.ignore_index)
