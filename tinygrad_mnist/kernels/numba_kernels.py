"""numba kernels: the fast twins of `numpy_kernels.py`, same names and signatures.

How they are built (the reasons are in docs/kernels.md):
- Each kernel body is a plain compiled function over a contiguous range of
  rows (`*_rows(..., lo, hi)`) that releases the GIL. Small inputs run it once
  on the calling thread; large ones are split into one chunk per thread and run
  on a small pool of Python threads (`_for_rows`). A reduction returns one
  partial result per chunk, combined in chunk order: the same thread count
  gives the same bits. Pool threads block when idle instead of spinning, so
  they do not steal the cores BLAS is using.
- Integer inputs (uint8 pixels) are converted one row at a time into a small
  float buffer, so the inner loops are pure float32 (or float64) and vectorise.
- A large read-only uint8 array (a dataset's images) gets a CSR index of its
  non-zero pixels the first time it is used, kept as long as the array lives:
  about a fifth of MNIST's pixels are ink, so products through the index do a
  fifth of the work. Their inner loops are the 16-lane vector operations of
  `simd.py`. Writable arrays could change under an index, so they always take
  the dense path.
- A network's last layer and its cross-entropy are one pass over the pixels
  (`linear_cross_entropy`); convolutions keep their output channels-last.
- fastmath is limited to flags that keep NaN and Inf meaningful: a NaN going in
  comes out as a NaN.
- Large float-by-float products go to BLAS through numpy, which is faster than
  anything hand-written here; the skinny and uint8 products of MNIST do not.
"""
from __future__ import annotations

import math
import os
import sys
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, NamedTuple, Optional

import numba
import numpy as np

from . import numpy_kernels
from .numpy_kernels import conv_out_size, result_dtype
from .simd import LANES, axpy_lanes, ce_lanes, dot_lanes

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Work is estimated as single-thread nanoseconds. Below half a millisecond, handing chunks to
# other threads costs more than it saves: waking an idle thread takes 0.05 to 0.2 ms here.
PARALLEL_MIN_WORK = 500_000
NS_PER_FMA = 1 / 32   # the dense kernels run about 32 multiply-adds per ns on one core
NS_PER_EXP = 3.0      # per element of the exp/log kernels
NS_PER_COPY = 0.5     # per element moved by im2col, col2im, pooling, the CSR build
# Float-by-float products with both output sides at least this large go to BLAS, whatever
# their inner size (conv1's K = 25, the MLP's G @ W2 with K = 10: 1.2 ms against 3.6 ms).
BLAS_MIN_DIM = 16
# A read-only uint8 array with at least this many rows, and at most this fraction of
# non-zero entries, is multiplied through a CSR index (MNIST's forward at 10 outputs: 2.8 ms
# against 6.5 ms for the register-blocked dense kernel).
SPARSE_MIN_ROWS = 4096
SPARSE_MAX_DENSITY = 0.5
NS_PER_LANE_BLOCK = 0.5  # one non-zero times one 16-lane block of outputs, one core


def _jit(fastmath=FASTMATH):
    def wrap(fn):
        options = dict(fastmath=fastmath, nogil=True)
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as err:  # no writable cache directory anywhere
            warnings.warn(f"numba cannot cache compiled kernels ({err}); they will be "
                          "compiled on every run. Set NUMBA_CACHE_DIR to a writable directory.",
                          RuntimeWarning, stacklevel=2)
            return numba.njit(cache=False, **options)(fn)
    return wrap


# ---------------------------------------------------------------- threads

_threads = max(1, min(numba.config.NUMBA_NUM_THREADS, os.cpu_count() or 1))
_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def set_num_threads(n: int) -> None:
    """Use `n` threads (the calling one included) for large kernels."""
    global _threads, _pool
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    with _pool_lock:
        if _pool is not None and n != _threads:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = n


