"""Elementwise ops: arithmetic, powers, exp and log, abs, maximum and minimum, and casts (the
activations and clamp are in `activations.py`).

Each docstring states the op's local derivative. Most state it once, as code too
(`rules.Elementwise`: backward is g · d, jvp is t · d); the linear ones (add, sub, neg, a cast)
write only backward (`rules.LinearOp`: jvp is the op on the tangents). A gradient may have the
output's broadcast shape: `autograd.unbroadcast` reduces it to each input's. Everything here
works on arrays and on tensors (`either.py`), so each is differentiable again.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Op
from .either import log, value
from .rules import Elementwise, LinearOp


class Add(LinearOp):
    """a + b:  d/da = 1,  d/db = 1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a + b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, grad


class Sub(LinearOp):
    """a - b:  d/da = 1,  d/db = -1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a - b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Neg(LinearOp):
    """-x:  d/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x):
        return -x

    @staticmethod
    def backward(ctx: Context, grad):
        return -grad


class Cast(LinearOp):
    """x.astype(dtype):  d/dx = 1, the gradient cast back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.astype(ctx.in_dtype)


class Mul(Elementwise):
    """a * b:  d/da = b,  d/db = a."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def derivatives(ctx: Context, wanted):
        a, b = ctx.saved_tensors
        return (b if wanted[0] else None), (a if wanted[1] else None)


class Div(Elementwise):
    """a / b:  d/da = 1/b,  d/db = -a/b²."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def derivatives(ctx: Context, wanted):
        a, b = ctx.saved_tensors
        return (1 / b if wanted[0] else None), (-a / (b * b) if wanted[1] else None)


class Pow(Elementwise):
    """x ** p for a constant p:  d/dx = p · x^(p-1)  (0 for p = 0, also at x = 0)."""

    @staticmethod
    def forward(ctx: Context, x, exponent: float):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def derivative(ctx: Context):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:  # x**0 is the constant 1; p · x^(p-1) would be 0 · inf = NaN at x = 0
            return 0
        return p * x ** (p - 1)


class Masked(Op):
    """where(keep, x, 0) for a constant mask:  d/dx = 1 where kept, else 0. Backward formulas use it
    where a derivative is 0 by rule (a removable singularity) and an `inf · 0` must not become NaN,
    so its own rules select rather than multiply."""

    @staticmethod
    def forward(ctx: Context, x, keep):
        ctx.save_for_backward(keep)
        return np.where(keep, x, 0).astype(x.dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        (keep,) = ctx.saved_tensors
        return Masked.call(grad, keep=value(keep))

    @staticmethod
    def jvp(ctx: Context, t):
        (keep,) = ctx.saved_tensors
        return np.where(keep, t, 0)


class PowT(Elementwise):
    """a ** b for two tensors:  d/da = b · a^(b-1),  d/db = a^b · log a.
    As in PyTorch, d/db is 0 where a = 0 and b >= 0 (0^b is flat there for b > 0), and d/da is
    0 where b = 0."""

    @staticmethod
    def forward(ctx: Context, a, b):
        y = a ** b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def derivatives(ctx: Context, wanted):
        a, b, y = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            da = Masked.call(b * a ** (b - 1), keep=value(b) != 0) if wanted[0] else None
            db = Masked.call(y * log(a), keep=~((value(a) == 0) & (value(b) >= 0))) if wanted[1] else None
        return da, db


class Exp(Elementwise):
    """exp(x):  d/dx = exp(x), the output itself."""

    method, on_reals = "exp", True

    @staticmethod
    def forward(ctx: Context, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def derivative(ctx: Context):
        return ctx.saved_tensors[0]


class Log(Elementwise):
    """log(x):  d/dx = 1/x."""

    method, on_reals = "log", True

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def derivative(ctx: Context):
        return 1 / ctx.saved_tensors[0]


class Log1p(Elementwise):
    """log(1 + x):  d/dx = 1/(1 + x). Exact for tiny x, where 1 + x would round to 1."""

    method, on_reals = "log1p", True

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def derivative(ctx: Context):
        return 1 / (1 + ctx.saved_tensors[0])


class Sin(Elementwise):
    """sin(x):  d/dx = cos(x) (an op, so create_graph differentiates it again)."""

    method, on_reals = "sin", True

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def derivative(ctx: Context):
        return Cos.call(ctx.saved_tensors[0])


class Cos(Elementwise):
    """cos(x):  d/dx = −sin(x)."""

    method, on_reals = "cos", True

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def derivative(ctx: Context):
        return -Sin.call(ctx.saved_tensors[0])


class Sqrt(Elementwise):
    """√x:  d/dx = 1 / (2√x)."""

    method, on_reals = "sqrt", True

    @staticmethod
    def forward(ctx: Context, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def derivative(ctx: Context):
        return 1 / (2 * ctx.saved_tensors[0])


class Abs(Elementwise):
    """|x|:  d/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    method = "abs"

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def derivative(ctx: Context):
        return np.sign(value(ctx.saved_tensors[0]))


class Maximum(Elementwise):
    """maximum(a, b), elementwise:  d/da = 1 where a wins, d/db = 1 where b wins, ½ each where they
    tie (PyTorch's rule); a NaN wins. The shares are constant almost everywhere, so the second
    derivative is 0."""

    pick = staticmethod(np.maximum)

    @staticmethod
    def forward(ctx: Context, a, b):
        y = ctx.fn.pick(a, b)
        wins_a, wins_b = (a == y) | np.isnan(a), (b == y) | np.isnan(b)
        share_a = (wins_a / (wins_a.astype(y.dtype) + wins_b)).astype(y.dtype)
        ctx.save_for_backward(share_a, (1 - share_a).astype(y.dtype))
        return y

    @staticmethod
    def derivatives(ctx: Context, wanted):
        share_a, share_b = ctx.saved_tensors
        return (share_a if wanted[0] else None), (share_b if wanted[1] else None)


class Minimum(Maximum):
    """minimum(a, b), elementwise:  d/da = 1 where a is the smaller, d/db = 1 where b is, ½ each
    where they tie (a NaN wins): `Maximum` with the smaller picked."""

    pick = staticmethod(np.minimum)
