"""Derivatives of functions, with `torch.autograd.functional`'s names and arguments.

    vjp(f, x, v)        uᵀJ: one reverse pass                 (f(x), vjp)
    jvp(f, x, v)        J·v: one forward pass carrying v      (f(x), jvp)
    jacobian(f, x)      J, row by row (reverse mode) or column by column (strategy="forward-mode")
    hessian(f, x)       the Jacobian of the gradient of a scalar f
    hvp(f, x, v)        H·v: forward mode over reverse mode (the JVP of the gradient, Pearlmutter's trick)
    vhp(f, x, v)        vᵀH: reverse over reverse (the gradient of ⟨∇f, v⟩)

`inputs` is a tensor or a tuple of them, and `v` matches it (or the output, for `vjp`); results
come back in the same structure. The inputs are used through fresh leaves, so nothing the
caller holds gets a `.grad`; with `create_graph=True` an input that requires grad is used
through a recorded view of itself instead, so the results are graphs that lead back to it and
can be differentiated again (PyTorch's rule). `jvp` and `hvp` then take the reverse-mode route
(the double-backward trick), because forward mode's tangents are plain arrays.
"""
from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

from . import forward_ad
from .autograd import enable_grad, grad
from .tensor import Tensor


def _tuple(x) -> Tuple[tuple, bool]:
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _leaves(inputs, requires_grad: bool = True, create_graph: bool = False) -> list:
    """What func is run on: fresh leaves on the inputs' values, or with `create_graph` a recorded
    view of each input that requires grad (the results then lead back to it)."""
    return [t.view_as(t) if create_graph and isinstance(t, Tensor) and t.requires_grad else
            Tensor(np.asarray(t.array if isinstance(t, Tensor) else t), requires_grad=requires_grad) for t in inputs]


def _zeros(x) -> Tensor:
    return Tensor(np.zeros_like(x.array))


def _like(x, shapes) -> list:
    items, _ = _tuple(x)
    arrays = [np.asarray(getattr(i, "array", i)) for i in items]
    if len(arrays) != len(shapes) or any(a.shape != s for a, s in zip(arrays, shapes)):
        raise ValueError(f"v has shapes {[a.shape for a in arrays]}, expected {list(shapes)}")
    return arrays


def _out(items: tuple, was_tuple: bool):
    return items if was_tuple else items[0]


