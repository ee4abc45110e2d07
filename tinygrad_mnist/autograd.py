"""The graph: how an op is recorded and how gradients flow back through it.

This module owns reverse-mode autodiff and nothing else. It never looks at
what an op computes (that is `functions/`) nor how (that is `kernels/`).

A `Op` subclass is one op: `forward(ctx, *arrays)` computes the output
from plain numpy arrays, `backward(ctx, grad)` returns one gradient per input,
`jvp(ctx, *tangents)` the output's tangent (forward mode, `forward_ad.py`).
`Op.apply` runs `forward` and, when some input wants a gradient, keeps a
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

from . import kernels
from .kernels.interface import DeviceArray
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
        self.settings = settings  # the op's keyword arguments, where it keeps them (`Op.keeps_settings`)
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
        if not isinstance(a, (np.ndarray, DeviceArray)):
            return a
        for p in self.parents:
            if a is p.array:
                return p
        if a is out.array:
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


_PLAIN = (np.ndarray, np.generic, int, float, DeviceArray)


def made_like(t: Any) -> type:
    """The class of the tensors an op makes from `t` (its output, a gradient, a constant): t's own
    class, or the one it names as `plain` (a parameter's outputs are plain tensors)."""
    return getattr(type(t), "plain", type(t))


def is_array(x: Any) -> bool:
    """A plain value (a first-order backward's arrays), as opposed to a tensor."""
    return isinstance(x, _PLAIN)


class Op:
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
        arrays = [t.array for t in inputs]
        on = _on_a_device(cls, arrays) if DeviceArray.in_use else None  # the CPU pays one attribute read
        if on is not None:
            with kernels.running_on(on, cls.__name__):
                data = cls.forward(ctx, *arrays, **kwargs)
        else:
            data = cls.forward(ctx, *arrays, **kwargs)
        if not isinstance(data, (np.ndarray, DeviceArray)) and np.ndim(data) == 0:  # a ufunc's scalar from a 0-d array
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


def _on_a_device(op: type, arrays: list) -> Optional[DeviceArray]:
    """The first input on a device (None when all are host arrays); inputs on two devices raise,
    naming both, as PyTorch does (a 0-d host array is a number, and may meet any device)."""
    found = next((a for a in arrays if isinstance(a, DeviceArray)), None)
    if found is not None:
        for a in arrays:
            if not isinstance(a, type(found)) and not (isinstance(a, np.ndarray) and a.ndim == 0):
                raise RuntimeError(f"{op.__name__}: expected all tensors to be on the same device, but found at "
                                   "least two devices, cuda:0 and cpu")
    return found


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
        if tuple(out.shape) != tuple(node.array.shape):
            raise RuntimeError(f"a gradient hook returned shape {tuple(out.shape)} for a tensor of shape "
                               f"{tuple(node.array.shape)}")
        g = np.array(getattr(out, "array", out), dtype=node.array.dtype) if is_array(g) else out
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
        for node in reversed(_needed(topological_order(list(roots)), capture)):
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


def _needed(order: list, capture: Optional[set]) -> list:
    """The nodes a pass must visit: all of them when leaves accumulate, else (`grad()`) only those
    on a path to a captured node. Without the cut, `grad` of a step of an unrolled loop walked the
    whole history behind its inputs, recording it again under create_graph: quadratic."""
    if capture is None:
        return order
    needed: set = set()
    for node in order:  # inputs before the nodes made from them
        if id(node) in capture or node._ctx is not None and any(id(p) in needed for p in node._ctx.parents):
            needed.add(id(node))
    return [n for n in order if id(n) in needed]


def _owned(g, pending: dict, seeds) -> bool:  # g is the pass's alone: no view, no seed, not also sent elsewhere
    return isinstance(g, np.ndarray) and g.base is None and g.flags.writeable \
        and not any(v is g for v in pending.values()) and not any(s is g for s in seeds)


def _accumulate(leaf, g, trace, owned: bool = False) -> None:
    """A leaf keeps what it received in `.grad`, a tensor, added to what it already held; an array
    the pass owns is kept, not copied (as PyTorch's AccumulateGrad steals an unshared gradient)."""
    if isinstance(g, _PLAIN):
        g, owned = (g, owned) if g.dtype == leaf.array.dtype else (g.astype(leaf.array.dtype), True)
        leaf.grad = made_like(leaf)(g if owned else g.copy()) if leaf.grad is None else \
            made_like(leaf)(leaf.grad.array + g)
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
    view = _GraphView(ctx, node) if create_graph else ctx
    on = getattr(g, "array", g) if DeviceArray.in_use else None
    if isinstance(on, DeviceArray):  # a CUDA node's gradient
        with kernels.running_on(on, ctx.fn.__name__ + " (backward)"):
            grads = ctx.fn.backward(view, g)
    else:
        grads = ctx.fn.backward(view, g)
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
        if pg.shape != parent.array.shape:
            pg = unbroadcast(pg, parent.array.shape)
        key = id(parent)
        if trace:
            trace.passed(node, parent, full, pg, key in pending)
        pending[key] = pg if key not in pending else pending[key] + pg


def seed(out, gradient, create_graph: bool, missing: str):
    """The cotangent a pass starts from at `out`: `gradient` in out's dtype (a one-element `out`
    may leave it out: 1), as a tensor when the pass is recorded. `missing` is the error for a
    larger `out` without one ({shape} is filled in)."""
    if gradient is None:
        if out.array.size != 1:
            raise RuntimeError(missing.format(shape=out.shape))
        gradient = np.ones_like(out.array)  # on out's device
    if isinstance(out.array, DeviceArray):
        g = getattr(gradient, "array", gradient)
        if not isinstance(g, type(out.array)):
            raise RuntimeError("backward(): the gradient must be on the same device as the tensor (cuda)")
        g = g.astype(out.array.dtype, copy=False)
        return made_like(out)(g) if create_graph else g
    if create_graph and hasattr(gradient, "_ctx"):  # a tensor, perhaps a graph itself: kept as it is
        return gradient
    g = np.asarray(gradient if isinstance(gradient, np.ndarray) else getattr(gradient, "array", gradient),
                   dtype=out.array.dtype)  # a tensor's values; an array is taken as it is
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
        if tuple(seeds[-1].shape) != tuple(out.shape):
            raise RuntimeError(f"grad(): Mismatch in shape: grad_outputs[{len(seeds) - 1}] has a shape of "
                               f"{tuple(seeds[-1].shape)} and outputs[{len(seeds) - 1}] has a shape of {tuple(out.shape)}")
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
        if isinstance(g, DeviceArray):  # stays on its device
            g = made_like(t)(g.astype(t.array.dtype, copy=False))
        result.append(None if g is None else (made_like(t)(np.asarray(g, dtype=t.array.dtype)) if is_array(g) else g))
    return tuple(result)


# ---------------------------------------------------------------- custom functions, PyTorch's contract
class FunctionCtx:
    """The `ctx` a custom `Function` gets (PyTorch's): `save_for_backward(*tensors)` and
    `saved_tensors` (freed after backward unless retain_graph, as an op's arrays are),
    `needs_input_grad` (one bool per forward argument), `save_for_forward` for `jvp`,
    `mark_non_differentiable`, `set_materialize_grads`; any other attribute for settings."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._node: Optional[Context] = None
        self._saved: tuple = ()
        self._for_forward: tuple = ()
        self._non_differentiable: list = []

    def save_for_backward(self, *tensors: Any) -> None:
        for t in tensors:
            if t is not None and not hasattr(t, "_ctx"):
                raise TypeError(f"save_for_backward can only save tensors (or None), got {type(t).__name__}; keep "
                                "other values as attributes of ctx")
        self._saved = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        self._for_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._node is not None and self._node._freed:
            raise RuntimeError(FREED.format(op=self._node.fn.__name__))
        return self._saved if self._node is None else self._node._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_differentiable.extend(tensors)

    def mark_dirty(self, *tensors: Any) -> None:  # in-place outputs: nothing to do, arrays are not versioned
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class Function:
    """A user's op with PyTorch's contract (`torch.autograd.Function`):

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):              # tensors in, tensors out; nothing recorded
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):          # tensors in, one gradient (or None) per forward argument
                (y,) = ctx.saved_tensors
                return grad * y

        Exp.apply(x)

    `backward` runs on tensors in every mode: in a first-order pass nothing it does is recorded;
    under `create_graph` it is recorded, so the gradient is differentiated again through the
    ops it used (and through this Function, where it uses a saved output). An optional
    `jvp(ctx, *tangents)` gives forward mode. `forward` may return a tuple of tensors."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass defines forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("a Function subclass defines backward(ctx, *grads) to be differentiated")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        positions = [i for i, a in enumerate(args) if hasattr(a, "_ctx")]
        tensors = tuple(args[i] for i in positions)
        enabled = _mode.enabled
        fctx = FunctionCtx(tuple(enabled and hasattr(a, "_ctx") and a.requires_grad for a in args))
        try:
            with no_grad():
                result = cls.forward(fctx, *args, **kwargs)
        except TypeError as err:
            if "does not support ufuncs" not in str(err):
                raise
            raise TypeError(f"{cls.__name__}.forward gets tensors (PyTorch's contract) and numpy's functions refuse "
                            "them: use tensor methods (x.exp()), or subclass autograd.Op for an op on numpy "
                            f"arrays ({err})") from None
        outs = result if isinstance(result, tuple) else (result,)
        if not all(hasattr(o, "_ctx") for o in outs):
            raise TypeError(f"{cls.__name__}.forward must return a tensor or a tuple of tensors")
        outs = tuple(made_like(o)(o.array) if any(o is t for t in tensors) else o for o in outs)  # never an input
        live = [i for i, o in enumerate(outs) if o.array.dtype.kind == "f" and
                not any(o is n for n in fctx._non_differentiable)]
        if not live or not (enabled and any(fctx.needs_input_grad)) and not _tangents.active:
            return result if isinstance(result, tuple) else outs[0]
        node_cls = _node_class(cls)
        node = Context(node_cls, tensors, tuple(fctx.needs_input_grad[i] for i in positions),
                       {"fctx": fctx, "positions": positions, "nargs": len(args), "outs": outs, "live": live})
        fctx._node, node._saved = node, fctx._saved
        hub = outs[live[0]] if len(outs) == 1 else made_like(outs[live[0]])(
            np.concatenate([outs[i].array.reshape(-1) for i in live]))
        if enabled and any(fctx.needs_input_grad):
            hub.requires_grad, hub._ctx = True, node
        if _tangents.active:
            _tangents.carry(node_cls, node, tensors, hub)
        if len(outs) == 1:
            return hub
        starts = np.cumsum([0] + [outs[i].array.size for i in live])
        pieces = {i: _Unpack.apply(hub, start=int(a), shape=outs[i].shape, dtype=outs[i].dtype)
                  for i, a in zip(live, starts)}
        return tuple(pieces.get(i, o) for i, o in enumerate(outs))


