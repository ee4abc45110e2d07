"""Elementwise ops: arithmetic, powers, exp and log, abs and casts (the activations and clamp are
in `activations.py`).

Each docstring states the op's local derivative. A gradient may have the output's
broadcast shape: `autograd.unbroadcast` reduces it to each input's. `backward`
works on arrays and on tensors (`either.py`), so each is differentiable again;
`jvp` gives the output's tangent from the inputs' (None: no tangent).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Function
from .either import log, plus, value


class Add(Function):
    """a + b:  d/da = 1,  d/db = 1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a + b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, grad

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        return plus(ta, tb)


class Sub(Function):
    """a - b:  d/da = 1,  d/db = -1."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return a - b

    @staticmethod
    def backward(ctx: Context, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        return plus(ta, None if tb is None else -tb)


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

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        a, b = ctx.saved_tensors
        return plus(None if ta is None else ta * b, None if tb is None else a * tb)


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

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        a, b = ctx.saved_tensors
        return plus(None if ta is None else ta / b, None if tb is None else -tb * a / (b * b))


class Neg(Function):
    """-x:  d/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x):
        return -x

    @staticmethod
    def backward(ctx: Context, grad):
        return -grad

    @staticmethod
    def jvp(ctx: Context, t):
        return -t


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
            return grad * 0
        return grad * (p * x ** (p - 1))

    @staticmethod
    def jvp(ctx: Context, t):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        return t * 0 if p == 0 else t * (p * x ** (p - 1))


class Masked(Function):
    """where(keep, x, 0) for a constant mask:  d/dx = 1 where kept, else 0. Backward formulas use it
    where a derivative is 0 by rule (a removable singularity) and an `inf · 0` must not become NaN."""

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
    def _partials(ctx: Context):
        a, b, y = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            da = Masked.call(b * a ** (b - 1), keep=value(b) != 0)
            db = Masked.call(y * log(a), keep=~((value(a) == 0) & (value(b) >= 0)))
        return da, db

    @staticmethod
    def backward(ctx: Context, grad):
        da, db = PowT._partials(ctx)
        need_a, need_b = ctx.needs_input_grad
        return (grad * da if need_a else None), (grad * db if need_b else None)

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        da, db = PowT._partials(ctx)
        return plus(None if ta is None else ta * da, None if tb is None else tb * db)


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

    @staticmethod
    def jvp(ctx: Context, t):
        return t * ctx.saved_tensors[0]


class Log(Function):
    """log(x):  d/dx = 1/x."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad / ctx.saved_tensors[0]

    @staticmethod
    def jvp(ctx: Context, t):
        return t / ctx.saved_tensors[0]


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

    @staticmethod
    def jvp(ctx: Context, t):
        return t / (2 * ctx.saved_tensors[0])


class Abs(Function):
    """|x|:  d/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad * np.sign(value(ctx.saved_tensors[0]))

    @staticmethod
    def jvp(ctx: Context, t):
        return t * np.sign(ctx.saved_tensors[0])


class Cast(Function):
    """x.astype(dtype):  d/dx = 1, the gradient cast back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.astype(ctx.in_dtype)

    @staticmethod
    def jvp(ctx: Context, t):
        return t


__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "Masked", "PowT", "Exp", "Log", "Sqrt", "Abs", "Cast"]


class Maximum(Function):
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
    def backward(ctx: Context, grad):
        share_a, share_b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (grad * share_a if da else None), (grad * share_b if db else None)

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        share_a, share_b = ctx.saved_tensors
        return plus(None if ta is None else ta * share_a, None if tb is None else tb * share_b)


class Minimum(Maximum):
    """minimum(a, b), elementwise:  d/da = 1 where a is the smaller, d/db = 1 where b is, ½ each
    where they tie (a NaN wins): `Maximum` with the smaller picked."""

    pick = staticmethod(np.minimum)
