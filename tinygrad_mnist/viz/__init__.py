"""See the graph behind a tensor, and its backward pass.

    from tinygrad_mnist.viz import graph_data, to_dot, to_svg, to_html, write
    record = BackwardTrace(); loss.backward(trace=record)
    write("step.html", loss, record)      # a page that steps through the pass (or .svg, .dot)

`graph.py` describes the graph as data (nodes, edges, names, shapes, what each op saved, what
backward sent along each edge); `dot.py` writes it for Graphviz; `layout.py` lays it out in
layers in plain Python and `page.py` draws it as SVG or as one offline HTML page: neither needs
Graphviz. `show(loss, record)` in a notebook shows the page inline.
"""
from __future__ import annotations

import html as _html
from typing import Optional

from ..trace import BackwardTrace, dims
from .dot import to_dot
from .graph import graph_data, saved_text
from .page import to_html, to_svg

FORMATS = (".dot", ".svg", ".html")


def write(path: str, tensor, trace: Optional[BackwardTrace] = None) -> str:
    """The graph behind `tensor` (with `trace`, its backward pass) in the format `path`'s extension
    names: `.svg` (drawn here), `.html` (the page), else Graphviz DOT. Returns the format."""
    kind = next((f for f in FORMATS if str(path).lower().endswith(f)), ".dot")
    text = to_dot(tensor, show_grad=True, trace=trace) if kind == ".dot" else \
        to_svg(tensor, trace) if kind == ".svg" else to_html(tensor, trace)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return kind


class Graph:
    """A graph for a notebook: the page inline (`_repr_html_`, no Graphviz needed), and as text
    what the page shows: each op with its inputs (in the order backward visited them when a trace
    was given), what it saved, the gradient sent along each edge, and the norm of each leaf's `.grad`."""

    def __init__(self, tensor, trace: Optional[BackwardTrace] = None):
        self.tensor, self.trace = tensor, trace

    def _repr_html_(self) -> str:
        page = to_html(self.tensor, self.trace)
        return (f'<iframe srcdoc="{_html.escape(page, quote=True)}" style="width:100%;height:640px;border:1px solid '
                '#ddd" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        graph = graph_data(self.tensor, self.trace, show_grad=True)
        by_key = {n["key"]: n for n in graph["nodes"]}
        sent = {(e["to"], e["from"]): e["grad"] for e in graph["edges"] if e["grad"]}
        ops = [n for n in graph["nodes"] if n["kind"] == "op"]
        if self.trace:
            ops.sort(key=lambda n: n["step"] or 0)
        inputs = {}
        for e in graph["edges"]:
            inputs.setdefault(e["to"], []).append(e["from"])
        out = []
        for op in ops:
            made = by_key[op["output"]]
            where = f"[{op['step']}] " if op["step"] else ""
            extra = f" [{'; '.join(op['settings'])}]" if op["settings"] else ""
            out.append(f"{where}{made['name']} {dims(made['shape'])} = {op['op']}"
                       f"({', '.join(by_key[k]['name'] for k in inputs[op['key']])}){extra}")
            if self.trace:
                gone = [f"{by_key[k]['name']} {dims(sent[op['key'], k]['shape'])} norm {sent[op['key'], k]['norm']:.4g}"
                        for k in inputs[op["key"]] if (op["key"], k) in sent]
                out.append(f"    {op['saved']}; sent " + (", ".join(gone) if gone else "nothing"))
        out += [f"{n['name']} {dims(n['shape'])}: .grad norm {n['grad_norm']:.4g}" for n in graph["nodes"]
                if n["kind"] == "tensor" and n["role"] != "result" and n["grad_norm"] is not None]
        return "\n".join(out)


def show(tensor, trace: Optional[BackwardTrace] = None) -> Graph:
    """`show(loss, record)` in a notebook: the page of the graph behind `loss` and its backward pass."""
    return Graph(tensor, trace)


__all__ = ["graph_data", "to_dot", "to_svg", "to_html", "write", "show", "Graph", "saved_text", "FORMATS"]
