"""The graph drawn without Graphviz: an SVG (`to_svg`), and one self-contained HTML page that steps
through a backward pass node by node (`to_html`).

The page is a single file: the SVG inline, the pass as JSON inline (the trace's records, the
graph's data), about 200 lines of plain JavaScript and a little CSS inline (`page.js`,
`page.css` beside this file). Opened from disk it makes no request but itself. Buttons, the
arrow keys, a click on a node or on a line of the trace move through the pass; at each step
the node is highlighted, the panel shows its op's local derivative (its docstring), the
gradient it received and what each input is sent (shape, norm, min, max; a small gradient as
a matrix coloured by sign), un-broadcasting spelled out, and each leaf's `.grad` as a badge;
an MNIST weight gradient (rows of 784) is also drawn as 28×28 images.
"""
from __future__ import annotations

import html
import json
import math
import os
from typing import Optional

from ..trace import BackwardTrace, describe
from .dot import edge_text
from .graph import graph_data
from .layout import layout

HERE = os.path.dirname(os.path.abspath(__file__))
CHAR_W, LINE_H, PAD = 6.6, 14.0, 8.0  # the SVG's text metrics: 11 px sans-serif


def _badged(n: dict) -> bool:
    """A leaf that takes a gradient: its box keeps a line for the page's `.grad` badge."""
    return n["kind"] == "tensor" and n["role"] == "parameter"


def _sizes(graph: dict) -> dict:
    return {n["key"]: (max(len(line) for line in n["label"] + (["  .grad ‖0.0000‖  "] if _badged(n) else []))
                       * CHAR_W + 2 * PAD, (len(n["label"]) + _badged(n)) * LINE_H + PAD) for n in graph["nodes"]}


def _node_svg(n: dict, box) -> str:
    x, y, w, h = box
    classes = f"node {n['kind']} {n.get('role', '')}".strip()
    shape = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{h / 2 if n["kind"] == "op" else 3:.1f}"/>')
    text = "".join(f'<tspan x="{x + w / 2:.1f}" y="{y + PAD / 2 + LINE_H * (i + 0.8):.1f}">{html.escape(line)}</tspan>'
                   for i, line in enumerate(n["label"]))
    lines = len(n["label"])
    badge = f'<text class="badge" text-anchor="middle" x="{x + w / 2:.1f}" y="{y + PAD / 2 + LINE_H * (lines + 0.8):.1f}">' \
        '</text>' if _badged(n) else ""
    return (f'<g class="{classes}" id="node-{n["key"]}" data-key="{n["key"]}"><title>{html.escape(n["name"])}</title>'
            f'{shape}<text text-anchor="middle">{text}</text>{badge}</g>')


def _path(points) -> str:
    """A smooth path through the route's points (vertical tangents at each point)."""
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        mid = (y0 + y1) / 2
        d += f" C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}"
    return d


def svg(graph: dict) -> str:
    """The graph as an SVG drawing (data flows down: inputs at the top, the loss at the bottom)."""
    keys = [n["key"] for n in graph["nodes"]]
    drawn = layout(keys, [(e["from"], e["to"]) for e in graph["edges"]], _sizes(graph))
    width, height = drawn["width"] + 8, drawn["height"] + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-4 -4 {width:.0f} {height:.0f}" '
             f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif" font-size="11">',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs><g class="edges">']
    for e in graph["edges"]:
        points = drawn["routes"][(e["from"], e["to"])]
        label = f'<title>{html.escape(edge_text(e["grad"]))}</title>' if e["grad"] else ""
        parts.append(f'<path class="edge" data-from="{e["from"]}" data-to="{e["to"]}" d="{_path(points)}" '
                     f'marker-end="url(#arrow)">{label}</path>')
    parts.append('</g><g class="nodes">')
    parts += [_node_svg(n, drawn["boxes"][n["key"]]) for n in graph["nodes"]]
    parts.append("</g></svg>")
    return "".join(parts)


def to_svg(tensor, trace: Optional[BackwardTrace] = None, show_grad: bool = True) -> str:
    """An SVG of the graph behind `tensor` (with `trace`, its backward pass's numbers), drawn here:
    no Graphviz needed."""
    return svg(graph_data(tensor, trace, show_grad))


def _finite(value):
    """JSON has no NaN or infinity: they travel as the strings JavaScript prints for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _texts(record: dict) -> dict:
    """A record with each gradient summary's numbers also as the trace prints them, so the page
    shows the very strings of the printed trace."""
    out = dict(record)
    for field in ("seed", "received", "grad", "total"):
        if field in out:
            s = out[field]
            out[field] = dict(s, text=describe(s), norm_text=f"{s['norm']:.4g}", min_text=f"{s['min']:.4g}",
                              max_text=f"{s['max']:.4g}")
    return out


def page_data(tensor, trace: Optional[BackwardTrace]) -> dict:
    from ..trace import lines
    records = trace.records if trace else []
    return {"graph": graph_data(tensor, trace, show_grad=False), "records": [_texts(r) for r in records],
            "lines": [[line for line in lines(r)] for r in records]}


def to_html(tensor, trace: Optional[BackwardTrace] = None, title: Optional[str] = None) -> str:
    """One self-contained HTML page of the graph behind `tensor`; with `trace` (the `BackwardTrace`
    of `loss.backward(trace=record)`), the page steps through that pass. Opened from disk offline,
    it requests nothing."""
    data = page_data(tensor, trace)
    with open(os.path.join(HERE, "page.css"), encoding="utf-8") as f:
        css = f.read()
    with open(os.path.join(HERE, "page.js"), encoding="utf-8") as f:
        js = f.read()
    payload = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    name = title or (f"backward from {data['records'][0]['node']}" if data["records"] else "graph")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{html.escape(name)}</title>'
            f'<style>{css}</style></head><body>'
            '<header><button id="first" title="first step (Home)">first</button>'
            '<button id="prev" title="previous step (←)">◀</button><span id="counter"></span>'
            '<button id="next" title="next step (→)">▶</button><button id="last" title="last step (End)">last</button>'
            f'<h1>{html.escape(name)}</h1><span class="hint">← → to step; click a node or a trace line</span></header>'
            f'<main><div id="graph">{svg(data["graph"])}</div><aside id="panel"></aside></main>'
            '<section id="trace"></section>'
            f'<script type="application/json" id="data">{payload}</script><script>{js}</script></body></html>\n')
