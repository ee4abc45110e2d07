"""Images in CSR form (sparse.py, kernels/sparse.py): the same numbers as the dense path, to float32
rounding, on both kernel sets, first order, second order and forward mode; the minibatch's rows;
the graph's label. Also run with NUMBA_DISABLE_JIT=1 (tests/engine/test_kernels.py), on smaller batches."""
import numba
import numpy as np
import pytest

from tinygrad_mnist import Tensor, kernels
from tinygrad_mnist.functional import hvp, jvp, vhp
from tinygrad_mnist.kernels import numba_kernels as nb
from tinygrad_mnist.kernels import numpy_kernels as ref
from tinygrad_mnist.losses import cross_entropy
from tinygrad_mnist.nn import Module, VarBuilder, VarMap, init, linear
from tinygrad_mnist.sparse import CSR
from tinygrad_mnist.viz import to_dot

SETS = ["numba", "numpy"]
NOJIT = numba.config.DISABLE_JIT  # the kernels run as plain Python: smaller batches


def pixels(rows=37, width=784, seed=0):
    """uint8 images with MNIST's share of zeros, an all-zero row and a full one."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 256, (rows, width)).astype(np.uint8) * (rng.random((rows, width)) < 0.2)
    x[3] = 0
    x[5] = rng.integers(1, 256, width)
    return x.astype(np.uint8)


@pytest.mark.parametrize("k", [nb, ref], ids=SETS)
@pytest.mark.parametrize("shape", [(37, 784), (0, 784), (4, 0), (7, 70000)])
def test_csr_round_trip_and_rows(k, shape):
    x = pixels(*shape) if shape[1] and shape[0] else np.zeros(shape, np.uint8)
    indptr, indices, values = k.csr_from_dense(x)
    assert indptr.dtype == np.int64 and len(indptr) == shape[0] + 1 and indptr[-1] == np.count_nonzero(x)
    assert indices.dtype == (np.uint16 if shape[1] <= 1 << 16 else np.int64) and values.dtype == x.dtype
    for other, name in ((nb, "numba"), (ref, "numpy")):  # the two sets build the same arrays
        for a, b in zip(other.csr_from_dense(x), (indptr, indices, values)):
            np.testing.assert_array_equal(a, b, err_msg=name)
    c = CSR(indptr, indices, values, shape)
    np.testing.assert_array_equal(np.asarray(c), x)
    rows = np.array([2, 0, 2, shape[0] - 1] if shape[0] else [], np.int64)
    taken = k.csr_take_rows(indptr, indices, values, rows)
    np.testing.assert_array_equal(np.asarray(CSR(*taken, (len(rows), shape[1]))), x[rows])


@pytest.mark.parametrize("k", [nb, ref], ids=SETS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_products_equal_the_dense_ones(k, dtype):
    x = pixels(40 if NOJIT else 300)
    rng = np.random.default_rng(1)
    w, g = rng.standard_normal((100, 784)).astype(dtype), rng.standard_normal((len(x), 100)).astype(dtype)
    parts = k.csr_from_dense(x)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.csr_matmul(*parts, w.T, 1 / 255), ref.matmul(x, w.T, 1 / 255), **tol)
    np.testing.assert_allclose(k.csr_grad(g, *parts, 784, 1 / 255), ref.matmul(g.T, x, 1 / 255), **tol)
    assert k.csr_matmul(*parts, w.T).dtype == dtype and k.csr_grad(g, *parts, 784).shape == (100, 784)


def test_csr_indexing_and_its_errors():
    x = pixels(10)
    c = CSR.from_dense(x)
    np.testing.assert_array_equal(np.asarray(c[2:5]), x[2:5])
    np.testing.assert_array_equal(np.asarray(c[[-1, 0]]), x[[-1, 0]])
    np.testing.assert_array_equal(np.asarray(c[np.array([4, 4]), :]), x[[4, 4]])
    assert len(c) == 10 and c.shape == (10, 784) and c.dtype == np.uint8 and "CSR([10, 784], uint8" in repr(c)
    for key, message in ((3, "slice or an integer array"), ([10], "out of range"), (np.array([0.5]), "integer")):
        with pytest.raises(IndexError, match=message):
            c[key]
    with pytest.raises(ValueError, match="2-D"):
        CSR.from_dense(np.zeros(3))
    with pytest.raises(AttributeError, match=r"no \.reshape\(\): only Linear and row indexing"):
        Tensor(c).reshape(10 * 784)
    assert (Tensor(c) + 1).numpy().tolist() == (x + 1).tolist()  # other ops get the dense array


class Mlp(Module):
    """Candle's MLP from the engine's layers, reading CSR images as the trainer's does (app/models.py)."""

    def __init__(self, vb):
        self.ln1 = linear(784, 100, vb.pp("ln1"), input_scale=1 / 255)
        self.ln2 = linear(100, 10, vb.pp("ln2"))

    def forward(self, xs):
        return self.ln2(self.ln1(xs).relu())


