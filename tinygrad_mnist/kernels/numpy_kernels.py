"""Reference kernels in plain numpy: the twins the numba kernels are tested against.

Every function here has a numba twin of the same name and signature in
`numba_kernels.py`; both implement `interface.KernelSet`. These are written for clarity, not speed; the engine runs
on them when `TINYGRAD_MNIST_KERNELS=numpy`.

Kernels work on plain arrays only; they never see a `Tensor`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def result_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    """Output dtype of a product: uint8 pixels times float32 weights is float32."""
    return np.result_type(a.dtype, b.dtype)


def matmul(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """`scale * (a @ b)` for 2-D arrays of any layout (a may be uint8)."""
    dtype = result_dtype(a, b)
    out = np.matmul(a.astype(dtype, copy=False), b.astype(dtype, copy=False))
    if scale != 1.0:
        out *= dtype.type(scale)
    return out


def argmax(x: np.ndarray, axis=None) -> np.ndarray:
    """Index of the largest element along `axis` (the first one; a NaN counts as largest)."""
    return np.argmax(x, axis=axis)


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise (NaN stays NaN)."""
    return np.maximum(x, 0)


def relu_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad where relu's output y > 0, else 0, selected (not multiplied): a NaN or infinite
    gradient where relu is flat gives 0, as PyTorch's threshold_backward."""
    return np.where(y > 0, grad, grad.dtype.type(0))


def log_softmax(x: np.ndarray) -> np.ndarray:
    """`x - logsumexp(x)` along the last axis of a 2-D array, shifted by the row max."""
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dx of log_softmax given its output y: `grad - softmax * grad.sum(row)`."""
    return grad - np.exp(y) * grad.sum(axis=1, keepdims=True)


def nll(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""
    n = log_probs.shape[0]
    picked = log_probs[np.arange(n), targets]
    return np.asarray(-picked.astype(np.float64).sum() / n, dtype=log_probs.dtype)


def nll_backward(grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """d nll / d log_probs: `-grad / N` at each row's target, zero elsewhere."""
    n = log_probs.shape[0]
    out = np.zeros_like(log_probs)
    out[np.arange(n), targets] = -grad / n
    return out


# ---------------------------------------------------------------- convolution and pooling (NCHW)

def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output positions along one side: windows of `kernel` taps `dilation` apart, `stride` apart."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def im2col(x: np.ndarray, kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple, dtype) -> np.ndarray:
    """Patches of x [B, C, H, W] as rows: [B·OH·OW, kh·kw·C] (the channel innermost), in `dtype`;
    `stride`, `padding` and `dilation` are (rows, columns) pairs."""
    B, C, H, W = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    OH, OW = conv_out_size(H, kh, sh, ph, dh), conv_out_size(W, kw, sw, pw, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).astype(dtype)
    cols = np.empty((B, OH, OW, kh, kw, C), dtype)
    for i in range(kh):
        for j in range(kw):
            taps = xp[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw]
            cols[:, :, :, i, j, :] = taps.transpose(0, 2, 3, 1)
    return cols.reshape(B * OH * OW, kh * kw * C)


