"""The graph: how an op is recorded and how gradients flow back through it.

This module owns reverse-mode autodiff and nothing else. It never looks at
what an op computes (that is `functions/`) nor how (that is `kernels/`).

A `Function` subclass is one op: `forward(ctx, *arrays)` computes the output
from plain numpy arrays, `backward(ctx, grad)` returns one gradient per input.
`Function.apply` runs `forward` and, when some input wants a gradient, keeps a
`Context` on the output: the op, its parents and whatever `forward` saved.
`backward(root)` walks those contexts from the root to the leaves.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import numpy as np


class _GradMode(threading.local):
    """Whether ops record a graph: per thread, as PyTorch's grad mode is (a loader thread's
    no_grad must not switch recording off for the training thread)."""
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block (on this thread) ops record nothing, so no graph is kept."""
    previous, _mode.enabled = _mode.enabled, False
    try:
        yield
    finally:
        _mode.enabled = previous


class Context:
    """What one op application remembers for its backward pass: every array through
    `save_for_backward` (so the graph view can show what a step keeps), plain settings (an axis,
    a shape, an exponent) as attributes."""

    def __init__(self, fn: type, parents: tuple, needs_input_grad: tuple):
        self.fn = fn
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays


class Function:
    """Base class of every op; see the module docstring."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def label(cls, ctx: Context) -> str:
        """How the graph view names this application of the op: its name, and on further lines any
        setting worth seeing (an op overrides this; viewers never read its context)."""
        return cls.__name__

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensors; the output remembers how it was made."""
        enabled = _mode.enabled
        needs = tuple(enabled and t.requires_grad for t in inputs)  # no_grad: skip gradient work
        ctx = Context(cls, inputs, needs)
        data = cls.forward(ctx, *[t.data for t in inputs], **kwargs)
        out = type(inputs[0])(data)
        if enabled and True in needs:
            out.requires_grad = True
            out._ctx = ctx
        return out


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` back to `shape`, undoing numpy broadcasting.

    This is the only place un-broadcasting happens: an op's backward may return
    a gradient of the broadcast (output) shape, and it is reduced here.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def topological_order(root, every_parent: bool = False) -> list:
    """Nodes that need a gradient (or, with `every_parent`, all nodes), each after every node
    it depends on, parents in argument order.

    Iterative depth-first search, so a 10,000-op chain needs no recursion.
    """
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            stack.extend((p, False) for p in reversed(node._ctx.parents)
                         if (every_parent or p.requires_grad) and id(p) not in visited)
    return order


def backward(root, grad: np.ndarray, trace=None) -> None:
    """Propagate `grad` (d root / d root) to every leaf that requires a gradient.

    Walking in reverse topological order means a node's gradient is complete
    (summed over all its uses) before it is passed on. Leaves accumulate into
    `.grad` across calls; gradients of intermediate nodes are dropped as soon
    as they have been used. `trace` (a `trace.BackwardTrace`) is told each step
    as it happens; it changes nothing.
    """
    pending = {id(root): grad}
    if trace:
        trace.start(root, grad)
    for node in reversed(topological_order(root)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:  # a leaf: keep what it received
            g = np.asarray(g, dtype=node.data.dtype)
            node.grad = g.copy() if node.grad is None else node.grad + g
            if trace:
                trace.leaf(node, g)
            continue
        if trace:
            trace.visit(node, g)
        grads = ctx.fn.backward(ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        for parent, pg in zip(ctx.parents, grads + (None,) * (len(ctx.parents) - len(grads))):
            if pg is None or not parent.requires_grad:
                if trace:
                    trace.constant(node, parent)
                continue
            full = pg
            if pg.shape != parent.data.shape:
                pg = unbroadcast(pg, parent.data.shape)
            key = id(parent)
            if trace:
                trace.passed(node, parent, full, pg, key in pending)
            pending[key] = pg if key not in pending else pending[key] + pg
