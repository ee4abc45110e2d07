"""The engine on the CUDA device, in numba's simulator: the device API (PyTorch's spelling),
`CudaArray` against numpy, the kernel set against its numpy twins, and training steps of the
three kinds of model against the CPU to float32 tolerance. Small shapes: each simulated thread
is an OS thread."""
import os
import sys

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the test extra brings it)")
if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("runs in numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1)",
                allow_module_level=True)

import tinygrad_mnist as tm  # noqa: E402
from tinygrad_mnist import Tensor, nn  # noqa: E402
from tinygrad_mnist.cuda import ops  # noqa: E402
from tinygrad_mnist.cuda.array import CudaArray, to_device  # noqa: E402
from tinygrad_mnist.kernels import numpy_kernels as ref  # noqa: E402
from tinygrad_mnist.kernels.interface import KERNELS, DeviceUnsupported  # noqa: E402

TOL = dict(rtol=2e-5, atol=2e-6)


pytestmark = pytest.mark.usefixtures("simulator_threads")


def arr(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- the device API
def test_tensors_go_to_the_device_and_back():
    assert tm.cuda.is_available() and tm.cuda.device_count() == 1
    x = arr(2, 3)
    t = Tensor(x).to("cuda")
    assert t.device == tm.device("cuda:0") == "cuda:0" and t.device.type == "cuda" and str(t.device) == "cuda:0" and isinstance(t.array, CudaArray)
    assert t.cpu().device == "cpu" and np.array_equal(t.cpu().numpy(), x)
    assert Tensor(x).cuda().device.type == "cuda" and Tensor(x, device="cuda").device.type == "cuda"
    for made in (Tensor.zeros(2, 3, device="cuda"), tm.ones(2, device=tm.device("cuda")), Tensor.randn(4, device="cuda"),
                 tm.tensor([1.0, 2.0], device="cuda"), Tensor.arange(5, device="cuda")):
        assert made.device.type == "cuda"
    assert np.array_equal(Tensor.arange(5, device="cuda").cpu().numpy(), np.arange(5))
    for kept in (Tensor.zeros_like(t), tm.ones_like(t), t.new_zeros(3), t.new_tensor([1.0]), Tensor.rand_like(t)):
        assert kept.device.type == "cuda"  # PyTorch's *_like and new_* keep the tensor's device
    assert "device='cuda:0'" in repr(t) and t.to("cuda") is t
    assert t.sum().item() == pytest.approx(float(x.sum()), rel=1e-6)  # .item() waits and copies one number


def test_numpy_of_a_cuda_tensor_says_cpu_and_nothing_copies_silently():
    t = Tensor(arr(3)).to("cuda")
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        t.numpy()
    with pytest.raises(DeviceUnsupported, match="silent copy"):
        np.asarray(t)
    with pytest.raises(DeviceUnsupported, match=r"\.item\(\)"):
        float(t.array[0:1].reshape(()))
    assert t.tolist() == pytest.approx(t.cpu().tolist())


def test_mixing_devices_names_both():
    a, b = Tensor(arr(3)).to("cuda"), Tensor(arr(3, seed=1))
    for f in (lambda: a + b, lambda: b * a, lambda: Tensor(arr(2, 3)).cuda().linear(Tensor(arr(4, 3)))):
        with pytest.raises(RuntimeError, match="cuda:0 and cpu"):
            f()
    np.testing.assert_allclose((a * 2.0 + Tensor(np.float32(1))).cpu().numpy(), a.cpu().numpy() * 2 + 1, rtol=1e-6)


def test_an_op_without_a_cuda_kernel_refuses_by_name():
    t = Tensor(arr(4)).to("cuda")
    with pytest.raises(RuntimeError, match=r"^Sin has no CUDA kernel .*\.cpu\(\)"):
        t.sin()
    with pytest.raises(RuntimeError, match=r"Cat has no CUDA kernel"):
        tm.cat([t, t])
    assert np.allclose(t.cpu().sin().numpy(), np.sin(t.cpu().numpy()))  # the way out works


def test_gradients_cross_devices_and_module_to_moves_in_place():
    w = Tensor(arr(3), requires_grad=True)
    (w.to("cuda") * Tensor(arr(3, seed=1)).to("cuda")).sum().backward()
    assert w.grad.device.type == "cpu" and np.allclose(w.grad.numpy(), arr(3, seed=1))
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    params = model.parameters()
    opt = tm.optim.SGD(params, lr=0.1)  # made before the move: it holds the same tensors
    assert model.to("cuda") is model and [p for p in model.parameters()] == params
    assert all(p.device.type == "cuda" for p in params)
    model(Tensor(arr(4, 3)).cuda()).sum().backward()
    opt.step()
    assert all(p.grad.device.type == "cuda" for p in params)
    assert model.cpu().parameters()[0].device.type == "cpu"


def test_without_cuda_the_device_is_refused_in_one_line(monkeypatch):
    import tinygrad_mnist.cuda as gpu
    monkeypatch.setattr(gpu, "_why", "no CUDA GPU or driver was found")
    assert not tm.cuda.is_available()
    with pytest.raises(RuntimeError, match=r"^device 'cuda' is not available: no CUDA GPU"):
        Tensor(arr(2)).to("cuda")


# ---------------------------------------------------------------- CudaArray against numpy
@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (5,))])
def test_arithmetic_broadcasts_as_numpy(a_shape, b_shape):
    a, b = arr(*a_shape), arr(*b_shape, seed=1) + 3
    da, db = to_device(a), to_device(b)
    for got, want in ((da + db, a + b), (da - db, a - b), (da * db, a * b), (da / db, a / b),
                      (np.maximum(da, db), np.maximum(a, b)), (da > db, a > b), (da == da, a == a), (da > da, a > a),
                      (2.5 - da, 2.5 - a), (da * np.float32(3), a * 3), (db >= 3.0, b >= 3.0)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got.get(), want, rtol=1e-6)


