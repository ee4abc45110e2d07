"""Convolution on NCHW arrays: patches (im2col) and their adjoint (col2im), the output's layout
change and its adjoint, and the single-channel convolution. Parallel over images: each thread
writes only its own images' rows or planes. Max-pooling is in `maxpool.py`.

A patch row holds (i, j, c) with the channel innermost, the order of
`w.transpose(0, 2, 3, 1).reshape(O, -1)` (`flat_filters`), the same as the numpy
twins: with the input laid out [B, H, W, C] inside the kernel, each kernel row of
a patch is one contiguous run of kw·C values (160 for Candle's conv2). Every
result is a C-contiguous NCHW array.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .numpy_kernels import conv_out_size
from .pool import for_rows, jit, sum_in_order

NS_PER_COPY = 0.5     # estimated single-thread ns per element moved
NS_PER_LAYOUT = 1.0   # and per element of the output's layout change (measured 0.9-1.2 on conv2's)
NS_PER_FMA = 1 / 16   # and per multiply-add of the single-channel convolution (long vector loops)
NS_PER_RUN = 5.0      # and per contiguous run of kw·C elements: with one channel (conv1) the runs
                      # are 5 long and cost more than their elements (measured 1.5 ms for 0.9 M)


def _patch_work(rows: int, kh: int, run: int) -> float:
    """Estimated single-thread ns to copy `rows` patch rows of kh runs of `run` elements."""
    return rows * kh * (run * NS_PER_COPY + NS_PER_RUN)


@jit()
def _span(o, stride, padding, k, dilation, size):
    """The taps j (lo..hi-1) of output position o whose input position
    o·stride − padding + j·dilation is inside 0..size-1."""
    start = o * stride - padding
    lo = max(0, (-start + dilation - 1) // dilation)
    hi = min(k, (size - start + dilation - 1) // dilation)
    return lo, max(lo, hi)


@jit()
def _im2col_images(x, C, kh, kw, sh, sw, ph, pw, dh, dw, out, lo, hi):
    _, H, WC = x.shape  # x is [B, H, W·C]: the input as [B, H, W, C], each row flat
    W = WC // C
    OH, OW = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    zero = out.dtype.type(0)
    for b in range(lo, hi):
        for oh in range(OH):
            ilo, ihi = _span(oh, sh, ph, kh, dh, H)
            for ow in range(OW):
                jlo, jhi = _span(ow, sw, pw, kw, dw, W)
                row = out[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    at = i * kw * C
                    if i < ilo or i >= ihi:  # a kernel row wholly in the padding
                        for n in range(kw * C):
                            row[at + n] = zero
                        continue
                    src = x[b, oh * sh - ph + i * dh]
                    for n in range(jlo * C):  # taps in the left and right padding
                        row[at + n] = zero
                    for n in range(jhi * C, kw * C):
                        row[at + n] = zero
                    if dw == 1:  # the taps of a kernel row are one contiguous run of the input row
                        start = (ow * sw - pw) * C
                        for n in range(jlo * C, jhi * C):
                            row[at + n] = out.dtype.type(src[start + n])
                    else:
                        for j in range(jlo, jhi):
                            start = (ow * sw - pw + j * dw) * C
                            for c in range(C):
                                row[at + j * C + c] = out.dtype.type(src[start + c])


@jit()
def _im2col_plain_images(x, C, kh, kw, out, lo, hi):
    # Stride 1, no padding, no dilation (Candle's conv2): no bounds to find, and each kernel row
    # is a copy of a fixed length kw·C, which compiles to one vector loop: 2.1x faster than
    # _im2col_images here (1.70 -> 0.81 ms for conv2's 13 MB of patches, one thread).
    _, H, WC = x.shape
    OH, OW, run = H - kh + 1, WC // C - kw + 1, kw * C
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = out[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    src, at, start = x[b, oh + i], i * run, ow * C
                    for n in range(run):
                        row[at + n] = out.dtype.type(src[start + n])


def _unit_geometry(stride: tuple, padding: tuple, dilation: tuple) -> bool:
    return tuple(stride) == (1, 1) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)


def im2col(x: np.ndarray, kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple, dtype) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, kh·kw·C], in `dtype`; `stride`, `padding` and
    `dilation` are (rows, columns) pairs."""
    B, C, H, W = x.shape
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(B, H, W * C)
    OH, OW = (conv_out_size(n, k, s, p, d) for n, k, s, p, d in zip((H, W), (kh, kw), stride, padding, dilation))
    out = np.empty((B * OH * OW, C * kh * kw), dtype=dtype)
    work = _patch_work(out.shape[0], kh, kw * C)
    if _unit_geometry(stride, padding, dilation):
        for_rows(_im2col_plain_images, B, work, rows, C, kh, kw, out)
    else:
        for_rows(_im2col_images, B, work, rows, C, kh, kw, *stride, *padding, *dilation, out)
    return out


