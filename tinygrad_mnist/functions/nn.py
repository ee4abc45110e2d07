"""The network ops: log-softmax along an axis, 2-D convolution and max-pooling (NCHW)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Function


def _as_rows(x, axis):
    """View `x` as 2-D rows along `axis` (moved last) and a function to undo it."""
    if x.ndim >= 1 and axis in (-1, x.ndim - 1):  # already last (the training step's case):
        shape = x.shape                            # np.moveaxis alone costs 10 µs a call
        return x.reshape(-1, shape[-1]), lambda y: y.reshape(shape)
    moved = np.moveaxis(x, axis, -1)
    shape = moved.shape
    return moved.reshape(-1, shape[-1]), lambda y: np.moveaxis(y.reshape(shape), -1, axis)


class LogSoftmax(Function):
    """y = x - log Σ exp(x) along `axis`:  d/dx = G - softmax(x) · Σ G (along the axis)."""

    @staticmethod
    def forward(ctx: Context, x, axis=-1):
        rows, back = _as_rows(x, axis)
        y = kernels.impl.log_softmax(rows)
        ctx.save_for_backward(y)  # as rows: the gradient is taken to the same rows
        ctx.axis = axis
        return back(y)

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        rows, back = _as_rows(grad, ctx.axis)  # the output's shape is the input's
        return back(kernels.impl.log_softmax_backward(rows, y))


def _flat_filters(w):
    """Filters [O, C, kh, kw] as the [O, kh·kw·C] matrix whose columns follow im2col's patch
    order (the channel innermost, on both kernel sets)."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def _join(parts, axis):
    """The groups' results side by side (one group: no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


class Conv2d(Function):
    """y = x ⋆ W + b (cross-correlation, as in PyTorch and Candle), via y = im2col(x) @ W_flatᵀ
    with W_flat the filters as rows (`_flat_filters`):
    d/dW = Gᵀ @ im2col(x),  d/db = Σ G over batch and positions,  d/dx = col2im(G @ W_flat).
    With `groups` g, channels and filters split into g independent convolutions.
    A single input channel at stride 1 without padding (the CNN's first layer) takes a kernel
    that forms the same sums from each image's patches directly (`conv_one_channel`).
    """

    @staticmethod
    def forward(ctx: Context, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        (B, _, H, W), (O, Cg, kh, kw) = x.shape, w.shape
        ctx.geometry, ctx.x_shape, ctx.groups = (stride, padding, dilation), x.shape, groups
        plain = tuple(stride) == (1, 1) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
        ctx.one_channel = Cg == 1 and groups == 1 and plain
        if ctx.one_channel:
            ctx.save_for_backward(x, w)
            return kernels.impl.conv_one_channel(x[:, 0], w[:, 0], b)
        OH, OW = (kernels.impl.conv_out_size(n, k, s, p, d)
                  for n, k, s, p, d in zip((H, W), (kh, kw), stride, padding, dilation))
        Og, geometry = O // groups, (stride, padding, dilation)
        cols = [kernels.impl.im2col(x[:, g * Cg:(g + 1) * Cg], kh, kw, *geometry, w.dtype) for g in range(groups)]
        y = _join([kernels.impl.matmul(c, _flat_filters(w[g * Og:(g + 1) * Og]).T)  # [B·OH·OW, O]
                   for g, c in enumerate(cols)], axis=1)
        ctx.save_for_backward(*cols, w)  # the patch matrices (the largest thing a CNN step keeps)
        return kernels.impl.rows_to_nchw(y, b, (B, O, OH, OW))  # + b, as [B, O, OH, OW]

    @staticmethod
    def backward(ctx: Context, grad):
        *saved, w = ctx.saved_tensors  # each group's patches, or the input itself on the one-channel path
        needs, groups = ctx.needs_input_grad, ctx.groups
        O, Cg, kh, kw = w.shape
        Og = O // groups
        k, mm = kernels.impl, kernels.impl.matmul
        B, _, H, W = ctx.x_shape
        dx = dw = g = None
        if ctx.one_channel:
            if needs[1] or len(needs) == 3 and needs[2]:
                dw, g_sum = k.conv_one_channel_backward(grad, saved[0][:, 0], kh, kw)
                dw = dw.reshape(O, 1, kh, kw)
            if needs[0]:
                g, _ = k.nchw_to_rows(grad)
        else:
            g, g_sum = k.nchw_to_rows(grad)  # [B·OH·OW, O], and Σ G for the bias
            if needs[1]:
                dw = _join([mm(g[:, i * Og:(i + 1) * Og].T, saved[i]).reshape(Og, kh, kw, Cg)
                            for i in range(groups)], axis=0).transpose(0, 3, 1, 2)
                dw = np.ascontiguousarray(dw)
        if needs[0]:
            dx = _join([k.col2im(mm(g[:, i * Og:(i + 1) * Og], _flat_filters(w[i * Og:(i + 1) * Og])),
                                 (B, Cg, H, W), kh, kw, *ctx.geometry) for i in range(groups)], axis=1)
        if len(needs) == 2:
            return dx, (dw if needs[1] else None)
        return dx, (dw if needs[1] else None), (g_sum if needs[2] else None)


class MaxPool2d(Function):
    """y = max over each kh×kw window (padding counts as -inf):  d/dx = 1 at each window's
    (first) maximum, else 0; G is added up where windows overlap."""

    @staticmethod
    def forward(ctx: Context, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_size=None):
        y, index = kernels.impl.max_pool2d(x, kernel, stride, padding, out_size)
        ctx.save_for_backward(index)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return kernels.impl.max_pool2d_backward(grad, ctx.saved_tensors[0], ctx.shape)