def _node_class(cls: type) -> type:
    """The graph node of a custom Function: an `Op` named `<Name>Backward`, as PyTorch's grad_fn."""
    if "_node" not in vars(cls):
        cls._node = type(f"{cls.__name__}Backward", (_CustomNode,), {"user": cls})
    return cls._node


class _CustomNode(Op):
    """A custom Function's application in the graph: backward and jvp call the user's, on tensors."""

    user: type

    @classmethod
    def label(cls, ctx: Context) -> str:
        return cls.user.__name__

    @classmethod
    def _grads_per_output(cls, s: dict, grad: Any) -> list:
        """The gradient of each output of forward (the hub's split), as tensors."""
        outs, live, make = s["outs"], s["live"], made_like(s["outs"][s["live"][0]])
        g = grad if hasattr(grad, "_ctx") else make(np.asarray(grad))
        if len(outs) == 1:
            return [g]
        per, start = {}, 0
        for i in live:
            n = outs[i].array.size
            per[i] = _Unpack.call(g, start=start, shape=outs[i].shape, dtype=outs[i].dtype) if hasattr(g, "_ctx") \
                else make(np.asarray(g)[start:start + n].reshape(outs[i].shape).astype(outs[i].dtype))
            start += n
        zero = (lambda o: make(np.zeros(o.shape, o.dtype))) if s["fctx"].materialize_grads else (lambda o: None)
        return [per.get(i) if i in per else zero(o) if o.array.dtype.kind == "f" else None for i, o in enumerate(outs)]

    @classmethod
    def backward(cls, ctx: Context, grad: Any) -> Any:
        s, recorded = ctx.settings, not is_array(grad)
        result = cls.user.backward(s["fctx"], *cls._grads_per_output(s, grad))
        result = result if isinstance(result, tuple) else (result,)
        if len(result) != s["nargs"]:
            raise RuntimeError(f"function {cls.__name__} returned an incorrect number of gradients (expected "
                               f"{s['nargs']}, got {len(result)})")
        grads = []
        for pos, parent in zip(s["positions"], ctx.parents):
            r = result[pos]
            if r is not None and tuple(np.shape(getattr(r, "array", r))) != tuple(parent.shape):
                raise RuntimeError(f"function {cls.__name__} returned an invalid gradient at index {pos} - got "
                                   f"{list(np.shape(getattr(r, 'data', r)))} but expected shape compatible with "
                                   f"{list(parent.shape)}")
            grads.append(None if r is None else r if recorded and hasattr(r, "_ctx") else
                         np.asarray(getattr(r, "array", r), dtype=parent.array.dtype))
        return tuple(grads)

    @classmethod
    def jvp(cls, ctx: Context, *tangents: Any) -> Any:
        s = ctx.settings
        if not hasattr(cls.user, "jvp"):  # Function declares none: forward_ad says the op has no rule
            raise NotImplementedError
        make, args = made_like(ctx.parents[0]), [None] * s["nargs"]
        for pos, p, t in zip(s["positions"], ctx.parents, tangents):
            args[pos] = make(np.zeros(p.shape, p.dtype) if t is None else np.asarray(t))
        out = cls.user.jvp(s["fctx"], *args)
        outs = out if isinstance(out, tuple) else (out,)
        return np.concatenate([np.asarray(getattr(outs[i], "array", outs[i])).reshape(-1) for i in s["live"]]) \
            if len(s["outs"]) > 1 else getattr(outs[0], "array", outs[0])