@jit()
def _col2im_images(cols, C, kh, kw, sh, sw, ph, pw, dh, dw, out, lo, hi):
    _, H, WC = out.shape  # out is [B, H, W·C]: the result as [B, H, W, C], each row flat
    W = WC // C
    OH, OW = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    for b in range(lo, hi):
        for oh in range(OH):
            ilo, ihi = _span(oh, sh, ph, kh, dh, H)
            for ow in range(OW):
                jlo, jhi = _span(ow, sw, pw, kw, dw, W)
                row = cols[(b * OH + oh) * OW + ow]
                for i in range(ilo, ihi):
                    dst, at = out[b, oh * sh - ph + i * dh], i * kw * C
                    for j in range(jlo, jhi):
                        start = (ow * sw - pw + j * dw) * C
                        for c in range(C):
                            dst[start + c] += row[at + j * C + c]


@jit()
def _col2im_plain_images(cols, C, kh, kw, out, lo, hi):
    # The adjoint of _im2col_plain_images, its loops of fixed length kw·C likewise: 1.3x faster
    # than _col2im_images for conv2 (2.09 -> 1.56 ms, one thread). The same additions in the
    # same order, so the same sums.
    _, H, WC = out.shape
    OH, OW, run = H - kh + 1, WC // C - kw + 1, kw * C
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = cols[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    dst, at, start = out[b, oh + i], i * run, ow * C
                    for n in range(run):
                        dst[start + n] += row[at + n]


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: tuple, padding: tuple,
           dilation: tuple) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]."""
    B, C, H, W = shape
    cols = np.ascontiguousarray(cols)
    out = np.zeros((B, H, W * C), dtype=cols.dtype)
    work = _patch_work(cols.shape[0], kh, kw * C)
    if _unit_geometry(stride, padding, dilation):
        for_rows(_col2im_plain_images, B, work, cols, C, kh, kw, out)
    else:
        for_rows(_col2im_images, B, work, cols, C, kh, kw, *stride, *padding, *dilation, out)
    return np.ascontiguousarray(out.reshape(B, H, W, C).transpose(0, 3, 1, 2))


@jit()
def _rows_to_nchw_images(rows, bias, out, lo, hi):
    O, P = out.shape[1], out.shape[2]
    for b in range(lo, hi):
        for p in range(P):
            r = rows[b * P + p]
            for o in range(O):
                out[b, o, p] = r[o] + bias[o]


def rows_to_nchw(rows: np.ndarray, bias: Optional[np.ndarray], shape: tuple) -> np.ndarray:
    """A convolution's product rows [B·OH·OW, O] plus `bias` [O] (or None) as the NCHW output
    `shape` [B, O, OH, OW]: the bias add and the transpose in one pass, over threads by image."""
    B, O, OH, OW = shape
    rows = np.ascontiguousarray(rows)
    bias = np.zeros(O, rows.dtype) if bias is None else np.ascontiguousarray(bias, dtype=rows.dtype)
    out = np.empty((B, O, OH * OW), rows.dtype)
    for_rows(_rows_to_nchw_images, B, rows.size * NS_PER_LAYOUT, rows, bias, out)
    return out.reshape(shape)


@jit()
def _nchw_to_rows_images(g, out, lo, hi):
    O, P = g.shape[1], g.shape[2]
    sums = np.zeros(O, out.dtype)
    for b in range(lo, hi):
        for o in range(O):
            plane, s = g[b, o], out.dtype.type(0)
            for p in range(P):
                v = plane[p]
                out[b * P + p, o] = v
                s += v
            sums[o] += s
    return sums


def nchw_to_rows(grad: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The adjoint layout change of `rows_to_nchw`: grad [B, O, OH, OW] as rows [B·OH·OW, O],
    and its sum over batch and positions (the bias gradient), added per image in image order."""
    B, O = grad.shape[:2]
    g = np.ascontiguousarray(grad).reshape(B, O, -1)
    out = np.empty((g.shape[0] * g.shape[2], O), grad.dtype)
    return out, sum_in_order(for_rows(_nchw_to_rows_images, B, g.size * NS_PER_LAYOUT, g, out))


# ---- one input channel, stride 1, no padding (Candle's conv1: 1 -> 32 channels, 5x5)
# With one channel a patch row is only kh·kw = 25 values long, so im2col, a product with an
# inner size of 25 and the transpose to NCHW are mostly memory traffic. Here each image's
# kh·kw shifted windows are laid out as rows of OH·OW values ("windows", 58 KB, in cache), and
# the output planes are built from them directly: a long axpy per (filter, tap) forward, a long
# dot product per (filter, tap) for d/dw. The same sums, in tap order.


