"""The graph behind a tensor as data: nodes (tensors and ops), edges, names, shapes, what each op
saved, and, given the trace of a backward pass through it, the order backward visited each node
and the gradient that flowed along each edge. The DOT writer, the SVG and the page are all drawn
from this one description.

Tensors are keyed `t0, t1, ...` in the graph's order and named as the trace names them
(`trace.names_in`); an op is keyed `op0, op1, ...` and labelled by its `Op.label`.
"""
from __future__ import annotations

import inspect
from typing import Dict, List, Optional

import numpy as np

from ..autograd import topological_order
from ..sparse import is_csr
from ..trace import BackwardTrace, dims, keys_in, names_in, saved_sizes


def size(n: int) -> str:
    """A number of bytes in B, KiB or MiB."""
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def saved_text(t, trace: Optional[BackwardTrace] = None) -> str:
    """What the op that made `t` kept for its backward pass: the shape, dtype and size of each saved
    array, as the trace saw it before backward freed it (or as it is now, if no trace saw it)."""
    kept = trace.kept.get(id(t)) if trace else None
    if kept is None:
        if t._ctx._freed:
            return "saved arrays freed by backward()"
        kept = saved_sizes(t._ctx)
    return "saved " + ", ".join(f"{dims(shape)} {dtype} ({size(n)})" for shape, dtype, n in kept) \
        if kept else "saved nothing"


def derivative(fn: type) -> str:
    """The op's local derivative, as its docstring states it (the first paragraph)."""
    return " ".join((inspect.getdoc(fn) or fn.__name__).split("\n\n")[0].split())


def _tensor(t, key: str, name: str, show_grad: bool, step: Optional[int]) -> dict:
    role = ("parameter" if t.requires_grad else "input") if t._ctx is None else "result"
    label = [part for part in (t.name or (role if t._ctx is None else ""),
                               f"{dims(t.shape)} {t.dtype}{', CSR' if is_csr(t.array) else ''}") if part]
    grad_norm = float(np.linalg.norm(t.grad)) if show_grad and t.grad is not None else None
    if grad_norm is not None:
        label.append(f"grad norm {grad_norm:.4g}")
    if t._ctx is None and step is not None:
        label.append(f"backward step {step}: .grad")
    return {"key": key, "kind": "tensor", "name": name, "role": role, "shape": list(t.shape), "dtype": str(t.dtype),
            "requires_grad": bool(t.requires_grad), "grad_norm": grad_norm, "step": step, "label": label}


def graph_data(tensor, trace: Optional[BackwardTrace] = None, show_grad: bool = False) -> dict:
    """`{"nodes": [...], "edges": [...]}` for the graph that produced `tensor`: nodes in data-flow
    order (an op just before the tensor it made), each edge `{"from", "to", "grad"}` with the
    shape and norm of the gradient backward sent along it (given `trace`), else None."""
    order = topological_order(tensor, every_parent=True)
    names, keys = names_in(order), keys_in(order)
    step = trace.order if trace else {}
    nodes: List[dict] = []
    edges: List[dict] = []
    ops = 0
    for t in order:
        if t._ctx is not None:
            key, ops = f"op{ops}", ops + 1
            label = t._ctx.fn.label(t._ctx).split("\n")
            if trace:
                label.append(saved_text(t, trace))
                label += [f"backward step {step[id(t)]}"] if id(t) in step else []
            nodes.append({"key": key, "kind": "op", "op": t._ctx.fn.__name__, "name": names[id(t)], "label": label,
                          "settings": t._ctx.fn.label(t._ctx).split("\n")[1:],
                          "derivative": derivative(t._ctx.fn), "saved": saved_text(t, trace),
                          "step": step.get(id(t)), "output": keys[id(t)]})
            for p in t._ctx.parents:
                sent = trace.flowed.get((id(t), id(p))) if trace else None
                edges.append({"from": keys[id(p)], "to": key,
                              "grad": {"shape": sent["shape"], "norm": sent["norm"]} if sent else None})
            edges.append({"from": key, "to": keys[id(t)], "grad": None})
        nodes.append(_tensor(t, keys[id(t)], names[id(t)], show_grad, step.get(id(t))))
    return {"nodes": nodes, "edges": edges}


def by_key(graph: dict) -> Dict[str, dict]:
    return {n["key"]: n for n in graph["nodes"]}
