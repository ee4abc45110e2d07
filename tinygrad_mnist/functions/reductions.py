"""Reductions: sum, mean, prod, max and min along axes (or of everything). Sum and mean are linear
(their JVP reduces the tangent); prod weighs each element by the product of the others; max and
min weigh each element by its share of the extreme."""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Op
from .either import array, value
from .movement import expand
from .rules import LinearOp


class Sum(LinearOp):
    """x.sum(axis):  d/dx_i = 1 for every element summed."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return array(x.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Context, grad):
        return expand(grad, ctx.shape, ctx.axis, ctx.keepdims)


class Mean(LinearOp):
    """x.mean(axis):  d/dx_i = 1/n, n the number of elements averaged."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        y = array(x.mean(axis=axis, keepdims=keepdims))
        ctx.n = x.size // max(y.size, 1)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return expand(grad / ctx.n, ctx.shape, ctx.axis, ctx.keepdims)


class Max(Op):
    """x.max(axis):  d/dx_i = 1/k where x_i is one of the k tied maxima (ties split the gradient
    evenly, as PyTorch's amax does), else 0. The shares are constant almost everywhere, so the
    second derivative is 0 (PyTorch's too)."""

    pick = staticmethod(np.max)

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        y = ctx.fn.pick(x, axis=axis, keepdims=True)
        mask = (x == y) | (np.isnan(x) & np.isnan(y))
        ctx.save_for_backward((mask / mask.sum(axis=axis, keepdims=True)).astype(x.dtype))  # each one's share
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.asarray(y if keepdims else (y.reshape(()) if axis is None else np.squeeze(y, axis)))

    @staticmethod
    def backward(ctx: Context, grad):
        (share,) = ctx.saved_tensors
        if ctx.axis is not None and not ctx.keepdims:
            kept = list(share.shape)
            for a in (ctx.axis if isinstance(ctx.axis, tuple) else (ctx.axis,)):
                kept[a] = 1
            grad = grad.reshape(tuple(kept))
        return share * grad

    @staticmethod
    def jvp(ctx: Context, t):
        (share,) = ctx.saved_tensors  # the tied elements' tangents, averaged
        return (share * t).sum(axis=ctx.axis, keepdims=ctx.keepdims)


class Min(Max):
    """x.min(axis):  d/dx_i = 1/k where x_i is one of the k tied minima, else 0: `Max` with the
    smallest picked instead of the largest."""

    pick = staticmethod(np.min)


class Prod(Op):
    """x.prod(axis):  d/dx_i = Π_{j≠i} x_j, the product of the others (`ProdOthers`), computed
    without dividing y by x_i, so zeros are exact: with one zero only it has a nonzero
    derivative (the product of the rest), with two or more every derivative is 0."""

    @staticmethod
    def forward(ctx: Context, x, axis: int = 0, keepdims=False):
        ctx.save_for_backward(x)
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.asarray(x.prod(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors
        return expand(grad, ctx.shape, ctx.axis, ctx.keepdims) * ProdOthers.call(x, axis=ctx.axis)

    @staticmethod
    def jvp(ctx: Context, t):
        (x,) = ctx.saved_tensors
        return (ProdOthers.call(x, axis=ctx.axis) * t).sum(axis=ctx.axis, keepdims=ctx.keepdims)


def _last(x, axis: int):
    """x with `axis` moved last (arrays and tensors), and the permutation that moves it back."""
    perm = tuple(i for i in range(x.ndim) if i != axis) + (axis,)
    return x.transpose(perm), tuple(int(i) for i in np.argsort(perm))


class ProdOthers(Op):
    """out_i = Π_{j≠i} x_j along `axis`, Prod's gradient: the product of the elements before i
    times the product of those after (two running products, no division). Its own derivative is
    dout_i/dx_k = Π_{j∉{i,k}} x_j for k ≠ i (0 for k = i): the same op applied to n copies
    of x, the i-th with x_i set to 1, so its backward needs n times the memory (create_graph only)."""

    @staticmethod
    def forward(ctx: Context, x, axis: int = 0):
        ctx.save_for_backward(x)
        ctx.axis = axis
        xl, back = _last(x, axis)
        if xl.shape[-1] == 0:
            return x.copy()
        ones = np.ones(xl.shape[:-1] + (1,), x.dtype)
        before = np.cumprod(np.concatenate([ones, xl[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, xl[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        return np.ascontiguousarray((before * after).transpose(back))

    @staticmethod
    def pairs(ctx: Context):
        """[..., i, k] = Π_{j∉{i,k}} x_j (0 where k = i), x's `axis` moved last."""
        (x,) = ctx.saved_tensors
        xl, back = _last(x, ctx.axis)
        n = xl.shape[-1]
        eye = np.eye(n, dtype=value(x).dtype)
        copies = xl.reshape(xl.shape[:-1] + (1, n)) * (1 - eye) + eye  # copy i: x with x_i set to 1
        return ProdOthers.call(copies, axis=xl.ndim) * (1 - eye), back

    @staticmethod
    def backward(ctx: Context, h):
        pairs, back = ProdOthers.pairs(ctx)
        hl, _ = _last(h, ctx.axis)
        return (hl.reshape(hl.shape + (1,)) * pairs).sum(axis=-2).transpose(back)

    @staticmethod
    def jvp(ctx: Context, t):
        pairs, back = ProdOthers.pairs(ctx)
        tl, _ = _last(t, ctx.axis)
        return (pairs * tl.reshape(tl.shape[:-1] + (1,) + tl.shape[-1:])).sum(axis=-1).transpose(back)