def get_num_threads() -> int:
    return _threads


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="tinygrad_mnist")
        return _pool


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when next needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _for_rows(kernel: Callable, n: int, work: float, *args) -> List:
    """Run `kernel(*args, lo, hi)` over rows 0..n: at once, or in one chunk per thread when
    `work` (estimated ns on one thread) is large. Returns each chunk's result, in chunk order."""
    nchunks = min(_threads, n) if work >= PARALLEL_MIN_WORK else 1
    if nchunks <= 1:
        return [kernel(*args, 0, n)]
    step = -(-n // nchunks)
    bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    pool = _get_pool()
    futures = [pool.submit(kernel, *args, lo, hi) for lo, hi in bounds[1:]]
    first = kernel(*args, *bounds[0])  # the calling thread takes a chunk too
    return [first] + [f.result() for f in futures]


def _sum_in_order(parts: List[np.ndarray]) -> np.ndarray:
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total


# ---------------------------------------------------------------- dense matmul
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


@_jit()
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


@_jit()
def _nn_rows(a, b, out, lo, hi):
    # b is float here (the caller converts it); a[i, k] scales row k of b into row i of out.
    for i in range(lo, hi):
        for k in range(a.shape[1]):
            aik = out.dtype.type(a[i, k])
            for n in range(b.shape[1]):
                out[i, n] += aik * b[k, n]


# ---------------------------------------------------------------- sparse (CSR) matmul

class CSR(NamedTuple):
    indptr: np.ndarray   # int64 [rows + 1]
    indices: np.ndarray  # uint16 column of each non-zero
    values: np.ndarray   # uint8 value of each non-zero


@_jit()
def _count_rows(x, lo, hi):
    counts = np.zeros(hi - lo, dtype=np.int64)
    for i in range(lo, hi):
        c = 0
        for k in range(x.shape[1]):
            if x[i, k] != 0:
                c += 1
        counts[i - lo] = c
    return counts


@_jit()
def _fill_rows(x, indptr, indices, values, lo, hi):
    for i in range(lo, hi):
        p = indptr[i]
        for k in range(x.shape[1]):
            if x[i, k] != 0:
                indices[p] = k
                values[p] = x[i, k]
                p += 1


def build_csr(x: np.ndarray) -> CSR:
    """The CSR index of a 2-D uint8 array (at most 65,536 columns)."""
    counts = np.concatenate(_for_rows(_count_rows, x.shape[0], x.size * NS_PER_COPY, x))
    indptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices, values = np.empty(indptr[-1], np.uint16), np.empty(indptr[-1], np.uint8)
    _for_rows(_fill_rows, x.shape[0], x.size * NS_PER_COPY, x, indptr, indices, values)
    return CSR(indptr, indices, values)


class SparseRows(NamedTuple):
    """The rows of a CSR index an array holds: row0 .. row0 + len - 1, or the listed `rowmap`."""
    csr: CSR
    row0: int
    rowmap: np.ndarray  # int64 row ids; empty for a contiguous range

    def args(self) -> tuple:
        return self.csr.indptr, self.csr.indices, self.csr.values, self.row0, self.rowmap

    def work(self, rows: int, width: int) -> float:
        """Estimated single-thread ns to multiply `rows` of these rows by `width` outputs."""
        per_row = len(self.csr.values) / max(1, len(self.csr.indptr) - 1)
        return rows * per_row * -(-width // LANES) * NS_PER_LANE_BLOCK


_NO_ROWMAP = np.zeros(0, np.int64)
_csr_cache: dict = {}  # id(root array) -> (weakref to it, CSR or None when too dense)
_taken: dict = {}      # id(array from take_rows) -> (weakref to it, SparseRows)


@_jit()
def _argmax_rows(x, out, lo, hi):
    for i in range(lo, hi):
        m, at = x[i, 0], 0
        for k in range(1, x.shape[1]):
            v = x[i, k]
            if v > m or (v != v and m == m):  # the first maximum; the first NaN beats everything
                m, at = v, k
        out[i] = at


def argmax(x: np.ndarray, axis=None) -> np.ndarray:
    """Index of the largest element along `axis` (the first one; a NaN counts as largest).
    Rows of a 2-D float array (predictions from logits) take a kernel: numpy's argmax along
    a short last axis costs 0.26 ms for MNIST's 10,000 test rows."""
    if x.ndim != 2 or axis not in (1, -1) or x.dtype.kind != "f" or x.shape[1] == 0:
        return np.argmax(x, axis=axis)
    out = np.empty(x.shape[0], np.int64)
    _for_rows(_argmax_rows, x.shape[0], x.size * NS_PER_COPY, x, out)
    return out


def prepare(x: np.ndarray) -> None:
    """Build now whatever the kernels keep for the read-only array x: its CSR index, if it
    gets one (the trainer does this while the kernels load, instead of in the first epoch)."""
    _sparse_view(x)


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`x[rows]` for an integer array of row ids. A minibatch gathered from a dataset's pixels
    keeps their CSR index: the (read-only) result remembers which of its rows it holds."""
    out = x[rows]
    sx = _sparse_view(x) if rows.ndim == 1 and x.ndim == 2 else None
    if sx is not None and len(rows):
        ids = rows.astype(np.int64)
        ids[ids < 0] += x.shape[0]  # numpy's negative ids count from the end
        ids = sx.rowmap[ids] if sx.rowmap.size else ids + sx.row0
        out.setflags(write=False)
        _taken[id(out)] = (weakref.ref(out, lambda _, key=id(out): _taken.pop(key, None)),
                           SparseRows(sx.csr, 0, ids))
    return out


def _sparse_view(x: np.ndarray) -> Optional[SparseRows]:
    """Where the read-only array `x`'s rows are in a CSR index: a row range of the array it is
    a view of, or the rows `take_rows` gathered it from. None if it has no index."""
    entry = _taken.get(id(x))
    if entry is not None and entry[0]() is x:
        return entry[1]
    if x.dtype != np.uint8 or x.ndim != 2 or not x.flags.c_contiguous or x.shape[1] > 65536:
        return None
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root.flags.writeable or not root.flags.c_contiguous or root.size < SPARSE_MIN_ROWS * x.shape[1]:
        return None
    offset = x.ctypes.data - root.ctypes.data
    if root.size % x.shape[1] or offset % x.shape[1]:
        return None
    entry = _csr_cache.get(id(root))
    if entry is None or entry[0]() is not root:
        rows = root.reshape(-1, x.shape[1])
        csr = build_csr(rows)
        if len(csr.values) > SPARSE_MAX_DENSITY * rows.size:
            csr = None
        entry = (weakref.ref(root, lambda _, key=id(root): _csr_cache.pop(key, None)), csr)
        _csr_cache[id(root)] = entry
    return None if entry[1] is None else SparseRows(entry[1], offset // x.shape[1], _NO_ROWMAP)


_scratch = threading.local()


def lane_padded(b: np.ndarray, dtype) -> np.ndarray:
    """`b` [K, N] copied into a zeroed [K, N rounded up to 16] array on a 64-byte boundary,
    so every 16-lane block of a row is one aligned vector. For the duration of one kernel
    call: the next call on this thread with the same shape reuses the buffer (its padding
    columns are still zero), which saves the allocation and its page faults on every step."""
    key = (b.shape, np.dtype(dtype))
    if not hasattr(_scratch, "padded"):
        _scratch.padded = {}
    buf = _scratch.padded.get(key)
    if buf is None:
        if len(_scratch.padded) >= 8:  # a few layers' shapes; forget them all past that
            _scratch.padded.clear()
        cols = -(-b.shape[1] // LANES) * LANES
        buf = _scratch.padded[key] = _aligned_zeros(b.shape[0], cols, np.empty(0, dtype))
    buf[:, :b.shape[1]] = b
    return buf


@_jit()
def _aligned_zeros(rows, cols, like):
    """A zeroed [rows, cols] array of `like`'s dtype starting on a 64-byte boundary (a thread's
    partial sum, padded weights), so no 16-lane block straddles two cache lines."""
    buf = np.zeros(rows * cols + 64 // like.itemsize, like.dtype)
    skip = (-buf.ctypes.data % 64) // like.itemsize
    return buf[skip:skip + rows * cols].reshape(rows, cols)


@_jit()
def _span(indptr, row0, rowmap, i):
    """The non-zeros (start, stop) of the i-th row of a SparseRows."""
    r = rowmap[i] if rowmap.size else row0 + i
    return indptr[r], indptr[r + 1]


# Rows are taken CHUNK at a time, and within a chunk one 16-column block of the weights at a
# time: the block [K, 16] (50 KB for MNIST) stays near L1 while the chunk's rows run over it,
# where all blocks at once (350 KB at 100 outputs) would miss L1 on every non-zero.
CHUNK = 256


@_jit()
def _csr_nn_rows(indptr, indices, values, row0, rowmap, b, scale, out, lo, hi):
    # out[i] = scale · Σ_p values[p] · b[indices[p]] over the non-zeros p of row i;
    # b is lane-padded [K, NP].
    NP, N = b.shape[1], out.shape[1]
    table, acc = np.arange(256).astype(b.dtype), np.empty(CHUNK * NP, b.dtype)
    for first in range(lo, hi, CHUNK):
        last = min(first + CHUNK, hi)
        for c in range(0, NP, LANES):
            for i in range(first, last):
                start, stop = _span(indptr, row0, rowmap, i)
                dot_lanes(indices, values, start, stop, table, b, c, acc, (i - first) * NP + c)
        for i in range(first, last):
            for n in range(N):
                out[i, n] = acc[(i - first) * NP + n] * scale


@_jit()
def _csr_tn_rows(indptr, indices, values, row0, rowmap, g, cols, lo, hi):
    # x[lo:hi].T @ g[lo:hi] for the sparse x: each non-zero adds a scaled row of g to row
    # indices[p] of this thread's lane-padded partial [cols, MP].
    M = g.shape[1]
    MP = -(-M // LANES) * LANES
    out = _aligned_zeros(cols, MP, g)
    table, grows = np.arange(256).astype(g.dtype), np.zeros(CHUNK * MP, g.dtype)
    for first in range(lo, hi, CHUNK):
        last = min(first + CHUNK, hi)
        for i in range(first, last):
            grows[(i - first) * MP:(i - first) * MP + M] = g[i]
        for c in range(0, MP, LANES):
            for i in range(first, last):
                start, stop = _span(indptr, row0, rowmap, i)
                axpy_lanes(indices, values, start, stop, table, grows, (i - first) * MP + c, out, c)
    return out


def _sparse_matmul(sx: SparseRows, rows: int, b: np.ndarray, s) -> np.ndarray:
    """x @ b for the sparse x (rows × K) and a dense b [K, N]."""
    out = np.empty((rows, b.shape[1]), dtype=b.dtype)
    _for_rows(_csr_nn_rows, rows, sx.work(rows, b.shape[1]), *sx.args(), lane_padded(b, b.dtype), s, out)
    return out


def _sparse_t_matmul(sx: SparseRows, cols: int, g: np.ndarray, s, transpose: bool) -> np.ndarray:
    """s · x.T @ g for the sparse x (rows × cols) and a dense g [rows, M], or its transpose
    s · g.T @ x; either way one pass from the lane-padded partials to the result."""
    g = np.ascontiguousarray(g)
    parts = _for_rows(_csr_tn_rows, len(g), sx.work(len(g), g.shape[1]), *sx.args(), g, cols)
    total = _sum_in_order(parts)[:, :g.shape[1]]
    total = total.T if transpose else total
    return np.multiply(total, s, out=np.empty(total.shape, total.dtype))


# ---------------------------------------------------------------- matmul

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
    if a.dtype == np.uint8 and (sx := _sparse_view(a)) is not None:          # X @ B
        return _sparse_matmul(sx, M, b.astype(dtype, copy=False), s)
    if a.dtype == np.uint8 and (sx := _sparse_view(a.T)) is not None:        # X.T @ G
        return _sparse_t_matmul(sx, M, b.astype(dtype, copy=False), s, False)
    if b.dtype == np.uint8 and (sx := _sparse_view(b)) is not None:          # G.T @ X
        return _sparse_t_matmul(sx, N, a.T.astype(dtype, copy=False), s, True)
    if b.T.flags.c_contiguous and a.flags.c_contiguous:
        bt = b.T
        if N % 10:  # the kernel takes rows of b.T ten at a time
            bt = np.zeros((N + 10 - N % 10, K), dtype)
            bt[:N] = b.T
        out = np.empty((M, N), dtype)
        _for_rows(_nt_rows, M, M * N * K * NS_PER_FMA, a, bt, s, out)
        return out
    elif a.T.flags.c_contiguous:
        b = np.ascontiguousarray(b)
        out = _sum_in_order(_for_rows(_tn_rows, K, M * N * K * NS_PER_FMA, a.T, b, np.empty(0, dtype)))
    else:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b, dtype=dtype)
        out = np.zeros((M, N), dtype)
        _for_rows(_nn_rows, M, M * N * K * NS_PER_FMA, a, b, out)
    if scale != 1.0:
        out *= s
    return out


# ---------------------------------------------------------------- relu

@_jit()
def _relu_rows(x, out, lo, hi):
    zero = x.dtype.type(0)
    for i in range(lo, hi):
        v = x[i]
        out[i] = v if (v > zero or v != v) else zero


@_jit()
def _relu_backward_rows(grad, y, out, lo, hi):
    zero, one = grad.dtype.type(0), grad.dtype.type(1)
    for i in range(lo, hi):
        out[i] = grad[i] * (one if y[i] > zero else zero)


def _flat_pair(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype.kind == "f" and a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous \
        and b.flags.c_contiguous


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise (NaN stays NaN). One pass on the thread pool: an MLP's hidden
    layer is 6 M values per full batch, 3.2 ms through numpy."""
    if not _flat_pair(x, x):
        return numpy_kernels.relu(x)
    out = np.empty_like(x)
    _for_rows(_relu_rows, x.size, x.size * NS_PER_COPY, x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad where relu's output y > 0, else 0 (as grad · [y > 0]: a NaN gradient stays NaN)."""
    if not _flat_pair(grad, y):
        return numpy_kernels.relu_backward(grad, y)
    out = np.empty_like(grad)
    _for_rows(_relu_backward_rows, y.size, y.size * NS_PER_COPY, grad.reshape(-1), y.reshape(-1), out.reshape(-1))
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


def log_softmax(x: np.ndarray) -> np.ndarray:
    """`x - logsumexp(x)` along the last axis of a 2-D array, shifted by the row max."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _for_rows(_log_softmax_rows, x.shape[0], x.size * NS_PER_EXP, x, out)
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


def log_softmax_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dx of log_softmax given its output y: `grad - softmax * grad.sum(row)`."""
    grad, y = np.ascontiguousarray(grad, dtype=y.dtype), np.ascontiguousarray(y)
    out = np.empty_like(y)
    _for_rows(_log_softmax_backward_rows, y.shape[0], y.size * NS_PER_EXP, grad, y, out)
    return out


# ---------------------------------------------------------------- nll

@_jit()
def _nll_rows(log_probs, targets, lo, hi):
    s = 0.0  # float64: a mean over 60,000 rows loses digits in float32
    for i in range(lo, hi):
        s -= log_probs[i, targets[i]]
    return s


def nll(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""
    log_probs, targets = np.ascontiguousarray(log_probs), np.ascontiguousarray(targets)
    n = log_probs.shape[0]
    total = 0.0
    for part in _for_rows(_nll_rows, n, n * NS_PER_COPY, log_probs, targets):  # in chunk order: same bits
        total += part
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


def softmax_nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll(log_softmax(x)) / dx = `grad * (softmax - onehot) / N`, from log_softmax's output."""
    log_probs, targets = np.ascontiguousarray(log_probs), np.ascontiguousarray(targets)
    out = np.empty_like(log_probs)
    scale = log_probs.dtype.type(grad / log_probs.shape[0])
    _for_rows(_softmax_nll_backward_rows, log_probs.shape[0], log_probs.size * NS_PER_EXP, scale, targets,
              log_probs, out)
    return out


# ---------------------------------------------------------------- fused linear + cross-entropy

@_jit(fastmath=False)  # ce_lanes' exp must run as written
def _csr_linear_ce_rows(indptr, indices, values, row0, rowmap, wt, bias, targets, scale, inv_n, want_grad,
                        shift, sums, lo, hi):
    # Per row: its products with the weights (dot_lanes), its loss terms and gradient row g
    # (ce_lanes, which also adds g into db), then g's outer product with the row into this
    # thread's dW.T (axpy_lanes) while the row's non-zeros are still in L1.
    dwt = _aligned_zeros(wt.shape[0] if want_grad else 0, LANES, wt)
    db, z, g = np.zeros(LANES, wt.dtype), np.zeros(LANES, wt.dtype), np.zeros(LANES, wt.dtype)
    table = np.arange(256).astype(wt.dtype)
    for i in range(lo, hi):
        start, stop = _span(indptr, row0, rowmap, i)
        dot_lanes(indices, values, start, stop, table, wt, 0, z, 0)
        shift[i], sums[i] = ce_lanes(z, bias, scale, targets[i], inv_n, g, db)
        if want_grad:
            axpy_lanes(indices, values, start, stop, table, g, 0, dwt, 0)
    return dwt, db


def linear_cross_entropy(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray], targets: np.ndarray,
                         scale: float = 1.0, grads=(False, False, False)):
    """`cross_entropy(scale * x @ w.T + b, targets)` and the gradients `grads` asks for (x, w, b):
    (loss, dx, dw, db), None where not asked. See the numpy twin for the formulas.

    Through a CSR index (x a dataset's read-only pixels, at most 16 classes) it is one pass
    over x: each row's logits, softmax, loss and gradient are done while its non-zeros are in
    L1. Anything else is the composition of the other kernels."""
    dtype, N = result_dtype(x, w), w.shape[0]
    if (grads[0] or N > LANES or x.dtype != np.uint8 or w.dtype != dtype
            or (sx := _sparse_view(x)) is None):
        return numpy_kernels.compose_linear_cross_entropy(sys.modules[__name__], x, w, b, targets, scale, grads)
    rows = x.shape[0]
    bias = np.full(LANES, -np.inf, dtype)  # padding classes get probability 0
    bias[:N] = 0 if b is None else b
    want = bool(grads[1] or grads[2])
    shift, sums = np.empty(rows, dtype), np.empty(rows, dtype)
    work = sx.work(rows, N) * (2 if want else 1) + rows * NS_PER_EXP * 4
    parts = _for_rows(_csr_linear_ce_rows, rows, work, *sx.args(), lane_padded(w.T, dtype), bias,
                      np.ascontiguousarray(targets), dtype.type(scale), dtype.type(1 / rows), want, shift, sums)
    with np.errstate(divide="ignore", invalid="ignore"):  # a NaN or inf weight gives a NaN loss
        loss = np.asarray((np.log(sums) + shift).sum(dtype=np.float64) / rows, dtype)
    if not want:
        return loss, None, None, None
    dw = np.ascontiguousarray(_sum_in_order([p[0] for p in parts])[:, :N].T) if grads[1] else None
    db = _sum_in_order([p[1] for p in parts])[:N].copy() if grads[2] and b is not None else None
    return loss, None, dw, db


# ---------------------------------------------------------------- convolution and pooling (NCHW)
# Parallel over images: each thread writes only its own images' rows or planes.

# Patches are taken channels-last: a patch row holds (i, j, c) with the channel innermost, so
# with the input laid out [B, H, W, C] each (i, j) of a patch is one contiguous run of C values
# (and each kernel row, kw·C of them at stride 1). The numpy twin's order is (c, i, j);
# `flatten_filters` gives each set's matching weight matrix.

@_jit()
def _im2col_rows(x, kh, kw, stride, padding, scale, out, lo, hi):
    _, H, W, C = x.shape   # x is [B, H, W, C] in memory
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    zero = out.dtype.type(0)
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = out[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    h = oh * stride - padding + i
                    for j in range(kw):
                        w = ow * stride - padding + j
                        at = (i * kw + j) * C
                        if 0 <= h < H and 0 <= w < W:
                            src = x[b, h, w]
                            for c in range(C):
                                row[at + c] = out.dtype.type(src[c]) * scale
                        else:
                            for c in range(C):
                                row[at + c] = zero


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, dtype, scale: float = 1.0) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, kh·kw·C] (channels-last order), times `scale`."""
    B, C, H, W = x.shape
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # free for Conv2d's and pooling's outputs
    OH, OW = conv_out_size(H, kh, stride, padding), conv_out_size(W, kw, stride, padding)
    out = np.empty((B * OH * OW, C * kh * kw), dtype=dtype)
    s = out.dtype.type(scale)
    _for_rows(_im2col_rows, B, out.size * NS_PER_COPY, xl, kh, kw, stride, padding, s, out)
    return out


@_jit()
def _col2im_rows(cols, kh, kw, stride, padding, out, lo, hi):
    _, H, W, C = out.shape  # out is [B, H, W, C] in memory
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for b in range(lo, hi):
        for oh in range(OH):
            for ow in range(OW):
                row = cols[(b * OH + oh) * OW + ow]
                for i in range(kh):
                    h = oh * stride - padding + i
                    if 0 <= h < H:
                        for j in range(kw):
                            w = ow * stride - padding + j
                            if 0 <= w < W:
                                dst, at = out[b, h, w], (i * kw + j) * C
                                for c in range(C):
                                    dst[c] += row[at + c]


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]
    (channels-last in memory)."""
    B, C, H, W = shape
    cols = np.ascontiguousarray(cols)
    out = np.zeros((B, H, W, C), dtype=cols.dtype)
    _for_rows(_col2im_rows, B, cols.size * NS_PER_COPY, cols, kh, kw, stride, padding, out)
    return out.transpose(0, 3, 1, 2)


def flatten_filters(w: np.ndarray) -> np.ndarray:
    """w [O, C, kh, kw] as the [O, kh·kw·C] matrix whose rows match im2col's patches."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def unflatten_filters(w: np.ndarray, shape: tuple) -> np.ndarray:
    """The inverse of flatten_filters: [O, kh·kw·C] back to [O, C, kh, kw]."""
    O, C, kh, kw = shape
    return np.ascontiguousarray(w.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))


@_jit()
def _pick(m, at, v, i):
    """The running maximum and its index after seeing v at i: the first maximum wins, a NaN wins
    (selects, not branches: the comparisons are data-dependent and would mispredict half the time)."""
    take = (v > m) | ((v != v) & (m == m))
    return (v if take else m), (i if take else at)


@_jit()
def _max_pool_2x2_images(x, out, index, lo, hi):
    # The CNN's pooling: four loads and three selects per output, no inner loops.
    _, C, H, W = x.shape
    for b in range(lo, hi):
        for c in range(C):
            plane, o, ix = x[b, c], out[b, c], index[b, c]
            for oh in range(out.shape[2]):
                top, bottom = plane[2 * oh], plane[2 * oh + 1]
                for ow in range(out.shape[3]):
                    w = 2 * ow
                    m, at = _pick(top[w], 2 * oh * W + w, top[w + 1], 2 * oh * W + w + 1)
                    m, at = _pick(m, at, bottom[w], (2 * oh + 1) * W + w)
                    m, at = _pick(m, at, bottom[w + 1], (2 * oh + 1) * W + w + 1)
                    o[oh, ow] = m
                    ix[oh, ow] = at


@_jit()
def _max_pool_images(x, k, stride, out, index, lo, hi):
    _, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for b in range(lo, hi):
        for c in range(C):
            plane, o, ix = x[b, c], out[b, c], index[b, c]
            for oh in range(OH):
                h0 = oh * stride
                for ow in range(OW):
                    w0 = ow * stride
                    m, at = plane[h0, w0], h0 * W + w0
                    for i in range(k):
                        for j in range(k):
                            m, at = _pick(m, at, plane[h0 + i, w0 + j], (h0 + i) * W + w0 + j)
                    o[oh, ow] = m
                    ix[oh, ow] = at


@_jit()
def _max_pool_2x2_channels_last(x, out, index, lo, hi):
    # x, out, index are [B, H, W, C] in memory: the four inputs of a window are four rows of C
    # contiguous channels, so the picks vectorise across channels.
    _, H, W, C = x.shape
    for b in range(lo, hi):
        for oh in range(out.shape[1]):
            for ow in range(out.shape[2]):
                h, w = 2 * oh, 2 * ow
                p00, p01, p10, p11 = x[b, h, w], x[b, h, w + 1], x[b, h + 1, w], x[b, h + 1, w + 1]
                o, ix = out[b, oh, ow], index[b, oh, ow]
                for c in range(C):
                    m, at = _pick(p00[c], h * W + w, p01[c], h * W + w + 1)
                    m, at = _pick(m, at, p10[c], (h + 1) * W + w)
                    m, at = _pick(m, at, p11[c], (h + 1) * W + w + 1)
                    o[c] = m
                    ix[c] = at


def channels_last(x: np.ndarray) -> bool:
    """Whether the NCHW array x lies in memory as [B, H, W, C] (what Conv2d returns)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


def max_pool2d(x: np.ndarray, k: int, stride: int):
    """Max over k×k windows of x [B, C, H, W]; also returns each maximum's flat index in its (H, W) plane.
    A channels-last x gives a channels-last result (2×2 windows)."""
    B, C, H, W = x.shape
    shape = (B, C, conv_out_size(H, k, stride, 0), conv_out_size(W, k, stride, 0))
    if k == stride == 2 and channels_last(x):
        last = (B, shape[2], shape[3], C)
        out, index = np.empty(last, dtype=x.dtype), np.empty(last, dtype=np.int64)
        _for_rows(_max_pool_2x2_channels_last, B, x.size * NS_PER_COPY, x.transpose(0, 2, 3, 1), out, index)
        return out.transpose(0, 3, 1, 2), index.transpose(0, 3, 1, 2)
    x = np.ascontiguousarray(x)
    out, index = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    if k == stride == 2:
        _for_rows(_max_pool_2x2_images, B, x.size * NS_PER_COPY, x, out, index)
    else:
        _for_rows(_max_pool_images, B, x.size * NS_PER_COPY, x, k, stride, out, index)
    return out, index


@_jit()
def _max_pool_backward_images(grad, index, out, lo, hi):
    for b in range(lo, hi):
        for c in range(grad.shape[1]):
            for oh in range(grad.shape[2]):
                for ow in range(grad.shape[3]):
                    out[b, c, index[b, c, oh, ow]] += grad[b, c, oh, ow]


@_jit()
def _max_pool_backward_channels_last(grad, index, out, lo, hi):
    # grad, index [B, OH, OW, C] and out [B, H·W, C] in memory
    for b in range(lo, hi):
        for oh in range(grad.shape[1]):
            for ow in range(grad.shape[2]):
                g, ix = grad[b, oh, ow], index[b, oh, ow]
                for c in range(grad.shape[3]):
                    out[b, ix[c], c] += g[c]


def max_pool2d_backward(grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
    """Route each window's gradient to its maximum (summed where windows overlap).
    Channels-last index (from a channels-last input) gives a channels-last result."""
    B, C, H, W = shape
    if channels_last(index):
        grad = np.ascontiguousarray(grad.transpose(0, 2, 3, 1))
        out = np.zeros((B, H * W, C), dtype=grad.dtype)
        _for_rows(_max_pool_backward_channels_last, B, out.size * NS_PER_COPY, grad, index.transpose(0, 2, 3, 1), out)
        return out.reshape(B, H, W, C).transpose(0, 3, 1, 2)
    grad = np.ascontiguousarray(grad)
    out = np.zeros((B, C, H * W), dtype=grad.dtype)
    _for_rows(_max_pool_backward_images, B, out.size * NS_PER_COPY, grad, np.ascontiguousarray(index), out)
    return out.reshape(shape)


# ---------------------------------------------------------------- optimizer update

@_jit()
def _adamw_rows(p, g, m, v, decay, b1, b2, m_scale, v_scale, eps, lo, hi):
    # One pass over the four arrays instead of numpy's ten.
    one = p.dtype.type(1)
    for i in range(lo, hi):
        gi = g[i]
        mi = b1 * m[i] + (one - b1) * gi
        vi = b2 * v[i] + (one - b2) * gi * gi
        m[i], v[i] = mi, vi
        p[i] = p[i] * decay - m_scale * mi / (math.sqrt(vi * v_scale) + eps)


def adamw_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float, beta1: float,
                 beta2: float, eps: float, weight_decay: float, step: int) -> None:
    """One AdamW step in place (PyTorch's rule): decay p, update the moments m and v,
    then p -= lr · m̂ / (√v̂ + eps) with the bias corrections of step `step`."""
    if not (param.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
        # reshape(-1) would copy such an array and the update would be lost; numpy's in-place
        # arithmetic handles any layout
        return numpy_kernels.adamw_update(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step)
    t = param.dtype.type
    flat = [x.reshape(-1) for x in (param, np.ascontiguousarray(grad, dtype=param.dtype), m, v)]
    _for_rows(_adamw_rows, param.size, param.size * NS_PER_EXP, *flat, t(1.0 - lr * weight_decay), t(beta1),
              t(beta2), t(lr / (1.0 - beta1 ** step)), t(1.0 / (1.0 - beta2 ** step)), t(eps))
