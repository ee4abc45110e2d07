"""The CUDA kernel set: `kernels.interface.KernelSet` on `CudaArray`s, each name launching the
kernels of `cuda/kernels.py` (the numpy set, `kernels/numpy_kernels.py`, is every one's plain
reading). The ops reach it as `kernels.impl` while they run on CUDA arrays (`kernels.running_on`
asks the array type, on which this module registers itself). It is the device's door: the
engine makes CUDA arrays through it (`to_device`, `dropout_mask`), so the set is loaded first.

What the three models' training step needs is here; the CSR kernels are not (the MLP reads
dense pixels on the GPU), and they raise `DeviceUnsupported`, which the op reports with its name.
"""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

import numpy as np

from ..kernels import numpy_kernels as twins
from ..kernels.interface import DeviceUnsupported
from . import kernels as K
from . import array
from .array import CudaArray, empty, full, launch

to_device, dropout_mask = array.to_device, array.dropout_mask  # how the engine makes CUDA arrays (the door)
conv_out_size = twins.conv_out_size  # sizes are host arithmetic, the same on every set
pool_out_size = twins.pool_out_size


def _k(name: str):
    return K.device_kernels()[name]


def matmul(a: CudaArray, b: CudaArray, scale: float = 1.0) -> CudaArray:
    """`scale · (a @ b)` in the floats' dtype (a may be uint8 pixels): float32 tiled in shared
    memory on a GPU; float64 by the plain kernel (the tiles are float32)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit")
    kind = np.result_type(np.float32, *(x.dtype for x in (a, b) if x.dtype.kind == "f"))
    out = empty((a.shape[0], b.shape[1]), kind)
    if not out.size:
        return out
    if a.shape[1] == 0:
        return full(out.shape, 0, kind)
    t = launch.tile if kind == np.float32 else 0
    if t:
        K.matmul_kernel(t)[(-(-out.shape[1] // t), -(-out.shape[0] // t)), (t, t), launch.stream](
            a.d, b.d, out.d, np.float32(scale))
    else:
        K.matmul_plain_kernel()[launch.grid(out.size)](a.d, b.d, out.d, kind.type(scale))
    return out


def argmax(x: CudaArray, axis: Any = None) -> CudaArray:
    return x.argmax(axis)


def relu(x: CudaArray) -> CudaArray:
    out = empty(x.shape, x.dtype)
    if out.size:
        K.flat_kernels()["relu"][launch.grid(out.size)](x.flat, out.flat)
    return out


def relu_backward(grad: CudaArray, y: CudaArray) -> CudaArray:
    out = empty(grad.shape, grad.dtype)
    if out.size:
        K.flat_kernels()["relu_backward"][launch.grid(out.size)](grad.flat, y.flat, out.flat)
    return out


def adamw_update(param: CudaArray, grad: CudaArray, m: CudaArray, v: CudaArray, lr: float, beta1: float,
                 beta2: float, eps: float, weight_decay: float, step: int) -> None:
    t = param.dtype.type
    _k("adamw")[launch.grid(param.size)](param.flat, grad.flat, m.flat, v.flat, t(1.0 - lr * weight_decay), t(beta1),
                                         t(beta2), t(1.0 - beta2 ** step), t(lr / (1.0 - beta1 ** step)), t(eps))


def log_softmax(x: CudaArray) -> CudaArray:
    out = empty(x.shape, x.dtype)
    if out.size:
        K.row_kernels(launch.block)["log_softmax"][x.shape[0], launch.block, launch.stream](x.d, out.d)
    return out


def log_softmax_backward(grad: CudaArray, y: CudaArray) -> CudaArray:
    out = empty(grad.shape, grad.dtype)
    if out.size:
        K.row_kernels(launch.block)["log_softmax_backward"][grad.shape[0], launch.block, launch.stream](
            grad.d, y.d, out.d)
    return out


def nll(log_probs: CudaArray, targets: CudaArray) -> CudaArray:
    """The mean NLL, one block's tree (the same bits every run)."""
    out = empty((1,), log_probs.dtype)
    K.row_kernels(launch.block)["nll"][1, launch.block, launch.stream](log_probs.d, targets.d, out.d)
    return out.reshape(())