def test_array_methods_against_numpy():
    x = arr(2, 3, 4)
    d = to_device(x)
    np.testing.assert_array_equal(d.transpose(0, 2, 1).get(), x.transpose(0, 2, 1))
    np.testing.assert_array_equal(d.reshape(6, -1).T.get(), x.reshape(6, -1).T)
    for axis, keep in ((None, False), (0, False), (1, True), ((0, 2), False), (-1, True)):
        np.testing.assert_allclose(d.sum(axis=axis, keepdims=keep).get(), x.sum(axis=axis, keepdims=keep), **TOL)
    np.testing.assert_allclose(d.mean(axis=1).get(), x.mean(axis=1), **TOL)
    for f in (np.exp, np.negative, np.absolute, np.sign, np.tanh, lambda a: a ** 3, lambda a: np.absolute(a) ** 0.5):
        np.testing.assert_allclose(f(d).get(), f(x), rtol=1e-6)
    np.testing.assert_allclose(np.log(np.absolute(d)).get(), np.log(np.abs(x)), rtol=1e-6)
    np.testing.assert_array_equal(d.astype(np.int64).get(), x.astype(np.int64))
    idx = np.array([1, 0, 1])
    np.testing.assert_array_equal(d[to_device(idx)].get(), x[idx])
    np.testing.assert_array_equal(d[1:].get(), x[1:])
    row = to_device(x[0, 0])
    assert isinstance(row[-1], CudaArray) and row[-1].shape == () and row[-1].get() == x[0, 0, -1]  # not read back
    ties = np.array([[1, 3, 3], [np.nan, 5, 5], [0, 0, -1]], np.float32)
    np.testing.assert_array_equal(to_device(ties).argmax(1).get(), np.argmax(ties, 1))
    y = to_device(x.copy())
    y += to_device(x[0])
    y *= 2.0
    np.testing.assert_allclose(y.get(), (x + x[0]) * 2, rtol=1e-6)
    with pytest.raises(DeviceUnsupported, match="numpy.sin"):
        np.sin(d)


# ---------------------------------------------------------------- the kernel set against its twins
def test_the_kernel_set_offers_every_kernel():
    missing = [name for name in KERNELS if not callable(getattr(ops, name, None))]
    assert not missing


