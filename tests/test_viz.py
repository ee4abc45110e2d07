"""DOT export: parse the text and check its nodes and edges for known graphs."""
import re

import numpy as np

from idxfiles import write_dataset
from tinygrad_mnist import Tensor, nll, train
from tinygrad_mnist.viz import to_dot


def parse(dot):
    """{node id: (shape, label lines)} and the list of edges of a DOT text from to_dot."""
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes = {m[0]: (m[1], m[2].split("\\n"))
             for m in re.findall(r'^\s*(\w+) \[shape=(\w+), label="((?:[^"\\]|\\.)*)"', dot, re.M)}
    edges = re.findall(r'^\s*(\w+) -> (\w+)(?: \[label="[^"]*"\])?;', dot, re.M)
    return nodes, edges


def op_named(nodes, name):
    """Op nodes whose first label line is `name` (an input scale may follow on a second line)."""
    return [k for k, (shape, label) in nodes.items() if shape == "ellipse" and label[0] == name]


def test_a_small_known_graph():
    a = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    a.name = "a"
    c = Tensor(np.array([3.0, 4.0], np.float32))
    y = (a * c + a).sum()
    nodes, edges = parse(to_dot(y))
    tensors = {k: v for k, v in nodes.items() if v[0] == "box"}
    assert len(tensors) == 5 and len(nodes) - len(tensors) == 3  # a, c, a*c, +, sum; Mul, Add, Sum
    (a_id,) = [k for k, (_, label) in tensors.items() if label[0] == "a"]
    (c_id,) = [k for k, (_, label) in tensors.items() if label[0] == "input"]
    assert tensors[a_id][1] == ["a", "[2] float32"]
    (mul,), (add,), (total,) = op_named(nodes, "Mul"), op_named(nodes, "Add"), op_named(nodes, "Sum")
    assert (a_id, mul) in edges and (c_id, mul) in edges and (a_id, add) in edges
    (mul_out,) = [b for a_, b in edges if a_ == mul]
    assert (mul_out, add) in edges
    (add_out,) = [b for a_, b in edges if a_ == add]
    assert (add_out, total) in edges
    (root,) = [b for a_, b in edges if a_ == total]
    assert nodes[root][1] == ["[] float32"]
    # data-flow order: every edge's source is declared before its target
    order = list(nodes)
    assert all(order.index(s) < order.index(t) for s, t in edges)


def test_show_grad_gives_the_leaves_gradient_norms():
    w = Tensor(np.array([[3.0, 4.0]], np.float32), requires_grad=True)
    w.name = "weight"
    loss = nll(Tensor(np.zeros((1, 2), np.float32)).linear(w).log_softmax(), [0])
    assert "grad norm" not in to_dot(loss, show_grad=True)  # nothing computed yet
    loss.backward()
    nodes, _ = parse(to_dot(loss, show_grad=True))
    (label,) = [lab for _, lab in nodes.values() if lab[0] == "weight"]
    assert label[-1] == f"grad norm {np.linalg.norm(w.grad):.4g}"
    assert op_named(nodes, "Linear") and op_named(nodes, "LogSoftmax") and op_named(nodes, "NLL")


def test_labels_are_escaped():
    t = Tensor(np.ones(1, np.float32), requires_grad=True)
    t.name = 'say "hi"'
    assert 'label="say \\"hi\\"\\n[1] float32"' in to_dot(t * 2.0)


