"""The classic autodiff traps, and the rules of backward()."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, gradcheck, no_grad


def leaf(x):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


def test_node_used_twice():
    a = leaf(3.0)
    b = a + a
    c = b * b          # c = 4a², dc/da = 8a
    c.backward()
    assert a.grad == pytest.approx(24.0)


def test_diamond():
    a = leaf(2.0)
    b = a * 3.0
    c = a.exp()
    d = b * c          # d = 3a·e^a, dd/da = 3e^a(1 + a)
    d.backward()
    assert a.grad == pytest.approx(3 * np.exp(2.0) * 3)


def test_leaf_used_by_many_ops_sums_all_paths():
    x = leaf([1.0, 2.0])
    y = (x * x).sum() + (x * 5.0).sum() + x.sum()  # dy/dx = 2x + 6
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0, 10.0])


def test_chain_of_10000_ops_needs_no_recursion():
    a = leaf(1.0)
    y = a
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert a.grad == pytest.approx(1.0001 ** 10_000)


def test_backward_twice_needs_retain_graph_and_then_accumulates():
    """PyTorch's rule: backward frees what the ops saved; a second pass through the graph raises
    a RuntimeError naming retain_graph, and with it the gradients add up."""
    a = leaf([1.0, -2.0])
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(a.grad, 2 * 2 * np.array([1.0, -2.0]))
    with pytest.raises(RuntimeError, match=r"a second time.*\(Mul here\).*retain_graph=True"):
        y.backward()
    z = a + a  # an op that saved nothing can be walked again, as in PyTorch
    z.sum().backward()
    z.sum().backward()


def test_intermediate_gradients_are_not_kept():
    a = leaf([1.0, 2.0])
    b = a * 2.0
    b.sum().backward()
    assert b.grad is None and a.grad is not None


def test_leaf_gradients_are_independent_arrays():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward()  # Add hands the same array to both parents
    a.grad += 100
    assert b.grad[0] == 1.0


def test_no_grad_records_nothing():
    a = leaf([1.0, 2.0])
    with no_grad():
        b = (a * a).sum()
    assert not b.requires_grad and b._ctx is None
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        b.backward()
    c = (a * a).sum()  # recording resumes after the block
    assert c.requires_grad


def test_backward_needs_a_scalar_or_a_gradient():
    a = leaf([1.0, 2.0])
    y = a * 2.0
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(a.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match="gradient of shape"):
        y.backward(np.ones(3))


def test_constants_get_no_gradient():
    a = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (a * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(a.grad, [3.0, 4.0])


def test_detach_cuts_the_graph():
    a = leaf([1.0, 2.0])
    d = (a * 2.0).detach()
    assert not d.requires_grad and d._ctx is None
    np.testing.assert_allclose(d.numpy(), [2.0, 4.0])


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3), st.integers(0, 2**16))
def test_broadcasting_gradients_in_both_operands(shapes, seed):
    """Size-1 and missing dimensions on either side: gradients have each operand's
    shape and match central differences, for every binary op."""
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(seed)
    for op in (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b):
        a, b = leaf(rng.uniform(0.5, 2.0, shape_a)), leaf(rng.uniform(0.5, 2.0, shape_b))
        assert op(a, b).shape == shapes.result_shape
        assert gradcheck(op, [a, b])
        op(a, b).sum().backward()
        assert a.grad.shape == shape_a and b.grad.shape == shape_b


def test_shape_errors_are_clear():
    a, b = Tensor(np.zeros((2, 3))), Tensor(np.zeros((4,)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\)|at least 2 dimensions"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not match \(3 != 4\)"):
        a @ Tensor(np.zeros((4, 5)))


def test_a_leaf_keeps_its_gradient_without_sharing_it():
    """A leaf's .grad is kept without a copy when the pass alone holds it, and copied when it is
    shared: the two inputs of an Add, a caller's seed, a node that retains its gradient."""
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    ((a + b) * 3.0).backward(np.ones(3))  # Mul's fresh gradient, then Add sends it to both
    a.grad.array[0] = 7.0
    assert b.grad.numpy().tolist() == [3.0, 3.0, 3.0]
    seed = np.full(3, 2.0)
    a.grad = None
    a.backward(seed)
    a.grad.array[1] = 9.0
    assert seed.tolist() == [2.0, 2.0, 2.0]
    a.grad, z = None, a * 3.0
    z.retain_grad()
    w = z + a
    w.backward(np.ones(3))
    z.grad.array[0] = -1.0
    assert a.grad.numpy().tolist() == [4.0, 4.0, 4.0] and z.grad.numpy().tolist() == [-1.0, 1.0, 1.0]


def test_a_gradient_the_pass_owns_is_kept_not_copied(monkeypatch):
    from tinygrad_mnist import kernels
    made, real = [], kernels.impl.matmul
    monkeypatch.setattr(kernels.impl, "matmul", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    Tensor(np.ones((4, 2))).linear(w).sum().backward()
    assert any(w.grad.array is m for m in made)  # dW as the product made it