def nll_backward(grad: Any, targets: CudaArray, log_probs: CudaArray) -> CudaArray:
    """−grad / N at each row's target, zero elsewhere, by a kernel over the rows. A host `grad`
    is the kernel's scale; a device one (a 0-d array: it stays there) multiplies −1/N after."""
    n, on_device = log_probs.shape[0], isinstance(grad, CudaArray)
    out, t = empty(log_probs.shape, log_probs.dtype), min(launch.tile or 4, 16)
    if out.size:
        K.grid_kernels()["nll_backward"][(-(-n // t), -(-log_probs.shape[1] // t)), (t, t), launch.stream](
            targets.d, log_probs.dtype.type(1.0 if on_device else float(grad) / n), out.d)
        if on_device:
            out *= grad * np.asarray(1.0 / n, log_probs.dtype)
    return out


# ---------------------------------------------------------------- convolution
def _geometry(kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple, out_hw: tuple) -> tuple:
    return (kh, kw, *stride, *padding, *dilation, *out_hw)


def im2col(x: CudaArray, kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple, dtype) -> CudaArray:
    B, C, H, W = x.shape
    OH, OW = (conv_out_size(n, k, s, p, d) for n, k, s, p, d in zip((H, W), (kh, kw), stride, padding, dilation))
    out = empty((B * OH * OW, kh * kw * C), dtype)
    if out.size:
        _k("im2col")[launch.grid(out.size)](x.d, out.d, _geometry(kh, kw, stride, padding, dilation, (OH, OW)))
    return out


def col2im(cols: CudaArray, shape: tuple, kh: int, kw: int, stride: tuple, padding: tuple,
           dilation: tuple) -> CudaArray:
    B, C, H, W = shape
    OH, OW = (conv_out_size(n, k, s, p, d) for n, k, s, p, d in zip((H, W), (kh, kw), stride, padding, dilation))
    out = empty(shape, cols.dtype)
    if out.size:
        _k("col2im")[launch.grid(out.size)](cols.d, out.d, _geometry(kh, kw, stride, padding, dilation, (OH, OW)))
    return out


def rows_to_nchw(rows: CudaArray, bias: Optional[CudaArray], shape: tuple) -> CudaArray:
    B, O, OH, OW = shape
    out = empty((B, O, OH * OW), rows.dtype)
    if out.size:
        b = bias if bias is not None else full((1,), 0, rows.dtype)
        _k("rows_to_nchw")[launch.grid(out.size)](rows.d, b.d, bias is not None, out.d)
    return out.reshape(shape)


def nchw_to_rows(grad: CudaArray) -> Tuple[CudaArray, CudaArray]:
    B, O, OH, OW = grad.shape
    rows = empty((B * OH * OW, O), grad.dtype)
    if rows.size:
        _k("nchw_to_rows")[launch.grid(rows.size)](grad.reshape(B, O, OH * OW).d, rows.d)
    return rows, rows.sum(axis=0)


def conv_one_channel(x: CudaArray, w: CudaArray, bias: Optional[CudaArray]) -> CudaArray:
    """x [B, H, W] ⋆ w [O, kh, kw] + bias, by patches (the general path with one channel)."""
    (B, H, W), (O, kh, kw) = x.shape, w.shape
    one = ((1, 1), (0, 0), (1, 1))
    cols = im2col(x.reshape(B, 1, H, W), kh, kw, *one, w.dtype)
    rows = matmul(cols, w.reshape(O, kh * kw).T)
    return rows_to_nchw(rows, bias, (B, O, H - kh + 1, W - kw + 1))


def conv_one_channel_backward(grad: CudaArray, x: CudaArray, kh: int, kw: int) -> Tuple[CudaArray, CudaArray]:
    (B, H, W), O = x.shape, grad.shape[1]
    one = ((1, 1), (0, 0), (1, 1))
    rows, g_sum = nchw_to_rows(grad)
    cols = im2col(x.reshape(B, 1, H, W), kh, kw, *one, grad.dtype)
    return matmul(rows.T, cols).reshape(O, kh, kw), g_sum


# ---------------------------------------------------------------- pooling
def max_pool2d(x: CudaArray, kernel: tuple, stride: tuple, padding: tuple, out_size: tuple,
               dilation: tuple = (1, 1)) -> Tuple[CudaArray, CudaArray]:
    B, C = x.shape[:2]
    out, index = empty((B, C, *out_size), x.dtype), empty((B, C, *out_size), np.int64)
    if out.size and x.size:
        _k("max_pool")[launch.grid(out.size)](x.d, out.d, index.d, _geometry(*kernel, stride, padding, dilation,
                                                                               out_size))
    return out, index


def max_pool2d_backward(grad: CudaArray, index: CudaArray, shape: tuple) -> CudaArray:
    B, C, H, W = shape
    out = full((B * C, H * W), 0, grad.dtype)
    if grad.size:
        _k("max_pool_backward")[launch.grid(B * C)](grad.flat, index.flat, out.d)
    return out.reshape(shape)


# ---------------------------------------------------------------- what the GPU does not run
def _refuse(what: str):
    def kernel(*args: Any, **kwargs: Any) -> Any:
        raise DeviceUnsupported(f"{what} on a CUDA array (the GPU reads dense pixels)")
    kernel.__name__ = what
    return kernel


csr_from_dense = _refuse("csr_from_dense")
csr_take_rows = _refuse("csr_take_rows")
csr_matmul = _refuse("csr_matmul")
csr_grad = _refuse("csr_grad")


def set_num_threads(n: int) -> None:  # the GPU's threads are the launch's, not the host's
    pass


def get_num_threads() -> int:
    return 1


def is_compiled() -> bool:
    return True  # numba compiles a CUDA kernel at its first launch; nothing is cached on disk


CudaArray.kernel_set = classmethod(lambda cls: sys.modules[__name__])  # what `kernels.running_on` switches to
