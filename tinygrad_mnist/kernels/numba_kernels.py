"""numba kernels: the fast twins of `numpy_kernels.py`, same names and signatures.

How they are built (the reasons are in docs/kernels.md):
- Each kernel body works on a contiguous range of rows (`*_rows`). Small inputs
  run it once on the calling thread; large ones run it from a `prange` over one
  chunk per thread (`*_par`), so a thread owns its rows and, for reductions,
  its own partial result. Partials are combined in chunk order, so the same
  thread count gives the same bits.
- Integer inputs (uint8 pixels) are converted one row at a time into a small
  float buffer, so the inner loops are pure float32 (or float64) and vectorise.
- fastmath is limited to flags that keep NaN and Inf meaningful: a NaN going in
  comes out as a NaN.
- Large float-by-float products go to BLAS through numpy, which is faster than
  anything hand-written here; the skinny and uint8 products of MNIST do not.
"""
from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from numba import prange

from .numpy_kernels import result_dtype

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Below this many elements of work, waking the thread pool costs more than it saves.
PARALLEL_MIN_WORK = 1 << 15
# Float products at least this large on every side go to BLAS.
BLAS_MIN_DIM = 32


def _jit(parallel: bool = False, fastmath=FASTMATH):
    def wrap(fn):
        try:
            return numba.njit(cache=True, fastmath=fastmath, parallel=parallel)(fn)
        except RuntimeError as err:  # no writable cache directory anywhere
            warnings.warn(f"numba cannot cache compiled kernels ({err}); they will be "
                          "compiled on every run. Set NUMBA_CACHE_DIR to a writable directory.",
                          RuntimeWarning, stacklevel=2)
            return numba.njit(cache=False, fastmath=fastmath, parallel=parallel)(fn)
    return wrap


def _threads(work: int) -> int:
    """How many chunks to split `work` elements into: 1 means run serially."""
    return numba.get_num_threads() if work >= PARALLEL_MIN_WORK else 1


@_jit()
def _bounds(c, nchunks, n):
    step = (n + nchunks - 1) // nchunks
    lo = min(n, c * step)
    return lo, min(n, lo + step)


# ---------------------------------------------------------------- matmul
# Three layouts cover a product and both its gradient products:
#   nt: a[M,K] @ b[N,K].T   (Linear forward; G @ B.T)   dot products of two contiguous rows
#   tn: a[K,M].T @ b[K,N]   (A.T @ G, dW = G.T @ X)      one axpy per (row, m), partial per thread
#   nn: a[M,K] @ b[K,N]                                  axpy along rows of b

@_jit()
def _load_rows(src, first, count, buf):
    """Convert rows first..first+count-1 of `src` into `buf` (float), element by element:
    an explicit loop vectorises, a converting slice assignment does not."""
    for r in range(count):
        for k in range(src.shape[1]):
            buf[r, k] = src[first + r, k]


@_jit()
def _nt_rows(a, b, scale, out, lo, hi):
    # Four rows of `a` share each load of a row of `b`: 5 loads per 4 FMAs, not 2 per 1.
    K, N = a.shape[1], b.shape[0]
    buf = np.empty((4, K), dtype=out.dtype)
    i = lo
    while i + 4 <= hi:
        _load_rows(a, i, 4, buf)
        for j in range(N):
            a0 = a1 = a2 = a3 = out.dtype.type(0)
            for k in range(K):
                w = b[j, k]
                a0 += buf[0, k] * w
                a1 += buf[1, k] * w
                a2 += buf[2, k] * w
                a3 += buf[3, k] * w
            out[i, j], out[i + 1, j], out[i + 2, j], out[i + 3, j] = a0 * scale, a1 * scale, a2 * scale, a3 * scale
        i += 4
    for i in range(i, hi):
        _load_rows(a, i, 1, buf)
        for j in range(N):
            acc = out.dtype.type(0)
            for k in range(K):
                acc += buf[0, k] * b[j, k]
            out[i, j] = acc * scale


@_jit(parallel=True)
def _nt_par(a, b, scale, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, a.shape[0])
        _nt_rows(a, b, scale, out, lo, hi)


