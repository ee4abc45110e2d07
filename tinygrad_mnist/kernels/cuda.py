"""The training step's kernels for NVIDIA GPUs, through numba's CUDA target (numba-cuda): the
first pieces of the device issue (#30), each the twin of a numpy kernel and checked against it
in numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`) and compiled to PTX, on any machine.

    matmul             C = scale · A @ B, tiled: each block stages a TILE × TILE piece of A and
                       of B in shared memory, the threads wait for each other (syncthreads)
                       before reading it and again before it is overwritten
    add_rows           y[i, :] += b
    column_sums        Σ_i g[i, :], one thread per column in row order (the same bits every run)
    relu, relu_backward
    log_softmax        one block per row: a tree reduction in shared memory for the maximum and
                       for Σ exp, each level after a barrier; log_softmax_backward the same for Σ g
    nll, nll_backward  −log p[i, t_i] per row, summed by one block's tree (deterministic)
    sgd_update         p −= lr · g
    gather_rows        out[k] = x[idx[k]] (a minibatch from the data set kept on the device)

The kernels are made by factories over the block size (`tile`, `block`): the simulator runs
each CUDA thread as an OS thread, so the tests use small blocks and a GPU large ones. Nothing
here is imported by the engine yet (`Tensor.to("cuda")` comes with the device wiring), so the
engine never loads numba's CUDA module; this file does, at import (the simulator finds `cuda`
among a kernel's globals to give it simulated threads, so it must be a module global).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numba import cuda, float32


@functools.lru_cache(maxsize=None)
def matmul_kernel(tile: int = 16):
    """C[m, n] = scale · Σ_k A[m, k] · B[k, n], float32 accumulation, A float32 or uint8."""
    @cuda.jit
    def matmul(a, b, out, scale):
        sa = cuda.shared.array((tile, tile), float32)
        sb = cuda.shared.array((tile, tile), float32)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row, col = cuda.blockIdx.y * tile + ty, cuda.blockIdx.x * tile + tx
        acc = float32(0.0)
        for t in range((a.shape[1] + tile - 1) // tile):
            k = t * tile + tx
            sa[ty, tx] = float32(a[row, k]) if row < a.shape[0] and k < a.shape[1] else float32(0.0)
            k = t * tile + ty
            sb[ty, tx] = float32(b[k, col]) if k < b.shape[0] and col < b.shape[1] else float32(0.0)
            cuda.syncthreads()  # the whole tile is staged before anyone reads it
            for i in range(tile):
                acc += sa[ty, i] * sb[i, tx]
            cuda.syncthreads()  # everyone has read it before the next tile overwrites it
        if row < out.shape[0] and col < out.shape[1]:
            out[row, col] = acc * scale
    return matmul


@functools.lru_cache(maxsize=None)
def grid_kernels():
    """The kernels with one thread per element of a matrix (or per column)."""
    @cuda.jit
    def add_rows(y, b):
        i, j = cuda.grid(2)
        if i < y.shape[0] and j < y.shape[1]:
            y[i, j] += b[j]

    @cuda.jit
    def column_sums(g, out):
        j = cuda.grid(1)
        if j < g.shape[1]:
            acc = g[0, j] * 0
            for i in range(g.shape[0]):  # row order: the same bits every run
                acc += g[i, j]
            out[j] = acc

    @cuda.jit
    def gather_rows(x, idx, out):
        k, j = cuda.grid(2)
        if k < out.shape[0] and j < out.shape[1]:
            out[k, j] = x[idx[k], j]

    @cuda.jit
    def nll_backward(targets, scale, out):
        i, j = cuda.grid(2)
        if i < out.shape[0] and j < out.shape[1]:
            out[i, j] = -scale if j == targets[i] else 0.0
    return dict(add_rows=add_rows, column_sums=column_sums, gather_rows=gather_rows, nll_backward=nll_backward)


@functools.lru_cache(maxsize=None)
def flat_kernels():
    """The kernels with one thread per element of a flat array."""

    @cuda.jit
    def relu(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = 0.0 if x[i] <= 0 else x[i]  # NaN stays NaN, as np.maximum

    @cuda.jit
    def relu_backward(g, y, out):
        i = cuda.grid(1)
        if i < g.size:
            out[i] = g[i] if y[i] > 0 else 0.0  # selected: a NaN where flat gives 0

    @cuda.jit
    def sgd_update(p, g, lr):
        i = cuda.grid(1)
        if i < p.size:
            p[i] -= lr * g[i]

    return dict(relu=relu, relu_backward=relu_backward, sgd_update=sgd_update)


def elementwise_kernels() -> dict:
    """Every one-thread-per-element kernel, by name."""
    return {**grid_kernels(), **flat_kernels()}


@functools.lru_cache(maxsize=None)
def log_softmax_kernel(block: int = 128):
    """One block per row: a tree reduction in shared memory for the maximum, then for Σ exp."""
    @cuda.jit
    def log_softmax(x, out):
        buf = cuda.shared.array(block, float32)
        row, t, n = cuda.blockIdx.x, cuda.threadIdx.x, x.shape[1]
        m = float32(-math.inf)
        for j in range(t, n, block):
            m = max(m, x[row, j])
        buf[t] = m
        cuda.syncthreads()  # every thread's partial maximum is in place
        # a tree: each level halves the live threads, after a barrier. Written out in each kernel:
        # a device function would be compiled for the current GPU's compute capability, which a
        # driverless compile_ptx (the tests') has none of
        s = block // 2
        while s > 0:
            if t < s:
                buf[t] = max(buf[t], buf[t + s])
            cuda.syncthreads()
            s //= 2
        m = buf[0]
        cuda.syncthreads()  # all have read the maximum before buf is reused for the sum
        acc = float32(0.0)
        for j in range(t, n, block):
            acc += math.exp(x[row, j] - m)
        buf[t] = acc
        cuda.syncthreads()
        s = block // 2
        while s > 0:
            if t < s:
                buf[t] += buf[t + s]
            cuda.syncthreads()
            s //= 2
        lse = m + math.log(buf[0])
        for j in range(t, n, block):
            out[row, j] = x[row, j] - lse
    return log_softmax


@functools.lru_cache(maxsize=None)
def log_softmax_backward_kernel(block: int = 128):
    """out = g − exp(y) · Σ g along each row, the sum by one block's tree."""
    @cuda.jit
    def log_softmax_backward(g, y, out):
        buf = cuda.shared.array(block, float32)
        row, t, n = cuda.blockIdx.x, cuda.threadIdx.x, g.shape[1]
        acc = float32(0.0)
        for j in range(t, n, block):
            acc += g[row, j]
        buf[t] = acc
        cuda.syncthreads()
        s = block // 2
        while s > 0:
            if t < s:
                buf[t] += buf[t + s]
            cuda.syncthreads()
            s //= 2
        total = buf[0]
        for j in range(t, n, block):
            out[row, j] = g[row, j] - math.exp(y[row, j]) * total
    return log_softmax_backward


