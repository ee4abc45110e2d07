"""2-D convolution (NCHW) and the two ops its gradient is made of.

Convolution is bilinear in the input and the filters, so its gradients are linear maps with
adjoints of their own: `ConvInputGrad` (d/dx, a transposed convolution) and `ConvWeightGrad`
(d/dW, a correlation of the input with the output's gradient). Each one's VJP is a
convolution or the other, which is what makes gradients of gradients (and the JVP) exact.
A first-order backward skips them and reuses the patch matrices forward kept.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Op
from .either import contiguous, is_array, plus


def _flat_filters(w):
    """Filters [O, C, kh, kw] as the [O, kh·kw·C] matrix whose columns follow im2col's patch
    order (the channel innermost, on both kernel sets)."""
    return contiguous(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def _join(parts, axis):
    """The groups' results side by side (one group: no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


def _plain(geometry) -> bool:
    return all(tuple(v) == d for v, d in zip(geometry, ((1, 1), (0, 0), (1, 1))))


def _patches(x, kh, kw, geometry, groups, dtype) -> list:
    Cg = x.shape[1] // groups
    return [kernels.impl.im2col(x[:, g * Cg:(g + 1) * Cg], kh, kw, *geometry, dtype) for g in range(groups)]


def _weight_grad(g, cols, w_shape, groups):
    """Gᵀ @ patches per group, as filters [O, C/groups, kh, kw]; g is the output's gradient as rows."""
    O, Cg, kh, kw = w_shape
    Og = O // groups
    dw = _join([kernels.impl.matmul(g[:, i * Og:(i + 1) * Og].T, cols[i]).reshape(Og, kh, kw, Cg)
                for i in range(groups)], axis=0).transpose(0, 3, 1, 2)
    return contiguous(dw)


def _input_grad(g, w, x_shape, geometry, groups):
    """col2im(G @ W_flat) per group: d/dx for the output's gradient as rows g."""
    O, Cg, kh, kw = w.shape
    Og, (B, _, H, W) = O // groups, x_shape
    return _join([kernels.impl.col2im(kernels.impl.matmul(g[:, i * Og:(i + 1) * Og], _flat_filters(w[i * Og:(i + 1) * Og])),
                                      (B, Cg, H, W), kh, kw, *geometry) for i in range(groups)], axis=1)


class Conv2d(Op):
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
        ctx.geometry, ctx.x_shape, ctx.groups = (tuple(stride), tuple(padding), tuple(dilation)), x.shape, groups
        ctx.one_channel = Cg == 1 and groups == 1 and _plain(ctx.geometry)
        if ctx.one_channel:
            ctx.save_for_backward(x, w)
            return kernels.impl.conv_one_channel(x[:, 0], w[:, 0], b)
        OH, OW = (kernels.impl.conv_out_size(n, k, s, p, d)
                  for n, k, s, p, d in zip((H, W), (kh, kw), *ctx.geometry))
        Og = O // groups
        cols = _patches(x, kh, kw, ctx.geometry, groups, w.dtype)
        y = _join([kernels.impl.matmul(c, _flat_filters(w[g * Og:(g + 1) * Og]).T)  # [B·OH·OW, O]
                   for g, c in enumerate(cols)], axis=1)
        ctx.save_for_backward(*cols, w)  # the patch matrices (the largest thing a CNN step keeps)
        return kernels.impl.rows_to_nchw(y, b, (B, O, OH, OW))  # + b, as [B, O, OH, OW]

    @staticmethod
    def backward(ctx: Context, grad):
        *saved, w = ctx.saved_tensors  # each group's patches, or the input itself on the one-channel path
        needs = ctx.needs_input_grad
        if not is_array(grad):  # create_graph: the gradient as ops, each differentiable again
            return Conv2d._graph_backward(ctx, grad)
        k, (O, _, kh, kw) = kernels.impl, w.shape
        dx = dw = None
        if ctx.one_channel:
            g_sum = None
            if needs[1] or len(needs) == 3 and needs[2]:
                dw, g_sum = k.conv_one_channel_backward(grad, saved[0][:, 0], kh, kw)
                dw = dw.reshape(O, 1, kh, kw)
            g = k.nchw_to_rows(grad)[0] if needs[0] else None
        else:
            g, g_sum = k.nchw_to_rows(grad)  # [B·OH·OW, O], and Σ G for the bias
            dw = _weight_grad(g, saved, w.shape, ctx.groups) if needs[1] else None
        if needs[0]:
            dx = _input_grad(g, w, ctx.x_shape, ctx.geometry, ctx.groups)
        if len(needs) == 2:
            return dx, (dw if needs[1] else None)
        return dx, (dw if needs[1] else None), (g_sum if needs[2] else None)

    @staticmethod
    def _graph_backward(ctx, grad):
        x, w = ctx.parents[0], ctx.parents[1]
        needs, settings = ctx.needs_input_grad, dict(geometry=ctx.geometry, groups=ctx.groups)
        dx = ConvInputGrad.call(grad, w, x_shape=ctx.x_shape, **settings) if needs[0] else None
        dw = ConvWeightGrad.call(x, grad, w_shape=w.shape, **settings) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (grad.sum(axis=(0, 2, 3)) if needs[2] else None)

    @staticmethod
    def jvp(ctx: Context, tx, tw, tb=None):
        *saved, w = ctx.saved_tensors
        x = saved[0] if ctx.one_channel else ctx.parents[0].array
        options = dict(zip(("stride", "padding", "dilation"), ctx.geometry), groups=ctx.groups)
        return plus(None if tx is None else Conv2d.call(tx, w, **options),
                    None if tw is None else Conv2d.call(x, tw, **options),
                    None if tb is None else tb.reshape(1, -1, 1, 1))


