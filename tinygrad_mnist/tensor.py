"""`Tensor`: a numpy array that remembers the op that made it.

The methods here only translate Python syntax (PyTorch's spelling, with
numpy's where it differs in name only) into `Function.apply` calls; what each
op computes and how it differentiates is in `functions.py`, how gradients flow
is in `autograd.py`, and the losses are in `losses.py`.

dtype rules, as in PyTorch: a Python float makes float32; an integer tensor
meets a float (a Python float or a float tensor) as that float dtype; ops that
only make sense on reals (division, exp, log, sqrt, softmax, mean, ...) turn
integer input into float32. Comparisons give bool tensors with no gradient.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import autograd, kernels
from . import functions as F

Scalar = Union[int, float]
Dims = Union[None, int, Sequence[int]]


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """numpy arrays and numpy scalars keep their dtype; Python floats become float32."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        arr = arr.astype(np.float32)
    return arr


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's category rule: a float beats an integer and keeps its own width
    (int64 with float32 is float32, where numpy says float64); otherwise numpy's."""
    if _is_float(a) != _is_float(b):
        return a if _is_float(a) else b
    return np.result_type(a, b)


class MinMax(NamedTuple):
    """What `max(dim)` and `min(dim)` return, as in PyTorch: `values` and their `indices`."""
    values: "Tensor"
    indices: "Tensor"


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    `requires_grad=True` marks a leaf whose `.grad` is filled by `backward()`.
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "__weakref__")
    __array_priority__ = 1000  # `np.float32(2) * t` asks Tensor.__rmul__, not numpy

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data = data.data if isinstance(data, Tensor) else _as_array(data, dtype)
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad: Optional[np.ndarray] = None
        self._ctx: Optional[autograd.Context] = None
        self.name: Optional[str] = None  # set by a VarMap for its variables

    # ------------------------------------------------------------ constructors
    @staticmethod
    def zeros(*shape, dtype: Any = np.float32, requires_grad: bool = False) -> "Tensor":
        return Tensor(np.zeros(_shape_arg(shape), dtype), requires_grad)

    @staticmethod
    def ones(*shape, dtype: Any = np.float32, requires_grad: bool = False) -> "Tensor":
        return Tensor(np.ones(_shape_arg(shape), dtype), requires_grad)

    @staticmethod
    def full(shape, value: Scalar, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor(np.full(_shape_arg((shape,)), value, dtype or _as_array(value).dtype), requires_grad)

    @staticmethod
    def randn(*shape, dtype: Any = np.float32, requires_grad: bool = False) -> "Tensor":
        """Standard normal samples from the engine's generator (`nn.init.seed` makes them repeat)."""
        return Tensor(_rng().standard_normal(_shape_arg(shape)).astype(dtype), requires_grad)

    @staticmethod
    def rand(*shape, dtype: Any = np.float32, requires_grad: bool = False) -> "Tensor":
        """Uniform samples in [0, 1) from the engine's generator."""
        return Tensor(_rng().random(_shape_arg(shape)).astype(dtype), requires_grad)

    @staticmethod
    def arange(start: Scalar, end: Optional[Scalar] = None, step: Scalar = 1, dtype: Any = None,
               requires_grad: bool = False) -> "Tensor":
        """start, start+step, ... below end; int64 for whole numbers, else float32 (PyTorch's)."""
        start, end = (0, start) if end is None else (start, end)
        whole = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        return Tensor(np.arange(start, end, step, dtype=dtype or (np.int64 if whole else np.float32)),
                      requires_grad)

    @staticmethod
    def eye(n: int, m: Optional[int] = None, dtype: Any = np.float32, requires_grad: bool = False) -> "Tensor":
        return Tensor(np.eye(n, m, dtype=dtype), requires_grad)

    @staticmethod
    def zeros_like(t: "Tensor", dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)

    @staticmethod
    def ones_like(t: "Tensor", dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)

    @staticmethod
    def full_like(t: "Tensor", value: Scalar, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.full(t.shape, value, dtype=dtype or t.dtype, requires_grad=requires_grad)

    @staticmethod
    def randn_like(t: "Tensor", dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.randn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)

    @staticmethod
    def rand_like(t: "Tensor", dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.rand(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)

    # ------------------------------------------------------------ introspection
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def item(self) -> Union[int, float, bool]:
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of {self.data.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def any(self) -> "Tensor":
        return Tensor(np.asarray(self.data.any()))

    def all(self) -> "Tensor":
        return Tensor(np.asarray(self.data.all()))

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def _repr_html_(self) -> str:
        """How a notebook shows a tensor: its values, and where it came from in the graph."""
        import html
        origin = (f"made by <b>{self._ctx.fn.__name__}</b>" if self._ctx is not None else
                  "a leaf that requires grad" if self.requires_grad else "a constant")
        grad = "" if self.grad is None else f"<br>.grad: <pre>{html.escape(np.array2string(self.grad, threshold=20))}</pre>"
        name = f"<b>{html.escape(self.name)}</b> " if self.name else ""
        return (f"<div>{name}Tensor {list(self.shape)} {self.dtype}, {origin}"
                f"<pre>{html.escape(np.array2string(self.data, threshold=20))}</pre>{grad}</div>")

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extra = f", grad_fn={self._ctx.fn.__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ------------------------------------------------------------ autodiff
    def backward(self, grad: Any = None, trace: Any = None) -> None:
        """Accumulate d self / d leaf into every leaf's `.grad`.

        Without `grad` the tensor must hold one element (a loss): the seed is 1.
        `trace=True` prints each step of the pass (`tinygrad_mnist/trace.py`); a stream or a
        `BackwardTrace` may be given instead.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require a gradient "
                               "(no input had requires_grad=True, or it was made under no_grad())")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a one-element tensor, "
                                   f"got shape {self.shape}; reduce it to a loss or pass grad=")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): gradient of shape {grad.shape} for a tensor of shape {self.shape}")
        from .trace import for_call
        autograd.backward(self, grad, for_call(trace))

    # ------------------------------------------------------------ operators
    def _lift(self, other: Any) -> "Tensor":
        """A Python or numpy scalar or array becomes a constant tensor. A Python number takes this
        tensor's dtype when that can hold it (a float meeting an integer tensor makes float32)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (bool, int, float)) and not isinstance(other, np.generic):
            if _is_float(self.dtype):
                return Tensor(np.asarray(other, dtype=self.dtype))
            if isinstance(other, float):
                return Tensor(np.asarray(other, dtype=np.float32))
            return Tensor(np.asarray(other, dtype=np.result_type(self.dtype, other)))
        return Tensor(other)

    def _binary(self, fn, other: Any, reflected: bool = False, real: bool = False) -> "Tensor":
        """Apply a two-input op after PyTorch's type promotion (`real`: integers become float32)."""
        a, b = (self._lift(other), self) if reflected else (self, self._lift(other))
        dtype = _promote(a.dtype, b.dtype)
        if real and not _is_float(dtype):
            dtype = np.dtype(np.float32)
        a, b = a._to(dtype), b._to(dtype)
        try:
            return fn.apply(a, b)
        except ValueError as err:
            if a.shape == b.shape or "broadcast" not in str(err):
                raise
            raise ValueError(f"{fn.__name__.lower()}: shapes {a.shape} and {b.shape} "
                             "do not broadcast together") from None

    def _to(self, dtype: np.dtype) -> "Tensor":
        """This tensor in `dtype`: a recorded cast if it carries a gradient, else plain data."""
        if self.dtype == dtype:
            return self
        return self.astype(dtype) if self.requires_grad else Tensor(self.data.astype(dtype))

    def _real(self) -> "Tensor":
        """Integer and bool tensors as float32, for ops that only make sense on reals."""
        return self if _is_float(self.dtype) else self._to(np.dtype(np.float32))

    def __add__(self, o): return self._binary(F.Add, o)
    def __radd__(self, o): return self._binary(F.Add, o, True)
    def __sub__(self, o): return self._binary(F.Sub, o)
    def __rsub__(self, o): return self._binary(F.Sub, o, True)
    def __mul__(self, o): return self._binary(F.Mul, o)
    def __rmul__(self, o): return self._binary(F.Mul, o, True)
    def __truediv__(self, o): return self._binary(F.Div, o, real=True)
    def __rtruediv__(self, o): return self._binary(F.Div, o, True, real=True)
    def __neg__(self): return F.Neg.apply(self)

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            base = self._real() if isinstance(exponent, float) or exponent < 0 else self
            return F.Pow.apply(base, exponent=exponent)
        return self._binary(F.PowT, exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return self._binary(F.PowT, base, True)

    # In-place arithmetic updates `data` where no gradient is being recorded. On a tensor that
    # requires a gradient it would silently rebind a leaf (W -= lr * W.grad made W a new,
    # non-leaf tensor and training stopped learning), so it is refused, as in PyTorch.
    def _inplace(self, fn, other: Any) -> "Tensor":
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError("in-place operation on a tensor that requires grad: update its data "
                               "(w.data -= lr * w.grad), do it under no_grad(), or use an optimizer")
        result = fn.apply(self, self._lift(other).detach())
        self.data[...] = result.data
        return self

    def __iadd__(self, o): return self._inplace(F.Add, o)
    def __isub__(self, o): return self._inplace(F.Sub, o)
    def __imul__(self, o): return self._inplace(F.Mul, o)
    def __itruediv__(self, o): return self._inplace(F.Div, o)

    def add(self, other: Any) -> "Tensor": return self + other
    def sub(self, other: Any) -> "Tensor": return self - other
    def mul(self, other: Any) -> "Tensor": return self * other
    def div(self, other: Any) -> "Tensor": return self / other
    def neg(self) -> "Tensor": return -self
    def pow(self, exponent: Any) -> "Tensor": return self ** exponent

    # Comparisons are elementwise and give bool tensors with no gradient.
    def _compare(self, op, other: Any) -> "Tensor":
        return Tensor(op(self.data, other.data if isinstance(other, Tensor) else other))

    def __eq__(self, o): return self._compare(np.equal, o)  # type: ignore[override]
    def __ne__(self, o): return self._compare(np.not_equal, o)  # type: ignore[override]
    def __lt__(self, o): return self._compare(np.less, o)
    def __le__(self, o): return self._compare(np.less_equal, o)
    def __gt__(self, o): return self._compare(np.greater, o)
    def __ge__(self, o): return self._compare(np.greater_equal, o)

    __hash__ = object.__hash__

    # ------------------------------------------------------------ products
    def __matmul__(self, other: "Tensor") -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return self._lift(other).matmul(self)

    def matmul(self, other: Any) -> "Tensor":
        """`self @ other`, numpy's and PyTorch's rules: 2-D, batched over leading dimensions, and a
        1-D operand taken as a row (left) or column (right) vector, that dimension dropped after.
        Integer operands are multiplied by value, as numpy does (uint8 pixels stay 0..255)."""
        other = self._lift(other)
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {self.shape} and {other.shape}")
        a = self.unsqueeze(0) if self.ndim == 1 else self
        b = other.unsqueeze(-1) if other.ndim == 1 else other
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not match "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        dtype = _promote(a.dtype, b.dtype)
        out = F.MatMul.apply(a._to(dtype), b._to(dtype))
        drop = ([out.ndim - 2] if self.ndim == 1 else []) + ([out.ndim - 1] if other.ndim == 1 else [])
        return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in drop)) if drop else out

    def dot(self, other: "Tensor") -> "Tensor":
        """The inner product of two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"dot: expected two 1-D tensors, got {self.shape} and {other.shape}")
        return self.matmul(other)

    def linear(self, weight: "Tensor", bias: Optional["Tensor"] = None, scale: float = 1.0) -> "Tensor":
        """`(scale * self) @ weight.T + bias`, weight shaped [out, in] (Candle's and PyTorch's layout).
        `scale` is an input scale a layer asks for explicitly; it shows in the graph."""
        _check_linear("linear", self, weight, bias)
        if bias is None:
            return F.Linear.apply(self, weight, scale=scale)
        return F.Linear.apply(self, weight, bias, scale=scale)

    def conv2d(self, weight: "Tensor", bias: Optional["Tensor"] = None, stride: Any = 1, padding: Any = 0,
               dilation: Any = 1, groups: int = 1) -> "Tensor":
        """2-D cross-correlation of [B, C, H, W] with weight [O, C/groups, kh, kw] (+ bias [O]);
        stride, padding and dilation are an int or a (rows, columns) pair, as in PyTorch."""
        stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
        if self.ndim != 4 or weight.ndim != 4 or groups < 1 or self.shape[1] != weight.shape[1] * groups \
                or weight.shape[0] % groups:
            raise ValueError(f"conv2d: input {self.shape} does not fit weight {weight.shape} with groups={groups} "
                             "(expected [batch, C, H, W] and [out, C/groups, kh, kw], out divisible by groups)")
        if min(stride) < 1 or min(padding) < 0 or min(dilation) < 1:
            raise ValueError(f"conv2d: stride and dilation must be >= 1 and padding >= 0, "
                             f"got {stride}, {dilation} and {padding}")
        for n, k, p, d in zip(self.shape[2:], weight.shape[2:], padding, dilation):
            if n + 2 * p < d * (k - 1) + 1:
                raise ValueError(f"conv2d: kernel {weight.shape[2:]} (dilation {dilation}) is larger than "
                                 f"the padded input {tuple(s + 2 * q for s, q in zip(self.shape[2:], padding))}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias {bias.shape} does not fit weight {weight.shape}")
        params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if bias is None:
            return F.Conv2d.apply(self, weight, **params)
        return F.Conv2d.apply(self, weight, bias, **params)

    def max_pool2d(self, kernel_size: Any = 2, stride: Any = None, padding: Any = 0,
                   ceil_mode: bool = False) -> "Tensor":
        """Max over windows of [B, C, H, W] (PyTorch's `max_pool2d`): kernel_size, stride (default:
        the kernel size) and padding are an int or a (rows, columns) pair; padding counts as -inf."""
        kernel = _pair(kernel_size, "kernel_size")
        stride = kernel if stride is None else _pair(stride, "stride")
        padding = _pair(padding, "padding")
        if self.ndim != 4 or min(kernel) < 1 or min(stride) < 1 or min(padding) < 0 \
                or any(2 * p > k for p, k in zip(padding, kernel)) \
                or any(n + 2 * p < k for n, p, k in zip(self.shape[2:], padding, kernel)):
            raise ValueError(f"max_pool2d: kernel {kernel}, stride {stride}, padding {padding} does not fit "
                             f"input {self.shape} (padding may be at most half the kernel)")
        out_size = tuple(kernels.impl.pool_out_size(n, k, s, p, ceil_mode)
                         for n, k, s, p in zip(self.shape[2:], kernel, stride, padding))
        return F.MaxPool2d.apply(self, kernel=kernel, stride=stride, padding=padding, out_size=out_size)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, idx: Any) -> "Tensor":
        if isinstance(idx, Tensor):
            idx = idx.data
        elif isinstance(idx, tuple):
            idx = tuple(i.data if isinstance(i, Tensor) else np.asarray(i) if isinstance(i, list) else i
                        for i in idx)
        elif isinstance(idx, list):
            idx = np.asarray(idx)
        if isinstance(idx, tuple) and _splits_advanced(idx):
            # PyTorch applies integer indices first, as basic indexing (t[0, :, idx] is t[0][:, idx]);
            # numpy would count them as advanced and move the result's axes to the front.
            first = tuple(i if _is_int(i) or i is Ellipsis else slice(None) for i in idx if i is not None)
            rest = tuple(i for i in idx if not _is_int(i))
            return F.Index.apply(F.Index.apply(self, idx=first), idx=rest)
        return F.Index.apply(self, idx=idx)

    def narrow(self, dim: int, start: int, length: int) -> "Tensor":
        """Elements start .. start+length-1 along `dim` (Candle's narrow), as a view."""
        dim = _dim(dim, self.ndim)
        n = self.shape[dim]
        if not (0 <= start and 0 <= length and start + length <= n):
            raise ValueError(f"narrow: start {start} + length {length} is out of range "
                             f"for dimension {dim} of size {n}")
        idx = [slice(None)] * self.ndim
        idx[dim] = slice(start, start + length)
        return self[tuple(idx)]

    def gather(self, dim: int, index: Any) -> "Tensor":
        """out[i][j] = self[i][index[i][j]] along `dim` (PyTorch's gather)."""
        index = index.data if isinstance(index, Tensor) else np.asarray(index)
        return F.Gather.apply(self, index=index, axis=_dim(dim, self.ndim))

    # ------------------------------------------------------------ reductions
    # PyTorch's `dim=`/`keepdim=` and numpy's `axis=`/`keepdims=` both work. A 0-d tensor counts as
    # one element along dim 0 (or -1), as in PyTorch.
    def sum(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None) -> "Tensor":
        axes, keep = self._reduction(dim, keepdim, axis, keepdims)
        return F.Sum.apply(self, axis=axes, keepdims=keep)

    def mean(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None) -> "Tensor":
        axes, keep = self._reduction(dim, keepdim, axis, keepdims)
        return F.Mean.apply(self._real(), axis=axes, keepdims=keep)

    def max(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None):
        """With no dim: the largest element (ties share the gradient). With `dim` (PyTorch's
        spelling): `(values, indices)` of the first largest along it, the gradient going to those
        indices. With `axis=` (numpy's): the values only."""
        return self._extreme(F.Max, kernels.impl.argmax, dim, keepdim, axis, keepdims)

    def min(self, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None, keepdims: bool = None):
        """As `max`, for the smallest."""
        return self._extreme(F.Min, np.argmin, dim, keepdim, axis, keepdims)

    def argmax(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None) -> "Tensor":
        """Index of the first largest element (a NaN counts as largest); no gradient."""
        return self._arg(kernels.impl.argmax, dim if axis is None else axis, keepdim)

    def argmin(self, dim: Optional[int] = None, keepdim: bool = False, *, axis: Optional[int] = None) -> "Tensor":
        return self._arg(np.argmin, dim if axis is None else axis, keepdim)

    def _reduction(self, dim: Dims, keepdim: bool, axis: Dims, keepdims: Optional[bool]):
        dims = axis if dim is None else dim
        keep = keepdim if keepdims is None else keepdims
        if dims is None:
            return None, keep
        axes = tuple(_dim(d, self.ndim) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
        return (None if self.ndim == 0 else axes), keep

    def _arg(self, pick, dim: Optional[int], keepdim: bool) -> "Tensor":
        if dim is None or self.ndim == 0:
            return Tensor(np.asarray(pick(self.data.reshape(-1), axis=0) if self.size else pick(self.data)))
        d = _dim(dim, self.ndim)
        out = pick(self.data, axis=d)
        return Tensor(np.expand_dims(out, d) if keepdim else np.asarray(out))

    def _extreme(self, op, pick, dim, keepdim, axis, keepdims):
        if dim is None:
            axes, keep = self._reduction(None, keepdim, axis, keepdims)
            return op.apply(self, axis=axes[0] if axes and len(axes) == 1 else axes, keepdims=keep)
        if isinstance(dim, (tuple, list)):
            raise TypeError("max/min(dim) takes one dimension; use amax-style axis= for several")
        if self.ndim == 0:
            return MinMax(self, Tensor(np.asarray(0)))
        d = _dim(dim, self.ndim)
        indices = np.expand_dims(pick(self.data, axis=d), d)
        values = self.gather(d, indices)
        if not keepdim:
            values, indices = values.squeeze(d), np.squeeze(indices, d)
        return MinMax(values, Tensor(indices))

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor": return F.Exp.apply(self._real())
    def log(self) -> "Tensor": return F.Log.apply(self._real())
    def sqrt(self) -> "Tensor": return F.Sqrt.apply(self._real())
    def abs(self) -> "Tensor": return F.Abs.apply(self)
    def sigmoid(self) -> "Tensor": return F.Sigmoid.apply(self._real())
    def tanh(self) -> "Tensor": return F.Tanh.apply(self._real())
    def relu(self) -> "Tensor": return F.ReLU.apply(self)

    def clamp(self, min: Optional[Scalar] = None, max: Optional[Scalar] = None) -> "Tensor":
        """Elements limited to [min, max] (either bound may be left out)."""
        if min is None and max is None:
            raise ValueError("clamp: give min, max or both")
        return F.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    def astype(self, dtype: Any) -> "Tensor":
        return F.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> "Tensor": return self._to(np.dtype(np.float32))
    def double(self) -> "Tensor": return self._to(np.dtype(np.float64))
    def int(self) -> "Tensor": return self._cast_int(np.int32)
    def long(self) -> "Tensor": return self._cast_int(np.int64)

    def _cast_int(self, dtype) -> "Tensor":
        """An integer copy (truncated toward zero, as in PyTorch); no gradient flows through it."""
        return Tensor(self.data.astype(dtype))

    def type_as(self, other: "Tensor") -> "Tensor":
        return self._to(other.dtype) if _is_float(other.dtype) else self._cast_int(other.dtype)

    def log_softmax(self, dim: int = -1, *, axis: Optional[int] = None) -> "Tensor":
        x = self._real()
        if x.ndim == 0:  # one element: log_softmax is 0, and so is its gradient
            _dim(dim if axis is None else axis, 0)
            return F.LogSoftmax.apply(x.reshape(1), axis=0).reshape(())
        return F.LogSoftmax.apply(x, axis=_dim(dim if axis is None else axis, x.ndim))

    def softmax(self, dim: int = -1, *, axis: Optional[int] = None) -> "Tensor":
        """exp(log_softmax(x)): the same stable shift, and the graph shows both ops."""
        return self.log_softmax(dim, axis=axis).exp()

    # ------------------------------------------------------------ shape
    def reshape(self, *shape) -> "Tensor":
        return F.Reshape.apply(self, shape=_shape_arg(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        d = _dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: Dims = None) -> "Tensor":
        """Drop size-1 dimensions: all of them, or the given ones (a given dim of another size stays)."""
        if dim is None:
            drop = {i for i, n in enumerate(self.shape) if n == 1}
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            drop = {d for d in (_dim(d, self.ndim) for d in dims) if self.ndim and self.shape[d] == 1}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def expand(self, *sizes) -> "Tensor":
        """A broadcast view of size-1 dimensions (-1 keeps a size), as in PyTorch."""
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a {self.ndim}-d tensor")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        return F.Expand.apply(self, shape=shape)

    def transpose(self, *axes) -> "Tensor":
        """`transpose(d0, d1)` swaps two dimensions (PyTorch's and Candle's); `transpose(perm)` with one
        tuple, or no argument, permutes them as numpy does (all reversed by default)."""
        if len(axes) == 2 and all(_is_int(a) for a in axes):
            perm = list(range(self.ndim))
            d0, d1 = _dim(axes[0], self.ndim), _dim(axes[1], self.ndim)
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return F.Transpose.apply(self, axes=tuple(perm))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return self.permute(*axes) if axes else F.Transpose.apply(self, axes=tuple(reversed(range(self.ndim))))

    def permute(self, *dims) -> "Tensor":
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        norm = tuple(_dim(d, self.ndim) for d in dims)
        if sorted(norm) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dimensions of {self.shape}")
        return F.Transpose.apply(self, axes=norm)

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    # ------------------------------------------------------------ losses, as methods
    def nll(self, target: Any, **options) -> "Tensor":
        from .losses import nll
        return nll(self, target, **options)

    def cross_entropy(self, target: Any, **options) -> "Tensor":
        from .losses import cross_entropy
        return cross_entropy(self, target, **options)


# ---------------------------------------------------------------- functions


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors joined along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: no tensors to join")
    ndim = tensors[0].ndim
    if ndim == 0 or any(t.ndim != ndim for t in tensors):
        raise ValueError(f"cat: tensors of shapes {[t.shape for t in tensors]} cannot be joined")
    return F.Cat.apply(*_common(tensors), axis=_dim(dim, ndim))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors of one shape stacked along a new dimension."""
    tensors = list(tensors)
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: expected tensors of one shape, got {[t.shape for t in tensors]}")
    return F.Stack.apply(*_common(tensors), axis=_dim(dim, tensors[0].ndim + 1))


def _common(tensors: Sequence[Tensor]) -> list:
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = _promote(dtype, t.dtype)
    return [t._to(dtype) for t in tensors]


def _is_int(i: Any) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, bool)


def _splits_advanced(idx: tuple) -> bool:
    """Whether numpy and PyTorch would disagree: integers beside array (advanced) indices."""
    arrays = [isinstance(i, np.ndarray) and i.ndim > 0 for i in idx]
    return any(arrays) and any(_is_int(i) for i in idx)


def _dim(d: int, ndim: int) -> int:
    """A dimension in 0..ndim-1 (negative counts from the end); a 0-d tensor has dims 0 and -1."""
    n = max(ndim, 1)
    if not _is_int(d) or not -n <= d < n:
        raise IndexError(f"dimension {d} is out of range for a {ndim}-d tensor (expected -{n} to {n - 1})")
    return d % n


def _pair(v: Any, what: str) -> Tuple[int, int]:
    if _is_int(v):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(x) for x in v):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{what}: expected an int or a pair of ints, got {v!r}")


def _shape_arg(shape: tuple) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _rng() -> np.random.Generator:
    from .nn import init  # the engine's one generator (nn imports this module)
    return init.rng()


def _check_linear(op: str, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> None:
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: input {x.shape} does not fit weight {weight.shape} "
                         "(expected [batch, in] and [out, in])")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias {bias.shape} does not fit weight {weight.shape}")


def __getattr__(name: str) -> Any:
    """`nll` and `cross_entropy` live in `losses.py` (which imports this module)."""
    if name in ("nll", "cross_entropy"):
        from . import losses
        return getattr(losses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

