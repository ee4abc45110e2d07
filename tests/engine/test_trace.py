"""The backward trace: what it prints, and that it changes nothing."""
import io

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.trace import BackwardTrace, trace


def test_a_tensor_used_twice_shows_the_sum():
    a = Tensor(3.0, requires_grad=True)
    a.name = "a"
    b = a + a
    c = b * b
    out = io.StringIO()
    c.backward(trace=out)
    assert out.getvalue().splitlines() == [
        "backward from t2 (Mul), seeded with dt2/dt2 = 1",
        "[1] t2 = Mul []: received 1",
        "      -> t1: 6",
        "      -> t1: 6  (added to the gradient from its other use)",
        "[2] t1 = Add []: received 12",
        "      -> a: 12",
        "      -> a: 12  (added to the gradient from its other use)",
        "[3] a leaf []: .grad += 24",
    ]
    assert a.grad == 24.0


def test_tracing_changes_no_gradient_and_records_every_edge(rng):
    x = rng.standard_normal((4, 3))
    grads = []
    for how in (None, BackwardTrace()):
        w = Tensor(x.copy(), requires_grad=True)
        v = Tensor(np.ones(3), requires_grad=True)
        ((w * v).exp().sum(axis=0) * v).sum().backward(trace=how)
        grads.append((w.grad, v.grad))
        if how is not None:
            assert sum(r["kind"] == "sent" for r in how.records) == 7 and sorted(how.order.values()) == list(range(1, 8))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_trace_block_traces_every_backward_in_it(capsys):
    out = io.StringIO()
    with trace(out):
        w = Tensor(np.ones((2, 2)), requires_grad=True)
        (w + Tensor(np.ones(2))).sum().backward()
        (w * 3).sum().backward()
    text = out.getvalue()
    assert "un-broadcast" not in text and "[2, 2]" in text and ".grad += [2, 2]" in text
    assert text.count("backward from") == 2  # every backward() in the block
    (w * 2).sum().backward()  # outside the block: nothing more in the block's stream, nothing on stdout
    assert out.getvalue() == text and capsys.readouterr().out == ""


def test_the_printed_trace_is_made_from_the_records(rng):
    """One source: what a stream receives is `text()` of the records, line for line; the records
    hold the numbers (norm, min, max, small gradients whole) and the un-broadcast's axes."""
    w = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    w.name, b.name = "w", "b"
    out, record = io.StringIO(), BackwardTrace()
    record.stream = out
    ((w + b) * w).sum().backward(trace=record)
    assert out.getvalue() == record.text()
    kinds = [r["kind"] for r in record.records]
    assert kinds[0] == "start" and kinds.count("visit") == 3 and kinds.count("leaf") == 2
    (undone,) = [r for r in record.records if r["kind"] == "sent" and r["unbroadcast"]]
    assert undone["input"] == "b" and undone["unbroadcast"] == {"from": [2, 3], "to": [3], "axes": [0]}
    (leaf,) = [r for r in record.records if r["kind"] == "leaf" and r["node"] == "b"]
    np.testing.assert_allclose(leaf["total"]["values"], b.grad.numpy())
    assert leaf["total"]["norm"] == pytest.approx(float(np.linalg.norm(b.grad.numpy())))
    sent = [r for r in record.records if r["kind"] == "sent" and r["input"] == "w"]
    assert len(sent) == 2 and sent[1]["adds"] and not sent[0]["adds"]  # w used twice: the second adds
