"""Graphviz DOT text of the graph that produced a tensor: see what backward() will walk.

    from tinygrad_mnist.viz import to_dot
    open("step.dot", "w").write(to_dot(loss))     # then: dot -Tsvg step.dot > step.svg

Tensors are boxes (shape and dtype; a VarMap variable shows its name; inputs
that need no gradient are grey); ops are ellipses named after their
`Function`, with an input scale where the op has one (`Linear` reading uint8
pixels as 0..1). Edges run in data-flow order: input → op → output. Producing
the text needs no Graphviz; rendering it does.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .autograd import topological_order
from .sparse import is_csr
from .tensor import Tensor
from .trace import BackwardTrace, dims, saved_sizes


def _quote(text: str) -> str:
    """A DOT string literal; a newline in `text` becomes a line break in the label."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _op_label(ctx) -> str:
    """What the op calls itself (`Function.label`): its name, and settings such as an input scale."""
    return ctx.fn.label(ctx)


def _size(n: int) -> str:
    """A number of bytes in B, KiB or MiB."""
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def _saved(t, trace: Optional[BackwardTrace] = None) -> str:
    """What the op kept for its backward pass: the shape, dtype and size of each saved array, as
    the trace saw it before backward freed it (or as it is now, if no trace saw it)."""
    kept = trace.kept.get(id(t)) if trace else None
    if kept is None:
        if t._ctx._freed:
            return "saved arrays freed by backward()"
        kept = saved_sizes(t._ctx)
    return "saved " + ", ".join(f"{dims(shape)} {dtype} ({_size(n)})" for shape, dtype, n in kept) \
        if kept else "saved nothing"


def to_dot(tensor: Tensor, show_grad: bool = False, trace: Optional[BackwardTrace] = None) -> str:
    """DOT text of the graph that produced `tensor`.

    With `show_grad`, each tensor that holds a gradient shows its L2 norm.
    Only leaves keep one after backward() (intermediate gradients are freed as
    soon as they have been passed on), so in practice: the parameters.
    With `trace` (the `BackwardTrace` of a backward pass through this graph,
    `loss.backward(trace=tr)`), the drawing shows that pass too: each op and leaf
    numbered in the order backward visited it, what each op saved for it, and on
    each edge the shape and norm of the gradient that flowed back along it.
    """
    nodes = topological_order(tensor, every_parent=True)
    ids: Dict[int, str] = {id(t): f"t{i}" for i, t in enumerate(nodes)}
    flowed = {(child, parent): (shape, norm) for child, parent, shape, norm in (trace.events if trace else [])}
    step = trace.order if trace else {}
    lines = ["digraph tinygrad_mnist {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    edges: List[Tuple[str, str, str]] = []
    op_count = 0
    for t in nodes:
        tid = ids[id(t)]
        if t._ctx is None:
            kind = t.name or ("parameter" if t.requires_grad else "input")
        else:
            kind = t.name or ""
        label = "\n".join(part for part in (kind, f"{dims(t.shape)} {t.dtype}{', CSR' if is_csr(t.data) else ''}")
                           if part)
        if show_grad and t.grad is not None:
            label += f"\ngrad norm {float(np.linalg.norm(t.grad)):.4g}"
        if t._ctx is None and id(t) in step:
            label += f"\nbackward step {step[id(t)]}: .grad"
        style = "" if t.requires_grad else ', style=filled, fillcolor="#eeeeee"'
        if t._ctx is not None:  # the op first, then what it made
            oid = f"op{op_count}"
            op_count += 1
            op = _op_label(t._ctx)
            if trace:
                op += f"\n{_saved(t, trace)}" + (f"\nbackward step {step[id(t)]}" if id(t) in step else "")
            lines.append(f"  {oid} [shape=ellipse, label={_quote(op)}];")
            for p in t._ctx.parents:
                g = flowed.get((id(t), id(p)))
                edges.append((ids[id(p)], oid, f"grad {dims(g[0])} norm {g[1]:.4g}" if g else ""))
            edges.append((oid, tid, ""))
        lines.append(f"  {tid} [shape=box, label={_quote(label)}{style}];")
    lines += [f"  {a} -> {b}" + (f" [label={_quote(g)}]" if g else "") + ";" for a, b, g in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


class Graph:
    """A graph for a notebook: drawn as SVG when Graphviz's `dot` is installed, as text otherwise.
    The text shows what the drawing shows: each op with its inputs (in the order backward visited
    them when a trace was given), what it saved, the gradient sent along each edge, and the
    norm of each leaf's `.grad`."""

    def __init__(self, tensor: Tensor, trace: Optional[BackwardTrace] = None):
        self.tensor, self.trace, self.dot = tensor, trace, to_dot(tensor, show_grad=True, trace=trace)

    def _repr_svg_(self) -> Optional[str]:
        import shutil
        import subprocess
        if shutil.which("dot") is None:
            return None  # the notebook falls back to the text
        return subprocess.run(["dot", "-Tsvg"], input=self.dot, capture_output=True, text=True, check=True).stdout

    def __repr__(self) -> str:
        nodes = topological_order(self.tensor, every_parent=True)
        names = {id(t): t.name or f"t{i}" for i, t in enumerate(nodes)}
        step = self.trace.order if self.trace else {}
        ops = [t for t in nodes if t._ctx is not None]
        if step:
            ops.sort(key=lambda t: step.get(id(t), 0))
        flowed = {(c, p): (shape, norm) for c, p, shape, norm in (self.trace.events if self.trace else [])}
        lines = []
        for t in ops:
            inputs = ", ".join(names[id(p)] for p in t._ctx.parents)
            where = f"[{step[id(t)]}] " if id(t) in step else ""
            op, *notes = _op_label(t._ctx).split("\n")
            extra = f" [{'; '.join(notes)}]" if notes else ""
            lines.append(f"{where}{names[id(t)]} {dims(t.shape)} = {op}({inputs}){extra}")
            if self.trace:
                sent = [f"{names[id(p)]} {dims(flowed[id(t), id(p)][0])} norm {flowed[id(t), id(p)][1]:.4g}"
                        for p in t._ctx.parents if (id(t), id(p)) in flowed]
                lines.append(f"    {_saved(t, self.trace)}; sent " + (", ".join(sent) if sent else "nothing"))
        lines += [f"{names[id(t)]} {dims(t.shape)}: .grad norm {float(np.linalg.norm(t.grad)):.4g}"
                  for t in nodes if t._ctx is None and t.grad is not None]
        return "\n".join(lines)


def show(tensor: Tensor, trace: Optional[BackwardTrace] = None) -> Graph:
    """`show(loss)` in a notebook draws the graph behind `loss` (with `trace`, its backward pass)."""
    return Graph(tensor, trace)
