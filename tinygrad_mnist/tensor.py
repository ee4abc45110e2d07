"""`Tensor`: a numpy array that remembers the op that made it.

The methods only translate Python syntax (PyTorch's spelling, with numpy's
where it differs in name only) into `Function.apply` calls; what each op
computes and how it differentiates is in `functions/`, how gradients flow is
in `autograd.py`, and the losses are in `losses.py`. This file holds the core:
construction, introspection, `backward`, the operators and elementwise methods,
re-exported `cat` and `stack`. The other methods come by family from `tensor_shape.py`,
`tensor_reduce.py` and `tensor_nn.py`; the dtype and argument rules they all
follow are in `tensor_base.py`. Comparisons give bool tensors with no gradient.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import autograd
from . import functions as F
from .sparse import is_csr
from .tensor_base import Scalar, TensorBase, as_array, is_float, norm_dim, promote
from .tensor_create import CreationMethods
from .tensor_nn import NetworkMethods
from .tensor_reduce import MinMax, ReductionMethods
from .tensor_shape import ShapeMethods, cat, stack

__all__ = ["Tensor", "cat", "stack", "MinMax"]


class Tensor(CreationMethods, ShapeMethods, ReductionMethods, NetworkMethods):
    """An n-dimensional array with reverse-mode autodiff.

    `requires_grad=True` marks a leaf whose `.grad` is filled by `backward()`: after
    `loss.backward()`, `w.grad` is a tensor of `w`'s shape holding d loss / d w, summed over
    every backward pass since it was last cleared (as in PyTorch). With
    `backward(create_graph=True)` it is itself a graph, and can be differentiated again.
    numpy reads a tensor as its array (`np.asarray(t)`), but its ufuncs refuse one, so that
    `np.float32(2) * t` is the tensor's own product.
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "_tangent", "retains_grad", "__weakref__")
    __array_ufunc__ = None  # numpy's operators defer to ours: `np.float32(2) * t` is Tensor.__rmul__

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data = data.data if isinstance(data, TensorBase) else data if is_csr(data) else as_array(data, dtype)
        if requires_grad and not is_float(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad: Optional[Tensor] = None
        self._ctx: Optional[autograd.Context] = None
        self.name: Optional[str] = None  # set by a VarMap for its variables
        self._tangent: Optional[np.ndarray] = None  # forward mode's (forward_ad.py)
        self.retains_grad = False  # a non-leaf that keeps its .grad (retain_grad())

    # ------------------------------------------------------------ introspection
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def size(self, dim: Optional[int] = None) -> Union[tuple, int]:
        """The shape (PyTorch's `size()`), or the length of one dimension; `numel()` counts elements."""
        return self.data.shape if dim is None else self.data.shape[norm_dim(dim, self.ndim)]

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

    def clone(self) -> "Tensor":
        """A copy that stays in the graph (the gradient passes through unchanged)."""
        return F.Clone.apply(self)

    def contiguous(self) -> "Tensor":
        """This tensor if its elements lie in row-major order, else a recorded copy that does
        (what `view` needs after `permute` or a strided slice)."""
        return self if self.data.flags.c_contiguous else self.clone()

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> "Tensor":
        """|self − other| ≤ atol + rtol · |other|, elementwise, as a bool tensor (PyTorch's defaults)."""
        return Tensor(np.isclose(self.data, as_array(getattr(other, "data", other)), rtol, atol, equal_nan))

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).data.all())

    def _repr_html_(self) -> str:
        """How a notebook shows a tensor: its values, and where it came from in the graph."""
        import html
        origin = (f"made by <b>{self._ctx.fn.__name__}</b>" if self._ctx is not None else
                  "a leaf that requires grad" if self.requires_grad else "a constant")
        grad = "" if self.grad is None else f"<br>.grad: <pre>{html.escape(np.array2string(self.grad.data, threshold=20))}</pre>"
        name = f"<b>{html.escape(self.name)}</b> " if self.name else ""
        return (f"<div>{name}Tensor {list(self.shape)} {self.dtype}, {origin}"
                f"<pre>{html.escape(np.array2string(self.data, threshold=20))}</pre>{grad}</div>")

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extra = f", grad_fn={self._ctx.fn.__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ------------------------------------------------------------ autodiff
    @property
    def is_leaf(self) -> bool:
        """Made by no recorded op: a tensor built by hand (requiring grad or not) or under no_grad."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Optional[autograd.Context]:
        """The recorded op that made this tensor (its `name()` is the op's), None for a leaf."""
        return self._ctx

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark (or unmark) a leaf as wanting a gradient, in place; returns the tensor."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a tensor made by an op: use .detach() to cut it "
                               "from the graph")
        if requires_grad and not is_float(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad or self._ctx is not None
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in `.grad` on the next backward passes (a leaf keeps its own)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require a gradient")
        if self._ctx is not None:
            self.retains_grad = True

    def backward(self, gradient: Any = None, retain_graph: Optional[bool] = None, create_graph: bool = False,
                 trace: Any = None) -> None:
        """Accumulate d self / d leaf into every leaf's `.grad`: a tensor of the leaf's shape,
        added to on every call (clear it with `leaf.grad = None`, as optimizers do).

        Without `gradient` the tensor must hold one element (a loss): the seed is 1.
        What each op saved is freed as the pass goes, so a second backward through the same
        graph raises unless this one had `retain_graph=True` (PyTorch's rule). With
        `create_graph=True` the pass is recorded too: `.grad` is a graph (retain_graph then
        defaults to True). `trace=True` prints each step (`tinygrad_mnist/trace.py`); a stream
        or a `BackwardTrace` may be given instead.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require a gradient "
                               "(no input had requires_grad=True, or it was made under no_grad())")
        seed = autograd.seed(self, gradient, create_graph, "backward() without a gradient needs a one-element "
                             "tensor, got shape {shape}; reduce it to a loss or pass gradient=")
        if seed.shape != self.shape:
            raise ValueError(f"backward(): gradient of shape {seed.shape} for a tensor of shape {self.shape}")
        from .trace import for_call
        autograd.backward([self], [seed], retain_graph=create_graph if retain_graph is None else retain_graph,
                          create_graph=create_graph, trace=for_call(trace))

    # ------------------------------------------------------------ operators
    def _lift(self, other: Any) -> "Tensor":
        """A Python or numpy scalar or array becomes a constant tensor. A Python number takes this
        tensor's dtype when that can hold it (a float meeting an integer tensor makes float32)."""
        if isinstance(other, TensorBase):
            return other
        if isinstance(other, (bool, int, float)) and not isinstance(other, np.generic):
            if is_float(self.dtype):
                return Tensor(np.asarray(other, dtype=self.dtype))
            if isinstance(other, float):
                return Tensor(np.asarray(other, dtype=np.float32))
            return Tensor(np.asarray(other, dtype=np.result_type(self.dtype, other)))
        return Tensor(other)

    def _binary(self, fn, other: Any, reflected: bool = False, real: bool = False) -> "Tensor":
        """Apply a two-input op after PyTorch's type promotion (`real`: integers become float32)."""
        a, b = (self._lift(other), self) if reflected else (self, self._lift(other))
        dtype = promote(a.dtype, b.dtype)
        if real and not is_float(dtype):
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
        return self if is_float(self.dtype) else self._to(np.dtype(np.float32))

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
            if isinstance(exponent, int) and exponent < 0 and not is_float(self.dtype):
                raise ValueError("integers to negative integer powers are not allowed (as in PyTorch); "
                                 "make the base a float tensor first (x.float() ** -1)")
            base = self._real() if isinstance(exponent, float) else self
            return F.Pow.apply(base, exponent=exponent)
        return self._binary(F.PowT, exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return self._binary(F.PowT, base, True)

    # In-place arithmetic where nothing is recorded (no gradient involved, or under no_grad, as an
    # optimizer's update) writes into `data`. Where a gradient is recorded, the name is rebound
    # to the out-of-place result, as `c = c + x` would (another name for the old tensor keeps
    # the old value), so the graph stays a graph. A leaf that requires grad is refused: rebinding
    # it would silently detach it (W -= lr * W.grad made W a new tensor and training stopped).
    def _inplace(self, fn, other: Any) -> "Tensor":
        other = self._lift(other)
        if autograd.is_grad_enabled() and (self.requires_grad or other.requires_grad):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError("in-place operation on a leaf that requires grad: update its data "
                                   "(w.data -= lr * w.grad), do it under no_grad(), or use an optimizer")
            return self._binary(fn, other, real=fn is F.Div)
        result = fn.apply(self, other.detach())
        if not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise TypeError(f"in-place {fn.__name__.lower()}: the result is {result.dtype}, which a "
                            f"{self.dtype} tensor cannot hold")
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
        if not isinstance(other, (TensorBase, np.ndarray, np.generic, int, float, bool, list, tuple)):
            return NotImplemented  # another object's comparison (pytest.approx) decides
        return Tensor(op(self.data, other.data if isinstance(other, TensorBase) else other))

    def __eq__(self, o): return self._compare(np.equal, o)  # type: ignore[override]
    def __ne__(self, o): return self._compare(np.not_equal, o)  # type: ignore[override]
    def __lt__(self, o): return self._compare(np.less, o)
    def __le__(self, o): return self._compare(np.less_equal, o)
    def __gt__(self, o): return self._compare(np.greater, o)
    def __ge__(self, o): return self._compare(np.greater_equal, o)

    __hash__ = object.__hash__

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor": return F.Exp.apply(self._real())
    def log(self) -> "Tensor": return F.Log.apply(self._real())
    def sqrt(self) -> "Tensor": return F.Sqrt.apply(self._real())
    def abs(self) -> "Tensor": return F.Abs.apply(self)
    def sigmoid(self) -> "Tensor": return F.Sigmoid.apply(self._real())
    def tanh(self) -> "Tensor": return F.Tanh.apply(self._real())
    def relu(self) -> "Tensor": return F.ReLU.apply(self)
    def maximum(self, other: Any) -> "Tensor": return self._binary(F.Maximum, other)
    def minimum(self, other: Any) -> "Tensor": return self._binary(F.Minimum, other)

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
        return self._to(other.dtype) if is_float(other.dtype) else self._cast_int(other.dtype)


Tensor.plain = Tensor  # what ops make from a Tensor, and from its subclasses (nn.Parameter)