def _filled(grads, leaves, strict: bool, what: str) -> tuple:
    if strict and any(g is None for g in grads):
        raise RuntimeError(f"{what}: the output does not depend on an input (strict=True)")
    return tuple(_zeros(x) if g is None else g for g, x in zip(grads, leaves))


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), vᵀ · ∂func/∂inputs); `v` is the output's cotangent (default 1 for a
    one-element output)."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins, create_graph=create_graph)
    with enable_grad():
        out = func(*xs)
        outs, out_was = _tuple(out)
        cotangents = None if v is None else [Tensor(a) for a in _like(v, [o.shape for o in outs])]
        used = [i for i, o in enumerate(outs) if o.requires_grad]
        grads = grad([outs[i] for i in used], xs, grad_outputs=None if cotangents is None else
                     [cotangents[i] for i in used], create_graph=create_graph, allow_unused=True) if used else \
            [None] * len(xs)
    value = tuple(o if create_graph else o.detach() for o in outs)
    return _out(value, out_was), _out(_filled(grads, xs, strict, "vjp"), was)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), ∂func/∂inputs · v) in forward mode: one pass carrying the tangent `v` (default:
    ones for one-element inputs), and no graph kept. With `create_graph` the result is a graph
    (reverse mode twice, `_jvp_by_reverse`), differentiable with respect to the inputs."""
    ins, was = _tuple(inputs)
    if create_graph:
        return _jvp_by_reverse(func, ins, v, strict)
    xs = _leaves(ins, requires_grad=False)
    tangents = [np.ones_like(x.array) for x in xs] if v is None else _like(v, [x.shape for x in xs])
    return _forward(func, xs, tangents, strict)


def _forward(func: Callable, xs: list, tangents: list, strict: bool):
    """(func(*xs), J·tangents) in one forward pass."""
    with forward_ad.dual_level():
        out = func(*[forward_ad.make_dual(x, t) for x, t in zip(xs, tangents)])
        outs, out_was = _tuple(out)
        unpacked = [forward_ad.unpack_dual(o) for o in outs]
    if strict and any(t is None for _, t in unpacked):
        raise RuntimeError("jvp: an output does not depend on the inputs (strict=True)")
    values = tuple(Tensor(p.array) for p, _ in unpacked)
    result = tuple(Tensor(np.zeros_like(p.array)) if t is None else t for p, t in unpacked)
    return _out(values, out_was), _out(result, out_was)


def _jvp_by_reverse(func: Callable, ins: tuple, v, strict: bool):
    """J·v as a graph: g(u) = uᵀJ is linear in a dummy cotangent u, so ∂⟨g(u), v⟩/∂u = J·v, and
    both passes are recorded (the double-backward trick; `torch.autograd.functional.jvp`'s).
    A tangent given as a tensor stays in the graph: the result is differentiable in v too."""
    xs = _leaves(ins, create_graph=True)
    tangents = [Tensor(np.ones_like(x.array)) for x in xs] if v is None else [
        t if isinstance(t, Tensor) else Tensor(a) for t, a in zip(_tuple(v)[0], _like(v, [x.shape for x in xs]))]
    with enable_grad():
        outs, out_was = _tuple(func(*xs))
        dummies = [Tensor(np.zeros_like(o.array), requires_grad=True) for o in outs]
        live = [i for i, o in enumerate(outs) if o.requires_grad]
        firsts = grad([outs[i] for i in live], xs, grad_outputs=[dummies[i] for i in live], create_graph=True,
                      allow_unused=True) if live else [None] * len(xs)
        pairs = [(g, t) for g, t in zip(firsts, tangents) if g is not None and g.requires_grad]
        result = grad([g for g, _ in pairs], dummies, grad_outputs=[t for _, t in pairs], create_graph=True,
                      allow_unused=True) if pairs else [None] * len(outs)
    if strict and any(r is None for r in result):
        raise RuntimeError("jvp: an output does not depend on the inputs (strict=True)")
    return _out(tuple(outs), out_was), _out(_filled(result, outs, False, "jvp"), out_was)


def _one_hot(shape, k: int) -> np.ndarray:
    e = np.zeros(int(np.prod(shape)))
    e[k] = 1.0
    return e.reshape(shape)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """∂func/∂inputs, shaped output.shape + input.shape for each (output, input) pair. Reverse mode
    builds it a row at a time, one VJP per output element (cheap for few outputs); forward mode
    a column at a time, one JVP per input element (cheap for few inputs). An output that does not
    depend on an input gives zeros. `vectorize` is accepted for PyTorch's signature; the rows or
    columns are computed one after another. With `create_graph` the blocks are graphs."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    ins, was = _tuple(inputs)
    # forward mode needs no graph of func itself (only hessian's inner gradient differentiates)
    record = strategy == "reverse-mode" or create_graph or getattr(func, "differentiates", False)
    xs = _leaves(ins, requires_grad=record, create_graph=create_graph)
    with enable_grad():
        outs, out_was = _tuple(func(*xs))
        if strategy == "reverse-mode":
            blocks = [[_jacobian_rows(o, xs, j, create_graph) for j in range(len(xs))] for o in outs]
        else:
            blocks = _jacobian_columns(func, xs, outs, create_graph)
    if strict and any(b is None for row in blocks for b in row):
        raise RuntimeError("jacobian: an output does not depend on an input (strict=True)")
    result = tuple(tuple(Tensor(np.zeros(o.shape + x.shape)) if b is None else b for b, x in zip(row, xs))
                   for row, o in zip(blocks, outs))
    return _out(tuple(_out(row, was) for row in result), out_was)


def _jacobian_rows(o, xs: list, j: int, create_graph: bool):
    """∂o/∂xs[j], one VJP per element of o (None where o does not depend on xs[j])."""
    if not o.requires_grad:
        return None
    rows = [grad(o, xs[j], grad_outputs=Tensor(_one_hot(o.shape, k)), retain_graph=True,
                 create_graph=create_graph, allow_unused=True)[0] for k in range(o.array.size)]
    if all(r is None for r in rows):
        return None
    rows = [_zeros(xs[j]) if r is None else r for r in rows]
    if create_graph:
        from .tensor import stack
        return stack(rows).reshape(*(o.shape + xs[j].shape)) if rows else Tensor(np.zeros(o.shape + xs[j].shape))
    return Tensor(np.stack([r.array for r in rows]).reshape(o.shape + xs[j].shape) if rows else
                  np.zeros(o.shape + xs[j].shape))


def _jacobian_columns(func: Callable, xs: list, outs: tuple, create_graph: bool) -> list:
    """Every block, one JVP per input element (in forward mode, or as graphs with create_graph)."""
    blocks = [[np.zeros(o.shape + x.shape) for x in xs] for o in outs]
    graphs = [[[None] * x.array.size for x in xs] for _ in outs]
    for j, x in enumerate(xs):
        for k in range(x.array.size):
            tangents = [_one_hot(x.shape, k) if jj == j else np.zeros(xx.shape) for jj, xx in enumerate(xs)]
            if create_graph:
                _, columns = _jvp_by_reverse(func, tuple(xs), tuple(tangents), False)
            else:
                # the leaves require grad only for a func that differentiates inside (hessian's
                # gradient): otherwise each column would record a graph no one uses
                inner = getattr(func, "differentiates", False)
                _, columns = _forward(func, [Tensor(xx.array, requires_grad=inner) for xx in xs], tangents, False)
            for i, c in enumerate(_tuple(columns)[0]):
                graphs[i][j][k] = c
                blocks[i][j][(...,) + np.unravel_index(k, x.shape)] = c.array
    if not create_graph:
        return [[Tensor(b) for b in row] for row in blocks]
    from .tensor import stack
    return [[stack(cols, dim=-1).reshape(*(o.shape + x.shape)) if cols else Tensor(np.zeros(o.shape + x.shape))
             for cols, x in zip(row, xs)] for row, o in zip(graphs, outs)]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """∂²func/∂inputs² of a one-element func: the Jacobian of its gradient (zeros where the
    gradient does not depend on an input, as for a linear func)."""
    if outer_jacobian_strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError("hessian: outer_jacobian_strategy must be 'reverse-mode' or 'forward-mode', got "
                         f"{outer_jacobian_strategy!r}")
    ins, was = _tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        if out.array.size != 1:
            raise RuntimeError(f"hessian: func must return a one-element tensor, got shape {out.shape}")
        grads = grad(out, list(xs), create_graph=True, allow_unused=True) if out.requires_grad else [None] * len(xs)
        return _out(tuple(_zeros(x) if g is None else g for g, x in zip(grads, xs)), was)
    gradient.differentiates = True
    return jacobian(gradient, inputs, create_graph, strict, vectorize, outer_jacobian_strategy)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), H·v) for a one-element func, forward over reverse: the gradient is computed
    with create_graph inside a dual level, so the tangent v rides through the backward pass and
    arrives as d/dε ∇func(x + εv) = H·v (Pearlmutter's trick). With `create_graph` the product
    is a graph: reverse over reverse (H is symmetric, so vᵀH = (H·v)ᵀ)."""
    if create_graph:
        return vhp(func, inputs, v, create_graph=True, strict=strict)
    ins, was = _tuple(inputs)
    xs = _leaves(ins)
    tangents = _like(v, [x.shape for x in xs])
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(x, t) for x, t in zip(xs, tangents)]
        out = func(*duals)
        grads = grad(out, duals, create_graph=True, allow_unused=True) if out.requires_grad else [None] * len(xs)
        tangents = [None if g is None else forward_ad.unpack_dual(g)[1] for g in grads]
    return Tensor(out.array), _out(_filled(tangents, xs, strict, "hvp"), was)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), vᵀH) for a one-element func, reverse over reverse: the gradient of ⟨∇func, v⟩."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins, create_graph=create_graph)
    tangents = [Tensor(a) for a in _like(v, [x.shape for x in xs])]
    with enable_grad():
        out = func(*xs)
        grads = grad(out, xs, create_graph=True, allow_unused=True) if out.requires_grad else [None] * len(xs)
        used = [(g, t) for g, t in zip(grads, tangents) if g is not None and g.requires_grad]
        second = grad([g for g, _ in used], xs, grad_outputs=[t for _, t in used], create_graph=create_graph,
                      allow_unused=True) if used else [None] * len(xs)
    value = out if create_graph else Tensor(out.array)
    return value, _out(_filled(second, xs, strict, "vhp"), was)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]
