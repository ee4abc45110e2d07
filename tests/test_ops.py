"""Every op's gradient against central differences in float64, on both kernel sets."""
import numpy as np
import pytest

from tinygrad_mnist import GradcheckError, Tensor, cross_entropy, gradcheck, nll
from tinygrad_mnist import kernels
from tinygrad_mnist.autograd import Function, no_grad


def leaf(rng, *shape, lo=-1.0, hi=1.0):
    return Tensor(rng.uniform(lo, hi, shape), requires_grad=True)


TARGETS = np.array([2, 0, 1, 2, 3])

# name -> (function of the inputs, input factory)
CASES = {
    "add": (lambda a, b: a + b, lambda r: [leaf(r, 3, 4), leaf(r, 4)]),
    "radd_scalar": (lambda a: 2.5 + a, lambda r: [leaf(r, 3)]),
    "sub": (lambda a, b: a - b, lambda r: [leaf(r, 3, 1), leaf(r, 1, 4)]),
    "rsub_scalar": (lambda a: 2 - a, lambda r: [leaf(r, 3)]),
    "mul": (lambda a, b: a * b, lambda r: [leaf(r, 2, 3), leaf(r, 2, 3)]),
    "div": (lambda a, b: a / b, lambda r: [leaf(r, 2, 3), leaf(r, 3, lo=0.5, hi=2)]),
    "rdiv_scalar": (lambda a: 1 / a, lambda r: [leaf(r, 4, lo=0.5, hi=2)]),
    "neg": (lambda a: -a, lambda r: [leaf(r, 3)]),
    "pow": (lambda a: a ** 3, lambda r: [leaf(r, 3)]),
    "pow_fractional": (lambda a: a ** 0.5, lambda r: [leaf(r, 3, lo=0.5, hi=2)]),
    "exp": (lambda a: a.exp(), lambda r: [leaf(r, 2, 3)]),
    "log": (lambda a: a.log(), lambda r: [leaf(r, 2, 3, lo=0.5, hi=2)]),
    "relu": (lambda a: a.relu(), lambda r: [leaf(r, 4, 5)]),
    "astype": (lambda a: a.astype(np.float64) * a.astype("float64"), lambda r: [leaf(r, 3)]),
    "sum_all": (lambda a: a.sum(), lambda r: [leaf(r, 2, 3)]),
    "sum_axis": (lambda a: a.sum(axis=1), lambda r: [leaf(r, 2, 3, 4)]),
    "sum_keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True), lambda r: [leaf(r, 2, 3, 4)]),
    "mean": (lambda a: a.mean(), lambda r: [leaf(r, 2, 3)]),
    "mean_axis": (lambda a: a.mean(axis=0), lambda r: [leaf(r, 4, 3)]),
    "max_all": (lambda a: a.max(), lambda r: [leaf(r, 3, 4)]),
    "amax_axis": (lambda a: a.amax(axis=1), lambda r: [leaf(r, 3, 4)]),
    "amax_keepdims": (lambda a: a.amax(axis=0, keepdims=True), lambda r: [leaf(r, 3, 4)]),
    "max_axis_values": (lambda a: a.max(axis=1).values, lambda r: [leaf(r, 3, 4)]),
    "reshape": (lambda a: a.reshape(3, 4) * a.reshape(3, 4), lambda r: [leaf(r, 2, 6)]),
    "flatten": (lambda a: a.flatten(1), lambda r: [leaf(r, 2, 3, 2)]),
    "transpose": (lambda a: a.T, lambda r: [leaf(r, 2, 3)]),
    "transpose_swap": (lambda a: a.transpose(0, 2), lambda r: [leaf(r, 2, 3, 4)]),
    "transpose_perm": (lambda a: a.transpose(1, 2, 0), lambda r: [leaf(r, 2, 3, 4)]),
    "slice": (lambda a: a[1:3, ::2], lambda r: [leaf(r, 4, 5)]),
    "narrow": (lambda a: a.narrow(0, 1, 2), lambda r: [leaf(r, 4, 3)]),
    "int_index": (lambda a: a[1], lambda r: [leaf(r, 4, 3)]),
    "array_index_repeats": (lambda a: a[np.array([0, 2, 2, 1, 0])], lambda r: [leaf(r, 3, 4)]),
    "array_index_pairs": (lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])], lambda r: [leaf(r, 3, 4)]),
    "matmul": (lambda a, b: a @ b, lambda r: [leaf(r, 5, 4), leaf(r, 4, 3)]),
    "matmul_transposed": (lambda a, b: a @ b.T, lambda r: [leaf(r, 5, 4), leaf(r, 3, 4)]),
    "matmul_tn": (lambda a, b: a.T @ b, lambda r: [leaf(r, 4, 5), leaf(r, 4, 3)]),
    "matmul_batched": (lambda a, b: a @ b, lambda r: [leaf(r, 2, 3, 4), leaf(r, 4, 2)]),
    "matmul_batched_broadcast": (lambda a, b: a @ b, lambda r: [leaf(r, 2, 1, 3, 4), leaf(r, 3, 4, 2)]),
    "linear": (lambda x, w, b: x.linear(w, b), lambda r: [leaf(r, 5, 4), leaf(r, 3, 4), leaf(r, 3)]),
    "linear_nobias_scaled": (lambda x, w: x.linear(w, scale=1 / 255), lambda r: [leaf(r, 5, 4), leaf(r, 3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(), lambda r: [leaf(r, 4, 5, lo=-3, hi=3)]),
    "log_softmax_axis0": (lambda a: a.log_softmax(axis=0), lambda r: [leaf(r, 4, 5, lo=-3, hi=3)]),
    "log_softmax_3d": (lambda a: a.log_softmax(axis=1), lambda r: [leaf(r, 2, 3, 4, lo=-3, hi=3)]),
    "nll": (lambda a: nll(a, TARGETS), lambda r: [leaf(r, 5, 4)]),
    "log_softmax_nll": (lambda a: nll(a.log_softmax(), TARGETS), lambda r: [leaf(r, 5, 4, lo=-3, hi=3)]),
    "conv2d": (lambda x, w, b: x.conv2d(w, b), lambda r: [leaf(r, 2, 3, 5, 4), leaf(r, 4, 3, 3, 2), leaf(r, 4)]),
    "conv2d_stride_padding": (lambda x, w: x.conv2d(w, stride=2, padding=1),
                              lambda r: [leaf(r, 2, 2, 5, 5), leaf(r, 3, 2, 3, 3)]),
    "max_pool2d": (lambda x: x.max_pool2d(2), lambda r: [leaf(r, 2, 3, 4, 6)]),
    "max_pool2d_overlapping": (lambda x: x.max_pool2d(3, stride=1), lambda r: [leaf(r, 1, 2, 5, 5)]),
    "cross_entropy": (lambda a: cross_entropy(a, TARGETS), lambda r: [leaf(r, 5, 4, lo=-3, hi=3)]),
    "linear_scaled_cross_entropy": (lambda x, w, b: cross_entropy(x.linear(w, b, scale=0.5), TARGETS),
                                    lambda r: [leaf(r, 5, 6, lo=-2, hi=2), leaf(r, 4, 6), leaf(r, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, backend, rng):
    fn, make = CASES[name]
    assert gradcheck(fn, make(rng))


def test_gradcheck_names_the_worst_mismatch(rng):
    class WrongSquare(Function):
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
