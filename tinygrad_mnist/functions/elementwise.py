"""Elementwise ops: arithmetic, powers, exp and log, the activations, clamp and casts.

Each docstring states the op's local derivative. A gradient may have the output's
broadcast shape: `autograd.unbroadcast` reduces it to each input's."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Function


class Add(Function):
    """a + b:  d/da = 1,  d/db = 1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a + b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, grad


class Sub(Function):
    """a - b:  d/da = 1,  d/db = -1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a - b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b:  d/da = b,  d/db = a."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (grad * b if da else None), (grad * a if db else None)


class Div(Function):
    """a / b:  d/da = 1/b,  d/db = -a/b²."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (grad / b if da else None), (-grad * a / (b * b) if db else None)


class Neg(Function):
    """-x:  d/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x):
        return -x

    @staticmethod
    def backward(ctx: Context, grad):
        return -grad


class Pow(Function):
    """x ** p for a constant p:  d/dx = p · x^(p-1)  (0 for p = 0, also at x = 0)."""

    @staticmethod
    def forward(ctx: Context, x, exponent: float):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:  # x**0 is the constant 1; p · x^(p-1) would be 0 · inf = NaN at x = 0
            return np.zeros_like(grad)
        return grad * (p * x ** (p - 1))


class PowT(Function):
    """a ** b for two tensors:  d/da = b · a^(b-1),  d/db = a^b · log a.
    As in PyTorch, d/db is 0 where a = 0 and b >= 0 (0^b is flat there for b > 0), and d/da is
    0 where b = 0."""

    @staticmethod
    def forward(ctx: Context, a, b):
        y = a ** b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        a, b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = np.where(b == 0, 0, grad * b * a ** (b - 1)) if da else None
            gb = np.where((a == 0) & (b >= 0), 0, grad * y * np.log(a)) if db else None
        return ga, gb


class Exp(Function):
    """exp(x):  d/dx = exp(x), the output itself."""

    @staticmethod
    def forward(ctx: Context, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return grad * ctx.saved_tensors[0]


class Log(Function):
    """log(x):  d/dx = 1/x."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad / ctx.saved_tensors[0]


class Sqrt(Function):
    """√x:  d/dx = 1 / (2√x)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return grad / (2 * ctx.saved_tensors[0])


class Abs(Function):
    """|x|:  d/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad * np.sign(ctx.saved_tensors[0])


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x):  d/dx = σ(x) · (1 − σ(x)).
    Computed as e^x / (1 + e^x) for x < 0, so e^-x never overflows."""

    @staticmethod
    def forward(ctx: Context, x):
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Tanh(Function):
    """tanh(x):  d/dx = 1 − tanh²(x)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Clamp(Function):
    """min(max(x, lo), hi):  d/dx = 1 where lo <= x <= hi, else 0 (PyTorch's rule at the edges)."""

    @staticmethod
    def forward(ctx: Context, x, lo=None, hi=None):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors
        inside = np.ones(x.shape, bool)
        if ctx.lo is not None:
            inside &= x >= ctx.lo
        if ctx.hi is not None:
            inside &= x <= ctx.hi
        return grad * inside


class ReLU(Function):
    """max(x, 0):  d/dx = 1 where x > 0, else 0."""

    @staticmethod
    def forward(ctx: Context, x):
        y = kernels.impl.relu(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return kernels.impl.relu_backward(grad, ctx.saved_tensors[0])


class Cast(Function):
    """x.astype(dtype):  d/dx = 1, the gradient cast back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.astype(ctx.in_dtype)
