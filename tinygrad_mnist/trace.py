"""Watch the chain rule run: a printed record of one backward pass, step by step.

    loss.backward(trace=True)            # print to stdout
    loss.backward(trace=open("t.txt", "w"))
    with trace(): loss.backward()         # the same, for every backward() in the block

`backward` in `autograd.py` tells a `BackwardTrace` what it does, in the order it
does it: which node it visits (op, shape, name), the gradient the node received,
the gradient its op returns for each input, where a second use of a tensor adds
to a gradient already waiting, where a broadcast is undone (shapes before and
after), and what each leaf's `.grad` receives. The trace only reads; the
gradients are the same with or without it. `events` keeps every gradient that
passed along each edge, for `viz.to_dot(..., trace=...)` to draw.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, TextIO, Tuple

import numpy as np

from .autograd import topological_order
from .sparse import is_csr


def describe(a: np.ndarray, values: int = 3) -> str:
    """`[3, 3] [-0.3333, 0.1667, 0.1667, ...] norm 0.5774`: shape, the first values, L2 norm
    (a 0-d gradient is just its value)."""
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    if np.ndim(a) == 0:
        return f"{flat[0]:.4g}"
    shown = ", ".join(f"{v:.4g}" for v in flat[:values]) + (", ..." if flat.size > values else "")
    return f"{dims(a.shape)} [{shown}] norm {float(np.linalg.norm(flat)):.4g}"


def dims(shape) -> str:
    """`[3, 3]`: a shape as the trace and the graphs print it."""
    return "[" + ", ".join(str(n) for n in shape) + "]"


class BackwardTrace:
    """Prints each step of a backward pass to `stream` (None: keep the events only)."""

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream
        self.names: Dict[int, str] = {}
        self.order: Dict[int, int] = {}          # id(node) -> its place in the backward visit order
        self.events: List[Tuple[int, int, Tuple[int, ...], float]] = []  # (child, parent, shape, norm)
        self.kept: Dict[int, tuple] = {}  # id(node) -> what its op had saved, as (shape, dtype, bytes)
        self.step = 0

    def name(self, t) -> str:
        return self.names.get(id(t), "?")

    def _say(self, line: str) -> None:
        if self.stream is not None:
            print(line, file=self.stream)

    def start(self, root, grad: np.ndarray) -> None:
        nodes = topological_order(root, every_parent=True)
        self.names = {id(t): t.name or f"t{i}" for i, t in enumerate(nodes)}
        op = f" ({root._ctx.fn.__name__})" if root._ctx is not None else ""
        self._say(f"backward from {self.name(root)}{op}, seeded with d{self.name(root)}/d{self.name(root)} = "
                  f"{describe(grad)}")

    def _number(self, node) -> int:
        self.step += 1
        self.order[id(node)] = self.step
        return self.step

    def visit(self, node, grad: np.ndarray) -> None:
        """Called before the op's backward runs (and frees what it saved)."""
        self.kept[id(node)] = saved_sizes(node._ctx)
        n = self._number(node)
        self._say(f"[{n}] {self.name(node)} = {node._ctx.fn.__name__} {dims(node.shape)}: "
                  f"received {describe(grad)}")

    def constant(self, node, parent) -> None:
        self._say(f"      {self.name(parent)}: no gradient (a constant)")

    def passed(self, node, parent, full: np.ndarray, grad: np.ndarray, adds: bool) -> None:
        self.events.append((id(node), id(parent), grad.shape, float(np.linalg.norm(grad))))
        line = f"      -> {self.name(parent)}: {describe(grad)}"
        if full.shape != grad.shape:
            line += f"  (un-broadcast: summed {dims(full.shape)} to {dims(grad.shape)})"
        if adds:
            line += "  (added to the gradient from its other use)"
        self._say(line)

    def leaf(self, node, grad: np.ndarray) -> None:
        n = self._number(node)
        self._say(f"[{n}] {self.name(node)} leaf {dims(node.shape)}: .grad += {describe(grad)}")


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
