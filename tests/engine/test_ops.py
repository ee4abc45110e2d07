"""What gradcheck says when a gradient is wrong, and the ops' rules that no table case shows: unwanted
gradients skipped, the losses' errors, a cast's gradient dtype. Every op's gradient is checked
against central differences and PyTorch from the one op table, `op_cases.py`
(`test_torch_parity.py`, `test_higher_order.py`)."""
import numpy as np
import pytest

from tinygrad_mnist import GradcheckError, Tensor, cross_entropy, gradcheck, nll
from tinygrad_mnist.autograd import Op


def leaf(rng, *shape, lo=-1.0, hi=1.0):
    return Tensor(rng.uniform(lo, hi, shape), requires_grad=True)


def test_gradcheck_names_the_worst_mismatch(rng):
    class WrongSquare(Op):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x + (np.arange(x.size).reshape(x.shape) == 4)  # wrong at index 4 only

    x = leaf(rng, 6)
    with pytest.raises(GradcheckError, match=r"input 0 at index \(4,\): analytic gradient .*numerical"):
        gradcheck(WrongSquare.apply, [x])
    assert x.grad is None  # gradcheck leaves the inputs as it found them


def test_gradcheck_wants_float64(rng):
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda a: a * 2, [Tensor(np.ones(3, np.float32), requires_grad=True)])


def test_needs_input_grad_skips_unwanted_products(backend, rng):
    """A constant input gets no gradient and the op computes none for it."""
    x = Tensor(rng.uniform(size=(5, 4)))
    w = leaf(rng, 3, 4)
    y = x.linear(w)
    assert y._ctx.needs_input_grad == (False, True)
    y.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.ones((5, 3)).T @ x.numpy())


def test_nll_value_and_errors(backend):
    lp = Tensor(np.log(np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)))
    assert nll(lp, [1, 0]).item() == pytest.approx(-(np.log(0.75) + np.log(0.5)) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="nll: 3 targets for a batch of 2"):
        nll(lp, [1, 0, 1])
    with pytest.raises(ValueError, match="nll: target 2 is out of range for 2 classes"):
        nll(lp, [1, 2])
    with pytest.raises(ValueError, match="nll: target -1 is out of range"):
        nll(lp, [-1, 0])
    with pytest.raises(ValueError, match="integer class ids"):
        nll(lp, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"nll: one sample of 2 classes takes one target, got \(2,\)"):
        nll(Tensor(np.zeros(2, np.float32)), [0, 1])
    with pytest.raises(ValueError, match="nll: expected scores with a class dimension"):
        nll(Tensor(np.float32(0)), 0)
    with pytest.raises(ValueError, match="nll: 1 targets for a batch of 2"):
        cross_entropy(lp, [1])


def test_cross_entropy_equals_log_softmax_then_nll(backend, rng):
    logits = rng.normal(size=(50, 10)).astype(np.float32)
    t = rng.integers(0, 10, 50)
    a, b = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    la, lb = cross_entropy(a, t), nll(b.log_softmax(), t)
    assert la.item() == pytest.approx(lb.item(), rel=1e-6)
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad, b.grad, atol=1e-7)


def test_cross_entropy_is_log_softmax_then_nll_in_the_graph(backend, rng):
    """No fused op: the loss's graph is the seed's chain, and backward walks both ops."""
    x = Tensor(rng.normal(size=(6, 4)).astype(np.float32), requires_grad=True)
    loss = cross_entropy(x, rng.integers(0, 4, 6))
    assert loss._ctx.fn.__name__ == "NLL"
    assert loss._ctx.parents[0]._ctx.fn.__name__ == "LogSoftmax"
    with pytest.raises(ValueError, match="nll: target 3 is out of range for 3 classes"):
        cross_entropy(Tensor(np.zeros((2, 3), np.float32)), [0, 3])


def test_astype_gradient_returns_in_the_input_dtype():
    a = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = a.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, [2.0, 4.0])
