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


def _extreme(ctx: Context, x, axis, keepdims, pick):
    """max or min (`pick`) along `axis`, saving each element's share of the gradient:
    1/k for each of k tied extremes, 0 elsewhere."""
    y = pick(x, axis=axis, keepdims=True)
    mask = (x == y) | (np.isnan(x) & np.isnan(y))
    ctx.save_for_backward((mask / mask.sum(axis=axis, keepdims=True)).astype(x.dtype))
    ctx.axis, ctx.keepdims = axis, keepdims
    return np.asarray(y if keepdims else (y.reshape(()) if axis is None else np.squeeze(y, axis)))


def _share(ctx: Context, grad):
    (share,) = ctx.saved_tensors
    if ctx.axis is not None and not ctx.keepdims:
        grad = np.expand_dims(grad, ctx.axis)
    return share * grad


class Max(Function):
    """x.max(axis):  d/dx_i = 1 where x_i is the maximum (split evenly between ties), else 0."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        return _extreme(ctx, x, axis, keepdims, np.max)

    @staticmethod
    def backward(ctx: Context, grad):
        return _share(ctx, grad)


class Min(Function):
    """x.min(axis):  d/dx_i = 1 where x_i is the minimum (split evenly between ties), else 0."""

    @staticmethod
    def forward(ctx: Context, x, axis=None, keepdims=False):
        return _extreme(ctx, x, axis, keepdims, np.min)

    @staticmethod
    def backward(ctx: Context, grad):
        return _share(ctx, grad)


class Gather(Function):
    """y = take_along_axis(x, index, axis) (PyTorch's gather):  d/dx = 1 at each gathered
    position, so G is added back there (twice where an index repeats)."""

    @staticmethod
    def forward(ctx: Context, x, index, axis=0):
        ctx.shape, ctx.index, ctx.axis = x.shape, index, axis
        return np.take_along_axis(x, index, axis)

    @staticmethod
    def backward(ctx: Context, grad):
        out = np.zeros(ctx.shape, grad.dtype)
        idx = list(np.indices(ctx.index.shape, sparse=True))
        idx[ctx.axis] = ctx.index
        np.add.at(out, tuple(idx), grad)
        return out


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
        ctx.axis, ctx.bounds = axis, np.cumsum([x.shape[axis] for x in xs])[:-1]
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
    if x.ndim >= 1 and axis in (-1, x.ndim - 1):  # already last (the training step's case):
        shape = x.shape                            # np.moveaxis alone costs 10 µs a call
        return x.reshape(-1, shape[-1]), lambda y: y.reshape(shape)
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


def check_targets(op: str, shape: tuple, targets: np.ndarray, ignore_index=None) -> None:
    """Raise a clear error unless `targets` are class ids (or `ignore_index`) for the rows of
    scores shaped `shape`."""
    if len(shape) != 2:
        raise ValueError(f"{op}: expected a 2-D [batch, classes] input, got shape {shape}")
    if targets.ndim != 1 or targets.dtype.kind not in "iu":
        raise ValueError(f"{op}: targets must be a 1-D array of integer class ids, "
                         f"got {targets.dtype} of shape {targets.shape}")
    if targets.shape[0] != shape[0]:
        raise ValueError(f"{op}: {targets.shape[0]} targets for a batch of {shape[0]}")
    bad = (targets < 0) | (targets >= shape[1])
    if ignore_index is not None:
        bad &= targets != ignore_index
    if bad.any():
        raise ValueError(f"{op}: target {targets[bad][0]} is out of range for {shape[1]} classes")


REDUCTIONS = ("mean", "sum", "none")


class NLL(Function):
    """loss_i = -log_probs[i, t_i] (0 where t_i is `ignore_index`), then its mean over the rows
    that count, its sum, or each row's ('none'):
    d/d log_probs[i, c] = -w_i / D if c = t_i, else 0, where w_i is 1 for a row that
    counts and 0 for an ignored one, and D is their number (mean) or 1 (sum, none)."""

    @staticmethod
    def forward(ctx: Context, log_probs, targets, reduction="mean", ignore_index=None):
        check_targets("nll", log_probs.shape, targets, ignore_index)
        ctx.save_for_backward(log_probs, targets)
        ctx.reduction = reduction
        ignored = targets == ignore_index if ignore_index is not None else None
        if ignored is not None and not ignored.any():
            ignored = None
        ctx.ignored = ignored
        if reduction == "mean" and ignored is None:  # the training loss: one kernel pass
            return kernels.impl.nll(log_probs, targets)
        t = targets if ignored is None else np.where(ignored, 0, targets)
        losses = -log_probs[np.arange(len(t)), t]
        if ignored is not None:
            losses[ignored] = 0
        if reduction == "none":
            return losses
        total = losses.astype(np.float64).sum()
        count = len(t) - (0 if ignored is None else int(ignored.sum()))
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in PyTorch
            return np.asarray(total / count if reduction == "mean" else total, log_probs.dtype)

    @staticmethod
    def backward(ctx: Context, grad):
        log_probs, targets = ctx.saved_tensors
        ignored = ctx.ignored
        if ctx.reduction == "mean" and ignored is None:
            return kernels.impl.nll_backward(float(grad), targets, log_probs)
        keep = np.ones(len(targets)) if ignored is None else (~ignored).astype(np.float64)
        if ctx.reduction == "mean":
            keep /= max(keep.sum(), 1)
        rows = -np.broadcast_to(grad, keep.shape) * keep
        out = np.zeros_like(log_probs)
        t = targets if ignored is None else np.where(ignored, 0, targets)
        out[np.arange(len(t)), t] = rows
        return out


# ---------------------------------------------------------------- convolution and pooling (NCHW)


def _flat_filters(w):
    """Filters [O, C, kh, kw] as the [O, kh·kw·C] matrix whose columns follow im2col's patch
    order (the channel innermost, on both kernel sets)."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def _join(parts, axis):
    """The groups' results side by side (one group: no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


class Conv2d(Function):
    """y = x ⋆ W + b (cross-correlation, as in PyTorch and Candle), via y = im2col(x) @ W_flatᵀ
    with W_flat the filters as rows (`_flat_filters`):
    d/dW = Gᵀ @ im2col(x),  d/db = Σ G over batch and positions,  d/dx = col2im(G @ W_flat).
    With `groups` g, channels and filters split into g independent convolutions.
    A single input channel at stride 1 without padding (the CNN's first layer) takes a kernel
    that forms the same sums from each image's patches directly (`conv_one_channel`).
    """

    @staticmethod
    def forward(ctx: Context, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        (B, _, H, W), (O, Cg, kh, kw) = x.shape, w.shape
        ctx.geometry, ctx.x_shape, ctx.groups = (stride, padding, dilation), x.shape, groups
        plain = tuple(stride) == (1, 1) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
        ctx.one_channel = Cg == 1 and groups == 1 and plain
        if ctx.one_channel:
            ctx.save_for_backward(x, w)
            return kernels.impl.conv_one_channel(x[:, 0], w[:, 0], b)
        OH, OW = (kernels.impl.conv_out_size(n, k, s, p, d)
                  for n, k, s, p, d in zip((H, W), (kh, kw), stride, padding, dilation))
        Og, geometry = O // groups, (stride, padding, dilation)
        cols = [kernels.impl.im2col(x[:, g * Cg:(g + 1) * Cg], kh, kw, *geometry, w.dtype) for g in range(groups)]
        y = _join([kernels.impl.matmul(c, _flat_filters(w[g * Og:(g + 1) * Og]).T)  # [B·OH·OW, O]
                   for g, c in enumerate(cols)], axis=1)
        ctx.save_for_backward(cols, w)
        return kernels.impl.rows_to_nchw(y, b, (B, O, OH, OW))  # + b, as [B, O, OH, OW]

    @staticmethod
    def backward(ctx: Context, grad):
        saved, w = ctx.saved_tensors  # the patches, or the input itself on the one-channel path
        needs, groups = ctx.needs_input_grad, ctx.groups
        O, Cg, kh, kw = w.shape
        Og = O // groups
        k, mm = kernels.impl, kernels.impl.matmul
        B, _, H, W = ctx.x_shape
        dx = dw = g = None
        if ctx.one_channel:
            if needs[1] or len(needs) == 3 and needs[2]:
                dw, g_sum = k.conv_one_channel_backward(grad, saved[:, 0], kh, kw)
                dw = dw.reshape(O, 1, kh, kw)
            if needs[0]:
                g, _ = k.nchw_to_rows(grad)
        else:
            g, g_sum = k.nchw_to_rows(grad)  # [B·OH·OW, O], and Σ G for the bias
            if needs[1]:
                dw = _join([mm(g[:, i * Og:(i + 1) * Og].T, saved[i]).reshape(Og, kh, kw, Cg)
                            for i in range(groups)], axis=0).transpose(0, 3, 1, 2)
                dw = np.ascontiguousarray(dw)
        if needs[0]:
            dx = _join([k.col2im(mm(g[:, i * Og:(i + 1) * Og], _flat_filters(w[i * Og:(i + 1) * Og])),
                                 (B, Cg, H, W), kh, kw, *ctx.geometry) for i in range(groups)], axis=1)
        if len(needs) == 2:
            return dx, (dw if needs[1] else None)
        return dx, (dw if needs[1] else None), (g_sum if needs[2] else None)


class MaxPool2d(Function):
    """y = max over each kh×kw window (padding counts as -inf):  d/dx = 1 at each window's
    (first) maximum, else 0; G is added up where windows overlap."""

    @staticmethod
    def forward(ctx: Context, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_size=None):
        y, index = kernels.impl.max_pool2d(x, kernel, stride, padding, out_size)
        ctx.save_for_backward(index)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        return kernels.impl.max_pool2d_backward(grad, ctx.saved_tensors[0], ctx.shape)
