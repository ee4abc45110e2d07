"""Convolution and pooling on NCHW arrays: patches (im2col) and their adjoint (col2im), max-pool
and its gradient. Parallel over images: each thread writes only its own images' rows or planes.

A patch row holds (c, i, j) with j innermost, the order of `w.reshape(O, -1)`,
the same as the numpy twins, so a convolution is `im2col(x) @ w.reshape(O, -1).T`
on either kernel set, and every result is a C-contiguous NCHW array.
"""
from __future__ import annotations

import numpy as np

from .numpy_kernels import conv_out_size
from .pool import for_rows, jit

NS_PER_COPY = 0.5     # estimated single-thread ns per element moved


@jit()
def _im2col_images(x, kh, kw, stride, padding, out, lo, hi):
    _, C, H, W = x.shape
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = out[(b * OH + oh) * OW + ow]
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - padding + i
                        at = (c * kh + i) * kw
                        for j in range(kw):
                            w = ow * stride - padding + j
                            inside = 0 <= h < H and 0 <= w < W
                            row[at + j] = out.dtype.type(x[b, c, h, w]) if inside else out.dtype.type(0)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, dtype) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, C·kh·kw], in `dtype`."""
    B, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    OH, OW = conv_out_size(H, kh, stride, padding), conv_out_size(W, kw, stride, padding)
    out = np.empty((B * OH * OW, C * kh * kw), dtype=dtype)
    for_rows(_im2col_images, B, out.size * NS_PER_COPY, x, kh, kw, stride, padding, out)
    return out


@jit()
def _col2im_images(cols, kh, kw, stride, padding, out, lo, hi):
    _, C, H, W = out.shape
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = cols[(b * OH + oh) * OW + ow]
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - padding + i
                        if 0 <= h < H:
                            at = (c * kh + i) * kw
                            for j in range(kw):
                                w = ow * stride - padding + j
                                if 0 <= w < W:
                                    out[b, c, h, w] += row[at + j]


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]."""
    cols = np.ascontiguousarray(cols)
    out = np.zeros(shape, dtype=cols.dtype)
    for_rows(_col2im_images, shape[0], cols.size * NS_PER_COPY, cols, kh, kw, stride, padding, out)
    return out


@jit()
def _max_pool_images(x, k, stride, out, index, lo, hi):
    # The first maximum of a window wins, and a NaN beats everything (as in PyTorch).
    W = x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for b in range(lo, hi):
        for c in range(x.shape[1]):
            plane, o, ix = x[b, c], out[b, c], index[b, c]
            for oh in range(OH):
                h0 = oh * stride
                for ow in range(OW):
                    w0 = ow * stride
                    m, at = plane[h0, w0], h0 * W + w0
                    for i in range(k):
                        for j in range(k):
                            v = plane[h0 + i, w0 + j]
                            if v > m or (v != v and m == m):
                                m, at = v, (h0 + i) * W + w0 + j
                    o[oh, ow] = m
                    ix[oh, ow] = at


def max_pool2d(x: np.ndarray, k: int, stride: int):
    """Max over k×k windows of x [B, C, H, W]; also returns each maximum's flat index in its (H, W) plane."""
    B, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    shape = (B, C, conv_out_size(H, k, stride, 0), conv_out_size(W, k, stride, 0))
    out, index = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    for_rows(_max_pool_images, B, x.size * NS_PER_COPY, x, k, stride, out, index)
    return out, index


@jit()
def _max_pool_backward_images(grad, index, out, lo, hi):
    for b in range(lo, hi):
        for c in range(grad.shape[1]):
            for oh in range(grad.shape[2]):
                for ow in range(grad.shape[3]):
                    out[b, c, index[b, c, oh, ow]] += grad[b, c, oh, ow]


def max_pool2d_backward(grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
    """Route each window's gradient to its maximum (summed where windows overlap)."""
    B, C, H, W = shape
    grad = np.ascontiguousarray(grad)
    out = np.zeros((B, C, H * W), dtype=grad.dtype)
    for_rows(_max_pool_backward_images, B, out.size * NS_PER_COPY, grad, np.ascontiguousarray(index), out)
    return out.reshape(shape)