@jit()
def _windows(x, b, kh, kw, buf):
    """buf[i·kw + j, oh·OW + ow] = x[b, oh + i, ow + j]: the image's patches, one row per tap."""
    OH, OW = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    for i in range(kh):
        for j in range(kw):
            row = buf[i * kw + j]
            for oh in range(OH):
                src = x[b, oh + i]
                for ow in range(OW):
                    row[oh * OW + ow] = buf.dtype.type(src[ow + j])


@jit()
def _conv_one_channel_images(x, w, bias, kh, kw, out, lo, hi):
    O, P = out.shape[1], out.shape[2]
    buf = np.empty((kh * kw, P), out.dtype)
    for b in range(lo, hi):
        _windows(x, b, kh, kw, buf)
        for o in range(O):
            y = out[b, o]
            for p in range(P):
                y[p] = bias[o]
            t = 0
            while t + 5 <= kh * kw:  # five taps a pass: one load and store of y per five multiply-adds
                w0, w1, w2, w3, w4 = w[o, t], w[o, t + 1], w[o, t + 2], w[o, t + 3], w[o, t + 4]
                s0, s1, s2, s3, s4 = buf[t], buf[t + 1], buf[t + 2], buf[t + 3], buf[t + 4]
                for p in range(P):
                    y[p] += w0 * s0[p] + w1 * s1[p] + w2 * s2[p] + w3 * s3[p] + w4 * s4[p]
                t += 5
            for t in range(t, kh * kw):
                wt, src = w[o, t], buf[t]
                for p in range(P):
                    y[p] += wt * src[p]


def conv_one_channel(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray]) -> np.ndarray:
    """x [B, H, W] ⋆ w [O, kh, kw] + bias [O] (or None) → [B, O, OH, OW], in w's dtype
    (cross-correlation, stride 1, no padding)."""
    (B, H, W), (O, kh, kw) = x.shape, w.shape
    OH, OW = H - kh + 1, W - kw + 1
    x, flat = np.ascontiguousarray(x), np.ascontiguousarray(w.reshape(O, kh * kw))
    bias = np.zeros(O, w.dtype) if bias is None else np.ascontiguousarray(bias, dtype=w.dtype)
    out = np.empty((B, O, OH * OW), w.dtype)
    for_rows(_conv_one_channel_images, B, out.size * kh * kw * NS_PER_FMA, x, flat, bias, kh, kw, out)
    return out.reshape(B, O, OH, OW)


@jit()
def _conv_one_channel_grad_images(g, x, kh, kw, lo, hi):
    O, P = g.shape[1], g.shape[2]
    acc = np.zeros((O, kh * kw + 1), g.dtype)  # d/dw by tap, then d/dbias
    buf = np.empty((kh * kw, P), g.dtype)
    for b in range(lo, hi):
        _windows(x, b, kh, kw, buf)
        for o in range(O):
            gr, s = g[b, o], g.dtype.type(0)
            for p in range(P):
                s += gr[p]
            acc[o, kh * kw] += s
            t = 0
            while t + 5 <= kh * kw:  # five taps a pass: each gradient value loaded once for five
                q0 = q1 = q2 = q3 = q4 = g.dtype.type(0)
                s0, s1, s2, s3, s4 = buf[t], buf[t + 1], buf[t + 2], buf[t + 3], buf[t + 4]
                for p in range(P):
                    v = gr[p]
                    q0 += v * s0[p]
                    q1 += v * s1[p]
                    q2 += v * s2[p]
                    q3 += v * s3[p]
                    q4 += v * s4[p]
                acc[o, t], acc[o, t + 1], acc[o, t + 2] = acc[o, t] + q0, acc[o, t + 1] + q1, acc[o, t + 2] + q2
                acc[o, t + 3], acc[o, t + 4] = acc[o, t + 3] + q3, acc[o, t + 4] + q4
                t += 5
            for t in range(t, kh * kw):
                src, s = buf[t], g.dtype.type(0)
                for p in range(P):
                    s += gr[p] * src[p]
                acc[o, t] += s
    return acc


def conv_one_channel_backward(grad: np.ndarray, x: np.ndarray, kh: int, kw: int) -> Tuple[np.ndarray, np.ndarray]:
    """d/dw [O, kh, kw] and d/dbias [O] of `conv_one_channel(x, w, bias)`, given its output's
    gradient [B, O, OH, OW]; per-image sums added in image order."""
    B, O = grad.shape[:2]
    g = np.ascontiguousarray(grad).reshape(B, O, -1)
    parts = for_rows(_conv_one_channel_grad_images, B, g.size * kh * kw * NS_PER_FMA, g, np.ascontiguousarray(x),
                     kh, kw)
    acc = sum_in_order(parts)
    return acc[:, :kh * kw].reshape(O, kh, kw), acc[:, kh * kw].copy()
