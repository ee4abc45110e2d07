"""Derivatives of functions, with `torch.autograd.functional`'s names and arguments.

    vjp(f, x, v)        uᵀJ: one reverse pass                 (f(x), vjp)
    jvp(f, x, v)        J·v: one forward pass carrying v      (f(x), jvp)
    jacobian(f, x)      J, row by row (reverse mode) or column by column (strategy="forward-mode")
    hessian(f, x)       the Jacobian of the gradient of a scalar f
    hvp(f, x, v)        H·v: forward mode over reverse mode (the JVP of the gradient, Pearlmutter's trick)
    vhp(f, x, v)        vᵀH: reverse over reverse (the gradient of ⟨∇f, v⟩)

`inputs` is a tensor or a tuple of them, and `v` matches it (or the output, for `vjp`); results
come back in the same structure. The inputs are used through fresh leaves, so nothing the
caller holds gets a `.grad`.
"""
from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

from . import forward_ad
from .autograd import enable_grad, grad
from .tensor import Tensor


def _tuple(x) -> Tuple[tuple, bool]:
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _leaves(inputs, requires_grad: bool = True) -> list:
    return [Tensor(np.asarray(t.data if isinstance(t, Tensor) else t), requires_grad=requires_grad) for t in inputs]


def _like(x, shapes) -> list:
    items, _ = _tuple(x)
    arrays = [np.asarray(getattr(i, "data", i)) for i in items]
    if len(arrays) != len(shapes) or any(a.shape != s for a, s in zip(arrays, shapes)):
        raise ValueError(f"v has shapes {[a.shape for a in arrays]}, expected {list(shapes)}")
    return arrays


def _out(items: tuple, was_tuple: bool):
    return items if was_tuple else items[0]


def _filled(grads, leaves, strict: bool, what: str) -> tuple:
    if strict and any(g is None for g in grads):
        raise RuntimeError(f"{what}: the output does not depend on an input (strict=True)")
    return tuple(Tensor(np.zeros_like(x.data)) if g is None else g for g, x in zip(grads, leaves))


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), vᵀ · ∂func/∂inputs); `v` is the output's cotangent (default 1 for a
    one-element output)."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins)
    with enable_grad():
        out = func(*xs)
    outs, out_was = _tuple(out)
    cotangents = None if v is None else [Tensor(a) for a in _like(v, [o.shape for o in outs])]
    grads = grad(list(outs), xs, grad_outputs=cotangents, create_graph=create_graph, allow_unused=True)
    value = tuple(o if create_graph else o.detach() for o in outs)
    return _out(value, out_was), _out(_filled(grads, xs, strict, "vjp"), was)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), ∂func/∂inputs · v) in forward mode: one pass carrying the tangent `v` (default:
    ones for one-element inputs), and no graph kept. With `create_graph` the inputs require grad,
    for a func that differentiates inside (a Hessian column by forward over reverse)."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins, requires_grad=create_graph)
    tangents = [np.ones_like(x.data) for x in xs] if v is None else _like(v, [x.shape for x in xs])
    with forward_ad.dual_level():
        out = func(*[forward_ad.make_dual(x, t) for x, t in zip(xs, tangents)])
        outs, out_was = _tuple(out)
        unpacked = [forward_ad.unpack_dual(o) for o in outs]
    if strict and any(t is None for _, t in unpacked):
        raise RuntimeError("jvp: an output does not depend on the inputs (strict=True)")
    values = tuple(Tensor(p.data) for p, _ in unpacked)
    result = tuple(Tensor(np.zeros_like(p.data)) if t is None else t for p, t in unpacked)
    return _out(values, out_was), _out(result, out_was)


def _one_hot(shape, k: int) -> np.ndarray:
    e = np.zeros(int(np.prod(shape)))
    e[k] = 1.0
    return e.reshape(shape)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """∂func/∂inputs, shaped output.shape + input.shape for each (output, input) pair. Reverse mode
    builds it a row at a time, one VJP per output element (cheap for few outputs); forward mode
    a column at a time, one JVP per input element (cheap for few inputs). `vectorize` is accepted
    for PyTorch's signature; the rows or columns are computed one after another."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    ins, was = _tuple(inputs)
    xs = _leaves(ins)
    with enable_grad():
        out = func(*xs)
    outs, out_was = _tuple(out)
    if strategy == "reverse-mode":
        blocks = [[np.zeros(o.shape + x.shape) for x in xs] for o in outs]
        for i, o in enumerate(outs):
            for k in range(o.data.size):
                rows = grad(o, xs, grad_outputs=Tensor(_one_hot(o.shape, k)), retain_graph=True,
                            create_graph=create_graph, allow_unused=True)
                for j, r in enumerate(rows):
                    if r is not None:
                        blocks[i][j][np.unravel_index(k, o.shape)] = r.data
    else:
        blocks = [[np.zeros(o.shape + x.shape) for x in xs] for o in outs]
        for j, x in enumerate(xs):
            for k in range(x.data.size):
                tangents = tuple(_one_hot(x.shape, k) if jj == j else np.zeros(xx.shape) for jj, xx in enumerate(xs))
                _, columns = jvp(func, tuple(xs), tangents, create_graph=True)
                for i, c in enumerate(_tuple(columns)[0]):
                    blocks[i][j][(...,) + np.unravel_index(k, x.shape)] = c.data
    result = tuple(tuple(Tensor(b) for b in row) for row in blocks)
    per_output = [_out(row, was) for row in result]
    return _out(tuple(per_output), out_was)


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """∂²func/∂inputs² of a one-element func: the Jacobian of its gradient."""
    ins, was = _tuple(inputs)

    def gradient(*xs):
        return _out(grad(func(*xs), list(xs), create_graph=True, allow_unused=True), was)
    return jacobian(gradient, inputs, create_graph, strict, vectorize, outer_jacobian_strategy)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), H·v) for a one-element func, forward over reverse: the gradient is computed
    with create_graph inside a dual level, so the tangent v rides through the backward pass and
    arrives as d/dε ∇func(x + εv) = H·v (Pearlmutter's trick)."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins)
    tangents = _like(v, [x.shape for x in xs])
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(x, t) for x, t in zip(xs, tangents)]
        out = func(*duals)
        grads = grad(out, duals, create_graph=True, allow_unused=True)
        tangents = [None if g is None else forward_ad.unpack_dual(g)[1] for g in grads]
    return Tensor(out.data), _out(_filled(tangents, xs, False, "hvp"), was)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(*inputs), vᵀH) for a one-element func, reverse over reverse: the gradient of ⟨∇func, v⟩."""
    ins, was = _tuple(inputs)
    xs = _leaves(ins)
    tangents = [Tensor(a) for a in _like(v, [x.shape for x in xs])]
    with enable_grad():
        out = func(*xs)
        grads = grad(out, xs, create_graph=True, allow_unused=True)
        used = [(g, t) for g, t in zip(grads, tangents) if g is not None and g.requires_grad]
        if not used:
            return Tensor(out.data), _out(tuple(Tensor(np.zeros_like(x.data)) for x in xs), was)
        second = grad([g for g, _ in used], xs, grad_outputs=[t for _, t in used], create_graph=create_graph,
                      allow_unused=True)
    return Tensor(out.data), _out(_filled(second, xs, strict, "vhp"), was)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]
