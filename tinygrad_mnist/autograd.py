"""The graph: how an op is recorded and how gradients flow back through it.

This module owns reverse-mode autodiff and nothing else. It never looks at
what an op computes (that is `functions/`) nor how (that is `kernels/`).

A `Function` subclass is one op: `forward(ctx, *arrays)` computes the output
from plain numpy arrays, `backward(ctx, grad)` returns one gradient per input,
`jvp(ctx, *tangents)` the output's tangent (forward mode, `forward_ad.py`).
`Function.apply` runs `forward` and, when some input wants a gradient, keeps a
`Context` on the output: the op, its parents and whatever `forward` saved.
`backward(roots, ...)` walks those contexts from the roots to the leaves.

A backward is written once for two readers. A first-order pass hands it numpy
arrays and it computes arrays, recording nothing (the training step). With
`create_graph=True` it gets tensors, the saved arrays come back as the tensors
they were (an input, the output, or a constant), and every op it applies is
recorded: the gradient is itself a graph and can be differentiated again.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Optional, Sequence

import numpy as np

# re-exported: `autograd.no_grad` is where PyTorch users look for grad mode
from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

FREED = ("Trying to backward through the graph a second time: backward() frees what each op saved for it ({op} "
         "here) once it has been used. Pass retain_graph=True to the first backward() (or autograd.grad) to go "
         "through the graph again.")


class Context:
    """What one op application remembers for its backward pass: every array through
    `save_for_backward` (so the graph view can show what a step keeps, and backward can free it),
    plain settings (an axis, a shape, an exponent) as attributes."""

    def __init__(self, fn: type, parents: tuple, needs_input_grad: tuple, settings: Optional[dict] = None):
        self.fn = fn
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.settings = settings  # the op's keyword arguments, where it keeps them (`Function.keeps_settings`)
        self._saved: tuple = ()
        self._freed = False

    def save_for_backward(self, *arrays: Any) -> None:
        self._saved = arrays

    def name(self) -> str:
        """The op's name (what a tensor's `grad_fn.name()` says in PyTorch)."""
        return self.fn.__name__

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}>"

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(FREED.format(op=self.fn.__name__))
        return self._saved

    def free(self) -> None:
        """Drop what forward saved (backward without retain_graph does, once it has used it)."""
        if self._saved:
            self._saved, self._freed = (), True

    def as_tensor(self, a: Any, out):
        """A saved array as the tensor it is in the graph: an input, the output `out`, else a constant."""
        if not isinstance(a, np.ndarray):
            return a
        for p in self.parents:
            if a is p.data:
                return p
        if a is out.data:
            return out
        return made_like(self.parents[0])(a)


class _GraphView:
    """A context as a create_graph backward sees it: the saved arrays as tensors of the graph
    (`out` is the tensor the op made, the node being visited)."""

    def __init__(self, ctx: Context, out):
        self._ctx, self._out = ctx, out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def saved_tensors(self) -> tuple:
        return tuple(self._ctx.as_tensor(a, self._out) for a in self._ctx.saved_tensors)


_PLAIN = (np.ndarray, np.generic, int, float)


def made_like(t: Any) -> type:
    """The class of the tensors an op makes from `t` (its output, a gradient, a constant): t's own
    class, or the one it names as `plain` (a parameter's outputs are plain tensors)."""
    return getattr(type(t), "plain", type(t))


def is_array(x: Any) -> bool:
    """A plain value (a first-order backward's arrays), as opposed to a tensor."""
    return isinstance(x, _PLAIN)


class Function:
    """Base class of every op; see the module docstring. `keeps_settings`: the context keeps the
    keyword arguments the op was applied with (a linear op's jvp replays forward with them)."""

    keeps_settings = False

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def jvp(ctx: Context, *tangents: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def label(cls, ctx: Context) -> str:
        """How the graph view names this application of the op: its name, and on further lines any
        setting worth seeing (an op overrides this; viewers never read its context)."""
        return cls.__name__

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensors; the output remembers how it was made (in forward mode, its tangent)."""
        return cls.apply_saving(*inputs, **kwargs)[0]

    @classmethod
    def apply_saving(cls, *inputs, **kwargs):  # and what the op saved, recorded or not (max_pool2d's indices)
        enabled = _mode.enabled
        needs = tuple(enabled and t.requires_grad for t in inputs)  # no_grad: skip gradient work
        ctx = Context(cls, inputs, needs, kwargs if cls.keeps_settings else None)
        data = cls.forward(ctx, *[t.data for t in inputs], **kwargs)
        if not isinstance(data, np.ndarray) and np.ndim(data) == 0:  # a ufunc's scalar from a 0-d array
            raw, data = data, np.asarray(data)
            ctx._saved = tuple(data if s is raw else s for s in ctx._saved)
        out = made_like(inputs[0])(data)
        if enabled and True in needs:
            out.requires_grad = True
            out._ctx = ctx
        if _tangents.active:
            _tangents.carry(cls, ctx, inputs, out)
        return out, ctx.saved_tensors

    @classmethod
    def call(cls, *args, **kwargs):
        """The op inside a backward: on tensors it is applied (and recorded, as create_graph
        needs); on plain arrays its forward runs as it is (a first-order backward: nothing wrapped,
        nothing recorded, and no more Python than a direct call: this is the training step's path)."""
        for a in args:
            if hasattr(a, "_ctx"):  # a tensor: the op is recorded, other inputs become constants (a CSR too)
                make = made_like(a)
                return cls.apply(*[x if x is None or hasattr(x, "_ctx") else make(np.asarray(x) if isinstance(
                    x, _PLAIN) else x) for x in args], **kwargs)
        return cls.forward(_Scratch(), *args, **kwargs)


class _Scratch:
    """The context of a forward run inside a first-order backward: it keeps nothing."""

    def save_for_backward(self, *arrays: Any) -> None:
        pass


class _Tangents(threading.local):
    """Forward mode's hook in `apply` (`forward_ad.py` installs it): off, `apply` pays one check."""
    active = False

    @staticmethod
    def carry(cls, ctx, inputs, out) -> None:  # replaced by forward_ad while a dual level is open
        pass


_tangents = _Tangents()


def unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum `grad` back to `shape`, undoing numpy broadcasting (arrays and tensors alike).

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


def topological_order(roots, every_parent: bool = False) -> list:
    """Nodes that need a gradient (or, with `every_parent`, all nodes), each after every node
    it depends on, parents in argument order. `roots` is a tensor or a sequence of them.

    Iterative depth-first search, so a 10,000-op chain needs no recursion.
    """
    roots = roots if isinstance(roots, (list, tuple)) else [roots]
    order, visited, stack = [], set(), [(r, False) for r in reversed(roots)]
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


class RemovableHandle:
    """What registering a hook returns: `remove()` takes the hook off again (PyTorch's handle)."""

    _ids = itertools.count()

    def __init__(self, table: dict):
        self._table, self.id = table, next(self._ids)

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(t, kind: str, fn: Callable) -> RemovableHandle:
    """Register `fn` on tensor `t`: kind "grad" (`Tensor.register_hook`) or "post"
    (`Tensor.register_post_accumulate_grad_hook`). A tensor without hooks holds None: the pass
    then pays one attribute read per node."""
    if t._hooks is None:
        t._hooks = {"grad": {}, "post": {}}
    handle = RemovableHandle(t._hooks[kind])
    t._hooks[kind][handle.id] = fn
    return handle


def _hooked(node, g):
    """`g` after the node's gradient hooks, in the order they were registered: each gets the
    gradient as a tensor, and a value it returns replaces it (for the next hook, the inputs and
    `.grad`)."""
    for fn in list(node._hooks["grad"].values()):
        out = fn(made_like(node)(g) if is_array(g) else g)
        if out is None:
            continue
        if tuple(out.shape) != tuple(node.data.shape):
            raise RuntimeError(f"a gradient hook returned shape {tuple(out.shape)} for a tensor of shape "
                               f"{tuple(node.data.shape)}")
        g = np.array(getattr(out, "data", out), dtype=node.data.dtype) if is_array(g) else out
    return g


def _post_accumulate(leaf) -> None:
    for fn in list(leaf._hooks["post"].values()):
        if fn(leaf) is not None:
            raise RuntimeError("a post-accumulate-grad hook must return None (it sees the leaf, .grad final)")


def backward(roots: Sequence, grads: Sequence, retain_graph: bool = False, create_graph: bool = False,
             capture: Optional[set] = None, trace=None) -> dict:
    """Propagate each root's `grad` (d root / d root) back through the graph.

    Walking in reverse topological order means a node's gradient is complete (summed over all
    its uses) before it is passed on. Without `capture`, leaves accumulate into `.grad` (a
    tensor); with it (a set of ids), the gradients of those nodes are returned by id instead and
    no `.grad` changes (`grad()`). Intermediate gradients are dropped once passed on; what each
    op saved is freed after its backward unless `retain_graph`. `trace` (a
    `trace.BackwardTrace`) is told each step as it happens; it changes nothing.
    """
    pending = {}
    for root, g in zip(roots, grads):
        pending[id(root)] = g if id(root) not in pending else pending[id(root)] + g
    if trace:
        trace.start(roots[0], grads[0])
    captured: dict = {}
    previous, _mode.enabled = _mode.enabled, create_graph  # a create_graph backward records its ops
    try:
        for node in reversed(topological_order(list(roots))):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            hooks, owned = node._hooks, True
            if hooks is not None and hooks["grad"]:
                g, owned = _hooked(node, g), False  # a hook's value may be one it keeps
            if capture is not None and id(node) in capture:
                captured[id(node)] = g
            if node._ctx is None or capture is None and getattr(node, "retains_grad", False):
                if capture is None:  # a leaf, or a node asked to keep its gradient
                    _accumulate(node, g, trace, owned and _owned(g, pending, grads))
                    if hooks is not None and hooks["post"] and node._ctx is None:
                        _post_accumulate(node)
                if node._ctx is None:
                    continue
            _visit(node, g, pending, create_graph, trace)
            if not retain_graph:
                node._ctx.free()
    finally:
        _mode.enabled = previous
    return captured


def _owned(g, pending: dict, seeds) -> bool:  # g is the pass's alone: no view, no seed, not also sent elsewhere
    return isinstance(g, np.ndarray) and g.base is None and g.flags.writeable \
        and not any(v is g for v in pending.values()) and not any(s is g for s in seeds)


def _accumulate(leaf, g, trace, owned: bool = False) -> None:
    """A leaf keeps what it received in `.grad`, a tensor, added to what it already held; an array
    the pass owns is kept, not copied (as PyTorch's AccumulateGrad steals an unshared gradient)."""
    if isinstance(g, _PLAIN):
        g, owned = (g, owned) if g.dtype == leaf.data.dtype else (g.astype(leaf.data.dtype), True)
        leaf.grad = made_like(leaf)(g if owned else g.copy()) if leaf.grad is None else \
            made_like(leaf)(leaf.grad.data + g)
    else:
        g = g if g.dtype == leaf.dtype else g.astype(leaf.dtype)
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    if trace:
        trace.leaf(leaf, g)


def _visit(node, g, pending: dict, create_graph: bool, trace) -> None:
    """Run one op's backward and pass each input its share, un-broadcast."""
    ctx = node._ctx
    if trace:
        trace.visit(node, g)
    grads = ctx.fn.backward(_GraphView(ctx, node) if create_graph else ctx, g)
    if not isinstance(grads, tuple):
        grads = (grads,)
    for parent, pg in zip(ctx.parents, grads if len(grads) == len(ctx.parents) else
                          grads + (None,) * (len(ctx.parents) - len(grads))):
        if pg is None or not parent.requires_grad:
            if trace:
                trace.constant(node, parent)
            continue
        if create_graph and isinstance(pg, _PLAIN):  # a constant gradient (a mask, zeros): a constant tensor
            pg = made_like(parent)(np.asarray(pg))
        full = pg
        if pg.shape != parent.data.shape:
            pg = unbroadcast(pg, parent.data.shape)
        key = id(parent)
        if trace:
            trace.passed(node, parent, full, pg, key in pending)
        pending[key] = pg if key not in pending else pending[key] + pg


def seed(out, gradient, create_graph: bool, missing: str):
    """The cotangent a pass starts from at `out`: `gradient` in out's dtype (a one-element `out`
    may leave it out: 1), as a tensor when the pass is recorded. `missing` is the error for a
    larger `out` without one ({shape} is filled in)."""
    if gradient is None:
        if out.data.size != 1:
            raise RuntimeError(missing.format(shape=out.shape))
        gradient = np.ones_like(out.data)
    if create_graph and hasattr(gradient, "_ctx"):  # a tensor, perhaps a graph itself: kept as it is
        return gradient
    g = np.asarray(gradient if isinstance(gradient, np.ndarray) else getattr(gradient, "data", gradient),
                   dtype=out.data.dtype)  # an array's own .data is a memoryview of it
    return made_like(out)(g) if create_graph else g


def grad(outputs, inputs, grad_outputs=None, retain_graph: Optional[bool] = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, as PyTorch's `torch.autograd.grad`:
    Σ_k grad_outputs[k] · d outputs[k] / d input for each input, returned as a tuple and never
    added to any `.grad`. `grad_outputs` defaults to ones for one-element outputs.
    `retain_graph` defaults to `create_graph`; with `create_graph` the gradients are graphs
    themselves (differentiate them again). An input the outputs do not depend on raises,
    unless `allow_unused`, which gives None for it."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad(): an output does not require a gradient (no input had requires_grad=True, "
                               "or it was made under no_grad())")
        seeds.append(seed(out, g, create_graph, "grad(): an output of shape {shape} needs grad_outputs (a "
                                                "cotangent of its shape)"))
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input does not require a gradient")
    found = backward(outputs, seeds, retain_graph=create_graph if retain_graph is None else retain_graph,
                     create_graph=create_graph, capture={id(t) for t in inputs})
    result = []
    for t in inputs:
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError("grad(): one of the inputs was not used to compute the outputs; pass "
                               "allow_unused=True to get None for it")
        result.append(None if g is None else (made_like(t)(np.asarray(g, dtype=t.data.dtype)) if is_array(g) else g))
    return tuple(result)