@pytest.mark.parametrize("geometry", [((1, 1), (0, 0), (1, 1)), ((2, 1), (1, 2), (1, 2))], ids=["plain", "strided"])
def test_convolution_kernels_against_numpy(geometry):
    x, rows = arr(2, 3, 6, 7), None
    cols = ref.im2col(x, 3, 2, *geometry, np.float32)
    np.testing.assert_array_equal(ops.im2col(to_device(x), 3, 2, *geometry, np.float32).get(), cols)
    g = arr(*cols.shape, seed=1)
    np.testing.assert_allclose(ops.col2im(to_device(g), x.shape, 3, 2, *geometry).get(),
                               ref.col2im(g, x.shape, 3, 2, *geometry), **TOL)
    rows, bias = arr(2 * 4 * 5, 3, seed=2), arr(3, seed=3)
    np.testing.assert_allclose(ops.rows_to_nchw(to_device(rows), to_device(bias), (2, 3, 4, 5)).get(),
                               ref.rows_to_nchw(rows, bias, (2, 3, 4, 5)), rtol=1e-6)
    grad = arr(2, 3, 4, 5, seed=4)
    for got, want in zip(ops.nchw_to_rows(to_device(grad)), ref.nchw_to_rows(grad)):
        np.testing.assert_allclose(got.get(), want, **TOL)
    images, w = arr(2, 8, 8, seed=5), arr(4, 3, 3, seed=6)
    np.testing.assert_allclose(ops.conv_one_channel(to_device(images), to_device(w), to_device(bias[:1].repeat(4))).get(),
                               ref.conv_one_channel(images, w, bias[:1].repeat(4)), **TOL)
    g = arr(2, 4, 6, 6, seed=7)
    for got, want in zip(ops.conv_one_channel_backward(to_device(g), to_device(images), 3, 3),
                         ref.conv_one_channel_backward(g, images, 3, 3)):
        np.testing.assert_allclose(got.get(), want, **TOL)


@pytest.mark.parametrize("kernel,stride,padding,dilation", [((2, 2), (2, 2), (0, 0), (1, 1)),
                                                            ((3, 3), (1, 2), (1, 1), (1, 1)),
                                                            ((2, 2), (1, 1), (0, 0), (2, 1))])
def test_max_pool_against_numpy(kernel, stride, padding, dilation):
    x = arr(2, 3, 7, 6)
    x[0, 0, :2, :2] = 1.0  # ties: the first maximum wins
    x[1, 2, 3, 3] = np.nan  # a NaN beats everything
    size = tuple(ref.pool_out_size(n, d * (k - 1) + 1, s, p, False)
                 for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    y, index = ops.max_pool2d(to_device(x), kernel, stride, padding, size, dilation)
    want_y, want_index = ref.max_pool2d(x, kernel, stride, padding, size, dilation)
    np.testing.assert_array_equal(y.get(), want_y)
    np.testing.assert_array_equal(index.get(), want_index)
    g = arr(*want_y.shape, seed=1)
    np.testing.assert_allclose(ops.max_pool2d_backward(to_device(g), index, x.shape).get(),
                               ref.max_pool2d_backward(g, want_index, x.shape), **TOL)


def test_adamw_against_numpy():
    p, g, m, v = arr(50), arr(50, seed=1), arr(50, seed=2) * 0.1, np.abs(arr(50, seed=3))
    want = [a.copy() for a in (p, m, v)]
    ref.adamw_update(want[0], g, want[1], want[2], 1e-2, 0.9, 0.999, 1e-8, 0.01, 3)
    got = [to_device(a) for a in (p, m, v)]
    ops.adamw_update(got[0], to_device(g), got[1], got[2], 1e-2, 0.9, 0.999, 1e-8, 0.01, 3)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.get(), b, rtol=1e-5, atol=1e-7)


def test_dropout_draws_on_the_device_repeat_with_the_seed():
    x = Tensor(np.ones((40, 50), np.float32)).to("cuda")
    tm.manual_seed(3)
    first = nn.functional.dropout(x, 0.25).cpu().numpy()
    again = nn.functional.dropout(x, 0.25).cpu().numpy()
    tm.manual_seed(3)
    assert np.array_equal(nn.functional.dropout(x, 0.25).cpu().numpy(), first) and not np.array_equal(first, again)
    assert set(np.unique(first)) == {0.0, np.float32(1 / 0.75)} and abs((first == 0).mean() - 0.25) < 0.03


