"""`Tensor`: a numpy array that remembers the op that made it.

The methods here only translate Python syntax into `Function.apply` calls;
what each op computes and how it differentiates is in `functions.py`, and how
gradients flow is in `autograd.py`.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from . import autograd, kernels
from . import functions as F

Scalar = Union[int, float]


def _as_array(data: Any) -> np.ndarray:
    """numpy arrays and numpy scalars keep their dtype; Python floats become float32."""
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        arr = arr.astype(np.float32)
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    `requires_grad=True` marks a leaf whose `.grad` is filled by `backward()`.
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "__weakref__")
    __array_priority__ = 1000  # `np.float32(2) * t` asks Tensor.__rmul__, not numpy

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = data.data if isinstance(data, Tensor) else _as_array(data)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad: Optional[np.ndarray] = None
        self._ctx: Optional[autograd.Context] = None
        self.name: Optional[str] = None  # set by a VarMap for its variables

    # ------------------------------------------------------------ introspection
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> Union[int, float, bool]:
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extra = f", grad_fn={self._ctx.fn.__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ------------------------------------------------------------ autodiff
    def backward(self, grad: Any = None) -> None:
        """Accumulate d self / d leaf into every leaf's `.grad`.

        Without `grad` the tensor must hold one element (a loss): the seed is 1.
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
        autograd.backward(self, grad)

    # ------------------------------------------------------------ operators
    def _lift(self, other: Any) -> "Tensor":
        """A Python scalar becomes a constant tensor of this tensor's float dtype."""
        if isinstance(other, Tensor):
            return other
        if self.data.dtype.kind == "f":
            return Tensor(np.asarray(other, dtype=self.data.dtype))
        dtype = np.result_type(self.data.dtype, other)
        if dtype == np.float64 and isinstance(other, float):
            dtype = np.float32
        return Tensor(np.asarray(other, dtype=dtype))

    def _binary(self, fn, other: Any, reflected: bool = False) -> "Tensor":
        a, b = (self._lift(other), self) if reflected else (self, self._lift(other))
        try:
            return fn.apply(a, b)
        except ValueError as err:
            if a.shape == b.shape or "broadcast" not in str(err):
                raise
            raise ValueError(f"{fn.__name__.lower()}: shapes {a.shape} and {b.shape} "
                             "do not broadcast together") from None

    def __add__(self, o): return self._binary(F.Add, o)
    def __radd__(self, o): return self._binary(F.Add, o, True)
    def __sub__(self, o): return self._binary(F.Sub, o)
    def __rsub__(self, o): return self._binary(F.Sub, o, True)
    def __mul__(self, o): return self._binary(F.Mul, o)
    def __rmul__(self, o): return self._binary(F.Mul, o, True)
    def __truediv__(self, o): return self._binary(F.Div, o)
    def __rtruediv__(self, o): return self._binary(F.Div, o, True)
    def __neg__(self): return F.Neg.apply(self)

    def __pow__(self, exponent: Scalar) -> "Tensor":
        if isinstance(exponent, Tensor):
            raise TypeError("** takes a constant exponent (a Python number)")
        return F.Pow.apply(self, exponent=exponent)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        """Elementwise comparison; the result is a bool tensor with no gradient."""
        return Tensor(self.data == (other.data if isinstance(other, Tensor) else other))

    __hash__ = object.__hash__

    def __matmul__(self, other: "Tensor") -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return self._lift(other).matmul(self)

    def matmul(self, other: "Tensor") -> "Tensor":
        """`self @ other`: 2-D, or batched over leading dimensions. Integer operands are multiplied
        by value, as numpy does (uint8 pixels stay 0..255)."""
        other = self._lift(other)
        a, b = self.shape, other.shape
        if len(a) < 2 or len(b) < 2:
            raise ValueError(f"matmul: both operands need at least 2 dimensions, got {a} and {b}")
        if a[-1] != b[-2]:
            raise ValueError(f"matmul: shapes {a} and {b} do not match ({a[-1]} != {b[-2]})")
        return F.MatMul.apply(self, other)

    def linear(self, weight: "Tensor", bias: Optional["Tensor"] = None, scale: float = 1.0) -> "Tensor":
        """`(scale * self) @ weight.T + bias`, weight shaped [out, in] (Candle's and PyTorch's layout).
        `scale` is an input scale a layer asks for explicitly; it shows in the graph."""
        _check_linear("linear", self, weight, bias)
        if bias is None:
            return F.Linear.apply(self, weight, scale=scale)
        return F.Linear.apply(self, weight, bias, scale=scale)

    def conv2d(self, weight: "Tensor", bias: Optional["Tensor"] = None, stride: int = 1,
               padding: int = 0) -> "Tensor":
        """2-D cross-correlation of [B, C, H, W] with weight [O, C, kh, kw] (+ bias [O])."""
        if self.ndim != 4 or weight.ndim != 4 or self.shape[1] != weight.shape[1]:
            raise ValueError(f"conv2d: input {self.shape} does not fit weight {weight.shape} "
                             "(expected [batch, C, H, W] and [out, C, kh, kw])")
        if stride < 1 or padding < 0:
            raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride} and {padding}")
        h, w = (self.shape[i] + 2 * padding for i in (2, 3))
        if h < weight.shape[2] or w < weight.shape[3]:
            raise ValueError(f"conv2d: kernel {weight.shape[2:]} is larger than the padded input {(h, w)}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias {bias.shape} does not fit weight {weight.shape}")
        params = dict(stride=stride, padding=padding)
        if bias is None:
            return F.Conv2d.apply(self, weight, **params)
        return F.Conv2d.apply(self, weight, bias, **params)

    def max_pool2d(self, kernel: int, stride: Optional[int] = None) -> "Tensor":
        """Max over kernel×kernel windows of [B, C, H, W]; stride defaults to the kernel size."""
        stride = kernel if stride is None else stride
        if self.ndim != 4 or kernel < 1 or stride < 1 or min(self.shape[2:]) < kernel:
            raise ValueError(f"max_pool2d: kernel {kernel}, stride {stride} does not fit input {self.shape}")
        return F.MaxPool2d.apply(self, kernel=kernel, stride=stride)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, idx: Any) -> "Tensor":
        if isinstance(idx, Tensor):
            idx = idx.data
        elif isinstance(idx, tuple):
            idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
        elif isinstance(idx, list):
            idx = np.asarray(idx)
        return F.Index.apply(self, idx=idx)

    def narrow(self, dim: int, start: int, length: int) -> "Tensor":
        """Elements start .. start+length-1 along `dim` (Candle's narrow), as a view."""
        n = self.shape[dim]
        if not (0 <= start and 0 <= length and start + length <= n):
            raise ValueError(f"narrow: start {start} + length {length} is out of range "
                             f"for dimension {dim} of size {n}")
        idx = [slice(None)] * self.ndim
        idx[dim] = slice(start, start + length)
        return self[tuple(idx)]

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        return F.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        return F.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        return F.Max.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Optional[int] = None) -> "Tensor":
        """Index of the largest element (no gradient)."""
        return Tensor(kernels.impl.argmax(self.data, axis=axis))

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor": return F.Exp.apply(self)
    def log(self) -> "Tensor": return F.Log.apply(self)
    def relu(self) -> "Tensor": return F.ReLU.apply(self)

    def astype(self, dtype: Any) -> "Tensor":
        return F.Cast.apply(self, dtype=np.dtype(dtype))

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return F.LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape) -> "Tensor":
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return F.Reshape.apply(self, shape=tuple(shape))

    def flatten(self, start_dim: int = 0) -> "Tensor":
        start = start_dim % max(self.ndim, 1)
        return self.reshape(self.shape[:start] + (-1,))

    def transpose(self, *axes) -> "Tensor":
        """Reverse the axes, permute them as given, or swap two: `transpose(0, 1)` (Candle's)."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if len(axes) == 2:
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = perm
        return F.Transpose.apply(self, axes=tuple(axes) if axes else tuple(reversed(range(self.ndim))))

    @property
    def T(self) -> "Tensor":
        return self.transpose()


def _targets(targets: Any) -> Tensor:
    return targets if isinstance(targets, Tensor) else Tensor(np.asarray(targets))


def nll(log_probs: Tensor, targets: Union[Tensor, np.ndarray, Sequence[int]]) -> Tensor:
    """Mean over the batch of `-log_probs[i, targets[i]]` (Candle's `loss::nll`)."""
    return F.NLL.apply(log_probs, _targets(targets))


def cross_entropy(logits: Tensor, targets: Union[Tensor, np.ndarray, Sequence[int]]) -> Tensor:
    """`nll(log_softmax(logits), targets)`, as PyTorch's `cross_entropy` is: two ops in the graph."""
    return nll(logits.log_softmax(axis=-1), targets)


def _check_linear(op: str, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> None:
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: input {x.shape} does not fit weight {weight.shape} "
                         "(expected [batch, in] and [out, in])")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias {bias.shape} does not fit weight {weight.shape}")
