"""Watch the chain rule run: a record of one backward pass, step by step, as data and as text.

    loss.backward(trace=True)            # print to stdout
    loss.backward(trace=open("t.txt", "w"))
    with trace(): loss.backward()         # the same, for every backward() in the block
    record = BackwardTrace(); loss.backward(trace=record); record.records   # the pass as data

`backward` in `autograd.py` tells a `BackwardTrace` what it does, in the order it does it, and
the trace keeps each step as a record (a dict): the node visited (op, shape, name), the gradient
it received, what its op sends each input (or that an input is a constant), where a second use
of a tensor adds to a gradient already waiting, where a broadcast is undone (the shapes and the
axes summed), and what each leaf's `.grad` receives. A gradient is kept as its `summary`
(shape, first values, norm, min, max; all values when small). The printed trace is made from
the records (`lines`), and so is the page of `viz.to_html`: one source. Names come from
`names_in`, which the graph (`viz.graph_data`) uses too. The trace only reads; the gradients
are the same with or without it.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, TextIO

import numpy as np

from .autograd import topological_order
from .sparse import is_csr

SMALL = 64          # a gradient of at most this many elements is kept whole (the page shows it as a matrix)
PIXELS = 784        # a leaf gradient of rows of 28×28 (MNIST weights) is kept whole, up to
PIXEL_ROWS = 32     # this many rows, for the page to draw as images


def dims(shape) -> str:
    """`[3, 3]`: a shape as the trace and the graphs print it."""
    return "[" + ", ".join(str(n) for n in shape) + "]"


def summary(a: Any, values: int = 3, keep: int = SMALL) -> dict:
    """What a record keeps of a gradient: its shape, first values, L2 norm, min and max, and every
    value when it has at most `keep` elements."""
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    return {"shape": list(np.shape(a)), "first": flat[:values].tolist(), "size": int(flat.size),
            "norm": float(np.linalg.norm(flat)), "min": float(flat.min()) if flat.size else 0.0,
            "max": float(flat.max()) if flat.size else 0.0, "values": flat.tolist() if flat.size <= keep else None}


def describe(s: dict) -> str:
    """`[3, 3] [-0.3333, 0.1667, 0.1667, ...] norm 0.5774` (a 0-d gradient is just its value)."""
    if not s["shape"]:
        return f"{s['first'][0]:.4g}"
    shown = ", ".join(f"{v:.4g}" for v in s["first"]) + (", ..." if s["size"] > len(s["first"]) else "")
    return f"{dims(s['shape'])} [{shown}] norm {s['norm']:.4g}"


def names_in(order: list) -> Dict[int, str]:
    """Every tensor of a graph's order (`topological_order(root, every_parent=True)`) by id: its
    own name, else `t` and its place in the order. The trace, the graph's data and the page all
    name nodes so."""
    return {id(t): t.name or f"t{i}" for i, t in enumerate(order)}


def keys_in(order: list) -> Dict[int, str]:
    """Every tensor of a graph's order by id: `t` and its place, a key that stays unique where two
    tensors share a name (`viz.graph_data` keys them so)."""
    return {id(t): f"t{i}" for i, t in enumerate(order)}


def lines(record: dict) -> List[str]:
    """The printed lines of one record."""
    kind = record["kind"]
    if kind == "start":
        op, root = f" ({record['op']})" if record["op"] else "", record["node"]
        return [f"backward from {root}{op}, seeded with d{root}/d{root} = {describe(record['seed'])}"]
    if kind == "visit":
        return [f"[{record['step']}] {record['node']} = {record['op']} {dims(record['shape'])}: "
                f"received {describe(record['received'])}"]
    if kind == "constant":
        return [f"      {record['input']}: no gradient (a constant)"]
    if kind == "sent":
        line = f"      -> {record['input']}: {describe(record['grad'])}"
        undone = record["unbroadcast"]
        if undone:
            line += f"  (un-broadcast: summed {dims(undone['from'])} to {dims(undone['to'])})"
        return [line + ("  (added to the gradient from its other use)" if record["adds"] else "")]
    return [f"[{record['step']}] {record['node']} leaf {dims(record['shape'])}: .grad += {describe(record['grad'])}"]


def summed_axes(full: tuple, shape: tuple) -> List[int]:
    """The axes of `full` that un-broadcasting to `shape` sums: the leading extra ones, and those
    where `shape` has 1 and `full` more."""
    extra = len(full) - len(shape)
    return list(range(extra)) + [extra + i for i, n in enumerate(shape) if n == 1 and full[extra + i] != 1]


class BackwardTrace:
    """Records each step of a backward pass, and prints it to `stream` (None: records only)."""

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream
        self.names: Dict[int, str] = {}
        self.keys: Dict[int, str] = {}
        self.records: List[dict] = []
        self.order: Dict[int, int] = {}  # id(node) -> its place in the backward visit order
        self.kept: Dict[int, tuple] = {}  # id(node) -> what its op had saved, as (shape, dtype, bytes)
        self.flowed: Dict[tuple, dict] = {}  # (id(node), id(input)) -> the summary of what was sent
        self.step = 0

    def name(self, t) -> str:
        return self.names.get(id(t), "?")

    def text(self) -> str:
        """The whole trace as printed."""
        return "".join(line + "\n" for r in self.records for line in lines(r))

    def _add(self, record: dict) -> None:
        self.records.append(record)
        for line in lines(record) if self.stream is not None else ():
            print(line, file=self.stream)

    def start(self, root, grad) -> None:
        order = topological_order(root, every_parent=True)
        self.names, self.keys = names_in(order), keys_in(order)
        self._add({"kind": "start", "node": self.name(root), "key": self.keys[id(root)],
                   "op": root._ctx.fn.__name__ if root._ctx else None, "seed": summary(grad)})

    def _number(self, node) -> int:
        self.step += 1
        self.order[id(node)] = self.step
        return self.step

    def visit(self, node, grad) -> None:
        """Called before the op's backward runs (and frees what it saved)."""
        self.kept[id(node)] = saved_sizes(node._ctx)
        self._add({"kind": "visit", "step": self._number(node), "node": self.name(node), "key": self.keys[id(node)],
                   "op": node._ctx.fn.__name__, "shape": list(node.shape), "received": summary(grad)})

    def constant(self, node, parent) -> None:
        self._add({"kind": "constant", "step": self.order[id(node)], "node": self.name(node),
                   "input": self.name(parent), "input_key": self.keys[id(parent)]})

    def passed(self, node, parent, full, grad, adds: bool) -> None:
        sent = summary(grad)
        self.flowed[id(node), id(parent)] = sent
        undone = None if tuple(full.shape) == tuple(grad.shape) else {
            "from": list(full.shape), "to": list(grad.shape), "axes": summed_axes(tuple(full.shape), tuple(grad.shape))}
        self._add({"kind": "sent", "step": self.order[id(node)], "node": self.name(node), "input": self.name(parent),
                   "input_key": self.keys[id(parent)], "grad": sent, "unbroadcast": undone, "adds": bool(adds)})

    def leaf(self, node, grad) -> None:
        """Called once `node.grad` holds what it received added."""
        images = len(node.shape) == 2 and node.shape[1] == PIXELS and node.shape[0] <= PIXEL_ROWS
        self._add({"kind": "leaf", "step": self._number(node), "node": self.name(node), "key": self.keys[id(node)],
                   "shape": list(node.shape), "grad": summary(grad),
                   "total": summary(node.grad, keep=PIXELS * PIXEL_ROWS if images else SMALL)})


