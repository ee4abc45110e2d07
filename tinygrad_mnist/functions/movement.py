"""Ops that move elements without arithmetic: reshape, transpose, broadcast, cat and stack,
indexing and gather. Each backward sends every element's gradient back to where it came from,
and each is linear: its JVP applies the op itself to the tangent (`rules.LinearOp` does that
where the op's settings are plain; indexing and gather, whose index arrays are saved for
backward, write it out). The scatters that undo indexing and gather are ops too
(`IndexBackward`, `ScatterAdd`), each the adjoint of the other's gather, so gradients of
gradients go through them."""
from __future__ import annotations

import numpy as np

from ..autograd import Context, Op, is_array
from .either import value
from .rules import LinearOp


class Reshape(LinearOp):
    """x.reshape(shape):  d/dx is the identity on the elements, so G is reshaped back."""

    @staticmethod
    def forward(ctx: Context, x, shape):
        y = x.reshape(shape)
        ctx.in_shape, ctx.out_shape = x.shape, y.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.reshape(ctx.in_shape)


class Clone(LinearOp):
    """A row-major copy of x (clone, contiguous):  d/dx is the identity, so G passes unchanged."""

    @staticmethod
    def forward(ctx: Context, x):
        return x.copy(order="C")

    @staticmethod
    def backward(ctx: Context, grad):
        return grad


class ToDevice(LinearOp):
    """x copied to another device (`Tensor.to("cuda")`, `.cpu()`):  d/dx is the identity, so G
    is copied back to x's device."""

    @staticmethod
    def forward(ctx: Context, x, device, home):
        ctx.device, ctx.home = device, home
        return _copy_to(x, device.type)

    @staticmethod
    def backward(ctx: Context, grad):
        if not is_array(grad):  # create_graph: the copy back is recorded too
            return ToDevice.apply(grad, device=ctx.home, home=ctx.device)
        return _copy_to(grad, ctx.home.type)


def _copy_to(x, kind: str):
    if kind == "cpu":
        return x if isinstance(x, np.ndarray) else x.get()
    from ..cuda.ops import CudaArray, to_device
    return x if isinstance(x, CudaArray) else to_device(x)


class Transpose(LinearOp):
    """x.transpose(axes):  d/dx permutes back, so G is transposed by the inverse permutation."""

    @staticmethod
    def forward(ctx: Context, x, axes):
        ctx.axes = tuple(a % x.ndim for a in axes)  # -1 and ndim-1 are the same axis
        return x.transpose(ctx.axes)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.transpose(tuple(int(a) for a in np.argsort(ctx.axes)))


class Expand(LinearOp):
    """broadcast_to(x, shape):  each element is copied, so d/dx sums G over the copies
    (`unbroadcast` does it)."""

    @staticmethod
    def forward(ctx: Context, x, shape):
        ctx.shape = tuple(shape)
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad


def expand(grad, shape: tuple, axis=None, keepdims: bool = False):
    """Put back the axes a reduction removed and broadcast `grad` to `shape` (arrays or tensors)."""
    if axis is not None and not keepdims:
        kept = list(shape)
        for a in (axis if isinstance(axis, tuple) else (axis,)):
            kept[a] = 1
        grad = grad.reshape(tuple(kept))
    return Expand.call(grad, shape=tuple(shape))


def _slab(axis: int, lo, hi=None) -> tuple:
    return (slice(None),) * axis + ((slice(lo, hi),) if hi is not None else (lo,))


class Cat(LinearOp):
    """concatenate(xs, axis):  d/dx_k is x_k's own slice of G."""

    @staticmethod
    def forward(ctx: Context, *xs, axis=0):
        ends = np.cumsum([x.shape[axis] for x in xs])
        ctx.axis, ctx.bounds = axis, tuple(zip([0, *map(int, ends[:-1])], map(int, ends)))
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad):
        return tuple(grad[_slab(ctx.axis, lo, hi)] for lo, hi in ctx.bounds)


