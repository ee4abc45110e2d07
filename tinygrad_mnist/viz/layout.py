"""A layered drawing of a graph, in plain Python (Sugiyama's method, as Graphviz's `dot` does it):

1. layers: each node one below the lowest of its inputs (its longest path from a source), and
   each source just above its first user;
2. an edge that spans a few layers gets a dummy node on each layer it crosses, so it is routed
   around the nodes (a very long one is drawn straight);
3. order within each layer: sweeps down and up, each node placed at the mean position of its
   neighbours in the layer before (the barycenter heuristic); the order with the fewest
   crossings is kept;
4. coordinates: left to right in that order, then pulled towards their neighbours' mean while
   keeping the order and a gap, a few rounds.

Data flows down the page: the inputs at the top, the loss at the bottom. `layout` returns each
node's box and each edge's route; nothing here overlaps (tested).
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

LAYER_GAP = 56   # vertical space between layers
LONG = 6         # an edge spanning more layers than this is drawn straight, without dummy nodes (a tensor
                 # used all along a long graph would otherwise add a dummy per layer per use)
NODE_GAP = 24    # least horizontal space between neighbours in a layer
SWEEPS = 12


def layers_of(keys: Sequence[str], edges: Sequence[Tuple[str, str]]) -> Dict[str, int]:
    """Each node's layer: one more than its deepest input; a source (a parameter, the images)
    sits just above the first node that uses it, so a layer's weights are drawn beside it rather
    than all at the top with long edges. The keys come in an order where every node follows its
    inputs (the graph's data-flow order)."""
    inputs: Dict[str, List[str]] = {k: [] for k in keys}
    users: Dict[str, List[str]] = {k: [] for k in keys}
    for a, b in edges:
        inputs[b].append(a)
        users[a].append(b)
    layer: Dict[str, int] = {}
    for k in keys:
        layer[k] = 1 + max((layer[a] for a in inputs[k]), default=-1)
    for k in keys:
        if not inputs[k] and users[k]:
            layer[k] = min(layer[u] for u in users[k]) - 1
    return layer


def _with_dummies(keys, edges, layer) -> Tuple[List[List[str]], List[Tuple[str, str]], Dict[Tuple[str, str], List[str]]]:
    """Layers as lists (in the given order), the edges between adjacent layers only, and for each
    original edge the chain of nodes it passes (dummies included)."""
    rows: List[List[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for k in keys:
        rows[layer[k]].append(k)
    short, chains = [], {}
    for a, b in edges:
        chain = [a]
        if layer[b] - layer[a] > LONG:
            chains[(a, b)] = [a, b]
            continue
        for lay in range(layer[a] + 1, layer[b]):
            dummy = f"~{a}>{b}@{lay}"
            rows[lay].append(dummy)
            chain.append(dummy)
        chain.append(b)
        short += list(zip(chain, chain[1:]))
        chains[(a, b)] = chain
    return rows, short, chains


def crossings(rows: List[List[str]], short: List[Tuple[str, str]]) -> int:
    """Pairs of edges between adjacent layers that cross."""
    place = {k: i for row in rows for i, k in enumerate(row)}
    depth = {k: d for d, row in enumerate(rows) for k in row}
    total = 0
    for d in range(len(rows) - 1):
        pairs = sorted((place[a], place[b]) for a, b in short if depth[a] == d)
        total += sum(1 for i, (a1, b1) in enumerate(pairs) for a2, b2 in pairs[i + 1:] if a2 > a1 and b2 < b1)
    return total


def _order(rows: List[List[str]], short: List[Tuple[str, str]]) -> List[List[str]]:
    """Barycenter sweeps; the best order seen."""
    ups: Dict[str, List[str]] = {}
    downs: Dict[str, List[str]] = {}
    for a, b in short:
        ups.setdefault(b, []).append(a)
        downs.setdefault(a, []).append(b)
    best, best_count = [list(r) for r in rows], crossings(rows, short)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        span = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for d in span:
            ref = {k: i for i, k in enumerate(rows[d - 1 if down else d + 1])}
            near = ups if down else downs
            keyed = [(sum(ref[n] for n in near.get(k, [])) / len(near[k]) if near.get(k) else i, i, k)
                     for i, k in enumerate(rows[d])]
            rows[d] = [k for _, _, k in sorted(keyed)]
        count = crossings(rows, short)
        if count < best_count:
            best, best_count = [list(r) for r in rows], count
    return best


def _coordinates(rows, short, width) -> Dict[str, float]:
    """Centre x of each node: packed left to right, then moved towards its neighbours' mean."""
    x: Dict[str, float] = {}
    for row in rows:
        left = 0.0
        for k in row:
            x[k] = left + width(k) / 2
            left += width(k) + NODE_GAP
    near: Dict[str, List[str]] = {}
    for a, b in short:
        near.setdefault(a, []).append(b)
        near.setdefault(b, []).append(a)
    for _ in range(8):
        for row in rows:
            for i, k in enumerate(row):
                if near.get(k):
                    x[k] = sum(x[n] for n in near[k]) / len(near[k])
            for i in range(1, len(row)):  # keep the order and the gap, pushing right
                least = x[row[i - 1]] + (width(row[i - 1]) + width(row[i])) / 2 + NODE_GAP
                x[row[i]] = max(x[row[i]], least)
    shift = min((x[k] - width(k) / 2 for row in rows for k in row), default=0.0)
    return {k: v - shift for k, v in x.items()}


def layout(keys: Sequence[str], edges: Sequence[Tuple[str, str]], sizes: Dict[str, Tuple[float, float]]) -> dict:
    """Boxes `{key: (x, y, w, h)}` (top-left corner), routes `{(a, b): [(x, y), ...]}` from the
    bottom of a to the top of b, and the drawing's width and height."""
    layer = layers_of(keys, edges)
    rows, short, chains = _with_dummies(keys, edges, layer)
    rows = _order(rows, short)
    width = lambda k: sizes[k][0] if k in sizes else 2.0  # a dummy is a thin pass-through
    x = _coordinates(rows, short, width)
    heights = [max((sizes[k][1] for k in row if k in sizes), default=0.0) for row in rows]
    tops = [sum(heights[:d]) + d * LAYER_GAP for d in range(len(rows))]
    boxes = {}
    for d, row in enumerate(rows):
        for k in row:
            w, h = sizes.get(k, (2.0, heights[d]))
            boxes[k] = (x[k] - w / 2, tops[d] + (heights[d] - h) / 2, w, h)
    routes = {}
    for edge, chain in chains.items():
        a, b = boxes[chain[0]], boxes[chain[-1]]
        middle = [(boxes[k][0] + boxes[k][2] / 2, boxes[k][1] + boxes[k][3] / 2) for k in chain[1:-1]]
        routes[edge] = [(a[0] + a[2] / 2, a[1] + a[3])] + middle + [(b[0] + b[2] / 2, b[1])]
    real = [boxes[k] for k in keys]
    return {"boxes": {k: boxes[k] for k in keys}, "routes": routes,
            "width": max((bx + w for bx, _, w, _ in real), default=0.0),
            "height": max((by + h for _, by, _, h in real), default=0.0), "crossings": crossings(rows, short)}