# ---------------------------------------------------------------- training steps against the CPU
def _step(make, device, xs, ys, optimizer, steps=1):
    tm.manual_seed(0)
    model = make().to(device)
    opt = optimizer(model.parameters())
    for _ in range(steps):
        loss = tm.nn.functional.cross_entropy(model(Tensor(xs, device=device)), Tensor(ys, device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item(), [p.detach().cpu().numpy() for p in model.parameters()]


def _agree(make, xs, ys, optimizer, steps=1, tol=TOL):
    cpu, gpu = _step(make, "cpu", xs, ys, optimizer, steps), _step(make, "cuda", xs, ys, optimizer, steps)
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-5)
    for a, b in zip(cpu[1], gpu[1]):
        np.testing.assert_allclose(b, a, **tol)


def _pixels(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784)).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def test_a_linear_and_an_mlp_step_match_the_cpu():
    from tinygrad_mnist.app.models import LinearModel, Mlp
    xs, ys = _pixels(6)
    sgd = (lambda params: tm.optim.SGD(params, lr=0.1))
    _agree(lambda: LinearModel(nn.VarBuilder.from_varmap(nn.VarMap())), xs, ys, sgd, steps=2)
    _agree(lambda: Mlp(nn.VarBuilder.from_varmap(nn.VarMap())), xs, ys, sgd)


class SmallConvNet(nn.Module):
    """The CNN's ops at a size the simulator affords: conv → pool → conv → pool → fc → relu →
    dropout → fc, on 12 × 12 images."""

    def __init__(self):
        self.c1, self.c2 = nn.Conv2d(1, 3, 3), nn.Conv2d(3, 4, 3)
        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 10)

    def forward(self, x):
        x = (x.astype(np.float32) * (1 / 255)).reshape(x.shape[0], 1, 12, 12)
        x = self.c2(self.c1(x).max_pool2d(2)).max_pool2d(2)
        return self.fc2(nn.functional.dropout(self.fc1(x.flatten(1)).relu(), 0.5, self.training))


def test_a_convnet_step_matches_the_cpu_with_adamw_and_dropout_off():
    rng = np.random.default_rng(1)
    xs, ys = rng.integers(0, 256, (3, 144)).astype(np.uint8), rng.integers(0, 10, 3)
    _agree(lambda: SmallConvNet().eval(), xs, ys, lambda params: tm.optim.AdamW(params, lr=1e-3), steps=2,
           tol=dict(rtol=1e-4, atol=1e-5))


@pytest.mark.slow
def test_candles_cnn_forward_and_backward_match_the_cpu():
    """The trainer's ConvNet itself (1024 × 1024 fc), two images: about a minute in the simulator."""
    from tinygrad_mnist.app.models import ConvNet
    xs, ys = _pixels(2, seed=2)
    _agree(lambda: ConvNet(nn.VarBuilder.from_varmap(nn.VarMap())).eval(), xs, ys,
           lambda params: tm.optim.SGD(params, lr=0.05), tol=dict(rtol=1e-4, atol=1e-5))


def test_from_the_third_step_on_nothing_is_allocated_from_the_driver():
    """The pool hands each step's temporaries the buffers the step before freed: the first step
    allocates, the second too for the gradients (the first's live until its backward clears
    them), and from the third on a step asks the driver for nothing. A view keeps its memory out
    of the pool."""
    from tinygrad_mnist.cuda.array import pool
    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)).to("cuda")
    opt = tm.optim.AdamW(model.parameters(), lr=1e-3)
    xs, ys = Tensor(arr(4, 20), device="cuda"), Tensor(np.array([0, 2, 1, 2]), device="cuda")

    def step():
        opt.backward_step(nn.functional.cross_entropy(model(xs), ys))
    step()
    step()
    misses, hits = pool.misses, pool.hits
    step()
    assert pool.misses == misses and pool.hits > hits + 20
    a = to_device(np.arange(6, dtype=np.float32))
    row = a.reshape(2, 3)[1:]
    del a  # the view holds the memory: nothing goes back to the pool yet
    b = to_device(np.zeros(6, np.float32))
    np.testing.assert_array_equal(row.get(), [[3, 4, 5]]) and np.testing.assert_array_equal(b.get(), np.zeros(6))


