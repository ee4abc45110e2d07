"""The silent differences from PyTorch that ports of PyTorch and tinygrad code ran into, one test
each (the numbers are the issue's), on both kernel sets where kernels are involved."""
import threading

import numpy as np
import pytest

from tinygrad_mnist import Tensor, is_grad_enabled, kernels, no_grad
from tinygrad_mnist.nn import Conv2d, Conv2dConfig, Dropout, Linear, Module, SGD


def test_ne_is_elementwise_and_bool_is_the_value(backend):
    """1. `t != 0` was the Python bool False (Python inverted __eq__), so a mask zeroed every gradient."""
    t = Tensor([0.0, 2.0, -3.0], requires_grad=True)
    mask = t != 0
    assert mask.dtype == np.bool_ and mask.tolist() == [False, True, True]
    (t * mask).sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 1.0, 1.0])
    assert bool(Tensor([0.0])) is False and bool(Tensor([[3]])) is True
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_transpose_with_negative_axes_routes_the_gradient_back(backend, rng):
    """2. The backward pass inverted (-2, -1, 1, 0) without normalising it: the gradient came back
    as (5, 6, 3, 4) for a (3, 4, 5, 6) input."""
    x = Tensor(rng.standard_normal((3, 4, 5, 6)), requires_grad=True)
    y = x.transpose((-2, -1, 1, 0))
    assert y.shape == (5, 6, 4, 3)
    w = rng.standard_normal(y.shape)
    (y * Tensor(w)).sum().backward()
    assert x.grad.shape == (3, 4, 5, 6)
    np.testing.assert_array_equal(x.grad, w.transpose(np.argsort((2, 3, 1, 0))))
    c = Tensor(rng.standard_normal((3, 3, 3)), requires_grad=True)  # on a cube the shape fit, values did not
    (c.transpose((-1, 0, -2)) * Tensor(w[:3, :3, :3, 0])).sum().backward()
    np.testing.assert_array_equal(c.grad, w[:3, :3, :3, 0].transpose(np.argsort((2, 0, 1))))


def test_transpose_of_one_pair_is_a_permutation():
    """6b. transpose((0, 2)) on a 3-d tensor swapped two axes; it is a permutation and must raise."""
    with pytest.raises(ValueError, match="not a permutation"):
        Tensor(np.zeros((2, 3, 4))).transpose((0, 2))
    assert Tensor(np.zeros((2, 3, 4))).transpose(0, 2).shape == (4, 3, 2)


def test_power_zero_has_gradient_zero_at_zero(backend):
    """3. (x ** 0) at x = 0 gave NaN (0 · x ** -1)."""
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_zero_d_tensors_reduce_and_normalise(backend):
    """4. sum(0) of a 0-d tensor crashed in backward; log_softmax(0) raised AxisError."""
    x = Tensor(np.float32(1.5), requires_grad=True)
    y = x.sum(0)
    assert y.shape == () and y.item() == 1.5
    y.backward()
    assert x.grad == 1.0
    z = Tensor(np.float32(1.5), requires_grad=True)
    out = z.log_softmax(0)
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert z.grad == 0.0
    with pytest.raises(IndexError, match="dimension 1 is out of range"):
        x.sum(1)


def test_python_floats_and_real_ops_make_float32():
    """5. Tensor(1) + 0.5 and Tensor(2).exp() were float64; uint8 / 255 was float64."""
    assert (Tensor(1) + 0.5).dtype == np.float32 and (Tensor(1) + 0.5).item() == 1.5
    assert Tensor(2).exp().dtype == np.float32
    pixels = Tensor(np.array([0, 255], np.uint8))
    assert (pixels / 255).dtype == np.float32 and (pixels / 255.0).dtype == np.float32
    assert (Tensor(np.arange(3)) * Tensor(np.ones(3, np.float32))).dtype == np.float32  # int meets float32
    assert (Tensor(np.arange(3)) + 1).dtype == np.int64
    assert Tensor(np.arange(4)).mean().dtype == np.float32


def test_integers_beside_array_indices_index_first(backend, rng):
    """6. t[0, :, idx] followed numpy's rule (the index's axis first); PyTorch applies the 0 first."""
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    idx = np.array([3, 0, 3])
    y = x[0, :, idx]
    assert y.shape == (3, 3)
    np.testing.assert_array_equal(y.numpy(), x.numpy()[0][:, idx])
    y.sum().backward()
    expect = np.zeros((2, 3, 4))
    np.add.at(expect[0], (slice(None), idx), 1.0)
    np.testing.assert_array_equal(x.grad, expect)


def test_in_place_update_of_a_leaf_is_refused_outside_no_grad():
    """7. W -= lr * W.grad rebound W to a new tensor and training stopped learning."""
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match="in-place operation on a leaf that requires grad"):
        w -= 0.1 * w.grad
    with no_grad():
        same = w
        w -= 0.5 * Tensor(w.grad)
    assert w is same and w.requires_grad and w._ctx is None
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0, 0.0])
    plain = Tensor(np.ones(2, np.float32))
    plain *= 3.0
    np.testing.assert_array_equal(plain.numpy(), [3.0, 3.0])