@_jit()
def _tn_rows(a, b, out, lo, hi):
    # out += a[lo:hi].T @ b[lo:hi], four rows at a time: one load and store of `out` per 4 FMAs.
    M, N = a.shape[1], b.shape[1]
    buf = np.empty((4, N), dtype=out.dtype)
    k = lo
    while k + 4 <= hi:
        _load_rows(b, k, 4, buf)
        for m in range(M):
            g0, g1 = out.dtype.type(a[k, m]), out.dtype.type(a[k + 1, m])
            g2, g3 = out.dtype.type(a[k + 2, m]), out.dtype.type(a[k + 3, m])
            for n in range(N):
                out[m, n] += g0 * buf[0, n] + g1 * buf[1, n] + g2 * buf[2, n] + g3 * buf[3, n]
        k += 4
    for k in range(k, hi):
        _load_rows(b, k, 1, buf)
        for m in range(M):
            g = out.dtype.type(a[k, m])
            for n in range(N):
                out[m, n] += g * buf[0, n]


@_jit(parallel=True)
def _tn_par(a, b, partial):
    nchunks = partial.shape[0]
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, a.shape[0])
        _tn_rows(a, b, partial[c], lo, hi)


@_jit()
def _nn_rows(a, b, out, lo, hi):
    # b is float here (the caller converts it); a[i, k] scales row k of b into row i of out.
    for i in range(lo, hi):
        for k in range(a.shape[1]):
            aik = out.dtype.type(a[i, k])
            for n in range(b.shape[1]):
                out[i, n] += aik * b[k, n]


@_jit(parallel=True)
def _nn_par(a, b, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, a.shape[0])
        _nn_rows(a, b, out, lo, hi)


