"""Convolution and pooling on NCHW arrays: patches (im2col) and their adjoint (col2im), max-pool
and its gradient. Parallel over images: each thread writes only its own images' rows or planes.

A patch row holds (i, j, c) with the channel innermost, the order of
`w.transpose(0, 2, 3, 1).reshape(O, -1)` (`flat_filters`), the same as the numpy
twins: with the input laid out [B, H, W, C] inside the kernel, each kernel row of
a patch is one contiguous run of kw·C values (160 for Candle's conv2). Every
result is a C-contiguous NCHW array.
"""
from __future__ import annotations

import numpy as np

from .numpy_kernels import conv_out_size
from .pool import for_rows, jit

NS_PER_COPY = 0.5     # estimated single-thread ns per element moved


@jit()
def _span(o, stride, padding, k, size):
    """The kernel offsets j (lo..hi-1) whose input position o·stride − padding + j is inside 0..size-1."""
    start = o * stride - padding
    return max(0, -start), min(k, size - start)


@jit()
def _im2col_images(x, C, kh, kw, stride, padding, out, lo, hi):
    _, H, WC = x.shape  # x is [B, H, W·C]: the input as [B, H, W, C], each row flat
    W = WC // C
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    zero = out.dtype.type(0)
    for b in range(lo, hi):
        for oh in range(OH):
            ilo, ihi = _span(oh, stride, padding, kh, H)
            for ow in range(OW):
                jlo, jhi = _span(ow, stride, padding, kw, W)
                row = out[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    at = i * kw * C
                    if i < ilo or i >= ihi:  # a row of padding
                        for n in range(kw * C):
                            row[at + n] = zero
                        continue
                    src = x[b, oh * stride - padding + i]
                    start = (ow * stride - padding) * C
                    for n in range(jlo * C):
                        row[at + n] = zero
                    for n in range(jlo * C, jhi * C):  # one contiguous run
                        row[at + n] = out.dtype.type(src[start + n])
                    for n in range(jhi * C, kw * C):
                        row[at + n] = zero


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, dtype) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, kh·kw·C], in `dtype`."""
    B, C, H, W = x.shape
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(B, H, W * C)
    OH, OW = conv_out_size(H, kh, stride, padding), conv_out_size(W, kw, stride, padding)
    out = np.empty((B * OH * OW, C * kh * kw), dtype=dtype)
    for_rows(_im2col_images, B, out.size * NS_PER_COPY, rows, C, kh, kw, stride, padding, out)
    return out


@jit()
def _col2im_images(cols, C, kh, kw, stride, padding, out, lo, hi):
    _, H, WC = out.shape  # out is [B, H, W·C]: the result as [B, H, W, C], each row flat
    W = WC // C
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for b in range(lo, hi):
        for oh in range(OH):
            ilo, ihi = _span(oh, stride, padding, kh, H)
            for ow in range(OW):
                jlo, jhi = _span(ow, stride, padding, kw, W)
                row = cols[(b * OH + oh) * OW + ow]
                start = (ow * stride - padding) * C
                for i in range(ilo, ihi):
                    dst, at = out[b, oh * stride - padding + i], i * kw * C
                    for n in range(jlo * C, jhi * C):  # one contiguous run
                        dst[start + n] += row[at + n]


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]."""
    B, C, H, W = shape
    cols = np.ascontiguousarray(cols)
    out = np.zeros((B, H, W * C), dtype=cols.dtype)
    for_rows(_col2im_images, B, cols.size * NS_PER_COPY, cols, C, kh, kw, stride, padding, out)
    return np.ascontiguousarray(out.reshape(B, H, W, C).transpose(0, 3, 1, 2))


@jit()
def _max_pool_images(x, k, stride, out, index, lo, hi):
    # The first maximum of a window wins, and a NaN beats everything (as in PyTorch). Selects,
    # not branches: the comparisons depend on the data and would mispredict half the time.
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
                            take = (v > m) | ((v != v) & (m == m))
                            m = v if take else m
                            at = (h0 + i) * W + w0 + j if take else at
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