class _Active(threading.local):
    stream: Any = None


_active = _Active()


@contextlib.contextmanager
def trace(stream: Optional[TextIO] = None) -> Iterator[None]:
    """Inside the block (on this thread), every `backward()` prints its trace to `stream`
    (default: standard output)."""
    previous, _active.stream = _active.stream, stream or sys.stdout
    try:
        yield
    finally:
        _active.stream = previous


def for_call(option: Any) -> Optional[BackwardTrace]:
    """The trace `Tensor.backward(trace=...)` asked for: True (stdout), a stream, a BackwardTrace,
    or nothing; inside a `trace()` block, that block's stream."""
    if isinstance(option, BackwardTrace):
        return option
    if option is True:
        return BackwardTrace(sys.stdout)
    if option:
        return BackwardTrace(option)
    return BackwardTrace(_active.stream) if _active.stream is not None else None


def saved_sizes(ctx) -> tuple:
    """(shape, dtype, bytes) of each array an op saved; a CSR's dtype says so, its bytes are its three arrays'."""
    return tuple((a.shape, a.dtype, a.nbytes) if isinstance(a, np.ndarray) else
                 (a.shape, f"{a.dtype}, CSR", a.indptr.nbytes + a.indices.nbytes + a.values.nbytes)
                 for a in ctx._saved if isinstance(a, np.ndarray) or is_csr(a))
