"""Two kinds of op whose forward-mode rule follows from what they already state, so it is written
nowhere (PyTorch's derivatives.yaml marks them `auto_element_wise` and `auto_linear`).

- `Elementwise`: y = f(x₁, …, xₙ) element by element. The op states its local derivatives once,
  one factor ∂y/∂xᵢ per input, from what forward saved. Backward sends `g · ∂y/∂xᵢ` to each
  input (a vector-Jacobian product: the Jacobian is diagonal), and jvp sums `tᵢ · ∂y/∂xᵢ` (the
  Jacobian-vector product): the same factors, met from the other side.
- `LinearOp`: y = A(x₁, …, xₙ) for a linear map A (add, reshape, transpose, sum, cat, a cast).
  Its Jacobian is A itself, so its JVP is the op applied to the tangents, with the settings it
  was applied with (an input without a tangent counts as zeros). Only backward, Aᵀ, is written.

A factor or a backward is written once for arrays and tensors (`either.py`), so `create_graph`
differentiates it again.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..autograd import Context, Op
from .either import plus


class Elementwise(Op):
    """An elementwise op: state `derivative(ctx)` (one input) or `derivatives(ctx, wanted)` (one
    factor per input, None where `wanted` says no), and backward and jvp follow.

    A unary op that is also a `Tensor` method names it in `method` (`tensor/elementwise.py`
    makes the method from the op, with its docstring); `on_reals` says integer input is computed
    in float32 first (`exp`, `sqrt`: ops that only make sense on reals)."""

    method: Optional[str] = None
    on_reals = False

    @staticmethod
    def derivative(ctx: Context) -> Any:
        """∂y/∂x of a one-input op, from what forward saved (an array, or with create_graph a tensor)."""
        raise NotImplementedError

    @classmethod
    def derivatives(cls, ctx: Context, wanted: Tuple[bool, ...]) -> tuple:
        """One factor ∂y/∂xᵢ per input, None where `wanted[i]` is False."""
        return (cls.derivative(ctx) if wanted[0] else None,)

    @classmethod
    def backward(cls, ctx: Context, grad):
        if len(ctx.needs_input_grad) == 1:  # one input (it wants its gradient, or backward would not run)
            return grad * cls.derivative(ctx)
        return tuple([None if d is None else grad * d for d in cls.derivatives(ctx, ctx.needs_input_grad)])

    @classmethod
    def jvp(cls, ctx: Context, *tangents):
        factors = cls.derivatives(ctx, tuple(t is not None for t in tangents))
        return plus(*(None if t is None else t * d for t, d in zip(tangents, factors)))


class LinearOp(Op):
    """A linear op: write forward and backward (the transpose); jvp is forward again, on the tangents."""

    keeps_settings = True  # the context keeps the op's keyword arguments (`ctx.settings`) for jvp

    @classmethod
    def jvp(cls, ctx: Context, *tangents):
        if all(t is None for t in tangents):
            return None
        zeros = [np.broadcast_to(np.zeros((), p.dtype), p.shape) for p in ctx.parents]  # views: no memory
        return cls.call(*(z if t is None else t for t, z in zip(tangents, zeros)), **ctx.settings)
