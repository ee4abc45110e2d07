"""The activations and clamp: sigmoid, tanh, clamp, ReLU (and ReLU's gradient as an op of its own,
so it can be differentiated again on the same kernel). Each docstring states the local
derivative, and where the derivative has a kink, which side PyTorch takes."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Op
from .either import value
from .rules import Elementwise


class Sigmoid(Elementwise):
    """σ(x) = 1 / (1 + e^-x):  d/dx = σ(x) · (1 − σ(x)).
    Computed as e^x / (1 + e^x) for x < 0, so e^-x never overflows."""

    method, on_reals = "sigmoid", True

    @staticmethod
    def forward(ctx: Context, x):
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def derivative(ctx: Context):
        (y,) = ctx.saved_tensors
        return y * (1 - y)


class Tanh(Elementwise):
    """tanh(x):  d/dx = 1 − tanh²(x)."""

    method, on_reals = "tanh", True

    @staticmethod
    def forward(ctx: Context, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def derivative(ctx: Context):
        (y,) = ctx.saved_tensors
        return 1 - y * y


class Clamp(Elementwise):
    """min(max(x, lo), hi):  d/dx = 1 where lo <= x <= hi, else 0 (PyTorch's rule at the edges)."""

    @staticmethod
    def forward(ctx: Context, x, lo=None, hi=None):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def derivative(ctx: Context):
        x = value(ctx.saved_tensors[0])
        inside = np.ones(x.shape, bool)
        if ctx.lo is not None:
            inside &= x >= ctx.lo
        if ctx.hi is not None:
            inside &= x <= ctx.hi
        return inside


class ReLU(Op):
    """max(x, 0):  d/dx = 1 where x > 0, else 0 (0 at x = 0, as in PyTorch). Its factor is applied
    by a kernel (`relu_backward`: the mask and the product in one pass, the training step's
    path) in both directions, rather than as `Elementwise`'s g · d."""

    method = "relu"

    @staticmethod
    def forward(ctx: Context, x):
        y = kernels.impl.relu(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return ReLUBackward.call(grad, ctx.saved_tensors[0])

    @staticmethod
    def jvp(ctx: Context, t):
        return kernels.impl.relu_backward(np.ascontiguousarray(t), ctx.saved_tensors[0])


class ReLUBackward(Op):
    """g where y > 0, else 0: ReLU's gradient as an op of its own (PyTorch's threshold_backward,
    which selects, so a NaN cotangent where ReLU is flat gives 0): d/dg = [y > 0], d/dy = 0 (the
    mask is constant almost everywhere)."""

    @staticmethod
    def forward(ctx: Context, grad, y):
        ctx.save_for_backward(y)
        return kernels.impl.relu_backward(grad, y)

    @staticmethod
    def backward(ctx: Context, grad):
        return ReLUBackward.call(grad, value(ctx.saved_tensors[0])), None

    @staticmethod
    def jvp(ctx: Context, tg, ty):
        return None if tg is None else kernels.impl.relu_backward(np.ascontiguousarray(tg), ctx.saved_tensors[0])
