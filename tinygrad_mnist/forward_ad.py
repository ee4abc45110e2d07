"""Forward mode: a tangent rides along the forward pass (PyTorch's `torch.autograd.forward_ad`).

    with forward_ad.dual_level():
        x = forward_ad.make_dual(x0, v)          # x0 with the direction v
        y = f(x)
        primal, tangent = forward_ad.unpack_dual(y)   # f(x0) and J·v, in one pass

Inside a dual level, `Op.apply` asks each op for the output's tangent from its inputs'
tangents (`jvp(ctx, *tangents)`, beside `forward` and `backward`), right after its forward:
one pass, no graph kept, whatever the number of outputs. A tangent is a plain array of the
tensor's shape; an input without one counts as a zero tangent.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Tuple

import numpy as np

from .autograd import _tangents, made_like


def _carry(cls, ctx, inputs, out) -> None:
    tangents = [getattr(t, "_tangent", None) for t in inputs]
    if all(t is None for t in tangents) or out.array.dtype.kind != "f":
        return
    try:
        t = cls.jvp(ctx, *tangents)
    except NotImplementedError:
        raise NotImplementedError(f"{cls.__name__} has no jvp rule, so forward mode cannot go through it: "
                                  "give it a jvp(ctx, *tangents) beside backward (docs/higher-order.md)") from None
    if t is None:
        return
    t = np.asarray(t, dtype=out.array.dtype)
    out._tangent = t if t.shape == out.shape else np.broadcast_to(t, out.shape)


@contextlib.contextmanager
def dual_level() -> Iterator[None]:
    """Inside this block (on this thread) tensors made by `make_dual` carry tangents through ops."""
    previous = _tangents.active
    _tangents.active, _tangents.carry = True, _carry
    try:
        yield
    finally:
        _tangents.active = previous


def make_dual(tensor, tangent: Any):
    """A tensor with `tensor`'s values (the same array) and the tangent `tangent` (its shape)."""
    if not _tangents.active:
        raise RuntimeError("make_dual: open a forward_ad.dual_level() first")
    t = np.asarray(getattr(tangent, "array", tangent), dtype=tensor.array.dtype)
    if t.shape != tensor.shape:
        raise ValueError(f"make_dual: tangent of shape {t.shape} for a tensor of shape {tensor.shape}")
    dual = made_like(tensor)(tensor.array, requires_grad=tensor.requires_grad)
    dual._tangent = t
    return dual


def unpack_dual(tensor) -> Tuple[Any, Optional[Any]]:
    """(the tensor, its tangent as a tensor, or None where no tangent reached it)."""
    tangent = getattr(tensor, "_tangent", None)
    return tensor, (None if tangent is None else made_like(tensor)(np.array(tangent)))
