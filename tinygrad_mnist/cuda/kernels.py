"""The engine's CUDA kernels, through numba's CUDA target (numba-cuda), each the twin of a numpy
kernel, checked against it in numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`) and compiled to
PTX on any machine.

The training step's own:

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

and what a device array needs besides (`device_kernels`): elementwise arithmetic with numpy's
broadcasting (strides of 0), casts, sums along axes in a fixed order, argmax, the convolution's
im2col / col2im, max-pooling and its gradient, dropout's mask from a counter-based generator,
AdamW. Those loop over their elements grid-stride (`for i in range(grid, n, gridsize)`), so
any launch size is correct: the simulator runs a few threads, a GPU many.

The kernels are made by factories over the block size (`tile`, `block`): the simulator runs
each CUDA thread as an OS thread, so the tests use small blocks and a GPU large ones. The
simulator finds `cuda` among a kernel's globals to give it simulated threads, so it must be a
module global.
"""
from __future__ import annotations

import functools
import math

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
    """The kernels with one thread per element of a matrix (a 2-D launch covering it)."""
    @cuda.jit
    def nll_backward(targets, scale, out):
        i, j = cuda.grid(2)
        if i < out.shape[0] and j < out.shape[1]:
            out[i, j] = -scale if j == targets[i] else 0.0
    return dict(nll_backward=nll_backward)


@functools.lru_cache(maxsize=None)
def flat_kernels():
    """The kernels over a flat array, grid-stride."""

    @cuda.jit
    def relu(x, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):  # grid-stride: any launch covers x
            out[i] = 0.0 if x[i] <= 0 else x[i]  # NaN stays NaN, as np.maximum

    @cuda.jit
    def relu_backward(g, y, out):
        for i in range(cuda.grid(1), g.size, cuda.gridsize(1)):
            out[i] = g[i] if y[i] > 0 else 0.0  # selected: a NaN where flat gives 0

    @cuda.jit
    def sgd_update(p, g, lr):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
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
            k = targets[i]  # a class out of range makes the loss NaN (the host does not check device targets)
            acc += log_probs[i, k] if 0 <= k < log_probs.shape[1] else math.nan
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


# ---------------------------------------------------------------- what a device array needs besides
# Operation codes of `unary` (`binary` names its own; one kernel per shape of loop, the operation a branch).
NEG, EXP, LOG, SQRT, ABS, SIGN, TANH = range(7)


# The grid-stride kernels a device array's methods launch. Shapes of up to 4 dimensions come as
# 4-tuples (padded with 1 in front) and each operand's element strides as another (0 where it is
# broadcast), unrolled in each kernel (see `log_softmax_kernel` for why not a device function).
@cuda.jit
def copy_strided(src, out, shape, st):
    """out[i] = src at the element of out's 4-D index i under strides st (a permutation,
    a broadcast)."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        r = i
        c3 = r % shape[3]
        r //= shape[3]
        c2 = r % shape[2]
        r //= shape[2]
        out[i] = src[(r // shape[1]) * st[0] + (r % shape[1]) * st[1] + c2 * st[2] + c3 * st[3]]


@cuda.jit
def binary(a, b, s, out, shape, sa, sb, op, mode):
    """out = x ∘ y elementwise: x from a and y from b under broadcasting strides sa, sb (mode 0),
    or y the number s (mode 1), or x the number s and y from a (mode 2). op: + − × ÷ maximum
    minimum (0-5), then > ≥ < ≤ = ≠ (6-11, into a bool out), then x ** y (12)."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        r = i
        c3 = r % shape[3]
        r //= shape[3]
        c2 = r % shape[2]
        r //= shape[2]
        c1, c0 = r % shape[1], r // shape[1]
        x = a[c0 * sa[0] + c1 * sa[1] + c2 * sa[2] + c3 * sa[3]]
        y = b[c0 * sb[0] + c1 * sb[1] + c2 * sb[2] + c3 * sb[3]] if mode == 0 else s
        if mode == 2:
            x, y = s, x
        if op == 0:
            out[i] = x + y
        elif op == 1:
            out[i] = x - y
        elif op == 2:
            out[i] = x * y
        elif op == 3:
            out[i] = x / y
        elif op == 4:
            out[i] = x if x > y or x != x else y  # NaN propagates, as np.maximum
        elif op == 5:
            out[i] = x if x < y or x != x else y
        elif op == 6:
            out[i] = x > y
        elif op == 7:
            out[i] = x >= y
        elif op == 8:
            out[i] = x < y
        elif op == 9:
            out[i] = x <= y
        elif op == 10:
            out[i] = x == y
        elif op == 11:
            out[i] = x != y
        else:
            out[i] = x ** y