class ConvInputGrad(Op):
    """dx = col2im(G @ W_flat), linear in G and in W:  its VJP for a cotangent H of x's shape is
    d/dG = conv(H, W) and d/dW = ConvWeightGrad(H, G)."""

    @staticmethod
    def forward(ctx: Context, grad, w, x_shape, geometry, groups):
        ctx.save_for_backward(grad, w)
        ctx.x_shape, ctx.geometry, ctx.groups = x_shape, geometry, groups
        return _input_grad(kernels.impl.nchw_to_rows(grad)[0], w, x_shape, geometry, groups)

    @staticmethod
    def backward(ctx: Context, h):
        grad, w = ctx.saved_tensors
        options = dict(zip(("stride", "padding", "dilation"), ctx.geometry), groups=ctx.groups)
        dg, dw = ctx.needs_input_grad
        return (Conv2d.call(h, w, **options) if dg else None), \
            (ConvWeightGrad.call(h, grad, w_shape=w.shape, geometry=ctx.geometry, groups=ctx.groups) if dw else None)

    @staticmethod
    def jvp(ctx: Context, tg, tw):
        grad, w = ctx.saved_tensors
        settings = dict(x_shape=ctx.x_shape, geometry=ctx.geometry, groups=ctx.groups)
        return plus(None if tg is None else ConvInputGrad.call(tg, w, **settings),
                    None if tw is None else ConvInputGrad.call(grad, tw, **settings))


class ConvWeightGrad(Op):
    """dW = Gᵀ @ im2col(x), linear in x and in G:  its VJP for a cotangent K of W's shape is
    d/dx = ConvInputGrad(G, K) and d/dG = conv(x, K)."""

    @staticmethod
    def forward(ctx: Context, x, grad, w_shape, geometry, groups):
        ctx.save_for_backward(x, grad)
        ctx.w_shape, ctx.geometry, ctx.groups = tuple(w_shape), geometry, groups
        O, Cg, kh, kw = w_shape
        if Cg == 1 and groups == 1 and _plain(geometry):
            return kernels.impl.conv_one_channel_backward(grad, x[:, 0], kh, kw)[0].reshape(O, 1, kh, kw)
        cols = _patches(x, kh, kw, geometry, groups, grad.dtype)
        return _weight_grad(kernels.impl.nchw_to_rows(grad)[0], cols, w_shape, groups)

    @staticmethod
    def backward(ctx: Context, k):
        x, grad = ctx.saved_tensors
        options = dict(zip(("stride", "padding", "dilation"), ctx.geometry), groups=ctx.groups)
        dx, dg = ctx.needs_input_grad
        return (ConvInputGrad.call(grad, k, x_shape=x.shape, geometry=ctx.geometry, groups=ctx.groups) if dx
                else None), (Conv2d.call(x, k, **options) if dg else None)

    @staticmethod
    def jvp(ctx: Context, tx, tg):
        x, grad = ctx.saved_tensors
        settings = dict(w_shape=ctx.w_shape, geometry=ctx.geometry, groups=ctx.groups)
        return plus(None if tx is None else ConvWeightGrad.call(tx, grad, **settings),
                    None if tg is None else ConvWeightGrad.call(x, tg, **settings))