def test_grad_mode_and_kernel_set_are_per_thread():
    """8. no_grad and the kernel set were process-wide while the trainer runs a loader thread."""
    seen = {}
    inside, release = threading.Event(), threading.Event()
    main_set = kernels.impl  # this thread's set, whichever TINYGRAD_MNIST_KERNELS chose

    def loader():
        with no_grad(), kernels.use("numpy"):
            inside.set()
            release.wait(10)
            seen["loader"] = (is_grad_enabled(), kernels.impl.__name__)

    t = threading.Thread(target=loader)
    t.start()
    inside.wait(10)
    w = Tensor(np.ones(2), requires_grad=True)
    y = w * 2  # recorded here while the loader is inside no_grad
    seen["main"] = (is_grad_enabled(), kernels.impl.__name__, y.requires_grad)
    release.set()
    t.join()
    assert seen["loader"] == (False, "tinygrad_mnist.kernels.numpy_kernels")
    assert seen["main"][0] is True and seen["main"][2] is True
    assert seen["main"][1] == main_set.__name__  # the loader's switch did not reach this thread
    with kernels.use("numpy" if main_set.__name__.endswith("numba_kernels") else "numba"):
        t = threading.Thread(target=lambda: seen.update(other=kernels.impl))
        t.start()
        t.join()
    assert seen["other"] is main_set  # a new thread starts on the set chosen at import


def test_every_layer_follows_one_module_protocol(rng):
    """9. Module.loss raised TypeError on the library's own Linear and Conv2d (forward had no `train`)."""
    lin = Linear(Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True),
                 Tensor(np.zeros(3, np.float32), requires_grad=True))
    loss = lin.loss(Tensor(rng.standard_normal((5, 4)).astype(np.float32)), [0, 1, 2, 0, 1])
    loss.backward()
    assert lin.weight.grad is not None
    conv = Conv2d(Tensor(rng.standard_normal((3, 1, 2, 2)).astype(np.float32), requires_grad=True), None,
                  Conv2dConfig())
    out = conv.loss(Tensor(rng.standard_normal((2, 1, 2, 2)).astype(np.float32)), [[[0]], [[2]]])  # [N, C, 1, 1]
    assert out.shape == ()
    for layer in (lin, conv, Dropout(0.5)):
        assert layer.training is True and layer.eval() is layer and layer.training is False  # PyTorch's start
        assert layer.train().training is True

    class Net(Module):
        def __init__(self):
            self.body, self.drop = lin, Dropout(0.9)

        def forward(self, x):
            return self.drop(self.body(x))

    net = Net().eval()
    assert [n for n, _ in net.named_parameters()] == ["body.weight", "body.bias"]
    assert net.parameters()[0] is lin.weight
    x = Tensor(np.ones((4, 4), np.float32))
    np.testing.assert_array_equal(net(x).numpy(), lin(x).numpy())       # evaluation: dropout is off
    assert (net.train()(x).numpy() == 0).any() and net.drop.training     # train() reaches inside
    np.testing.assert_array_equal(net.forward_t(x, False).numpy(), lin(x).numpy())  # that call in eval mode,
    assert net.training and net.drop.training                                     # and the mode restored
    SGD(net.parameters(), 0.1)


def test_max_and_min_along_a_dim_return_values_and_indices(backend):
    """`out.max(1)[1]` returned one scalar; PyTorch returns (values, indices)."""
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 0.0, -1.0]], requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(dim=1).indices.tolist() == [0, 2]
    values.sum().backward()  # the gradient goes to the index returned (the first maximum)
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    assert x.max().item() == 7.0 and x.max(axis=1).values.tolist() == [5.0, 7.0]  # axis= means dim=


def test_constructors_speak_pytorch():
    from tinygrad_mnist.nn import init
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.zeros((2, 3)).dtype == np.float32
    assert Tensor.ones(2, dtype=np.float64).tolist() == [1.0, 1.0]
    assert Tensor.full((2,), 7).dtype == np.int64 and Tensor.full((2,), 0.5).dtype == np.float32
    assert Tensor.arange(3).tolist() == [0, 1, 2] and Tensor.arange(3).dtype == np.int64
    assert Tensor.arange(0, 1, 0.25).dtype == np.float32 and len(Tensor.arange(0, 1, 0.25)) == 4
    np.testing.assert_array_equal(Tensor.eye(2).numpy(), np.eye(2))
    init.seed(3)
    a = Tensor.randn(4, requires_grad=True)
    init.seed(3)
    assert a.requires_grad and Tensor.randn(4).tolist() == a.tolist()  # the engine's generator
    r = Tensor.rand(1000)
    assert 0 <= r.numpy().min() and r.numpy().max() < 1
    like = Tensor(np.zeros((2, 2), np.float64))
    for made in (Tensor.zeros_like(like), Tensor.ones_like(like), Tensor.full_like(like, 2.0),
                 Tensor.randn_like(like), Tensor.rand_like(like)):
        assert made.shape == (2, 2) and made.dtype == np.float64
    with pytest.raises(ValueError, match="clamp: give min, max or both"):
        like.clamp()
