"""`Tensor`'s elementwise methods: the operators (with PyTorch's type promotion), in-place
arithmetic, comparisons, maximum, minimum, clamp and the casts; and one method for each
one-input op that names one (`functions.METHODS`: `exp`, `log`, `sqrt`, `abs`, `sigmoid`, `tanh`,
`relu`, ...), made from the op itself, its docstring its help. Comparisons give bool tensors with
no gradient."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .. import autograd
from .. import functions as F
from .base import Scalar, TensorBase, is_float, promote

if TYPE_CHECKING:  # each method returns a tensor of its own class (Tensor)
    from typing import Self


class ElementwiseMethods(TensorBase):
    """Operators and elementwise ops, as `Tensor` methods."""

    __slots__ = ()

    def _binary(self, fn, other: Any, reflected: bool = False, real: bool = False) -> Self:
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

    def __add__(self, o): return self._binary(F.Add, o)
    def __radd__(self, o): return self._binary(F.Add, o, True)
    def __sub__(self, o): return self._binary(F.Sub, o)
    def __rsub__(self, o): return self._binary(F.Sub, o, True)
    def __mul__(self, o): return self._binary(F.Mul, o)
    def __rmul__(self, o): return self._binary(F.Mul, o, True)
    def __truediv__(self, o): return self._binary(F.Div, o, real=True)
    def __rtruediv__(self, o): return self._binary(F.Div, o, True, real=True)
    def __neg__(self): return F.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Self:
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            if isinstance(exponent, int) and exponent < 0 and not is_float(self.dtype):
                raise ValueError("integers to negative integer powers are not allowed (as in PyTorch); "
                                 "make the base a float tensor first (x.float() ** -1)")
            base = self._real() if isinstance(exponent, float) else self
            return F.Pow.apply(base, exponent=exponent)
        return self._binary(F.PowT, exponent)

    def __rpow__(self, base: Any) -> Self:
        return self._binary(F.PowT, base, True)

    # In-place arithmetic where nothing is recorded (no gradient involved, or under no_grad, as an
    # optimizer's update) writes into `data`. Where a gradient is recorded, the name is rebound
    # to the out-of-place result, as `c = c + x` would (another name for the old tensor keeps
    # the old value), so the graph stays a graph. A leaf that requires grad is refused: rebinding
    # it would silently detach it (W -= lr * W.grad made W a new tensor and training stopped).
    def _inplace(self, fn, other: Any) -> Self:
        other = self._lift(other)
        if autograd.is_grad_enabled() and (self.requires_grad or other.requires_grad):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError("in-place operation on a leaf that requires grad: update its data "
                                   "(w.data -= lr * w.grad), do it under no_grad(), or use an optimizer")
            return self._binary(fn, other, real=fn is F.Div)
        result = fn.apply(self, self.plain(other.array))  # no graph: nothing is recorded
        if not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise TypeError(f"in-place {fn.__name__.lower()}: the result is {result.dtype}, which a "
                            f"{self.dtype} tensor cannot hold")
        self.array[...] = result.array
        return self

    def __iadd__(self, o): return self._inplace(F.Add, o)
    def __isub__(self, o): return self._inplace(F.Sub, o)
    def __imul__(self, o): return self._inplace(F.Mul, o)
    def __itruediv__(self, o): return self._inplace(F.Div, o)

    def add_(self, other: Any) -> Self: return self.__iadd__(other)
    def sub_(self, other: Any) -> Self: return self.__isub__(other)
    def mul_(self, other: Any) -> Self: return self.__imul__(other)
    def div_(self, other: Any) -> Self: return self.__itruediv__(other)

    def square(self) -> Self:
        """x·x (the product rule: d/dx = 2x)."""
        return self * self

    def rsqrt(self) -> Self:
        """1/√x, composed: d/dx = −½ x^(−3/2)."""
        return self._real() ** -0.5

    def sign(self) -> Self:
        """−1, 0 or 1; no gradient (it is 0 almost everywhere)."""
        return self.plain(np.sign(self.array))

    def is_floating_point(self) -> bool:
        return is_float(self.dtype)

    def bool(self) -> Self:
        return self.plain(self.array.astype(bool))

    def add(self, other: Any) -> Self: return self + other
    def sub(self, other: Any) -> Self: return self - other
    def mul(self, other: Any) -> Self: return self * other
    def div(self, other: Any) -> Self: return self / other
    def neg(self) -> Self: return -self
    def pow(self, exponent: Any) -> Self: return self ** exponent

    # Comparisons are elementwise and give bool tensors with no gradient.
    def _compare(self, op, other: Any) -> Self:
        if not isinstance(other, (TensorBase, np.ndarray, np.generic, int, float, bool, list, tuple)):
            return NotImplemented  # another object's comparison (pytest.approx) decides
        return self.plain(op(self.array, other.array if isinstance(other, TensorBase) else other))

    def __eq__(self, o): return self._compare(np.equal, o)  # type: ignore[override]
    def __ne__(self, o): return self._compare(np.not_equal, o)  # type: ignore[override]
    def __lt__(self, o): return self._compare(np.less, o)
    def __le__(self, o): return self._compare(np.less_equal, o)
    def __gt__(self, o): return self._compare(np.greater, o)
    def __ge__(self, o): return self._compare(np.greater_equal, o)

    __hash__ = object.__hash__

    def eq(self, o: Any) -> Self: return self == o
    def ne(self, o: Any) -> Self: return self != o
    def lt(self, o: Any) -> Self: return self < o
    def le(self, o: Any) -> Self: return self <= o
    def gt(self, o: Any) -> Self: return self > o
    def ge(self, o: Any) -> Self: return self >= o

    def where(self, condition: Any, other: Any) -> Self:
        """`where(condition, self, other)`, PyTorch's method form."""
        return where(condition, self, other)

    def masked_fill(self, mask: Any, value: Any) -> Self:
        """`value` where `mask` is true, this tensor elsewhere (no gradient flows to a filled element)."""
        return where(mask, self._lift(value)._to(self.dtype) if not isinstance(value, TensorBase) else value, self)

    def maximum(self, other: Any) -> Self: return self._binary(F.Maximum, other)
    def minimum(self, other: Any) -> Self: return self._binary(F.Minimum, other)

    def clamp(self, min: Optional[Scalar] = None, max: Optional[Scalar] = None) -> Self:
        """Elements limited to [min, max] (either bound may be left out)."""
        if min is None and max is None:
            raise ValueError("clamp: give min, max or both")
        return F.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    def astype(self, dtype: Any) -> Self:
        return F.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Self: return self._to(np.dtype(np.float32))
    def double(self) -> Self: return self._to(np.dtype(np.float64))
    def int(self) -> Self: return self._cast_int(np.int32)
    def long(self) -> Self: return self._cast_int(np.int64)

    def _cast_int(self, dtype) -> Self:
        """An integer copy (truncated toward zero, as in PyTorch); no gradient flows through it."""
        return self.plain(self.array.astype(dtype))

    def type_as(self, other: Self) -> Self:
        return self._to(other.dtype) if is_float(other.dtype) else self._cast_int(other.dtype)


