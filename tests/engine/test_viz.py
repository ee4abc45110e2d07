"""DOT export: parse the text and check its nodes and edges for known graphs."""
import numpy as np

from dotgraph import op_named, parse
from tinygrad_mnist import Tensor, nll
from tinygrad_mnist.viz import to_dot


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
