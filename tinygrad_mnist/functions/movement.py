"""Ops that move elements without arithmetic: reshape, transpose, broadcast, cat and stack,
indexing and gather. Each backward sends every element's gradient back to where it came from."""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Function


class Reshape(Function):
    """x.reshape(shape):  d/dx is the identity on the elements, so G is reshaped back."""

    @staticmethod
    def forward(ctx: Context, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.reshape(ctx.in_shape)


class Transpose(Function):
    """x.transpose(axes):  d/dx permutes back, so G is transposed by the inverse permutation."""

    @staticmethod
    def forward(ctx: Context, x, axes):
        ctx.axes = tuple(a % x.ndim for a in axes)  # -1 and ndim-1 are the same axis
        return x.transpose(ctx.axes)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.transpose(np.argsort(ctx.axes))


class Expand(Function):
    """broadcast_to(x, shape):  each element is copied, so d/dx sums G over the copies
    (`unbroadcast` does it)."""

    @staticmethod
    def forward(ctx: Context, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad


class Cat(Function):
    """concatenate(xs, axis):  d/dx_k is x_k's own slice of G."""

    @staticmethod
    def forward(ctx: Context, *xs, axis=0):
        ctx.axis, ctx.bounds = axis, tuple(int(n) for n in np.cumsum([x.shape[axis] for x in xs])[:-1])
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    """stack(xs, axis):  d/dx_k is G's k-th slice along the new axis."""

    @staticmethod
    def forward(ctx: Context, *xs, axis=0):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))


def _is_basic_index(idx) -> bool:
    """True for ints, slices, None and Ellipsis: numpy gives views, no element repeats."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


_SAVED = object()  # where an index held an array: the array itself is in saved_tensors


class Index(Function):
    """x[idx]:  d/dx = 1 at each selected element and 0 elsewhere, so G goes back to where it
    came from (summed when an integer array picks the same element several times)."""

    @staticmethod
    def forward(ctx: Context, x, idx):
        items = idx if isinstance(idx, tuple) else (idx,)
        ctx.save_for_backward(*(i for i in items if isinstance(i, np.ndarray)))
        ctx.template = tuple(_SAVED if isinstance(i, np.ndarray) else i for i in items)
        ctx.shape, ctx.was_tuple = x.shape, isinstance(idx, tuple)
        return x[idx]

    @staticmethod
    def backward(ctx: Context, grad):
        arrays = iter(ctx.saved_tensors)
        items = tuple(next(arrays) if i is _SAVED else i for i in ctx.template)
        idx = items if ctx.was_tuple else items[0]
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        if _is_basic_index(idx):
            out[idx] = grad
        else:
            np.add.at(out, idx, grad)
        return out


class Gather(Function):
    """y = take_along_axis(x, index, axis) (PyTorch's gather):  d/dx = 1 at each gathered
    position, so G is added back there (twice where an index repeats)."""

    @staticmethod
    def forward(ctx: Context, x, index, axis=0):
        ctx.save_for_backward(index)
        ctx.shape, ctx.axis = x.shape, axis
        return np.take_along_axis(x, index, axis)

    @staticmethod
    def backward(ctx: Context, grad):
        (index,) = ctx.saved_tensors
        out = np.zeros(ctx.shape, grad.dtype)
        idx = list(np.indices(index.shape, sparse=True))
        idx[ctx.axis] = index
        np.add.at(out, tuple(idx), grad)
        return out
