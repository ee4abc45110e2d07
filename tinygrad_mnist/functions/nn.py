"""The network ops: log-softmax along an axis and max-pooling (NCHW), each with its gradient as
an op of its own (so gradients of gradients run on the same kernels). Convolution is in
`conv.py`."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Op
from .either import exp, plus, value
from .movement import Gather


def _as_rows(x, axis):
    """View `x` as 2-D rows along `axis` (moved last) and a function to undo it."""
    if x.ndim >= 1 and axis in (-1, x.ndim - 1):  # already last (the training step's case):
        shape = x.shape                            # np.moveaxis alone costs 10 µs a call
        return x.reshape(-1, shape[-1]), lambda y: y.reshape(shape)
    moved = np.moveaxis(x, axis, -1)
    shape = moved.shape
    # back in row-major order, as PyTorch's output is (so that view() works on it as on theirs)
    return moved.reshape(-1, shape[-1]), lambda y: np.ascontiguousarray(np.moveaxis(y.reshape(shape), -1, axis))


class LogSoftmax(Op):
    """y = x - log Σ exp(x) along `axis`:  d/dx = G - softmax(x) · Σ G (along the axis)."""

    @staticmethod
    def forward(ctx: Context, x, axis=-1):
        rows, back = _as_rows(x, axis)
        y = back(kernels.impl.log_softmax(rows))
        ctx.save_for_backward(y)  # the output itself
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return LogSoftmaxBackward.call(grad, ctx.saved_tensors[0], axis=ctx.axis)

    @staticmethod
    def jvp(ctx: Context, t):
        (y,) = ctx.saved_tensors  # ẏ = ẋ − Σ softmax · ẋ along the axis
        return t - (np.exp(y) * t).sum(axis=ctx.axis, keepdims=True)


class LogSoftmaxBackward(Op):
    """out = g − p · Σ g along the axis, p = exp(y) (log-softmax's gradient as an op):
    d/dg: H ↦ H − Σ(H · p),  d/dy: H ↦ −H · p · Σ g."""

    @staticmethod
    def forward(ctx: Context, grad, y, axis=-1):
        ctx.save_for_backward(grad, y)
        ctx.axis = axis
        rows, back = _as_rows(grad, axis)
        return back(kernels.impl.log_softmax_backward(rows, _as_rows(y, axis)[0]))

    @staticmethod
    def backward(ctx: Context, h):
        grad, y = ctx.saved_tensors
        p, axis = exp(y), ctx.axis
        dg, dy = ctx.needs_input_grad
        return (h - (h * p).sum(axis=axis, keepdims=True) if dg else None), \
            (-h * p * grad.sum(axis=axis, keepdims=True) if dy else None)

    @staticmethod
    def jvp(ctx: Context, tg, ty):
        grad, y = ctx.saved_tensors
        p, axis = np.exp(y), ctx.axis
        return plus(None if tg is None else tg - p * tg.sum(axis=axis, keepdims=True),
                    None if ty is None else -p * ty * grad.sum(axis=axis, keepdims=True))


class MaxPool2d(Op):
    """y = max over each kh×kw window (taps `dilation` apart; padding counts as -inf):  d/dx = 1 at each window's
    (first) maximum, else 0; G is added up where windows overlap."""

    @staticmethod
    def forward(ctx: Context, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_size=None, dilation=(1, 1)):
        y, index = kernels.impl.max_pool2d(x, kernel, stride, padding, out_size, dilation)
        ctx.save_for_backward(index)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return MaxPoolBackward.call(grad, index=value(ctx.saved_tensors[0]), shape=ctx.shape)

    @staticmethod
    def jvp(ctx: Context, t):
        return _gather_maxima(t, ctx.saved_tensors[0])


def _gather_maxima(x, index):
    """x [B, C, H, W] read at each window's maximum: [B, C, OH, OW] (arrays or tensors)."""
    B, C = index.shape[:2]
    flat = x.reshape(B, C, -1)
    return Gather.call(flat, index=index.reshape(B, C, -1), axis=2).reshape(index.shape)


class MaxPoolBackward(Op):
    """Each window's gradient added at its maximum (max-pooling's gradient as an op):
    d/dG is reading H at the maxima (a gather); the indices take no gradient."""

    @staticmethod
    def forward(ctx: Context, grad, index, shape):
        ctx.save_for_backward(index)
        ctx.shape = shape
        return kernels.impl.max_pool2d_backward(grad, index, shape)

    @staticmethod
    def backward(ctx: Context, h):
        return _gather_maxima(h, value(ctx.saved_tensors[0]))

    @staticmethod
    def jvp(ctx: Context, t):
        return kernels.impl.max_pool2d_backward(np.ascontiguousarray(t), ctx.saved_tensors[0], ctx.shape)


class MaxUnpool2d(Op):
    """Zeros of `shape` [B, C, H, W] with each x put at its flat index in its (H, W) plane (where
    two share an index, one of them is kept):  d/dx is reading G at the indices, a gather."""

    @staticmethod
    def forward(ctx: Context, x, index, shape):
        ctx.save_for_backward(index)
        ctx.shape = shape
        B, C = x.shape[:2]
        out = np.zeros((B * C, shape[2] * shape[3]), x.dtype)
        out[np.arange(B * C)[:, None], index.reshape(B * C, -1)] = x.reshape(B * C, -1)
        return out.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad):
        return _gather_maxima(grad, value(ctx.saved_tensors[0]))

    @staticmethod
    def jvp(ctx: Context, t):
        return MaxUnpool2d.forward(Context(MaxUnpool2d, (), ()), t, ctx.saved_tensors[0], ctx.shape)
