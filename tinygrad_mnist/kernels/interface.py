"""The one interface every kernel set offers (MiniTorch's `TensorOps`): each kernel's name and
signature, and the thread controls. `numba_kernels` and `numpy_kernels` both implement it
(tests/engine/test_kernel_layout.py checks every name and signature), and the ops above call
`kernels.impl.<name>` without knowing which set they got.

Kernels work on plain numpy arrays, never on a `Tensor`, and keep nothing between calls.
"""
from __future__ import annotations

from typing import Optional, Protocol, Tuple, runtime_checkable

import numpy as np


@runtime_checkable
class KernelSet(Protocol):
    """A kernel set. The docstrings are the contract; `numpy_kernels.py` is its plain reading."""

    # -- products
    def matmul(self, a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """`scale * (a @ b)` for 2-D arrays of any layout (a may be uint8)."""

    # -- elementwise and the optimizer
    def argmax(self, x: np.ndarray, axis=None) -> np.ndarray:
        """Index of the first largest element along `axis` (a NaN counts as largest)."""

    def relu(self, x: np.ndarray) -> np.ndarray:
        """max(x, 0) elementwise (NaN stays NaN)."""

    def relu_backward(self, grad: np.ndarray, y: np.ndarray) -> np.ndarray:
        """grad where relu's output y > 0, else 0."""

    def adamw_update(self, param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float,
                     beta1: float, beta2: float, eps: float, weight_decay: float, step: int) -> None:
        """One AdamW step in place on param, m and v."""

    # -- softmax and the loss
    def log_softmax(self, x: np.ndarray) -> np.ndarray:
        """`x - logsumexp(x)` along the last axis of a 2-D array."""

    def log_softmax_backward(self, grad: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d/dx of log_softmax given its output y."""

    def nll(self, log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Mean over rows of `-log_probs[i, targets[i]]`, as a 0-d array."""

    def nll_backward(self, grad: float, targets: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
        """d nll / d log_probs."""

    # -- convolution
    def conv_out_size(self, size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
        """Output positions along one side of a convolution."""

    def im2col(self, x: np.ndarray, kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple,
               dtype) -> np.ndarray:
        """Patches of x [B, C, H, W] as rows [B·OH·OW, kh·kw·C], the channel innermost."""

    def col2im(self, cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: tuple, padding: tuple,
               dilation: tuple) -> np.ndarray:
        """The adjoint of im2col, into [B, C, H, W]."""

    def rows_to_nchw(self, rows: np.ndarray, bias: Optional[np.ndarray], shape: tuple) -> np.ndarray:
        """Product rows [B·OH·OW, O] plus bias as the NCHW output."""

    def nchw_to_rows(self, grad: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The adjoint of rows_to_nchw, and the bias gradient."""

    def conv_one_channel(self, x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray]) -> np.ndarray:
        """x [B, H, W] ⋆ w [O, kh, kw] + bias → [B, O, OH, OW]."""

    def conv_one_channel_backward(self, grad: np.ndarray, x: np.ndarray, kh: int,
                                  kw: int) -> Tuple[np.ndarray, np.ndarray]:
        """d/dw and d/dbias of conv_one_channel."""

    # -- pooling
    def pool_out_size(self, size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
        """Output positions of a pooling window along one side."""

    def max_pool2d(self, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, out_size: tuple,
                   dilation: tuple = (1, 1)):
        """Max over windows of x [B, C, H, W] (taps `dilation` apart), and the index of each
        window's maximum in its plane."""

    def max_pool2d_backward(self, grad: np.ndarray, index: np.ndarray, shape: tuple) -> np.ndarray:
        """Route each window's gradient to its maximum."""

    # -- rows in CSR form (row starts [M+1] int64, each non-zero's column, the non-zeros)
    def csr_from_dense(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CSR form of a 2-D array, its non-zeros in row-major order."""

    def csr_take_rows(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                      rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CSR form of rows `rows` of a CSR array, in that order (a minibatch)."""

    def csr_matmul(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, b: np.ndarray,
                   scale: float = 1.0) -> np.ndarray:
        """`scale · (X @ b)` for X [M, K] in CSR form and b [K, N] float, in b's dtype."""

    def csr_grad(self, g: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, width: int,
                 scale: float = 1.0) -> np.ndarray:
        """`scale · (gᵀ @ X)` [N, width] for g [M, N] float and X [M, width] in CSR form."""

    # -- threads and compilation
    def set_num_threads(self, n: int) -> None:
        """Use `n` threads in all (the calling one included) for large kernels."""

    def get_num_threads(self) -> int:
        """The threads large kernels use."""

    def is_compiled(self) -> bool:
        """Whether the kernels a training step needs are ready (their first call compiles nothing)."""


KERNELS = tuple(name for name in vars(KernelSet) if not name.startswith("_") and callable(vars(KernelSet)[name]))
ARITHMETIC = tuple(name for name in KERNELS if name not in ("set_num_threads", "get_num_threads", "is_compiled"))


class DeviceArray:
    """The base of an array held in a device's memory (`cuda.array.CudaArray`). The graph treats
    one as it treats a numpy array (a value an op computes on); running an op on one runs it on
    its device's kernel set (`kernels.running_on`). Its values reach the host only when asked
    (`.get()`): numpy reading one raises `DeviceUnsupported`, so no transfer happens unseen."""

    __slots__ = ()

    @classmethod
    def kernel_set(cls) -> "KernelSet":
        """The kernel set that computes on arrays of this device."""
        raise NotImplementedError
    in_use = False  # True once a device's module is loaded: until then the graph checks nothing


class DeviceUnsupported(RuntimeError):
    """What a device array cannot do (no kernel for it, or a silent copy to the host); an op turns
    it into a message naming itself and `.cpu()`."""
