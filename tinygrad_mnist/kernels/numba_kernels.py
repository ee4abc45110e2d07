"""The numba kernel set: the fast twins of `numpy_kernels.py`, the interface of `interface.py`.

Each family lives in its own file, with the reasons for its design beside it:

    pool.py         compiling (`jit`) and spreading rows over threads (`for_rows`)
    products.py     matmul
    softmax.py      log_softmax, nll and their gradients
    conv.py         im2col, col2im, the output's layout change, a single-channel convolution
    maxpool.py      max_pool2d and its gradient
    elementwise.py  relu and its gradient, argmax, the AdamW update
    sparse.py       rows in CSR form: building, taking rows, the two products

A kernel calls compiled helpers from its own file only: numba caches each
file's compiled code separately and would not notice a change in another.
"""
from __future__ import annotations

from .conv import col2im, conv_one_channel, conv_one_channel_backward, im2col, nchw_to_rows, rows_to_nchw
from .elementwise import adamw_update, argmax, relu, relu_backward
from .maxpool import max_pool2d, max_pool2d_backward
from .numpy_kernels import conv_out_size, pool_out_size
from .pool import get_num_threads, is_cached, set_num_threads
from .products import _nt_rows, matmul
from .softmax import log_softmax, log_softmax_backward, nll, nll_backward
from .sparse import csr_from_dense, csr_grad, csr_matmul, csr_take_rows


def is_compiled() -> bool:
    """Whether numba's cache holds the product kernel every training step runs first."""
    return is_cached(_nt_rows)


__all__ = ["matmul", "log_softmax", "log_softmax_backward", "nll", "nll_backward", "relu", "relu_backward",
           "argmax", "adamw_update", "im2col", "col2im", "rows_to_nchw", "nchw_to_rows", "conv_one_channel",
           "conv_one_channel_backward", "max_pool2d", "max_pool2d_backward",
           "conv_out_size", "pool_out_size", "csr_from_dense", "csr_take_rows", "csr_matmul", "csr_grad",
           "set_num_threads", "get_num_threads", "is_compiled"]
