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


def test_show_is_the_page_inline_and_text_says_what_it_shows():
    from tinygrad_mnist.trace import BackwardTrace
    from tinygrad_mnist.viz import show
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w.name = "w"
    loss = nll(Tensor(np.ones((4, 2), np.float32)).matmul(w).log_softmax(), [0, 1, 2, 0])
    record = BackwardTrace()
    loss.backward(trace=record)
    assert repr(show(loss, record)).splitlines() == [  # the text shows what the page shows
        "[1] t5 [] = NLL(t3, t4)", "    saved [4, 3] float32 (48 B), [4] int64 (32 B); sent t3 [4, 3] norm 0.5",
        "[2] t3 [4, 3] = LogSoftmax(t2)", "    saved [4, 3] float32 (48 B); sent t2 [4, 3] norm 0.4082",
        "[3] t2 [4, 3] = MatMul(t0, w)", "    saved [4, 2] float32 (32 B), [2, 3] float32 (24 B); sent w [2, 3] norm 0.2887",
        "w [2, 3]: .grad norm 0.2887"]
    inline = show(loss, record)._repr_html_()  # no Graphviz needed: the page, in an iframe
    assert inline.startswith("<iframe srcdoc=") and "&lt;svg" in inline and "sandbox=\"allow-scripts\"" in inline
    assert "requires grad" in w._repr_html_() and ".grad" in w._repr_html_()


def test_the_graph_as_data_names_nodes_as_the_trace_does():
    from tinygrad_mnist.trace import BackwardTrace
    from tinygrad_mnist.viz import graph_data
    x = Tensor(np.ones((3, 2), np.float32))
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    w.name, b.name = "w", "b"
    loss = (x @ w + b).sum()
    record = BackwardTrace()
    loss.backward(trace=record)
    graph = graph_data(loss, record)
    tensors = {n["key"]: n for n in graph["nodes"] if n["kind"] == "tensor"}
    ops = [n for n in graph["nodes"] if n["kind"] == "op"]
    assert [n["op"] for n in ops] == ["MatMul", "Add", "Sum"] and ops[0]["derivative"].startswith("a @ b:")
    assert {n["name"] for n in tensors.values()} == {"t0", "w", "t2", "b", "t4", "t5"}
    visited = {r["key"]: r["node"] for r in record.records if "key" in r}
    assert all(tensors[k]["name"] == name for k, name in visited.items())  # one naming for both
    bias_edge = next(e for e in graph["edges"] if tensors.get(e["from"], {}).get("name") == "b")
    assert bias_edge["grad"]["shape"] == [3] and ops[1]["saved"] == "saved nothing"


