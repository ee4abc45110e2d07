"""Products: `a @ b`, and the linear layer's `scale · x @ Wᵀ + b` as one op."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Function


class MatMul(Function):
    """a @ b:  d/da = G @ bᵀ,  d/db = aᵀ @ G.

    2-D operands use the matmul kernels; batched (N-D) ones use numpy's matmul,
    with batch broadcasting undone by `unbroadcast` like any other op.
    """

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        if a.ndim == b.ndim == 2:
            return kernels.impl.matmul(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, grad):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        if a.ndim == b.ndim == 2:
            mm = kernels.impl.matmul
            return (mm(grad, b.T) if da else None), (mm(a.T, grad) if db else None)
        ga = np.matmul(grad, np.swapaxes(b, -1, -2)) if da else None
        gb = np.matmul(np.swapaxes(a, -1, -2), grad) if db else None
        return ga, gb


class Linear(Function):
    """y = scale · x @ Wᵀ + b (Candle's and PyTorch's layout, W is [out, in]):
    d/dx = scale · G @ W,  d/dW = scale · Gᵀ @ x,  d/db = Σ_rows G.

    One op instead of transpose + matmul + add: fewer graph nodes per layer,
    and each product runs on the kernel layout that suits it.
    `scale` is the layer's input scale, asked for explicitly (the MNIST models read
    uint8 pixels as value/255 this way) and shown in the graph: the product is
    `(scale · x) @ Wᵀ` to float32 rounding, without a float copy of x.
    """

    @classmethod
    def label(cls, ctx: Context) -> str:
        """The op's name, and the input scale when it reads its input scaled (pixels as 0..1)."""
        if ctx.scale == 1.0:
            return cls.__name__
        inverse = 1.0 / ctx.scale
        factor = f"1/{inverse:g}" if abs(inverse - round(inverse)) < 1e-9 else f"{ctx.scale:g}"
        return f"{cls.__name__}\ninput × {factor}"

    @staticmethod
    def forward(ctx: Context, x, w, b=None, scale=1.0):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        y = kernels.impl.matmul(x, w.T, scale)
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        mm, s = kernels.impl.matmul, ctx.scale
        dx = mm(grad, w, s) if needs[0] else None
        dw = mm(grad.T, x, s) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (grad.sum(axis=0) if needs[2] else None)