@cuda.jit
def unary(x, out, op):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        v = x[i]
        if op == 0:
            out[i] = -v
        elif op == 1:
            out[i] = math.exp(v)
        elif op == 2:
            out[i] = math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)
        elif op == 3:
            out[i] = math.sqrt(v) if v >= 0 else math.nan
        elif op == 4:
            out[i] = abs(v)
        elif op == 5:
            out[i] = 1 if v > 0 else (-1 if v < 0 else v)  # 0 and NaN stay, as np.sign
        else:
            out[i] = math.tanh(v)


@cuda.jit
def cast(x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[i]


@cuda.jit
def fill(out, value):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def sum_axis(x, out, n, inner):
    """out[o, j] = Σ_k x[o, k, j] for x viewed as [outer, n, inner], k in order (the same bits
    every run; float64 accumulation)."""
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        o, j = q // inner, q % inner
        acc = 0.0
        for k in range(n):
            acc += x[(o * n + k) * inner + j]
        out[q] = acc


@cuda.jit
def argmax_rows(x, out):
    """The first largest element's column in each row (a NaN counts as largest)."""
    for r in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        best, at = x[r, 0], 0
        for j in range(1, x.shape[1]):
            v = x[r, j]
            if best == best and (v > best or v != v):
                best, at = v, j
        out[r] = at


@cuda.jit
def take_rows(x, idx, out):
    """out[k, :] = x[idx[k], :] for x viewed as [N, width]."""
    width = x.shape[1]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[q] = x[idx[q // width], q % width]


@cuda.jit
def dropout_mask(out, p, scale, seed, offset):
    """out[i] = scale where the i-th draw u ≥ p, else 0; u from a counter-based hash of
    (seed, offset + i): the same numbers on any launch size, no generator state to keep."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        c = offset + i
        h = (c ^ seed) & 0xFFFFFFFF
        for _ in range(2):  # two rounds; the second folds in the counter's and the seed's high bits
            h = (((h >> 16) ^ h) * 0x7FEB352D) & 0xFFFFFFFF  # multipliers below 2³¹: exact in int64
            h = (((h >> 15) ^ h) * 0x5BD1E995) & 0xFFFFFFFF
            h = ((h >> 16) ^ h ^ (c >> 32) ^ (seed >> 32)) & 0xFFFFFFFF
        u = float32((h & 0xFFFFFF) * (1.0 / 16777216.0))
        out[i] = scale if u >= p else 0.0


@cuda.jit
def adamw(p, g, m, v, decay, beta1, beta2, bias2, step_size, eps):
    """One AdamW step in place (numpy twin: `numpy_kernels.adamw_update`)."""
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        p[i] *= decay
        m[i] = m[i] * beta1 + (1 - beta1) * g[i]
        v[i] = v[i] * beta2 + (1 - beta2) * (g[i] * g[i])
        p[i] -= step_size * m[i] / (math.sqrt(v[i] / bias2) + eps)


# Convolution by patches and max-pooling on NCHW arrays, one thread per output element (gradients
# gather what they sum, in a fixed order: no atomics, the same bits every run). `geo` is
# (kh, kw, sh, sw, ph, pw, dh, dw, OH, OW).
@cuda.jit
def im2col(x, out, geo):
    """out[(b·OH + oh)·OW + ow, (i·kw + j)·C + c] = x[b, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    kw, OH, OW, width = geo[1], geo[8], geo[9], out.shape[1]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        row, col = q // width, q % width
        c, tap = col % C, col // C
        i, j = tap // kw, tap % kw
        ow, rest = row % OW, row // OW
        oh, b = rest % OH, rest // OH
        h, w = oh * geo[2] - geo[4] + i * geo[6], ow * geo[3] - geo[5] + j * geo[7]
        out[row, col] = x[b, c, h, w] if 0 <= h < H and 0 <= w < W else 0


@cuda.jit
def col2im(cols, out, geo):
    """out[b, c, h, w] = Σ over the taps (i, j) that read it of cols at that patch entry."""
    C, H, W = out.shape[1], out.shape[2], out.shape[3]
    kh, kw, OH, OW = geo[0], geo[1], geo[8], geo[9]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        w, r = q % W, q // W
        h, r = r % H, r // H
        c, b = r % C, r // C
        acc = 0.0
        for i in range(kh):
            th = h + geo[4] - i * geo[6]
            if th < 0 or th % geo[2] != 0 or th // geo[2] >= OH:
                continue
            for j in range(kw):
                tw = w + geo[5] - j * geo[7]
                if tw < 0 or tw % geo[3] != 0 or tw // geo[3] >= OW:
                    continue
                acc += cols[(b * OH + th // geo[2]) * OW + tw // geo[3], (i * kw + j) * C + c]
        out[b, c, h, w] = acc


@cuda.jit
def rows_to_nchw(rows, bias, has_bias, out):
    """out[b, o, p] = rows[b·P + p, o] (+ bias[o]), P the output positions."""
    O, P = out.shape[1], out.shape[2]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        p, r = q % P, q // P
        o, b = r % O, r // O
        out[b, o, p] = rows[b * P + p, o] + (bias[o] if has_bias else 0)


@cuda.jit
def nchw_to_rows(grad, out):
    """out[b·P + p, o] = grad[b, o, p]."""
    O, P = grad.shape[1], grad.shape[2]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        o, row = q % O, q // O
        out[row, o] = grad[row // P, o, row % P]


@cuda.jit
def max_pool(x, out, index, geo):
    """Each window's maximum (the first; a NaN beats everything; padding never wins) and its
    flat index in the (H, W) plane."""
    H, W = x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        ow, r = q % OW, q // OW
        oh, r = r % OH, r // OH
        c, b = r % x.shape[1], r // x.shape[1]
        best, at = x[b, c, 0, 0] * 0, -1
        for i in range(geo[0]):
            h = oh * geo[2] - geo[4] + i * geo[6]
            for j in range(geo[1]):
                w = ow * geo[3] - geo[5] + j * geo[7]
                if 0 <= h < H and 0 <= w < W:
                    v = x[b, c, h, w]
                    if at < 0 or v > best or (v != v and best == best):
                        best, at = v, h * W + w
        out[b, c, oh, ow] = best
        index[b, c, oh, ow] = at


@cuda.jit
def max_pool_backward(grad, index, out):
    """One thread per (b, c) plane adds each window's gradient at its maximum, windows in
    order (overlapping windows sum, deterministically). out [B·C, H·W] starts at zero."""
    per = grad.size // out.shape[0]
    for plane in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        for k in range(per):
            out[plane, index[plane * per + k]] += grad[plane * per + k]


def device_kernels() -> dict:
    """The grid-stride kernels above, by name."""
    return {k.__name__: k for k in (copy_strided, binary, unary, cast,
                                    fill, sum_axis, argmax_rows, take_rows, dropout_mask, adamw,
                                    im2col, col2im, rows_to_nchw, nchw_to_rows, max_pool, max_pool_backward)}


@functools.lru_cache(maxsize=None)
def matmul_plain_kernel():
    """C = scale · A @ B with one output element per loop turn, no shared memory: the launch the
    simulator affords on large products (a tiled one starts TILE² threads per output tile), and
    the float64 product. Accumulates in the dtype of A·B (uint8 × float32 is float32)."""
    @cuda.jit
    def matmul_plain(a, b, out, scale):
        n, K = out.shape[1], a.shape[1]
        for q in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            i, j = q // n, q % n
            acc = float32(0.0)
            for k in range(K):
                acc += a[i, k] * b[k, j]  # uint8 × float32 is float32, as float32(a) · b
            out[i, j] = acc * scale
    return matmul_plain


def signatures() -> dict:
    """Each kernel's argument types as the engine launches it (float32 data, int64 indices and
    numbers, uint8 pixels and labels where the trainer passes them), for `compile_all`:
    {(name, variant): (kernel maker, types)}."""
    from numba import types as t
    f1, f2, f3, f4 = (t.Array(t.float32, n, "C") for n in (1, 2, 3, 4))
    d2 = t.Array(t.float64, 2, "C")
    u1, u2, i1, b1 = t.Array(t.uint8, 1, "C"), t.Array(t.uint8, 2, "C"), t.Array(t.int64, 1, "C"), t.Array(t.boolean, 1, "C")
    i4, n4, n10, n, f = t.Array(t.int64, 4, "C"), t.UniTuple(t.int64, 4), t.UniTuple(t.int64, 10), t.int64, t.float32
    tiled, plain = (lambda tile, block: matmul_kernel(tile)), (lambda tile, block: matmul_plain_kernel())
    rows = (lambda name: lambda tile, block: row_kernels(block)[name])
    each = (lambda name: lambda tile, block: {**elementwise_kernels(), **device_kernels()}[name])
    table = {("matmul", "float32"): (tiled, (f2, f2, f2, f)), ("matmul", "uint8"): (tiled, (u2, f2, f2, f)),
             ("matmul_plain", "float32"): (plain, (f2, f2, f2, f)), ("matmul_plain", "uint8"): (plain, (u2, f2, f2, f)),
             ("matmul_plain", "float64"): (plain, (d2, d2, d2, t.float64)),
             ("log_softmax", ""): (rows("log_softmax"), (f2, f2)),
             ("log_softmax_backward", ""): (rows("log_softmax_backward"), (f2, f2, f2)),
             ("nll", "int64"): (rows("nll"), (f2, i1, f1)), ("nll", "uint8"): (rows("nll"), (f2, u1, f1))}
    launched = {
        ("relu", ""): (f1, f1), ("relu_backward", ""): (f1, f1, f1), ("sgd_update", ""): (f1, f1, f),
        ("nll_backward", "uint8"): (u1, f, f2), ("nll_backward", "int64"): (i1, f, f2),
        ("copy_strided", "float32"): (f1, f1, n4, n4), ("copy_strided", "uint8"): (u1, u1, n4, n4),
        ("binary", "float32"): (f1, f1, f, f1, n4, n4, n4, n, n), ("binary", "compare"): (f1, f1, f, b1, n4, n4, n4, n, n),
        ("binary", "int64"): (i1, i1, n, b1, n4, n4, n4, n, n),
        ("unary", ""): (f1, f1, n), ("cast", "uint8"): (u1, f1), ("cast", "float32"): (f1, f1),
        ("cast", "bool"): (b1, i1), ("fill", ""): (f1, f), ("sum_axis", "float32"): (f1, f1, n, n),
        ("sum_axis", "int64"): (i1, i1, n, n), ("argmax_rows", ""): (f2, i1), ("take_rows", "uint8"): (u2, i1, u2),
        ("take_rows", "float32"): (f2, i1, f2), ("dropout_mask", ""): (f1, f, f, n, n),
        ("adamw", ""): (f1, f1, f1, f1, f, f, f, f, f, f), ("im2col", ""): (f4, f2, n10), ("col2im", ""): (f2, f4, n10),
        ("rows_to_nchw", ""): (f2, f1, t.boolean, f3), ("nchw_to_rows", ""): (f3, f2),
        ("max_pool", ""): (f4, f4, i4, n10), ("max_pool_backward", ""): (f1, i1, f2),
    }
    table.update({key: (each(key[0]), sig) for key, sig in launched.items()})
    return table


def compile_all(cc: tuple = (8, 0), tile: int = 16, block: int = 128) -> dict:
    """Compile every kernel to PTX for compute capability `cc`, with no GPU (NVVM from the
    cuda-toolkit wheels): what the simulator would run but a GPU would refuse fails here.
    Returns {name: PTX length}. Needs numba's real CUDA target (not NUMBA_ENABLE_CUDASIM)."""
    lengths = {}
    for (name, variant), (make, sig) in signatures().items():
        ptx, _ = cuda.compile_ptx(make(tile, block).py_func, sig, cc=cc)
        lengths[f"{name} {variant}".strip()] = len(ptx)
    return lengths
