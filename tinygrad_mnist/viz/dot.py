"""Graphviz DOT text of a graph (`graph.graph_data`): see what backward() will walk.

    from tinygrad_mnist.viz import to_dot
    open("step.dot", "w").write(to_dot(loss))     # then: dot -Tsvg step.dot > step.svg

Tensors are boxes (shape and dtype; a VarMap variable shows its name; inputs that need no
gradient are grey); ops are ellipses named after their `Op`, with an input scale where
the op has one (`Linear` reading uint8 pixels as 0..1). Edges run in data-flow order: input →
op → output. Producing the text needs no Graphviz; rendering it does (`to_svg` draws without).
"""
from __future__ import annotations

from typing import Optional

from ..trace import BackwardTrace, dims
from .graph import graph_data


def _quote(text: str) -> str:
    """A DOT string literal; a newline in `text` becomes a line break in the label."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def edge_text(sent: dict) -> str:
    """What an edge says of the gradient that flowed back along it."""
    return f"grad {dims(sent['shape'])} norm {sent['norm']:.4g}"


def to_dot(tensor, show_grad: bool = False, trace: Optional[BackwardTrace] = None) -> str:
    """DOT text of the graph that produced `tensor`.

    With `show_grad`, each tensor that holds a gradient shows its L2 norm. Only leaves keep one
    after backward() (intermediate gradients are freed as soon as they have been passed on), so
    in practice: the parameters. With `trace` (the `BackwardTrace` of a backward pass through
    this graph, `loss.backward(trace=tr)`), the drawing shows that pass too: each op and leaf
    numbered in the order backward visited it, what each op saved for it, and on each edge the
    shape and norm of the gradient that flowed back along it.
    """
    graph = graph_data(tensor, trace, show_grad)
    lines = ["digraph tinygrad_mnist {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in graph["nodes"]:
        label = _quote("\n".join(n["label"]))
        if n["kind"] == "op":
            lines.append(f"  {n['key']} [shape=ellipse, label={label}];")
        else:
            style = "" if n["requires_grad"] else ', style=filled, fillcolor="#eeeeee"'
            lines.append(f"  {n['key']} [shape=box, label={label}{style}];")
    for e in graph["edges"]:
        sent = e["grad"]
        label = f" [label={_quote(edge_text(sent))}]" if sent else ""
        lines.append(f"  {e['from']} -> {e['to']}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