class _Unpack(Op):
    """One output of a multi-output custom Function: a slice of its node's flat output, reshaped
    (linear: d/dhub is the slice's indicator; `_Place` is its transpose)."""

    keeps_settings = True

    @staticmethod
    def forward(ctx: Context, hub: Any, start: int = 0, shape: tuple = (), dtype: Any = None) -> Any:
        ctx.size, ctx.start = hub.shape[0], start
        n = int(np.prod(shape))
        return np.asarray(hub[start:start + n]).reshape(shape).astype(dtype or hub.dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _Place.call(grad, start=ctx.start, size=ctx.size)

    @staticmethod
    def jvp(ctx: Context, t: Any) -> Any:
        return _Unpack.call(t, **ctx.settings)


class _Place(Op):
    """A gradient placed into zeros of the hub's length at `start` (`_Unpack`'s transpose)."""

    keeps_settings = True

    @staticmethod
    def forward(ctx: Context, g: Any, start: int = 0, size: int = 0) -> Any:
        ctx.start, ctx.shape = start, g.shape
        out = np.zeros(size, g.dtype)
        out[start:start + g.size] = g.reshape(-1)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _Unpack.call(grad, start=ctx.start, shape=ctx.shape)

    @staticmethod
    def jvp(ctx: Context, t: Any) -> Any:
        return _Place.call(t, **ctx.settings)
