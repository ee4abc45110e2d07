"""Every op of the engine: one `Function` subclass each, forward beside backward.

Each docstring states the op's local derivative. `backward` returns one
gradient per tensor input (None where no gradient is wanted); a gradient may
have the broadcast shape of the output: `autograd.unbroadcast` reduces it.
Heavy arithmetic goes through `kernels.impl`, which is numba or numpy.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .autograd import Context, Function

# ---------------------------------------------------------------- elementwise


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
    """x ** p for a constant p:  d/dx = p · x^(p-1)."""

    @staticmethod
    def forward(ctx: Context, x, exponent: float):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        return grad * (p * x ** (p - 1))


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


# ---------------------------------------------------------------- reductions

def _expand(grad, shape, axis, keepdims):
    """Put back the axes a reduction removed, so `grad` broadcasts against its input."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    """x.sum(axis):  d/dx_i = 1 for every element summed."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Context, grad):
        return _expand(grad, ctx.shape, ctx.axis, ctx.keepdims)


class Mean(Function):
    """x.mean(axis):  d/dx_i = 1/n, n the number of elements averaged."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        y = np.asarray(x.mean(axis=axis, keepdims=keepdims))
        ctx.n = x.size // max(y.size, 1)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return _expand(grad / ctx.n, ctx.shape, ctx.axis, ctx.keepdims)


class Max(Function):
    """x.max(axis):  d/dx_i = 1 where x_i is the maximum (split evenly between ties), else 0."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        y = x.max(axis=axis, keepdims=True)
        mask = x == y
        ctx.save_for_backward((mask / mask.sum(axis=axis, keepdims=True)).astype(x.dtype))
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.asarray(y if keepdims else (y.reshape(()) if axis is None else np.squeeze(y, axis)))

    @staticmethod
    def backward(ctx: Context, grad):
        (share,) = ctx.saved_tensors
        if ctx.axis is not None and not ctx.keepdims:
            grad = np.expand_dims(grad, ctx.axis)
        return share * grad


# ---------------------------------------------------------------- shape


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
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, grad):
        return grad.transpose(np.argsort(ctx.axes))


def _is_basic_index(idx) -> bool:
    """True for ints, slices, None and Ellipsis: numpy gives views, no element repeats."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


class Index(Function):
    """x[idx]:  d/dx = 1 at each selected element and 0 elsewhere, so G goes back to where it
    came from (summed when an integer array picks the same element several times)."""

    @staticmethod
    def forward(ctx: Context, x, idx):
        ctx.shape, ctx.idx = x.shape, idx
        return x[idx]

    @staticmethod
    def backward(ctx: Context, grad):
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        if _is_basic_index(ctx.idx):
            out[ctx.idx] = grad
        else:
            np.add.at(out, ctx.idx, grad)
        return out


# ---------------------------------------------------------------- linear algebra


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


# ---------------------------------------------------------------- softmax and losses


def _rows(x, axis):
    """View `x` as 2-D rows along `axis` (moved last) and a function to undo it."""
    moved = np.moveaxis(x, axis, -1)
    shape = moved.shape
    return moved.reshape(-1, shape[-1]), lambda y: np.moveaxis(y.reshape(shape), -1, axis)


class LogSoftmax(Function):
    """y = x - log Σ exp(x) along `axis`:  d/dx = G - softmax(x) · Σ G (along the axis)."""

    @staticmethod
    def forward(ctx: Context, x, axis=-1):
        rows, back = _rows(x, axis)
        y = kernels.impl.log_softmax(rows)
        ctx.save_for_backward(y)
        ctx.back, ctx.axis = back, axis
        return back(y)

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        rows, _ = _rows(grad, ctx.axis)
        return ctx.back(kernels.impl.log_softmax_backward(rows, y))


def check_targets(op: str, shape: tuple, targets: np.ndarray) -> None:
    """Raise a clear error unless `targets` are class ids for the rows of scores shaped `shape`."""
    if len(shape) != 2:
        raise ValueError(f"{op}: expected a 2-D [batch, classes] input, got shape {shape}")
    if targets.ndim != 1 or targets.dtype.kind not in "iu":
        raise ValueError(f"{op}: targets must be a 1-D array of integer class ids, "
                         f"got {targets.dtype} of shape {targets.shape}")
    if targets.shape[0] != shape[0]:
        raise ValueError(f"{op}: {targets.shape[0]} targets for a batch of {shape[0]}")
    if targets.size and (targets.min() < 0 or targets.max() >= shape[1]):
        bad = targets[(targets < 0) | (targets >= shape[1])][0]
        raise ValueError(f"{op}: target {bad} is out of range for {shape[1]} classes")


class NLL(Function):
    """loss = -mean_i log_probs[i, t_i]:  d/d log_probs[i, c] = -1/N if c = t_i, else 0."""

    @staticmethod
    def forward(ctx: Context, log_probs, targets):
        check_targets("nll", log_probs.shape, targets)
        ctx.save_for_backward(log_probs, targets)
        return kernels.impl.nll(log_probs, targets)

    @staticmethod
    def backward(ctx: Context, grad):
        log_probs, targets = ctx.saved_tensors
        return kernels.impl.nll_backward(float(grad), targets, log_probs)


# ---------------------------------------------------------------- convolution and pooling (NCHW)


def _flat_filters(w):
    """Filters [O, C, kh, kw] as the [O, kh·kw·C] matrix whose columns follow im2col's patch
    order (the channel innermost, on both kernel sets)."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


class Conv2d(Function):
    """y = x ⋆ W + b (cross-correlation, as in PyTorch and Candle), via y = im2col(x) @ W_flatᵀ
    with W_flat the filters as rows (`_flat_filters`):
    d/dW = Gᵀ @ im2col(x),  d/db = Σ G over batch and positions,  d/dx = col2im(G @ W_flat).
    """

    @staticmethod
    def forward(ctx: Context, x, w, b=None, stride=1, padding=0):
        (B, _, H, W), (O, C, kh, kw) = x.shape, w.shape
        OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
        cols = kernels.impl.im2col(x, kh, kw, stride, padding, w.dtype)  # [B·OH·OW, kh·kw·C]
        y = kernels.impl.matmul(cols, _flat_filters(w).T)                # [B·OH·OW, O]
        if b is not None:
            y += b
        ctx.save_for_backward(cols, w)
        ctx.geometry = (x.shape, stride, padding)
        return np.ascontiguousarray(y.reshape(B, OH, OW, O).transpose(0, 3, 1, 2))

    @staticmethod
    def backward(ctx: Context, grad):
        cols, w = ctx.saved_tensors
        x_shape, stride, padding = ctx.geometry
        needs = ctx.needs_input_grad
        O, C, kh, kw = w.shape
        g = np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(-1, O)
        k, mm = kernels.impl, kernels.impl.matmul
        dx = k.col2im(mm(g, _flat_filters(w)), x_shape, kh, kw, stride, padding) if needs[0] else None
        dw = np.ascontiguousarray(mm(g.T, cols).reshape(O, kh, kw, C).transpose(0, 3, 1, 2)) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (g.sum(axis=0) if needs[2] else None)


class MaxPool2d(Function):
    """y = max over each k×k window:  d/dx = 1 at each window's (first) maximum, else 0."""

    @staticmethod
    def forward(ctx: Context, x, kernel=2, stride=2):
        y, index = kernels.impl.max_pool2d(x, kernel, stride)
        ctx.save_for_backward(index)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return kernels.impl.max_pool2d_backward(grad, ctx.saved_tensors[0], ctx.shape)
