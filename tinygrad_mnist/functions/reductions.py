"""Reductions: sum, mean, max and min along axes (or of everything). Sum and mean are linear (their
JVP reduces the tangent); max and min weigh each element by its share of the extreme."""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Function
from .movement import expand


class Sum(Function):
    """x.sum(axis):  d/dx_i = 1 for every element summed."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Context, grad):
        return expand(grad, ctx.shape, ctx.axis, ctx.keepdims)

    @staticmethod
    def jvp(ctx: Context, t):
        return t.sum(axis=ctx.axis, keepdims=ctx.keepdims)


class Mean(Function):
    """x.mean(axis):  d/dx_i = 1/n, n the number of elements averaged."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        y = np.asarray(x.mean(axis=axis, keepdims=keepdims))
        ctx.n = x.size // max(y.size, 1)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return expand(grad / ctx.n, ctx.shape, ctx.axis, ctx.keepdims)

    @staticmethod
    def jvp(ctx: Context, t):
        return t.mean(axis=ctx.axis, keepdims=ctx.keepdims)


class Max(Function):
    """x.max(axis):  d/dx_i = 1/k where x_i is one of the k tied maxima (ties split the gradient
    evenly, as PyTorch's amax does), else 0. The shares are constant almost everywhere, so the
    second derivative is 0 (PyTorch's too)."""

    pick = staticmethod(np.max)

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        y = ctx.fn.pick(x, axis=axis, keepdims=True)
        mask = (x == y) | (np.isnan(x) & np.isnan(y))
        ctx.save_for_backward((mask / mask.sum(axis=axis, keepdims=True)).astype(x.dtype))  # each one's share
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.asarray(y if keepdims else (y.reshape(()) if axis is None else np.squeeze(y, axis)))

    @staticmethod
    def backward(ctx: Context, grad):
        (share,) = ctx.saved_tensors
        if ctx.axis is not None and not ctx.keepdims:
            kept = list(share.shape)
            for a in (ctx.axis if isinstance(ctx.axis, tuple) else (ctx.axis,)):
                kept[a] = 1
            grad = grad.reshape(tuple(kept))
        return share * grad

    @staticmethod
    def jvp(ctx: Context, t):
        (share,) = ctx.saved_tensors  # the tied elements' tangents, averaged
        return (share * t).sum(axis=ctx.axis, keepdims=ctx.keepdims)


class Min(Max):
    """x.min(axis):  d/dx_i = 1/k where x_i is one of the k tied minima, else 0: `Max` with the
    smallest picked instead of the largest."""

    pick = staticmethod(np.min)
