"""The layered drawing (viz/layout.py), without a browser: no two boxes overlap, every edge runs
down the page, the three models' training steps are drawn without a crossing, a source sits
just above its first user, and a graph of two thousand nodes is laid out."""
import time

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.nn import Conv2dConfig, Dropout, Module, VarBuilder, VarMap, conv2d, init, linear
from tinygrad_mnist.viz import graph_data, to_svg
from tinygrad_mnist.viz.layout import crossings, layers_of, layout
from tinygrad_mnist.viz.page import _sizes


class Cnn(Module):  # Candle's CNN from the engine's layers (the trainer's is app/models.py)
    def __init__(self, vb):
        self.c1, self.c2 = conv2d(1, 32, 5, Conv2dConfig(), vb.pp("c1")), conv2d(32, 64, 5, Conv2dConfig(), vb.pp("c2"))
        self.fc1, self.fc2, self.drop = linear(1024, 1024, vb.pp("fc1")), linear(1024, 10, vb.pp("fc2")), Dropout(0.5)

    def forward(self, x):
        x = (x.astype(np.float32) * (1 / 255)).reshape(x.shape[0], 1, 28, 28)
        x = self.c2(self.c1(x).max_pool2d(2)).max_pool2d(2)
        return self.fc2(self.drop(self.fc1(x.flatten(1)).relu()))


def step_graph(kind):
    init.seed(0)
    vb = VarBuilder.from_varmap(VarMap())
    x, y = Tensor(np.zeros((4, 784), np.uint8)), Tensor(np.zeros(4, np.int64))
    if kind == "linear":
        layer = linear(784, 10, vb, input_scale=1 / 255)
        return graph_data((layer(x)).log_softmax().sum() + 0 * y.sum())
    if kind == "mlp":
        a, b = linear(784, 100, vb.pp("ln1"), input_scale=1 / 255), linear(100, 10, vb.pp("ln2"))
        from tinygrad_mnist import cross_entropy
        return graph_data(cross_entropy(b(a(x).relu()), y))
    return graph_data(Cnn(vb).train().loss(x, y))


def drawn(graph):
    keys = [n["key"] for n in graph["nodes"]]
    edges = [(e["from"], e["to"]) for e in graph["edges"]]
    return keys, edges, layout(keys, edges, _sizes(graph))


def check(graph):
    keys, edges, d = drawn(graph)
    boxes = d["boxes"]
    for a, b in edges:  # down the page: the target's top below the source's bottom
        assert boxes[b][1] >= boxes[a][1] + boxes[a][3], (a, b)
    rows = {}
    for k in keys:
        rows.setdefault(boxes[k][1] + boxes[k][3] / 2, []).append(boxes[k])
    for row in rows.values():  # within a layer, boxes side by side with a gap
        row.sort()
        for (x0, _, w0, _), (x1, _, _, _) in zip(row, row[1:]):
            assert x1 >= x0 + w0, row
    for i, a in enumerate(keys):  # and no two boxes anywhere overlap
        for b in keys[i + 1:]:
            (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes[a], boxes[b]
            assert x0 + w0 <= x1 or x1 + w1 <= x0 or y0 + h0 <= y1 or y1 + h1 <= y0, (a, b)
    return d


@pytest.mark.parametrize("kind", ["linear", "mlp", "cnn"])
def test_the_models_steps_are_drawn_without_overlap_or_crossing(kind):
    assert check(step_graph(kind))["crossings"] == 0


def test_a_source_sits_just_above_its_first_user():
    layer = layers_of(["a", "w", "b", "c"], [("a", "b"), ("b", "c"), ("w", "c")])
    assert layer == {"a": 0, "b": 1, "c": 2, "w": 1}


def test_the_crossing_count_can_say_yes():
    assert crossings([["a", "b"], ["c", "d"]], [("a", "d"), ("b", "c")]) == 1
    assert crossings([["a", "b"], ["c", "d"]], [("a", "c"), ("b", "d")]) == 0


@pytest.mark.slow
def test_a_large_user_graph_is_laid_out_and_drawn():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(330):  # x used by every layer: long edges, drawn straight
        y = (y * x + y).tanh()
    graph = graph_data(y.sum())
    start = time.perf_counter()
    d = check(graph) if len(graph["nodes"]) < 300 else drawn(graph)[2]
    assert len(graph["nodes"]) > 1900 and time.perf_counter() - start < 60
    assert d["height"] > 0 and to_svg(y.sum()).startswith("<svg")
