"""`Tensor`'s constructors: zeros, ones, full, randn, rand, arange, eye and their `*_like`s, as
PyTorch spells them (random ones draw from the engine's generator, `generator.py`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ..generator import rng
from .base import Scalar, TensorBase, as_array, shape_arg

if TYPE_CHECKING:  # each method returns a tensor of its own class (Tensor)
    from typing import Self


class CreationMethods(TensorBase):
    """Constructors, as `Tensor` class methods."""

    __slots__ = ()

    @classmethod
    def zeros(cls, *shape, dtype: Any = np.float32, requires_grad: bool = False, device: Any = None) -> Self:
        return cls(np.zeros(shape_arg(shape), dtype), requires_grad, device=device)

    @classmethod
    def ones(cls, *shape, dtype: Any = np.float32, requires_grad: bool = False, device: Any = None) -> Self:
        return cls(np.ones(shape_arg(shape), dtype), requires_grad, device=device)

    @classmethod
    def full(cls, shape, value: Scalar, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls(np.full(shape_arg((shape,)), value, dtype or as_array(value).dtype), requires_grad, device=device)

    @classmethod
    def randn(cls, *shape, dtype: Any = np.float32, requires_grad: bool = False, device: Any = None) -> Self:
        """Standard normal samples from the engine's generator (`generator.seed` makes them repeat)."""
        return cls(rng().standard_normal(shape_arg(shape)).astype(dtype), requires_grad, device=device)

    @classmethod
    def rand(cls, *shape, dtype: Any = np.float32, requires_grad: bool = False, device: Any = None) -> Self:
        """Uniform samples in [0, 1) from the engine's generator. A float64 draw just below 1 would
        round to 1.0 in float32: it is kept below 1, so the interval stays half-open."""
        x = rng().random(shape_arg(shape)).astype(dtype)
        return cls(np.minimum(x, np.nextafter(np.ones((), x.dtype), 0)), requires_grad, device=device)

    @classmethod
    def randint(cls, *args: Any, size: Any = None, low: int = 0, high: Optional[int] = None, dtype: Any = np.int64,
                requires_grad: bool = False, device: Any = None) -> Self:
        """Integers uniform in [low, high): PyTorch's `randint(high, size)` and `randint(low, high,
        size)` (a size is a tuple), or tinygrad's `randint(*shape, low=0, high=10)`."""
        if size is None and args and isinstance(args[-1], (tuple, list)):
            *bounds, size = args
            low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
        elif size is None:
            size = args
        elif args:
            low, high = (0, args[0]) if len(args) == 1 else args
        if high is None:
            raise TypeError("randint: give high (PyTorch's randint(low=0, high, size))")
        return cls(rng().integers(low, high, shape_arg(tuple(size)), dtype=dtype), requires_grad, device=device)

    @classmethod
    def arange(cls, start: Scalar, end: Optional[Scalar] = None, step: Scalar = 1, dtype: Any = None,
               requires_grad: bool = False, device: Any = None) -> Self:
        """start, start+step, ... below end; int64 for whole numbers, else float32 (PyTorch's)."""
        start, end = (0, start) if end is None else (start, end)
        whole = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        return cls(np.arange(start, end, step, dtype=dtype or (np.int64 if whole else np.float32)),
                   requires_grad, device=device)

    @classmethod
    def eye(cls, n: int, m: Optional[int] = None, dtype: Any = np.float32, requires_grad: bool = False, device: Any = None) -> Self:
        return cls(np.eye(n, m, dtype=dtype), requires_grad, device=device)

    @classmethod
    def zeros_like(cls, t: TensorBase, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls.zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)

    @classmethod
    def ones_like(cls, t: TensorBase, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls.ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)

    @classmethod
    def full_like(cls, t: TensorBase, value: Scalar, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls.full(t.shape, value, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)

    @classmethod
    def randn_like(cls, t: TensorBase, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls.randn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)

    @classmethod
    def rand_like(cls, t: TensorBase, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Self:
        return cls.rand(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)
