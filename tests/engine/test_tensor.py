"""The Tensor API: construction, dtypes, introspection, indexing, errors."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, kernels, no_grad


def test_construction_and_dtypes():
    assert Tensor(1.5).dtype == np.float32          # Python floats become float32
    assert Tensor([[1.0, 2.0]]).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"          # class labels stay integer
    assert Tensor(np.zeros(3, np.uint8)).dtype == np.uint8
    assert Tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert Tensor(np.float64(2.0)).dtype == np.float64
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.numel(), t.size(), t.size(-1), len(t)) == ((2, 3), 2, 6, (2, 3), 3, 2)
    assert isinstance(t.numpy(), np.ndarray)
    assert Tensor(3.0).item() == 3.0


def test_scalars_keep_the_tensor_dtype():
    t = Tensor(np.ones(2, np.float32))
    for y in (t * 2.0, 2.0 - t, 1 / t, t + 1, t ** 2, np.float32(2) * t, -t):
        assert y.dtype == np.float32
    assert (Tensor(np.ones(2, np.uint8)) * 0.5).dtype == np.float32


def test_only_floats_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


def test_item_and_len_errors():
    with pytest.raises(ValueError, match=r"one-element tensor, got shape \(2,\)"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))


def test_repr_shows_values_dtype_and_op():
    a = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(a) == "Tensor([1., 2.], dtype=float32, requires_grad=True)"
    assert repr(a * 2.0) == "Tensor([2., 4.], dtype=float32, grad_fn=Mul)"
    assert repr(Tensor([3])).endswith("dtype=int64)")


def test_eq_and_argmax_have_no_gradient():
    a = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]], requires_grad=True)
    pred = a.argmax(axis=1)
    np.testing.assert_array_equal(pred.numpy(), [1, 0])
    hits = pred == Tensor([1, 2])
    assert hits.dtype == np.bool_ and not hits.requires_grad
    np.testing.assert_array_equal(hits.numpy(), [True, False])
    assert (pred == 1).numpy().tolist() == [True, False]


def test_minibatch_slicing():
    x = Tensor(np.arange(20.0).reshape(10, 2), requires_grad=True)
    b = x.narrow(0, 4, 3)
    np.testing.assert_array_equal(b.numpy(), np.arange(8.0, 14.0).reshape(3, 2))
    np.testing.assert_array_equal(x[4:7].numpy(), b.numpy())
    idx = Tensor(np.array([9, 0, 9]))
    np.testing.assert_array_equal(x[idx].numpy()[:, 0], [18.0, 0.0, 18.0])
    x[idx].sum().backward()
    assert x.grad[9].tolist() == [2.0, 2.0] and x.grad[0].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="narrow: start 8 \\+ length 3 is out of range for dimension 0 of size 10"):
        x.narrow(0, 8, 3)


def test_shape_methods():
    t = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert t.flatten().shape == (24,)
    assert t.flatten(1).shape == (2, 12)
    assert t.reshape(4, 6).shape == t.reshape((4, 6)).shape == (4, 6)
    assert t.transpose().shape == (4, 3, 2)
    assert t.transpose(0, 2).shape == (4, 3, 2)
    assert t.transpose(1, 0, 2).shape == (3, 2, 4)
    m = Tensor(np.arange(6.0).reshape(2, 3))
    assert m.T.shape == m.transpose(0, 1).shape == (3, 2)


def test_pow_takes_a_tensor_exponent_and_a_number_base():
    x = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_allclose((x ** Tensor([2.0, 0.5, 1.0])).numpy(), [1.0, np.sqrt(2), 3.0], rtol=1e-6)
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 4.0, 8.0])
    assert (2 ** x).dtype == np.float32


def test_linear_errors_name_the_shapes():
    x, w = Tensor(np.zeros((2, 3), np.float32)), Tensor(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"linear: input \(2, 3\) does not fit weight \(4, 5\)"):
        x.linear(w)
    with pytest.raises(ValueError, match=r"linear: bias \(5,\) does not fit weight \(4, 3\)"):
        x.linear(Tensor(np.zeros((4, 3), np.float32)), Tensor(np.zeros(5, np.float32)))


def test_uint8_pixels_through_linear_with_scale(backend):
    """An explicit input scale of 1/255 gives the float result without a float copy of x."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    w = Tensor(rng.standard_normal((10, 784)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(10, np.float32), requires_grad=True)
    y = Tensor(x).linear(w, b, scale=1 / 255)
    expect = (x / 255).astype(np.float32) @ w.numpy().T
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), expect, rtol=1e-4, atol=1e-4)
    y.sum().backward()
    np.testing.assert_allclose(w.grad, np.ones((50, 10), np.float32).T @ (x / 255), rtol=1e-4)
    np.testing.assert_allclose(b.grad, np.full(10, 50.0))


def test_uint8_times_weights_multiplies_pixel_values_as_numpy_does(backend):
    """No hidden rescaling: `uint8 @ W`, `linear` and the layer without a scale all agree with numpy."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (30, 784), dtype=np.uint8)
    w = rng.standard_normal((784, 10)).astype(np.float32)
    want = x.astype(np.float64) @ w
    tol = 1e-6 * (x.astype(np.float64) @ np.abs(w)).max()  # float32 rounding of sums this large
    np.testing.assert_allclose((Tensor(x) @ Tensor(w)).numpy(), want, atol=tol)
    np.testing.assert_allclose(Tensor(x).linear(Tensor(np.ascontiguousarray(w.T))).numpy(), want, atol=tol)


def test_both_kernel_sets_return_arrays_of_the_same_kind(rng):
    """Indexing, convolution and pooling give arrays of the same writeability and layout on both sets."""
    images = Tensor(rng.integers(0, 256, (40, 784), dtype=np.uint8))
    w = Tensor(rng.standard_normal((4, 1, 5, 5)).astype(np.float32))
    seen = {}
    for name in kernels.BACKENDS:
        with kernels.use(name):
            batch = images[np.array([3, 1, 3])]
            conv = (images[np.arange(2)].astype(np.float32) * (1 / 255)).reshape(2, 1, 28, 28).conv2d(w)
            pooled = conv.max_pool2d(2)
            seen[name] = [(a.array.flags.writeable, a.array.flags.c_contiguous) for a in (batch, conv, pooled)]
            np.testing.assert_array_equal(batch.numpy(), images.numpy()[[3, 1, 3]])
    assert seen["numba"] == seen["numpy"] == [(True, True)] * 3


def test_no_grad_still_computes():
    a = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = a * 3.0
    np.testing.assert_allclose(y.numpy(), [3.0, 6.0])
