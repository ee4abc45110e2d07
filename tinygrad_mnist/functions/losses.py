"""The loss op: NLL on log-probabilities, with PyTorch's reductions and `ignore_index`, and the
target checks every loss shares. `losses.py` builds `nll` and `cross_entropy` from it."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Function
from .either import value


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
    bad = (targets < 0) | (targets >= shape[1])
    if ignore_index is not None:
        bad &= targets != ignore_index
    if bad.any():
        raise ValueError(f"{op}: target {targets[bad][0]} is out of range for {shape[1]} classes")


REDUCTIONS = ("mean", "sum", "none")


class NLL(Function):
    """loss_i = -log_probs[i, t_i] (0 where t_i is `ignore_index`), then its mean over the rows
    that count, its sum, or each row's ('none'):
    d/d log_probs[i, c] = -w_i / D if c = t_i, else 0, where w_i is 1 for a row that
    counts and 0 for an ignored one, and D is their number (mean) or 1 (sum, none)."""

    @staticmethod
    def forward(ctx: Context, log_probs, targets, reduction="mean", ignore_index=None):
        check_targets("nll", log_probs.shape, targets, ignore_index)
        ignored = targets == ignore_index if ignore_index is not None else None
        if ignored is not None and not ignored.any():
            ignored = None
        ctx.save_for_backward(log_probs, targets, ignored)
        ctx.reduction, ctx.ignore_index = reduction, ignore_index
        if reduction == "mean" and ignored is None:  # the training loss: one kernel pass
            return kernels.impl.nll(log_probs, targets)
        t = targets if ignored is None else np.where(ignored, 0, targets)
        losses = -log_probs[np.arange(len(t)), t]
        if ignored is not None:
            losses[ignored] = 0
        if reduction == "none":
            return losses
        total = losses.astype(np.float64).sum()
        count = len(t) - (0 if ignored is None else int(ignored.sum()))
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in PyTorch
            return np.asarray(total / count if reduction == "mean" else total, log_probs.dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        log_probs, targets, ignored = ctx.saved_tensors
        return NLLBackward.call(grad, log_probs=value(log_probs), targets=value(targets),
                                ignored=None if ignored is None else value(ignored), reduction=ctx.reduction,
                                ignore_index=ctx.ignore_index), None

    @staticmethod
    def jvp(ctx: Context, t, _):
        _, targets, _ = ctx.saved_tensors  # linear in the log-probabilities: the loss of the tangent
        return NLL.forward(Context(NLL, (), ()), t, targets, ctx.reduction, ctx.ignore_index)


class NLLBackward(Function):
    """NLL's gradient as an op: −g · w_i / D at each row's target, zero elsewhere. Linear in g,
    so d/dg of ⟨H, out⟩ is NLL of H (the gather this scatter undoes); log-probabilities and
    targets take no gradient."""

    @staticmethod
    def forward(ctx: Context, grad, log_probs, targets, ignored, reduction, ignore_index):
        ctx.save_for_backward(log_probs, targets, ignored)
        ctx.reduction, ctx.ignore_index = reduction, ignore_index
        if reduction == "mean" and ignored is None:
            return kernels.impl.nll_backward(float(grad), targets, log_probs)
        keep = np.ones(len(targets)) if ignored is None else (~ignored).astype(np.float64)
        if reduction == "mean":
            keep /= max(keep.sum(), 1)
        rows = -np.broadcast_to(grad, keep.shape) * keep
        out = np.zeros_like(log_probs)
        t = targets if ignored is None else np.where(ignored, 0, targets)
        out[np.arange(len(t)), t] = rows
        return out

    @staticmethod
    def backward(ctx: Context, h):
        _, targets, _ = ctx.saved_tensors
        return NLL.call(h, value(targets), reduction=ctx.reduction, ignore_index=ctx.ignore_index)

    @staticmethod
    def jvp(ctx: Context, t):
        log_probs, targets, ignored = ctx.saved_tensors
        return NLLBackward.forward(Context(NLLBackward, (), ()), t, log_probs, targets, ignored, ctx.reduction,
                                   ctx.ignore_index)
