"""The backward trace: what it prints, and that it changes nothing."""
import io

import numpy as np

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
            assert len(how.events) == 7 and sorted(how.order.values()) == list(range(1, 8))
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