def where(condition: Any, x: Any, y: Any) -> TensorBase:
    """x where `condition` holds, else y, broadcast together (PyTorch's `torch.where`):
    d/dx = 1 where the condition holds, d/dy = 1 elsewhere. Two selections, so an inf or a NaN in
    the branch not taken never reaches the gradient (as `x·c + y·(1 − c)` would let it)."""
    keep = np.asarray(getattr(condition, "array", condition), dtype=bool)
    if not isinstance(x, TensorBase):
        x, y = (y._lift(x), y) if isinstance(y, TensorBase) else (None, y)
    if x is None:
        raise TypeError("where(): give at least one of x and y as a tensor")
    y = x._lift(y)
    dtype = promote(x.dtype, y.dtype)
    x, y = x._to(dtype), y._to(dtype)
    return F.Masked.apply(x, keep=keep) + F.Masked.apply(y, keep=~keep)


def _method(op: type):
    """The `Tensor` method of a one-input op: `x.exp()` is `Exp.apply(x)` (in float32 for integer
    input, where the op says it only makes sense on reals)."""
    def method(self: TensorBase) -> TensorBase:
        return op.apply(self._real() if getattr(op, "on_reals", False) else self)
    method.__name__, method.__qualname__ = op.method, f"ElementwiseMethods.{op.method}"
    method.__doc__ = op.__doc__
    return method


for _name, _op in F.METHODS.items():
    setattr(ElementwiseMethods, _name, _method(_op))
