"""Products: `a @ b`, and the linear layer's `scale · x @ Wᵀ + b` as one op. Both are bilinear,
so their gradients are products again, written with the ops themselves: a gradient of a
gradient goes through the same kernels, and the JVP is the product rule."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Op
from ..sparse import is_csr
from .either import plus, swap_last


class MatMul(Op):
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
        return (MatMul.call(grad, swap_last(b)) if da else None), (MatMul.call(swap_last(a), grad) if db else None)

    @staticmethod
    def jvp(ctx: Context, ta, tb):
        a, b = ctx.saved_tensors
        return plus(None if ta is None else MatMul.call(ta, b), None if tb is None else MatMul.call(a, tb))


class Linear(Op):
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
        if is_csr(x):  # images in CSR form (sparse.py): only the non-zeros are multiplied
            y = kernels.impl.csr_matmul(x.indptr, x.indices, x.values, w.T, scale)
        else:
            y = kernels.impl.matmul(x, w.T, scale)
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        x, w = ctx.saved_tensors
        needs, s = ctx.needs_input_grad, ctx.scale
        dx = Linear.call(grad, w.T, scale=s) if needs[0] else None   # s · G @ W
        dw = None
        if needs[1]:  # s · Gᵀ @ x; a CSR input is a constant (a saved CSR comes back as itself)
            dw = CSRWeightGrad.call(grad, x=x, scale=s) if is_csr(x) else Linear.call(grad.T, x.T, scale=s)
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (grad.sum(axis=0) if needs[2] else None)

    @staticmethod
    def jvp(ctx: Context, tx, tw, tb=None):
        x, w = ctx.saved_tensors
        s = ctx.scale
        return plus(None if tx is None else Linear.call(tx, w, scale=s),
                    None if tw is None else Linear.call(x, tw, scale=s), tb)


class CSRWeightGrad(Op):
    """A Linear's d/dW for an input X in CSR form: s · Gᵀ @ X, linear in G, so its VJP for a
    cotangent K [out, in] is d/dG = s · X @ Kᵀ (a Linear on X again); X takes no gradient."""

    @staticmethod
    def forward(ctx: Context, grad, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return kernels.impl.csr_grad(grad, x.indptr, x.indices, x.values, x.shape[1], scale)

    @staticmethod
    def backward(ctx: Context, k):
        (x,) = ctx.saved_tensors
        return Linear.call(x, k, scale=ctx.scale)

    @staticmethod
    def jvp(ctx: Context, t):
        (x,) = ctx.saved_tensors
        return CSRWeightGrad.call(t, x=x, scale=ctx.scale)
