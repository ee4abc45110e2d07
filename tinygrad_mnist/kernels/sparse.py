"""Products with rows in CSR form (row starts, the column of each non-zero, the non-zeros): MNIST's
pixels are 81 % zeros, so a layer that reads the images multiplies a fifth as much.

Each non-zero adds `value · Wᵀ[column]`, a row as wide as the layer. For the MLP's 100-wide first
layer that row is one long vector loop, and on 60,000 images (2 threads) the forward product
took 57 -> 36 ms and d/dW 70 -> 35 ms. For the linear model's 10-wide layer the row is too short
to vectorise and the dense kernel is faster (docs/kernels.md): the models choose, not this file.
Parallel over rows, as the dense products; d/dW's per-thread partial sums are added in chunk
order, so the same thread count gives the same bits.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .numpy_kernels import column_dtype
from .pool import for_rows, jit, sum_in_order

NS_PER_NONZERO_COLUMN = 0.08  # estimated single-thread ns per (non-zero, output column) multiply-add
NS_PER_ELEMENT = 0.5          # and per element scanned or copied


@jit()
def _count_rows(x, counts, lo, hi):
    for i in range(lo, hi):
        n = 0
        for v in x[i]:
            n += v != 0
        counts[i] = n


@jit()
def _fill_rows(x, indptr, indices, values, lo, hi):
    for i in range(lo, hi):
        at, row = indptr[i], x[i]
        for j in range(row.shape[0]):
            if row[j] != 0:
                indices[at], values[at] = j, row[j]
                at += 1


def csr_from_dense(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR form of a 2-D array: row starts [M+1] int64, each non-zero's column, the non-zeros."""
    x = np.ascontiguousarray(x)
    M, K = x.shape
    counts = np.empty(M, np.int64)
    for_rows(_count_rows, M, x.size * NS_PER_ELEMENT, x, counts)
    indptr = np.zeros(M + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices, values = np.empty(indptr[-1], column_dtype(K)), np.empty(indptr[-1], x.dtype)
    for_rows(_fill_rows, M, x.size * NS_PER_ELEMENT, x, indptr, indices, values)
    return indptr, indices, values


@jit()
def _take_rows(indptr, indices, values, rows):
    # One compiled call for a minibatch's rows (the starts, then the copies): as five numpy calls
    # it took 60 µs of every batch-64 MLP step.
    starts = np.zeros(len(rows) + 1, np.int64)
    for r in range(len(rows)):
        starts[r + 1] = starts[r] + indptr[rows[r] + 1] - indptr[rows[r]]
    out_indices, out_values = np.empty(starts[-1], indices.dtype), np.empty(starts[-1], values.dtype)
    for r in range(len(rows)):
        src, dst = indptr[rows[r]], starts[r]
        for k in range(starts[r + 1] - dst):
            out_indices[dst + k], out_values[dst + k] = indices[src + k], values[src + k]
    return starts, out_indices, out_values


def csr_take_rows(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                  rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR form of rows `rows` (integers in 0..M-1), in that order: a minibatch (one thread:
    it copies a few hundred kilobytes at most)."""
    return _take_rows(indptr, indices, values, np.ascontiguousarray(rows, dtype=np.int64))


@jit()
def _csr_rows_times(indptr, indices, values, b, scale, out, lo, hi):
    N = b.shape[1]
    acc = np.empty(N, out.dtype)
    for i in range(lo, hi):
        for n in range(N):
            acc[n] = 0
        for k in range(indptr[i], indptr[i + 1]):
            v, row = out.dtype.type(values[k]), b[indices[k]]
            for n in range(N):
                acc[n] += v * row[n]
        o = out[i]
        for n in range(N):
            o[n] = acc[n] * scale


def csr_matmul(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, b: np.ndarray,
               scale: float = 1.0) -> np.ndarray:
    """`scale · (X @ b)` for X [M, K] in CSR form and b [K, N] float, in b's dtype."""
    b = np.ascontiguousarray(b)
    M = len(indptr) - 1
    out = np.empty((M, b.shape[1]), b.dtype)
    for_rows(_csr_rows_times, M, len(values) * b.shape[1] * NS_PER_NONZERO_COLUMN, indptr, indices, values, b,
             b.dtype.type(scale), out)
    return out


@jit()
def _csr_grad_rows(g, indptr, indices, values, width, lo, hi):
    N = g.shape[1]
    dwt = np.zeros((width, N), g.dtype)  # this chunk's d/dWᵀ: a row per input column
    for i in range(lo, hi):
        gi = g[i]
        for k in range(indptr[i], indptr[i + 1]):
            v, row = g.dtype.type(values[k]), dwt[indices[k]]
            for n in range(N):
                row[n] += v * gi[n]
    return dwt


def csr_grad(g: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, width: int,
             scale: float = 1.0) -> np.ndarray:
    """`scale · (gᵀ @ X)` [N, width] for g [M, N] float and X [M, width] in CSR form: a layer's d/dW."""
    g = np.ascontiguousarray(g)
    parts = for_rows(_csr_grad_rows, g.shape[0], len(values) * g.shape[1] * NS_PER_NONZERO_COLUMN, g, indptr,
                     indices, values, width)
    dwt = sum_in_order(parts)
    if scale != 1.0:
        dwt *= g.dtype.type(scale)
    return np.ascontiguousarray(dwt.T)