class Stack(LinearOp):
    """stack(xs, axis):  d/dx_k is G's k-th slice along the new axis."""

    @staticmethod
    def forward(ctx: Context, *xs, axis=0):
        ctx.axis, ctx.count = axis, len(xs)
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad):
        return tuple(grad[_slab(ctx.axis, k)] for k in range(ctx.count))


def _is_basic_index(idx) -> bool:
    """True for ints, slices, None and Ellipsis: numpy gives views, no element repeats."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


_SAVED = object()  # where an index held an array: the array itself is in saved_tensors


def _split(ctx: Context, idx) -> None:
    """Keep an index on ctx: its arrays through save_for_backward, the rest as a template."""
    items = idx if isinstance(idx, tuple) else (idx,)
    ctx.save_for_backward(*(i for i in items if isinstance(i, np.ndarray)))
    ctx.template = tuple(_SAVED if isinstance(i, np.ndarray) else i for i in items)
    ctx.was_tuple = isinstance(idx, tuple)


def _joined(ctx: Context):
    arrays = iter(ctx.saved_tensors)  # arrays, or with create_graph constant tensors: their numbers
    items = tuple(value(next(arrays)) if i is _SAVED else i for i in ctx.template)
    return items if ctx.was_tuple else items[0]


class Index(Op):
    """x[idx]:  d/dx = 1 at each selected element and 0 elsewhere, so G goes back to where it
    came from (summed when an integer array picks the same element several times)."""

    @staticmethod
    def forward(ctx: Context, x, idx):
        _split(ctx, idx)
        ctx.shape = x.shape
        out = x[idx]  # a CSR's rows (sparse.py) come back as a CSR
        if isinstance(out, np.ndarray) and not out.flags.c_contiguous and not np.may_share_memory(out, x):
            out = np.ascontiguousarray(out)  # a copy (array indices), in row-major order as PyTorch's
        return out

    @staticmethod
    def backward(ctx: Context, grad):
        return IndexBackward.call(grad, idx=_joined(ctx), shape=ctx.shape)

    @staticmethod
    def jvp(ctx: Context, t):
        return t[_joined(ctx)]


class IndexBackward(Op):
    """zeros(shape) with G added at idx (the adjoint of indexing):  d/dG is indexing by idx."""

    @staticmethod
    def forward(ctx: Context, grad, idx, shape):
        _split(ctx, idx)
        ctx.out_shape = shape
        out = np.zeros(shape, dtype=grad.dtype)
        if _is_basic_index(idx):
            out[idx] = grad
        else:
            np.add.at(out, idx, grad)
        return out

    @staticmethod
    def backward(ctx: Context, grad):
        return Index.call(grad, idx=_joined(ctx))

    @staticmethod
    def jvp(ctx: Context, t):
        return IndexBackward.forward(Context(IndexBackward, (), ()), t, _joined(ctx), ctx.out_shape)


class Gather(Op):
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
        return ScatterAdd.call(grad, index=value(index), axis=ctx.axis, shape=ctx.shape)

    @staticmethod
    def jvp(ctx: Context, t):
        (index,) = ctx.saved_tensors
        return np.take_along_axis(t, index, ctx.axis)


class ScatterAdd(Op):
    """zeros(shape) with G added at index along axis (the adjoint of gather):  d/dG is gather."""

    @staticmethod
    def forward(ctx: Context, grad, index, axis, shape):
        ctx.save_for_backward(index)
        ctx.axis, ctx.shape = axis, shape
        out = np.zeros(shape, grad.dtype)
        idx = list(np.indices(index.shape, sparse=True))
        idx[axis] = index
        np.add.at(out, tuple(idx), grad)
        return out

    @staticmethod
    def backward(ctx: Context, grad):
        (index,) = ctx.saved_tensors
        return Gather.call(grad, index=value(index), axis=ctx.axis)

    @staticmethod
    def jvp(ctx: Context, t):
        (index,) = ctx.saved_tensors
        return ScatterAdd.forward(Context(ScatterAdd, (), ()), t, index, ctx.axis, ctx.shape)