def col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: tuple, padding: tuple,
           dilation: tuple) -> np.ndarray:
    """The adjoint of im2col: add each patch row back where it came from, into [B, C, H, W]."""
    B, C, H, W = shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    OH, OW = conv_out_size(H, kh, sh, ph, dh), conv_out_size(W, kw, sw, pw, dw)
    patches = cols.reshape(B, OH, OW, kh, kw, C)
    xp = np.zeros((B, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw] += \
                patches[:, :, :, i, j, :].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(xp[:, :, ph:ph + H, pw:pw + W])


def rows_to_nchw(rows: np.ndarray, bias: Optional[np.ndarray], shape: tuple) -> np.ndarray:
    """A convolution's product rows [B·OH·OW, O] plus `bias` [O] (or None) as the NCHW output
    `shape` [B, O, OH, OW]."""
    B, O, OH, OW = shape
    y = rows if bias is None else rows + bias.astype(rows.dtype, copy=False)
    return np.ascontiguousarray(y.reshape(B, OH, OW, O).transpose(0, 3, 1, 2))


def nchw_to_rows(grad: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The adjoint layout change of `rows_to_nchw`: grad [B, O, OH, OW] as rows [B·OH·OW, O],
    and its sum over batch and positions (the bias gradient)."""
    rows = np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(-1, grad.shape[1])
    return rows, rows.sum(axis=0)


def conv_one_channel(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray]) -> np.ndarray:
    """x [B, H, W] ⋆ w [O, kh, kw] + bias [O] (or None) → [B, O, OH, OW], in w's dtype
    (cross-correlation, stride 1, no padding)."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(w.dtype, copy=False), w.shape[1:], axis=(1, 2))
    y = np.einsum("bhwij,oij->bohw", windows, w)
    if bias is not None:
        y += bias.astype(w.dtype, copy=False)[:, None, None]
    return np.ascontiguousarray(y)


def conv_one_channel_backward(grad: np.ndarray, x: np.ndarray, kh: int, kw: int) -> Tuple[np.ndarray, np.ndarray]:
    """d/dw [O, kh, kw] and d/dbias [O] of `conv_one_channel(x, w, bias)`, given its output's
    gradient [B, O, OH, OW]."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(grad.dtype, copy=False), (kh, kw), axis=(1, 2))
    return np.einsum("bohw,bhwij->oij", grad, windows), grad.sum(axis=(0, 2, 3))


def pool_out_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output positions of a pooling window along one side (PyTorch's rule: with ceil_mode, a
    last window that would start in the right padding is dropped)."""
    out = (size + 2 * padding - kernel + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def max_pool2d(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, out_size: tuple,
               dilation: tuple = (1, 1)):
    """Max over kh×kw windows of x [B, C, H, W] (taps `dilation` apart) placed `stride` apart
    from `-padding`, `out_size` of them; padding never wins. Also returns each maximum's flat index in its (H, W) plane.
    The first maximum of a window wins, and a NaN beats everything (as in PyTorch)."""
    B, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = kernel, stride, padding, dilation, out_size
    extra_h = max(0, (OH - 1) * sh + dh * (kh - 1) + 1 - H - ph)
    extra_w = max(0, (OW - 1) * sw + dw * (kw - 1) + 1 - W - pw)
    pad = ((0, 0), (0, 0), (ph, extra_h), (pw, extra_w))
    xp, valid = np.pad(x, pad), np.pad(np.ones(x.shape, bool), pad)
    best = np.zeros((B, C, OH, OW), x.dtype)
    index = np.full((B, C, OH, OW), -1, np.int64)
    rows, cols = np.arange(OH)[:, None] * sh - ph, np.arange(OW)[None, :] * sw - pw
    for i in range(0, kh * dh, dh):
        for j in range(0, kw * dw, dw):
            v = xp[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]
            ok = valid[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]
            take = ok & ((index < 0) | (v > best) | (np.isnan(v) & ~np.isnan(best)))
            best = np.where(take, v, best)
            index = np.where(take, (rows + i) * W + cols + j, index)
    return best, index


def max_pool2d_backward(grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
    """Route each window's gradient to its maximum (summed where windows overlap)."""
    B, C, H, W = shape
    out = np.zeros((B, C, H * W), dtype=grad.dtype)
    bc = np.arange(B * C)[:, None]
    np.add.at(out.reshape(B * C, H * W), (bc, index.reshape(B * C, -1)), grad.reshape(B * C, -1))
    return out.reshape(shape)


# ---------------------------------------------------------------- optimizer update

def adamw_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float, beta1: float,
                 beta2: float, eps: float, weight_decay: float, step: int) -> None:
    """One AdamW step in place (PyTorch's rule): decay p, update the moments m and v,
    then p -= lr · m̂ / (√v̂ + eps) with the bias corrections of step `step`."""
    t = param.dtype.type
    param *= t(1.0 - lr * weight_decay)
    m *= t(beta1)
    m += t(1.0 - beta1) * grad
    v *= t(beta2)
    v += t(1.0 - beta2) * (grad * grad)
    v_hat = v / t(1.0 - beta2 ** step)
    param -= t(lr / (1.0 - beta1 ** step)) * m / (np.sqrt(v_hat) + t(eps))


def column_dtype(width: int) -> np.dtype:
    """A CSR array's column indices' type: uint16 where the width allows (MNIST's 784), else int64."""
    return np.dtype(np.uint16) if width <= 1 << 16 else np.dtype(np.int64)


def csr_from_dense(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR form of a 2-D array: row starts, each non-zero's column, the non-zeros (row-major)."""
    rows, cols = np.nonzero(x)
    indptr = np.zeros(x.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=x.shape[0]), out=indptr[1:])
    return indptr, cols.astype(column_dtype(x.shape[1])), x[rows, cols]


def csr_take_rows(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                  rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR form of rows `rows`, in that order."""
    rows = np.asarray(rows, dtype=np.int64)
    picks = [np.arange(indptr[r], indptr[r + 1]) for r in rows]
    at = np.concatenate(picks) if picks else np.zeros(0, np.int64)
    starts = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(p) for p in picks], out=starts[1:])
    return starts, indices[at], values[at]


def csr_to_dense(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, width: int, dtype) -> np.ndarray:
    """A CSR array written out [M, width] (the twins' products read it so; `sparse.CSR` too)."""
    out = np.zeros((len(indptr) - 1, width), dtype)
    out[np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), indices.astype(np.int64)] = values
    return out


def csr_matmul(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, b: np.ndarray,
               scale: float = 1.0) -> np.ndarray:
    """`scale · (X @ b)` for X in CSR form: the dense product of X written out."""
    return matmul(csr_to_dense(indptr, indices, values, b.shape[0], values.dtype), b, scale)


def csr_grad(g: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, width: int,
             scale: float = 1.0) -> np.ndarray:
    """`scale · (gᵀ @ X)` for X in CSR form: the dense product of X written out."""
    return matmul(g.T, csr_to_dense(indptr, indices, values, width, values.dtype), scale)


def set_num_threads(n: int) -> None:
    """The numpy set has no thread pool of its own (BLAS's threads are capped in `kernels.blas`)."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")


def get_num_threads() -> int:
    return 1


def is_compiled() -> bool:
    """Nothing to compile."""
    return True