def test_train_graph_option_writes_one_step_and_exits(tmp_path, capsys):
    data = write_dataset(tmp_path / "data", n_train=200, n_test=50)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--model", "mlp", "--graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("Wrote the graph of one training step (the first 64 training images, forward and backward) "
            f"to {path}") in out and "Epoch" not in out
    nodes, edges = parse(path.read_text())
    names = {label[0] for _, label in nodes.values()}
    assert {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"} <= names
    # the seed's chain: both layers, then log_softmax and nll; the first layer reads pixels as 0..1
    assert len(op_named(nodes, "Linear")) == 2 and op_named(nodes, "ReLU")
    assert op_named(nodes, "LogSoftmax") and op_named(nodes, "NLL")
    linear = sorted(label for _, (shape, label) in nodes.items() if label[0] == "Linear")
    assert [label[1] for label in linear] == ["input × 1/255",
                                               "saved [64, 100] float32 (25.0 KiB), [10, 100] float32 (3.9 KiB)"]
    assert [label[-1] for label in linear] == ["backward step 7", "backward step 3"]
    assert {"images", "labels"} <= names
    assert all("grad norm" in label[-2] and label[-1].endswith(": .grad")
               for _, label in nodes.values() if label[0].startswith("ln"))


def test_the_default_models_step_is_the_seeds_chain(tmp_path, capsys):
    """`train --graph` of the default model: images, weight, bias → Linear (pixels read as 0..1)
    → LogSoftmax → NLL with the labels; no fused op."""
    data = write_dataset(tmp_path / "data", n_train=200, n_test=50)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--graph", str(path)]) == 0
    nodes, edges = parse(path.read_text())
    ops = [label for shape, label in nodes.values() if shape == "ellipse"]
    assert ops == [["Linear", "input × 1/255", "saved [200, 784] uint8 (153.1 KiB), [10, 784] float32 (30.6 KiB)",
                    "backward step 3"],
                   ["LogSoftmax", "saved [200, 10] float32 (7.8 KiB)", "backward step 2"],
                   ["NLL", "saved [200, 10] float32 (7.8 KiB), [200] uint8 (200 B)", "backward step 1"]]
    boxes = {label[0]: label for shape, label in nodes.values() if shape == "box"}
    assert {"images", "labels", "weight", "bias", "loss"} <= set(boxes)
    assert boxes["weight"][-1].startswith("backward step") and boxes["weight"][-1].endswith(": .grad")
    assert len(edges) == 9
    text = path.read_text()  # the gradient that flowed back along each edge that carries one
    assert re.search(r'-> op0 \[label="grad \[10, 784\] norm [0-9.]+"\];', text)
    assert text.count("[label=\"grad ") == 4  # weight, bias, logits, log-probabilities


def test_the_cnn_graph_shows_the_patch_matrix_conv2_keeps(tmp_path):
    """Everything an op keeps goes through save_for_backward, so the graph can show it: conv2's
    patches, [64·8·8, 5·5·32] for a batch of 64, are the largest thing a CNN step keeps."""
    data = write_dataset(tmp_path / "data", n_train=64, n_test=10)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--model", "cnn", "--graph", str(path), "--quiet"]) == 0
    nodes, _ = parse(path.read_text())
    convs = [label for shape, label in nodes.values() if shape == "ellipse" and label[0] == "Conv2d"]
    assert [c[1] for c in convs] == ["saved [64, 1, 28, 28] float32 (196.0 KiB), [32, 1, 5, 5] float32 (3.1 KiB)",
                                     "saved [4096, 800] float32 (12.5 MiB), [64, 32, 5, 5] float32 (200.0 KiB)"]


def test_show_draws_svg_with_graphviz_and_text_without(monkeypatch):
    import shutil
    from tinygrad_mnist.trace import BackwardTrace
    from tinygrad_mnist.viz import show
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w.name = "w"
    loss = nll(Tensor(np.ones((4, 2), np.float32)).matmul(w).log_softmax(), [0, 1, 2, 0])
    record = BackwardTrace()
    loss.backward(trace=record)
    assert repr(show(loss, record)).splitlines() == [  # without Graphviz, the text shows what the SVG shows
        "[1] t5 [] = NLL(t3, t4)", "    saved [4, 3] float32 (48 B), [4] int64 (32 B); sent t3 [4, 3] norm 0.5",
        "[2] t3 [4, 3] = LogSoftmax(t2)", "    saved [4, 3] float32 (48 B); sent t2 [4, 3] norm 0.4082",
        "[3] t2 [4, 3] = MatMul(t0, w)", "    saved [4, 2] float32 (32 B), [2, 3] float32 (24 B); sent w [2, 3] norm 0.2887",
        "w [2, 3]: .grad norm 0.2887"]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert show(loss)._repr_svg_() is None  # the notebook then shows the text
    assert "requires grad" in w._repr_html_() and ".grad" in w._repr_html_()