def _operand(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 stays uint8 (converted row by row inside the kernel); the rest becomes `dtype`."""
    return x if x.dtype == np.uint8 else x.astype(dtype, copy=False)


def matmul(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """`scale * (a @ b)` for 2-D arrays of any layout (a may be uint8)."""
    dtype = result_dtype(a, b)
    (M, K), N = a.shape, b.shape[1]
    if a.dtype == b.dtype == dtype and min(M, N, K) >= BLAS_MIN_DIM:
        out = a @ b
        if scale != 1.0:
            out *= dtype.type(scale)
        return out
    a, b = _operand(a, dtype), _operand(b, dtype)
    s = dtype.type(scale)
    nchunks = _threads(M * N * K // 8)
    if b.T.flags.c_contiguous and a.flags.c_contiguous:
        out = np.empty((M, N), dtype)
        if nchunks > 1:
            _nt_par(a, b.T, s, out, nchunks)
        else:
            _nt_rows(a, b.T, s, out, 0, M)
        return out
    if a.T.flags.c_contiguous:
        b = np.ascontiguousarray(b)
        partial = np.zeros((min(nchunks, K), M, N), dtype)
        if partial.shape[0] > 1:
            _tn_par(a.T, b, partial)
        else:
            _tn_rows(a.T, b, partial[0], 0, K)
        out = partial.sum(axis=0) if partial.shape[0] > 1 else partial[0]
    else:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b, dtype=dtype)
        out = np.zeros((M, N), dtype)
        if nchunks > 1:
            _nn_par(a, b, out, nchunks)
        else:
            _nn_rows(a, b, out, 0, M)
    if scale != 1.0:
        out *= s
    return out


# ---------------------------------------------------------------- log_softmax

@_jit(fastmath=False)  # reassociation would turn (x - m) - log s back into x - (m + log s)
def _log_softmax_rows(x, out, lo, hi):
    C = x.shape[1]
    for i in range(lo, hi):
        m = x[i, 0]
        for c in range(1, C):
            if x[i, c] > m:
                m = x[i, c]
        s = out.dtype.type(0)
        for c in range(C):
            s += math.exp(x[i, c] - m)
        log_s = math.log(s)
        for c in range(C):  # (x - m) - log s cancels nothing even at |x| ~ 1e4
            out[i, c] = (x[i, c] - m) - log_s


@_jit(parallel=True)
def _log_softmax_par(x, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, x.shape[0])
        _log_softmax_rows(x, out, lo, hi)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """`x - logsumexp(x)` along the last axis of a 2-D array, shifted by the row max."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    nchunks = _threads(x.size)
    if nchunks > 1:
        _log_softmax_par(x, out, nchunks)
    else:
        _log_softmax_rows(x, out, 0, x.shape[0])
    return out


@_jit()
def _log_softmax_backward_rows(grad, y, out, lo, hi):
    C = y.shape[1]
    for i in range(lo, hi):
        s = out.dtype.type(0)
        for c in range(C):
            s += grad[i, c]
        for c in range(C):
            out[i, c] = grad[i, c] - math.exp(y[i, c]) * s


@_jit(parallel=True)
def _log_softmax_backward_par(grad, y, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, y.shape[0])
        _log_softmax_backward_rows(grad, y, out, lo, hi)


def log_softmax_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dx of log_softmax given its output y: `grad - softmax * grad.sum(row)`."""
    grad, y = np.ascontiguousarray(grad, dtype=y.dtype), np.ascontiguousarray(y)
    out = np.empty_like(y)
    nchunks = _threads(y.size)
    if nchunks > 1:
        _log_softmax_backward_par(grad, y, out, nchunks)
    else:
        _log_softmax_backward_rows(grad, y, out, 0, y.shape[0])
    return out


# ---------------------------------------------------------------- nll

@_jit()
def _nll_rows(log_probs, targets, lo, hi):
    s = 0.0  # float64: a mean over 60,000 rows loses digits in float32
    for i in range(lo, hi):
        s -= log_probs[i, targets[i]]
    return s


@_jit(parallel=True)
def _nll_par(log_probs, targets, partial):
    nchunks = partial.shape[0]
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, log_probs.shape[0])
        partial[c] = _nll_rows(log_probs, targets, lo, hi)


def nll(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""
    log_probs, targets = np.ascontiguousarray(log_probs), np.ascontiguousarray(targets)
    n = log_probs.shape[0]
    nchunks = _threads(n * 8)
    if nchunks > 1:
        partial = np.zeros(nchunks)
        _nll_par(log_probs, targets, partial)
        total = 0.0
        for p in partial:  # in chunk order: same threads, same bits
            total += p
    else:
        total = _nll_rows(log_probs, targets, 0, n)
    return np.asarray(total / n, dtype=log_probs.dtype)


@_jit()
def _nll_backward_rows(value, targets, out):
    for i in range(targets.shape[0]):
        out[i, targets[i]] = value


def nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll / d log_probs: `-grad / N` at each row's target, zero elsewhere."""
    n = log_probs.shape[0]
    out = np.zeros_like(log_probs, order="C")
    _nll_backward_rows(log_probs.dtype.type(-grad / n), np.ascontiguousarray(targets), out)
    return out


@_jit()
def _softmax_nll_backward_rows(scale, targets, log_probs, out, lo, hi):
    for i in range(lo, hi):
        for c in range(log_probs.shape[1]):
            out[i, c] = math.exp(log_probs[i, c])
        out[i, targets[i]] -= 1
        for c in range(log_probs.shape[1]):
            out[i, c] *= scale


@_jit(parallel=True)
def _softmax_nll_backward_par(scale, targets, log_probs, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, log_probs.shape[0])
        _softmax_nll_backward_rows(scale, targets, log_probs, out, lo, hi)


def softmax_nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll(log_softmax(x)) / dx = `grad * (softmax - onehot) / N`, from log_softmax's output."""
    log_probs, targets = np.ascontiguousarray(log_probs), np.ascontiguousarray(targets)
    out = np.empty_like(log_probs)
    scale = log_probs.dtype.type(grad / log_probs.shape[0])
    nchunks = _threads(log_probs.size)
    if nchunks > 1:
        _softmax_nll_backward_par(scale, targets, log_probs, out, nchunks)
    else:
        _softmax_nll_backward_rows(scale, targets, log_probs, out, 0, log_probs.shape[0])
    return out


# ---------------------------------------------------------------- convolution and pooling (NCHW)
# Parallel over images: each thread writes only its own images' rows or planes.

from .numpy_kernels import conv_out_size  # noqa: E402  (shared shape arithmetic)


@_jit()
def _im2col_images(x, kh, kw, stride, padding, scale, out, lo, hi):
    _, C, H, W = x.shape
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    zero = out.dtype.type(0)
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                r = (b * OH + oh) * OW + ow
                col = 0
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - padding + i
                        for j in range(kw):
                            w = ow * stride - padding + j
                            if 0 <= h < H and 0 <= w < W:
                                out[r, col] = out.dtype.type(x[b, c, h, w]) * scale
                            else:
                                out[r, col] = zero
                            col += 1


@_jit(parallel=True)
def _im2col_par(x, kh, kw, stride, padding, scale, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, x.shape[0])
        _im2col_images(x, kh, kw, stride, padding, scale, out, lo, hi)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, dtype, scale: float = 1.0) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, C·kh·kw], times `scale`, in `dtype`."""
    x = np.ascontiguousarray(x)
    B, C, H, W = x.shape
    OH, OW = conv_out_size(H, kh, stride, padding), conv_out_size(W, kw, stride, padding)
    out = np.empty((B * OH * OW, C * kh * kw), dtype=dtype)
    s = out.dtype.type(scale)
    nchunks = min(_threads(out.size), B)
    if nchunks > 1:
        _im2col_par(x, kh, kw, stride, padding, s, out, nchunks)
    else:
        _im2col_images(x, kh, kw, stride, padding, s, out, 0, B)
    return out


@_jit()
def _col2im_images(cols, kh, kw, stride, padding, out, lo, hi):
    _, C, H, W = out.shape
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                r = (b * OH + oh) * OW + ow
                col = 0
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - padding + i
                        for j in range(kw):
                            w = ow * stride - padding + j
                            if 0 <= h < H and 0 <= w < W:
                                out[b, c, h, w] += cols[r, col]
                            col += 1


@_jit(parallel=True)
def _col2im_par(cols, kh, kw, stride, padding, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, out.shape[0])
        _col2im_images(cols, kh, kw, stride, padding, out, lo, hi)


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]."""
    cols = np.ascontiguousarray(cols)
    out = np.zeros(shape, dtype=cols.dtype)
    nchunks = min(_threads(cols.size), shape[0])
    if nchunks > 1:
        _col2im_par(cols, kh, kw, stride, padding, out, nchunks)
    else:
        _col2im_images(cols, kh, kw, stride, padding, out, 0, shape[0])
    return out