UNARY_OPS = {"exp": lambda t: t.exp(), "abs": lambda t: t.abs(), "log": lambda t: (t.abs() + 1).log(),
             "sqrt": lambda t: (t.abs() + 1).sqrt(), "cube": lambda t: t ** 3, "root": lambda t: (t.abs() + 1) ** 0.5,
             "tanh": lambda t: t.tanh(), "relu": lambda t: t.relu(), "mean": lambda t: t.mean(0),
             "log_softmax": lambda t: t.log_softmax(1), "square matmul": lambda t: t @ t.T, "scaled": lambda t: 3 - t / 2}


@pytest.mark.parametrize("name", UNARY_OPS)
def test_an_ops_value_and_gradient_match_the_cpu(name):
    x = arr(3, 4, seed=5)
    out = {}
    for where in ("cpu", "cuda"):
        t = Tensor(x, requires_grad=True, device=where)
        y = UNARY_OPS[name](t)
        (y * Tensor(arr(*y.shape, seed=6), device=where)).sum().backward()
        out[where] = (y.cpu().numpy(), t.grad.cpu().numpy())
    for a, b in zip(out["cpu"], out["cuda"]):
        np.testing.assert_allclose(b, a, **TOL)


@pytest.mark.parametrize("make", [lambda p: tm.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                                  lambda p: tm.optim.Adam(p, lr=0.01, weight_decay=0.1),
                                  lambda p: tm.optim.Adadelta(p, lr=1.0)], ids=["sgd-nesterov", "adam-l2", "adadelta"])
def test_every_optimizer_steps_on_the_device_as_on_the_cpu(make):
    xs, ys = arr(5, 6), np.array([0, 1, 2, 1, 0])
    _agree(lambda: nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)), xs, ys, make, steps=3)


def test_a_float64_model_trains_in_float64_on_the_device():
    xs, ys = arr(5, 6).astype(np.float64), np.array([0, 1, 2, 1, 0])
    make = (lambda: nn.Sequential(nn.Linear(6, 4, dtype=np.float64), nn.ReLU(), nn.Linear(4, 3, dtype=np.float64)))
    _agree(make, xs, ys, lambda p: tm.optim.SGD(p, lr=0.1), steps=2, tol=dict(rtol=1e-6, atol=1e-7))
    tm.manual_seed(0)
    assert make().to("cuda")(Tensor(xs, device="cuda")).dtype == np.float64


def test_the_simulator_switched_on_after_the_cpu_kernels_loaded_numba():
    """NUMBA_ENABLE_CUDASIM set in a program after the engine has run (and numba read its
    settings) still gives the simulated device: the setting is read again before numba's CUDA
    module loads."""
    import subprocess
    code = ("import os, numpy as np, tinygrad_mnist as tm\n"
            "print((tm.tensor(np.ones((2, 3), np.float32)) @ tm.ones(3, 2)).sum().item())\n"
            "os.environ['NUMBA_ENABLE_CUDASIM'] = '1'\n"
            "print(tm.cuda.is_available(), tm.ones(3, device='cuda').sum().item())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.stdout.split() == ["12.0", "True", "3.0"], run.stderr[-2000:]


def test_state_dicts_save_and_load_across_devices(tmp_path):
    """torch.save of a GPU model's state dict writes host copies; torch.load puts them where
    map_location says; load_state_dict copies into a model on either device."""
    tm.manual_seed(0)
    gpu = nn.Linear(3, 2).to("cuda")
    tm.save(gpu.state_dict(), tmp_path / "w.safetensors")
    back = tm.load(tmp_path / "w.safetensors", map_location="cuda")
    assert all(t.device.type == "cuda" for t in back.values())
    cpu = nn.Linear(3, 2)
    cpu.load_state_dict(back)
    other = nn.Linear(3, 2).to("cuda")
    other.load_state_dict(cpu.state_dict())
    for a, b in zip(gpu.parameters(), other.parameters()):
        assert b.device.type == "cuda" and np.array_equal(a.cpu().numpy(), b.cpu().numpy())
    with pytest.raises(DeviceUnsupported, match="writing part"):
        other.weight.array[0] = 1.0
