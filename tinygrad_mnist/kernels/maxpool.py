"""Max-pooling on NCHW arrays and its gradient. Parallel over images: each thread writes only its
own images' planes."""
from __future__ import annotations

import numpy as np

from .pool import for_rows, jit

# Estimated single-thread ns per input element of a pool, and per element of its gradient, as
# measured on the CNN's pools (1.6-2.2 and 0.8): below these, the second pool's 0.6 ms stayed
# on one thread.
NS_PER_INPUT = 2.0
NS_PER_GRAD = 0.8


@jit()
def _taps(o, stride, padding, k, size, d):
    """The taps (lo..hi-1) of window o, placed at o·stride − padding with taps d apart, that lie
    inside 0..size-1 (a kernel calls compiled helpers of its own file only: numba caches each
    file apart)."""
    start = o * stride - padding
    lo = max(0, (-start + d - 1) // d)
    return lo, max(lo, min(k, (size - start + d - 1) // d))


@jit()
def _max_pool_images(x, kh, kw, sh, sw, ph, pw, dh, dw, out, index, lo, hi):
    # The first maximum of a window wins, and a NaN beats everything (as in PyTorch); padding
    # never wins. Selects, not branches: the comparisons depend on the data and would
    # mispredict half the time.
    H, W = x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for b in range(lo, hi):
        for c in range(x.shape[1]):
            plane, o, ix = x[b, c], out[b, c], index[b, c]
            for oh in range(OH):
                h0 = oh * sh - ph
                ilo, ihi = _taps(oh, sh, ph, kh, H, dh)
                for ow in range(OW):
                    w0 = ow * sw - pw
                    jlo, jhi = _taps(ow, sw, pw, kw, W, dw)
                    m, at = plane[h0 + ilo * dh, w0 + jlo * dw], (h0 + ilo * dh) * W + w0 + jlo * dw
                    for i in range(ilo, ihi):
                        for j in range(jlo, jhi):
                            v = plane[h0 + i * dh, w0 + j * dw]
                            take = (v > m) | ((v != v) & (m == m))
                            m = v if take else m
                            at = (h0 + i * dh) * W + w0 + j * dw if take else at
                    o[oh, ow] = m
                    ix[oh, ow] = at


@jit()
def _max_pool_inside_images(x, kh, kw, sh, sw, dh, dw, out, index, lo, hi):
    # Every window lies inside its plane (no padding, none cut off), so there are no bounds to
    # find, and the planes are walked as flat arrays: 1.5x faster than _max_pool_images on
    # Candle's first pool (3.4 -> 2.2 ms, one thread). The taps are visited in the same order,
    # so the maxima and their indices are the same.
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    xs, ys, ixs = x.reshape(-1), out.reshape(-1), index.reshape(-1)
    for p in range(lo * C, hi * C):  # the planes of images lo..hi-1
        src, dst = p * H * W, p * OH * OW
        for oh in range(OH):
            for ow in range(OW):
                at = oh * sh * W + ow * sw
                m, best = xs[src + at], at
                for i in range(kh):
                    for j in range(kw):
                        a = at + i * dh * W + j * dw
                        v = xs[src + a]
                        take = (v > m) | ((v != v) & (m == m))
                        m = v if take else m
                        best = a if take else best
                ys[dst + oh * OW + ow] = m
                ixs[dst + oh * OW + ow] = best


@jit()
def _max_pool_2x2_images(x, out, index, lo, hi):
    # The CNN's pools: 2×2 windows at stride 2, all inside. The four taps as four loads, and the
    # winner as an offset within the window (0, 1, W, W+1) picked by selects: 1.8x faster than
    # _max_pool_inside_images on Candle's first pool (2.56 -> 1.45 ms, one thread). The same taps
    # in the same order, so the same maxima and indices.
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    xs, ys, ixs = x.reshape(-1), out.reshape(-1), index.reshape(-1)
    for p in range(lo * C, hi * C):
        src, dst = p * H * W, p * OH * OW
        for oh in range(OH):
            top, row = src + 2 * oh * W, dst + oh * OW
            for ow in range(OW):
                a0 = top + 2 * ow
                m, off = xs[a0], 0
                for tap in (1, W, W + 1):
                    v = xs[a0 + tap]
                    take = (v > m) | ((v != v) & (m == m))
                    m = v if take else m
                    off = tap if take else off
                ys[row + ow] = m
                ixs[row + ow] = 2 * oh * W + 2 * ow + off


def max_pool2d(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, out_size: tuple,
               dilation: tuple = (1, 1)):
    """Max over kh×kw windows of x [B, C, H, W] (taps `dilation` apart) placed `stride` apart
    from `-padding`, `out_size` of them; padding never wins. Also returns each maximum's flat
    index in its (H, W) plane."""
    B, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    shape = (B, C) + tuple(out_size)
    out, index = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = kernel, stride, dilation, out_size
    inside = tuple(padding) == (0, 0) and (OH - 1) * sh + dh * (kh - 1) < H and (OW - 1) * sw + dw * (kw - 1) < W
    if inside and (kh, kw) == (sh, sw) == (2, 2) and (dh, dw) == (1, 1):
        for_rows(_max_pool_2x2_images, B, x.size * NS_PER_INPUT, x, out, index)
    elif inside:
        for_rows(_max_pool_inside_images, B, x.size * NS_PER_INPUT, x, kh, kw, sh, sw, dh, dw, out, index)
    else:
        for_rows(_max_pool_images, B, x.size * NS_PER_INPUT, x, *kernel, *stride, *padding, dh, dw, out, index)
    return out, index


@jit()
def _max_pool_backward_images(grad, index, out, lo, hi):
    for b in range(lo, hi):
        for c in range(out.shape[1]):  # each thread clears its own images (np.zeros is one thread)
            for n in range(out.shape[2]):
                out[b, c, n] = 0
        for c in range(grad.shape[1]):
            for oh in range(grad.shape[2]):
                for ow in range(grad.shape[3]):
                    out[b, c, index[b, c, oh, ow]] += grad[b, c, oh, ow]


def max_pool2d_backward(grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
    """Route each window's gradient to its maximum (summed where windows overlap)."""
    B, C, H, W = shape
    grad = np.ascontiguousarray(grad)
    out = np.empty((B, C, H * W), dtype=grad.dtype)
    for_rows(_max_pool_backward_images, B, out.size * NS_PER_GRAD, grad, np.ascontiguousarray(index), out)
    return out.reshape(shape)