@_jit()
def _max_pool_images(x, k, stride, out, index, lo, hi):
    _, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for b in range(lo, hi):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    h0, w0 = oh * stride, ow * stride
                    m, at = x[b, c, h0, w0], h0 * W + w0
                    for i in range(k):
                        for j in range(k):
                            v = x[b, c, h0 + i, w0 + j]
                            if v > m or (v != v and m == m):  # first maximum wins; a NaN wins
                                m, at = v, (h0 + i) * W + w0 + j
                    out[b, c, oh, ow] = m
                    index[b, c, oh, ow] = at


@_jit(parallel=True)
def _max_pool_par(x, k, stride, out, index, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, x.shape[0])
        _max_pool_images(x, k, stride, out, index, lo, hi)


def max_pool2d(x: np.ndarray, k: int, stride: int):
    """Max over k×k windows of x [B, C, H, W]; also returns each maximum's flat index in its (H, W) plane."""
    x = np.ascontiguousarray(x)
    B, C, H, W = x.shape
    shape = (B, C, conv_out_size(H, k, stride, 0), conv_out_size(W, k, stride, 0))
    out, index = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    nchunks = min(_threads(x.size), B)
    if nchunks > 1:
        _max_pool_par(x, k, stride, out, index, nchunks)
    else:
        _max_pool_images(x, k, stride, out, index, 0, B)
    return out, index


@_jit()
def _max_pool_backward_images(grad, index, out, lo, hi):
    for b in range(lo, hi):
        for c in range(grad.shape[1]):
            for oh in range(grad.shape[2]):
                for ow in range(grad.shape[3]):
                    out[b, c, index[b, c, oh, ow]] += grad[b, c, oh, ow]


@_jit(parallel=True)
def _max_pool_backward_par(grad, index, out, nchunks):
    for c in prange(nchunks):
        lo, hi = _bounds(c, nchunks, grad.shape[0])
        _max_pool_backward_images(grad, index, out, lo, hi)


def max_pool2d_backward(grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
    """Route each window's gradient to its maximum (summed where windows overlap)."""
    grad = np.ascontiguousarray(grad)
    B, C, H, W = shape
    out = np.zeros((B, C, H * W), dtype=grad.dtype)
    nchunks = min(_threads(out.size), B)
    if nchunks > 1:
        _max_pool_backward_par(grad, index, out, nchunks)
    else:
        _max_pool_backward_images(grad, index, out, 0, B)
    return out.reshape(shape)