def mlp(seed=0):
    init.seed(seed)
    varmap = VarMap()
    return Mlp(VarBuilder.from_varmap(varmap)), varmap


@pytest.mark.parametrize("backend", SETS)
def test_the_mlp_on_csr_images_equals_the_dense_path(backend):
    """Loss, logits and every gradient of the MLP: CSR images against the same images dense."""
    n = 8 if NOJIT else 64
    x, y = pixels(n), np.random.default_rng(2).integers(0, 10, n)
    with kernels.use(backend):
        results = []
        for images in (Tensor(x), Tensor(CSR.from_dense(x))):
            model, varmap = mlp()
            loss = model.eval().loss(images, Tensor(y))
            loss.backward()
            results.append([loss.numpy()] + [v.grad.numpy() for v in varmap.all_vars()])
    for dense, sparse in zip(*results):
        np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", SETS)
def test_second_order_and_forward_mode_through_csr_images(backend):
    """An HVP (forward over reverse), a VHP (reverse over reverse through the CSR weight
    gradient's own backward) and a JVP of the logits,
    with respect to the first layer's weights: the same as on dense images."""
    n = 6 if NOJIT else 16
    x, y = pixels(n), np.random.default_rng(3).integers(0, 10, n)
    model, varmap = mlp()
    model.eval()
    w = model.ln1.weight
    v = Tensor(np.random.default_rng(4).standard_normal(w.shape).astype(np.float32))

    def loss_of(images):
        def f(weight):
            h = images.linear(weight, model.ln1.bias, scale=1 / 255).relu()
            return cross_entropy(model.ln2(h), Tensor(y))
        return f
    with kernels.use(backend):
        out = [(hvp(loss_of(images), w.detach(), v)[1].numpy(), vhp(loss_of(images), w.detach(), v)[1].numpy(),
                jvp(lambda weight: images.linear(weight, None, scale=1 / 255), w.detach(), v)[1].numpy())
               for images in (Tensor(x), Tensor(CSR.from_dense(x)))]
    for dense, sparse in zip(*out):
        np.testing.assert_allclose(sparse, dense, rtol=1e-4, atol=1e-5 * np.abs(dense).max())


def test_the_dataset_builds_csr_once_and_the_graph_says_so(tmp_path):
    from tinygrad_mnist.datasets import mnist
    x = pixels(20)
    data = mnist.Dataset(Tensor(x), Tensor(np.zeros(20, np.uint8)), Tensor(x[:5]), Tensor(np.zeros(5, np.uint8)))
    sparse = data.images("train", sparse=True)
    assert sparse is data.images("train", sparse=True) and data.images("train") is data.train_images
    np.testing.assert_array_equal(np.asarray(sparse.array), x)
    model, _ = mlp()
    loss = model.loss(sparse[np.arange(8)], Tensor(np.zeros(8, np.uint8)))
    batch = sparse.narrow(0, 0, 20)
    batch.name = "images"
    dot = to_dot(model.loss(batch, Tensor(np.zeros(20, np.uint8))))
    assert "images\\n[20, 784] uint8, CSR" in dot or "[20, 784] uint8, CSR" in dot
    assert np.isfinite(loss.item())
