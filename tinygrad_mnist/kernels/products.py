"""Dense matrix products: `matmul(a, b, scale)` = `scale · a @ b` for 2-D arrays.

Large float-by-float products go to BLAS through numpy, which is faster than
anything hand-written here. The rest (MNIST's uint8 pixels against float
weights, and products with a side under 16) take one of three kernels, by the
operands' memory layout, which covers a product and both its gradient products:

    nt: a[M,K] @ b[N,K].T   (Linear forward; G @ B.T)   dot products of two contiguous rows
    tn: a[K,M].T @ b[K,N]   (A.T @ G, dW = G.T @ X)      one axpy per (row, m), a partial per thread
    nn: a[M,K] @ b[K,N]                                  axpy along rows of b

uint8 rows are converted into a small float buffer one at a time, so the inner
loops are pure float32 (or float64) and vectorise; `scale` is applied to each
finished sum, so `matmul(x, w, 1/255)` equals `(x/255) @ w` to float32 rounding
without a float copy of the pixels.
"""
from __future__ import annotations

import numpy as np

from .numpy_kernels import result_dtype
from .pool import for_rows, jit, sum_in_order

NS_PER_FMA = 1 / 32   # the kernels run about 32 multiply-adds per ns on one core
# Float-by-float products with both output sides at least this large go to BLAS, whatever
# their inner size (conv1's K = 25, the MLP's G @ W2 with K = 10: 1.2 ms against 3.6 ms).
BLAS_MIN_DIM = 16


@jit()
def _load_rows(src, first, count, buf):
    """Convert rows first..first+count-1 of `src` into `buf` (float), element by element:
    an explicit loop vectorises, a converting slice assignment does not."""
    for r in range(count):
        for k in range(src.shape[1]):
            buf[r, k] = src[first + r, k]


@jit()
def _nt_rows(a, b, scale, out, lo, hi):
    # Two rows of `a` against ten rows of `b` at a time, the twenty sums held in registers and
    # vectorised along K: 12 loads per 20 FMAs. `b` has a multiple of ten rows (zero-padded).
    K, NP, N = a.shape[1], b.shape[0], out.shape[1]
    buf = np.zeros((2, K), dtype=out.dtype)
    res = np.empty((2, NP), dtype=out.dtype)
    for i in range(lo, hi, 2):
        rows = min(2, hi - i)
        _load_rows(a, i, rows, buf)  # a lone last row leaves buf[1] stale: its sums are dropped
        for j in range(0, NP, 10):
            p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = p8 = p9 = q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = q8 = q9 = out.dtype.type(0)
            for k in range(K):
                x, y = buf[0, k], buf[1, k]
                w = b[j + 0, k]
                p0 += x * w
                q0 += y * w
                w = b[j + 1, k]
                p1 += x * w
                q1 += y * w
                w = b[j + 2, k]
                p2 += x * w
                q2 += y * w
                w = b[j + 3, k]
                p3 += x * w
                q3 += y * w
                w = b[j + 4, k]
                p4 += x * w
                q4 += y * w
                w = b[j + 5, k]
                p5 += x * w
                q5 += y * w
                w = b[j + 6, k]
                p6 += x * w
                q6 += y * w
                w = b[j + 7, k]
                p7 += x * w
                q7 += y * w
                w = b[j + 8, k]
                p8 += x * w
                q8 += y * w
                w = b[j + 9, k]
                p9 += x * w
                q9 += y * w
            res[0, j + 0], res[1, j + 0] = p0, q0
            res[0, j + 1], res[1, j + 1] = p1, q1
            res[0, j + 2], res[1, j + 2] = p2, q2
            res[0, j + 3], res[1, j + 3] = p3, q3
            res[0, j + 4], res[1, j + 4] = p4, q4
            res[0, j + 5], res[1, j + 5] = p5, q5
            res[0, j + 6], res[1, j + 6] = p6, q6
            res[0, j + 7], res[1, j + 7] = p7, q7
            res[0, j + 8], res[1, j + 8] = p8, q8
            res[0, j + 9], res[1, j + 9] = p9, q9
        for r in range(rows):
            for n in range(N):
                out[i + r, n] = res[r, n] * scale


@jit()
def _tn_rows(a, b, dtype_of, lo, hi):
    # a[lo:hi].T @ b[lo:hi], four rows at a time: one load and store of the partial per 4 FMAs.
    M, N = a.shape[1], b.shape[1]
    out = np.zeros((M, N), dtype=dtype_of.dtype)
    buf = np.empty((4, N), dtype=dtype_of.dtype)
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
    return out


@jit()
def _nn_rows(a, b, out, lo, hi):
    # b is float here (the caller converts it); a[i, k] scales row k of b into row i of out.
    for i in range(lo, hi):
        for k in range(a.shape[1]):
            aik = out.dtype.type(a[i, k])
            for n in range(b.shape[1]):
                out[i, n] += aik * b[k, n]


def _operand(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 stays uint8 (converted row by row inside the kernel); the rest becomes `dtype`."""
    return x if x.dtype == np.uint8 else x.astype(dtype, copy=False)


def matmul(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """`scale * (a @ b)` for 2-D arrays of any layout (a may be uint8)."""
    dtype = result_dtype(a, b)
    (M, K), N = a.shape, b.shape[1]
    if a.dtype == b.dtype == dtype and min(M, N) >= BLAS_MIN_DIM:
        out = a @ b
        if scale != 1.0:
            out *= dtype.type(scale)
        return out
    a, b = _operand(a, dtype), _operand(b, dtype)
    s = dtype.type(scale)
    if b.T.flags.c_contiguous and a.flags.c_contiguous:
        bt = b.T
        if N % 10:  # the kernel takes rows of b.T ten at a time
            bt = np.zeros((N + 10 - N % 10, K), dtype)
            bt[:N] = b.T
        out = np.empty((M, N), dtype)
        for_rows(_nt_rows, M, M * N * K * NS_PER_FMA, a, bt, s, out)
        return out
    elif a.T.flags.c_contiguous:
        b = np.ascontiguousarray(b)
        out = sum_in_order(for_rows(_tn_rows, K, M * N * K * NS_PER_FMA, a.T, b, np.empty(0, dtype)))
    else:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b, dtype=dtype)
        out = np.zeros((M, N), dtype)
        for_rows(_nn_rows, M, M * N * K * NS_PER_FMA, a, b, out)
    if scale != 1.0:
        out *= s
    return out
