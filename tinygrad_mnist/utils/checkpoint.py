"""Activation checkpointing, PyTorch's `torch.utils.checkpoint.checkpoint(fn, *args)`: run `fn`
without recording it, keep only its inputs, and run it again during backward to get the graph
its gradient needs. Memory for time: the outputs of every op inside `fn` are not kept between
the forward and the backward pass; `fn` runs twice.

    y = checkpoint(block, x)          # block's inner activations are not kept
    loss(y).backward()                # block runs again here, then its backward

The recomputation replays the engine's random generator from where the forward pass found it,
so a dropout inside `fn` draws the same mask twice. Parameters that `fn` uses (a layer's
weights) get their `.grad` as without checkpointing; under `create_graph` the gradient is a
graph, differentiable again. As PyTorch's reentrant checkpoint, a first-order pass accumulates
into those parameters' `.grad` even inside `autograd.grad`.
"""
from __future__ import annotations

from typing import Any, Callable, List

import numpy as np

from .. import autograd
from ..autograd import Function, enable_grad
from ..generator import rng
from ..tensor import Tensor


class Recompute(Function):
    """forward: fn(*args) unrecorded; backward: fn again, recorded, and its backward."""

    @staticmethod
    def forward(ctx, fn: Callable, *args: Any) -> Any:
        ctx.fn, ctx.args, ctx.state = fn, args, rng().bit_generator.state
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        out = fn(*args)
        if not isinstance(out, Tensor):
            raise TypeError("checkpoint: fn must return one tensor")
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple:
        saved, recorded = iter(ctx.saved_tensors), autograd.is_grad_enabled()
        inputs = [next(saved) if isinstance(a, Tensor) else a for a in ctx.args]
        if not recorded:  # first order: fresh leaves, and one ordinary backward through fn
            inputs = [Tensor(a.array, requires_grad=a.requires_grad) if isinstance(a, Tensor) else a for a in inputs]
        out = _replay(ctx, inputs)
        tensors = [a for a in inputs if isinstance(a, Tensor) and a.requires_grad]
        if not recorded:
            for t in tensors:
                t.grad = None
            autograd.backward([out], [grad.array])  # the parameters inside fn accumulate, hooks run
            found = {id(t): t.grad for t in tensors}
        else:  # create_graph: gradients as graphs of the inputs, the parameters' .grad added to
            inner = _leaves_inside(out, inputs)
            grads = autograd.grad(out, tensors + inner, grad_outputs=grad, create_graph=True, allow_unused=True)
            found = {id(t): g for t, g in zip(tensors, grads)}
            for leaf, g in zip(inner, grads[len(tensors):]):
                if g is not None:
                    leaf.grad = g if leaf.grad is None else leaf.grad + g
        return (None,) + tuple(found.get(id(a)) if isinstance(a, Tensor) else None for a in inputs)


def _replay(ctx, inputs: list) -> Tensor:
    """fn(*inputs), recorded, with the random generator where the forward pass found it."""
    generator = rng().bit_generator
    now, generator.state = generator.state, ctx.state
    try:
        with enable_grad():
            return ctx.fn(*inputs)
    finally:
        generator.state = now


def _leaves_inside(out: Tensor, inputs: list) -> List[Tensor]:
    """The leaves that require grad in fn's recorded graph (its parameters), not walking into
    the inputs' own history (the outer pass handles that)."""
    stop = {id(a) for a in inputs if isinstance(a, Tensor)}
    found, seen, todo = [], set(), [out]
    while todo:
        node = todo.pop()
        if id(node) in seen or id(node) in stop:
            continue
        seen.add(id(node))
        if node._ctx is None:
            if node.requires_grad:
                found.append(node)
        else:
            todo.extend(p for p in node._ctx.parents if p.requires_grad)
    return found


def checkpoint(fn: Callable[..., Tensor], *args: Any, use_reentrant: Any = None, **kwargs: Any) -> Tensor:
    """`fn(*args)`, its inner activations recomputed in backward instead of kept (see above).
    Outside a recorded pass (no input or parameter needs a gradient) it is `fn(*args)`."""
    if kwargs:
        return checkpoint(lambda *a: fn(*a, **kwargs), *args)
    if not autograd.is_grad_enabled():
        return fn(*args)
    # fn's parameters are not arguments: an anchor that requires grad makes the node recorded even
    # when no input needs a gradient (images into a first layer); it receives none
    anchor = Tensor(np.zeros(()), requires_grad=True)
    return Recompute.apply(lambda _, *a: fn(*a), anchor, *args)