@functools.lru_cache(maxsize=None)
def nll_kernel(block: int = 128):
    @cuda.jit
    def nll(log_probs, targets, out):
        """out[0] = −Σ_i log_probs[i, t_i] / N, by one block, in a fixed order."""
        buf = cuda.shared.array(block, float32)
        t, n = cuda.threadIdx.x, log_probs.shape[0]
        acc = float32(0.0)
        for i in range(t, n, block):
            acc += log_probs[i, targets[i]]
        buf[t] = acc
        cuda.syncthreads()
        s = block // 2
        while s > 0:
            if t < s:
                buf[t] += buf[t + s]
            cuda.syncthreads()
            s //= 2
        if t == 0:
            out[0] = -buf[0] / n
    return nll


def row_kernels(block: int = 128) -> dict:
    """One block per row: log_softmax, its backward, and the per-row NLL summed in one block."""
    return dict(log_softmax=log_softmax_kernel(block), log_softmax_backward=log_softmax_backward_kernel(block),
                nll=nll_kernel(block))


def _grid(n: int, per_block: int) -> int:
    return max(1, -(-n // per_block))


class CudaKernels:
    """The kernels above on device arrays (`to_device`, `to_host`), with launch sizes chosen:
    `tile` for the matmul, `block` threads per row reduction, `threads` per 1-D block."""

    def __init__(self, tile: int = 16, block: int = 128, threads: int = 256):
        self.tile, self.block, self.threads = tile, block, threads
        self.cuda = cuda

    def to_device(self, a: np.ndarray) -> Any:
        return self.cuda.to_device(np.ascontiguousarray(a))

    def to_host(self, d: Any) -> np.ndarray:
        return d.copy_to_host()

    def empty(self, shape: tuple, dtype: Any) -> Any:
        return self.cuda.device_array(shape, dtype)

    def matmul(self, a, b, scale: float = 1.0):
        out = self.empty((a.shape[0], b.shape[1]), np.float32)
        t = self.tile
        matmul_kernel(t)[(_grid(b.shape[1], t), _grid(a.shape[0], t)), (t, t)](a, b, out, np.float32(scale))
        return out

    def _k(self, name: str):
        return elementwise_kernels()[name]

    def add_rows(self, y, b) -> None:
        t = min(self.tile, 16)
        self._k("add_rows")[(_grid(y.shape[0], t), _grid(y.shape[1], t)), (t, t)](y, b)

    def column_sums(self, g):
        out = self.empty((g.shape[1],), g.dtype)
        self._k("column_sums")[_grid(g.shape[1], self.threads), self.threads](g, out)
        return out

    def _flat(self, name: str, *arrays, out_like=None, extra=()):
        out = self.empty(out_like.shape, out_like.dtype) if out_like is not None else None
        flat = [a.reshape(a.size) for a in arrays] + ([] if out is None else [out.reshape(out.size)])
        self._k(name)[_grid(arrays[0].size, self.threads), self.threads](*flat, *extra)
        return out

    def relu(self, x):
        return self._flat("relu", x, out_like=x)

    def relu_backward(self, g, y):
        return self._flat("relu_backward", g, y, out_like=g)

    def sgd_update(self, p, g, lr: float) -> None:
        self._flat("sgd_update", p, g, extra=(p.dtype.type(lr),))

    def gather_rows(self, x, idx):
        out = self.empty((idx.shape[0], x.shape[1]), x.dtype)
        t = min(self.tile, 16)
        self._k("gather_rows")[(_grid(out.shape[0], t), _grid(out.shape[1], t)), (t, t)](x, idx, out)
        return out

    def nll_backward(self, grad: float, targets, shape: tuple, dtype: Any):
        out = self.empty(shape, dtype)
        t = min(self.tile, 16)
        self._k("nll_backward")[(_grid(shape[0], t), _grid(shape[1], t)), (t, t)](
            targets, np.dtype(dtype).type(grad / shape[0]), out)
        return out

    def log_softmax(self, x):
        out = self.empty(x.shape, x.dtype)
        row_kernels(self.block)["log_softmax"][x.shape[0], self.block](x, out)
        return out

    def log_softmax_backward(self, g, y):
        out = self.empty(g.shape, g.dtype)
        row_kernels(self.block)["log_softmax_backward"][g.shape[0], self.block](g, y, out)
        return out

    def nll(self, log_probs, targets):
        out = self.empty((1,), log_probs.dtype)
        row_kernels(self.block)["nll"][1, self.block](log_probs, targets, out)
        return out


def signatures() -> dict:
    """Each kernel's argument types as the engine would launch it (float32 data, int64 indices;
    the matmul also with uint8 pixels), for `compile_all`."""
    from numba import types
    f2, f1, i1 = types.float32[:, :], types.float32[:], types.int64[:]
    return {
        ("matmul", "float32"): (matmul_kernel, (f2, f2, f2, types.float32)),
        ("matmul", "uint8"): (matmul_kernel, (types.uint8[:, :], f2, f2, types.float32)),
        ("add_rows", ""): (None, (f2, f1)), ("column_sums", ""): (None, (f2, f1)),
        ("relu", ""): (None, (f1, f1)), ("relu_backward", ""): (None, (f1, f1, f1)),
        ("sgd_update", ""): (None, (f1, f1, types.float32)), ("gather_rows", ""): (None, (f2, i1, f2)),
        ("nll_backward", ""): (None, (i1, types.float32, f2)),
        ("log_softmax", ""): (row_kernels, (f2, f2)), ("log_softmax_backward", ""): (row_kernels, (f2, f2, f2)),
        ("nll", ""): (row_kernels, (f2, i1, f1)),
    }


def compile_all(cc: tuple = (8, 0), tile: int = 16, block: int = 128) -> dict:
    """Compile every kernel to PTX for compute capability `cc`, with no GPU (NVVM from the
    cuda-toolkit wheels): what the simulator would run but a GPU would refuse fails here.
    Returns {name: PTX length}. Needs numba's real CUDA target (not NUMBA_ENABLE_CUDASIM)."""
    lengths = {}
    for (name, variant), (factory, sig) in signatures().items():
        if factory is matmul_kernel:
            kernel = matmul_kernel(tile)
        elif factory is row_kernels:
            kernel = row_kernels(block)[name]
        else:
            kernel = elementwise_kernels()[name]
        ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
        lengths[f"{name} {variant}".strip()] = len(ptx)
    return lengths
