"""What PyTorch programs type, each against PyTorch: devices by name, the Tensor methods the
ported clients and a new user reached for, the layers (BatchNorm with its running statistics,
Tanh, Sigmoid, Flatten, ModuleList, MSELoss), Module's bookkeeping (buffers, zero_grad,
children, print(model)), saving a state dict, and the dtype and error rules."""
import numpy as np
import pytest

import tinygrad_mnist
from tinygrad_mnist import Tensor, cross_entropy, gradgradcheck, jvpcheck, nn
from tinygrad_mnist.tensor.elementwise import where

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402


def pair(a, requires_grad=True):
    a = np.asarray(a, dtype=np.float64)
    return Tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a.copy(), requires_grad=requires_grad)


def same(ours, theirs, tol=1e-12):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=tol, atol=tol)


# ---------------------------------------------------------------- devices
def test_devices_by_name_as_pytorch_spells_them(no_cuda):
    d = tinygrad_mnist.device("cpu")
    assert d == "cpu" and d == tinygrad_mnist.device("cpu") and str(d) == "cpu" and repr(d) == "device(type='cpu')"
    assert str(tinygrad_mnist.device("cuda:1")) == "cuda:1" and tinygrad_mnist.device("cuda", 0).index == 0
    assert not tinygrad_mnist.cuda.is_available() and not tinygrad_mnist.backends.mps.is_available()
    x = Tensor(np.ones(2), requires_grad=True)
    assert x.device == d and x.to(d) is x and x.to("cpu") is x and x.cpu() is x
    with pytest.raises(RuntimeError, match="device 'cuda' is not available.*use 'cpu'"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="not available"):
        x.cuda()
    with pytest.raises(RuntimeError, match="Expected one of"):
        tinygrad_mnist.device("gpu")
    assert tinygrad_mnist.zeros(2, 3, device="cpu").shape == (2, 3)
    assert tinygrad_mnist.tensor([1.0, 2.0], device=d).tolist() == [1.0, 2.0]
    model = nn.Linear(2, 3)
    assert model.to(d) is model and model.to(torch_device_name()) is model
    with pytest.raises(RuntimeError, match="not available"):
        model.to("cuda")


def torch_device_name():
    return "cpu"


def test_to_a_dtype_is_a_recorded_cast():
    x, tx = pair([1.5, -2.0])
    y, ty = x.to(np.float32), tx.to(torch.float32)
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward(), (ty * ty).sum().backward()
    same(x.grad, tx.grad, 1e-6)
    assert x.to(x).dtype == np.float64 and x.to(tinygrad_mnist.int64).dtype == np.int64
    model = nn.Linear(2, 2).to(np.float64)
    assert model.weight.dtype == np.float64


# ---------------------------------------------------------------- tensor methods
def test_comparisons_view_as_and_zero_():
    a, ta = pair([1.0, 2.0, 3.0], requires_grad=False)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        assert getattr(a, name)(2.0).tolist() == getattr(ta, name)(2.0).tolist()
    assert a.view_as(Tensor(np.zeros((3, 1)))).shape == ta.view_as(torch.zeros(3, 1)).shape
    w = Tensor(np.ones(2), requires_grad=True)
    (w * 3).sum().backward()
    w.grad.zero_()
    assert w.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="in-place"):
        w.zero_()


@pytest.mark.parametrize("args,kwargs,shape", [((10, (3,)), {}, (3,)), ((2, 5, (2, 2)), {}, (2, 2)),
                                               ((4, 3), dict(high=9), (4, 3)), ((), dict(high=5, size=(6,)), (6,))])
def test_randint_in_pytorch_s_and_tinygrad_s_spelling(args, kwargs, shape):
    tinygrad_mnist.manual_seed(0)
    x = Tensor.randint(*args, **kwargs)
    low = args[0] if len(args) == 3 else kwargs.get("low", 0)
    high = args[1] if len(args) == 3 else args[0] if len(args) == 2 and isinstance(args[1], tuple) else kwargs["high"]
    assert x.shape == shape and x.dtype == np.int64 and low <= int(x.min()) and int(x.max()) < high


def test_rand_stays_below_one_in_float32(monkeypatch):
    """A float64 draw within 2⁻²⁵ of 1 rounds to 1.0 in float32; rand is [0, 1)."""
    class Near:
        def random(self, shape):
            return np.full(shape, 1 - 2.0 ** -40)
    monkeypatch.setattr("tinygrad_mnist.tensor.create.rng", lambda: Near())
    x = Tensor.rand(1000)
    assert float(x.max()) < 1.0 and x.dtype == np.float32


def test_where_and_masked_fill_match_pytorch_with_gradients():
    rng = np.random.default_rng(0)
    c = rng.random((3, 1)) > 0.5
    (x, tx), (y, ty) = pair(rng.standard_normal((3, 4))), pair(rng.standard_normal(4))
    out, tout = where(Tensor(c), x, y), torch.where(torch.tensor(c), tx, ty)
    same(out, tout)
    (out * out).sum().backward(), (tout * tout).sum().backward()
    same(x.grad, tx.grad), same(y.grad, ty.grad)
    assert tinygrad_mnist.where is where and x.where(Tensor(c), 0.0).shape == (3, 4)
    m = rng.random((3, 4)) > 0.5
    (x, tx) = pair(rng.standard_normal((3, 4)))
    f, tf = x.masked_fill(Tensor(m), -1.0), tx.masked_fill(torch.tensor(m), -1.0)
    same(f, tf)
    f.exp().sum().backward(), tf.exp().sum().backward()
    same(x.grad, tx.grad)


def test_where_keeps_an_infinite_untaken_branch_out_of_the_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = where(Tensor(np.array([True, False])), x, Tensor(np.array([np.inf, 0.0])))
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("p", ["fro", 1, 2, 3, float("inf"), float("-inf")])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (-1, True), ((0, 1), False)])
def test_norm_matches_pytorch(p, dim, keepdim):
    if p == "fro" and isinstance(dim, int):
        return  # PyTorch's 'fro' wants no dim or two
    x, tx = pair(np.random.default_rng(1).standard_normal((3, 4)))
    n, tn = x.norm(p, dim, keepdim), tx.norm(p, dim, keepdim)
    same(n, tn)
    (n * n).sum().backward(), (tn * tn).sum().backward()
    same(x.grad, tx.grad)


def test_norm_of_zeros_has_a_zero_gradient_and_a_second_derivative():
    x, tx = pair(np.zeros(3))
    x.norm().backward(), tx.norm().backward()
    same(x.grad, tx.grad)
    assert gradgradcheck(lambda a: a.norm(), Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True))


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize("ours,theirs,shape", [(nn.BatchNorm1d, tnn.BatchNorm1d, (6, 3)),
                                               (nn.BatchNorm1d, tnn.BatchNorm1d, (5, 3, 4)),
                                               (nn.BatchNorm2d, tnn.BatchNorm2d, (4, 3, 5, 5))])
def test_batchnorm_trains_and_evaluates_as_pytorch(ours, theirs, shape):
    rng = np.random.default_rng(2)
    a, b = ours(3, momentum=0.2, dtype=np.float64), theirs(3, momentum=0.2).double()
    with torch.no_grad():
        b.weight.copy_(torch.tensor(rng.uniform(0.5, 2, 3))), b.bias.copy_(torch.tensor(rng.standard_normal(3)))
    a.load_state_dict({k: v.numpy() for k, v in b.state_dict().items()})
    assert list(a.state_dict()) == list(b.state_dict())
    assert [n for n, _ in a.named_parameters()] == ["weight", "bias"]
    for step in range(3):
        x, tx = pair(rng.standard_normal(shape) * 3 + 1)
        y, ty = a(x), b(tx)
        same(y, ty, 1e-10)
        g = rng.standard_normal(shape)
        y.backward(g), ty.backward(torch.tensor(g))
        same(x.grad, tx.grad, 1e-10)
        same(a.weight.grad, b.weight.grad, 1e-10), same(a.bias.grad, b.bias.grad, 1e-10)
        a.zero_grad(), b.zero_grad()
    for k, v in b.state_dict().items():
        same(a.state_dict()[k], v, 1e-12)
    a.eval(), b.eval()
    x, tx = pair(rng.standard_normal(shape))
    same(a(x), b(tx), 1e-10)
    assert repr(a) == repr(b)


def test_batchnorm_second_order_and_jvp_by_central_differences():
    bn = nn.BatchNorm2d(2, dtype=np.float64)
    bn.weight.data = Tensor(np.array([0.7, 1.3]))
    x = Tensor(np.random.default_rng(3).standard_normal((3, 2, 2, 2)), requires_grad=True)
    assert gradgradcheck(lambda v: (bn(v) ** 2).sum(), [x]) and jvpcheck(lambda v: bn(v), [x])
    with pytest.raises(ValueError, match="BatchNorm2d\\(2\\): expected input of rank 4"):
        bn(Tensor(np.zeros((3, 2))))


def test_small_layers_and_mse_loss_match_pytorch():
    x, tx = pair(np.random.default_rng(4).standard_normal((2, 3, 4)))
    for ours, theirs in ((nn.Tanh(), tnn.Tanh()), (nn.Sigmoid(), tnn.Sigmoid()), (nn.Flatten(), tnn.Flatten()),
                         (nn.Flatten(0, -1), tnn.Flatten(0, -1)), (nn.LogSoftmax(1), tnn.LogSoftmax(1))):
        same(ours(x), theirs(tx))
        assert repr(ours) == repr(theirs)
    target = np.random.default_rng(5).standard_normal((2, 3, 4))
    for reduction in ("mean", "sum", "none"):
        x.grad, tx.grad = None, None
        l, tl = nn.MSELoss(reduction)(x, Tensor(target)), tnn.MSELoss(reduction=reduction)(tx, torch.tensor(target))
        same(l, tl)
        l.sum().backward(), tl.sum().backward()
        same(x.grad, tx.grad)


def test_module_bookkeeping_as_pytorch():
    class Net(nn.Module):
        def __init__(self):
            self.blocks = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)])
            self.act = nn.ReLU()
            self.register_buffer("steps", Tensor(np.zeros((), np.int64)))
            self.register_buffer("scratch", Tensor(np.zeros(2)), persistent=False)

        def forward(self, x):
            for b in self.blocks:
                x = self.act(b(x))
            return x

    class TNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = tnn.ModuleList([tnn.Linear(3, 4), tnn.Linear(4, 2)])
            self.act = tnn.ReLU()
            self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    ours, theirs = Net(), TNet()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()] == ["blocks", "act"]
    assert all(isinstance(m, nn.Module) for m in ours.children())
    assert [n for n, _ in ours.named_buffers()] == ["steps", "scratch"]
    assert repr(ours).replace("Net(", "TNet(", 1) == repr(theirs)
    ours(Tensor(np.ones((1, 3), np.float32))).sum().backward()
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    seq, tseq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.1)), tnn.Sequential(
        tnn.Linear(2, 3), tnn.ReLU(), tnn.Dropout(0.1))
    assert repr(seq) == repr(tseq) and repr(nn.Conv2d(1, 4, 3, padding=1, bias=False)) == repr(
        tnn.Conv2d(1, 4, 3, padding=1, bias=False)) and repr(nn.MaxPool2d(2)) == repr(tnn.MaxPool2d(2))


def test_sequential_refuses_a_plain_function_at_construction():
    with pytest.raises(TypeError, match="Sequential: argument 1 \\(relu\\) is not a Module.*nn.ReLU"):
        nn.Sequential(nn.Linear(2, 2), nn.relu)
    with pytest.raises(TypeError, match="not a Module"):
        nn.ModuleList([lambda x: x])


# ---------------------------------------------------------------- saving, dtypes, errors
def test_a_state_dict_of_tensors_saves_and_loads(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    nn.checkpoint.save(str(tmp_path / "a.safetensors"), model.state_dict())
    tinygrad_mnist.save(model.state_dict(), tmp_path / "b.pt")
    loaded = tinygrad_mnist.load(tmp_path / "b.pt", map_location="cpu")
    assert list(loaded) == list(model.state_dict()) and all(isinstance(v, Tensor) for v in loaded.values())
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(loaded)
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())
    with pytest.raises(TypeError, match="expected a state dict"):
        tinygrad_mnist.save(model, tmp_path / "c.pt")


def test_an_integer_input_to_linear_follows_matmul_s_rule():
    x = Tensor(np.arange(6).reshape(2, 3))
    w = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    assert x.linear(w).dtype == (x @ w.T).dtype == np.float32
    assert Tensor(np.ones((2, 3), np.uint8)).linear(w).dtype == np.float32


def test_float_labels_to_cross_entropy_say_integer_indices_were_expected():
    with pytest.raises(ValueError, match="expected integer class indices.*target.long"):
        cross_entropy(Tensor(np.zeros((2, 3), np.float32)), Tensor(np.array([1.0, 2.0])))


def test_data_loader_batches_shuffles_with_a_generator_and_drops_the_last():
    from tinygrad_mnist.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(tinygrad_mnist.arange(10), tinygrad_mnist.arange(10) * 2)
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    g = tinygrad_mnist.Generator().manual_seed(3)
    order = [x for b in DataLoader(ds, batch_size=3, shuffle=True, generator=g) for x in b[0].tolist()]
    assert sorted(order) == list(range(10)) and order != list(range(10))
    again = [x for b in DataLoader(ds, 3, shuffle=True, generator=tinygrad_mnist.Generator().manual_seed(3))
             for x in b[0].tolist()]
    assert again == order
    assert all((b[1].array == 2 * b[0].array).all() for b in DataLoader(ds, 3, shuffle=True))


def test_top_level_function_forms_as_pytorch():
    x, tx = pair(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=False)
    values, indices = tinygrad_mnist.max(x, 1)
    tvalues, tindices = torch.max(tx, 1)
    same(values, tvalues), same(indices, tindices)
    for name in ("exp", "sin", "relu", "sigmoid", "tanh", "abs", "sum", "mean", "argmax"):
        same(getattr(tinygrad_mnist, name)(x), getattr(torch, name)(tx))
    same(tinygrad_mnist.softmax(x, dim=1), torch.softmax(tx, dim=1))
    same(tinygrad_mnist.flatten(x), torch.flatten(tx))
    assert tinygrad_mnist.float32 is np.float32 and tinygrad_mnist.long is np.int64


# ---------------------------------------------------------------- more of what ports reach for
import tinygrad_mnist.nn.functional as F  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

MORE = {
    "t": (lambda x: x.t(), lambda x: x.t()),
    "square": (lambda x: x.square(), lambda x: x.square()),
    "rsqrt": (lambda x: (x.abs() + 0.5).rsqrt(), lambda x: (x.abs() + 0.5).rsqrt()),
    "logsumexp": (lambda x: x.logsumexp(1), lambda x: x.logsumexp(1)),
    "logsumexp_keep": (lambda x: x.logsumexp(dim=0, keepdim=True) * 3, lambda x: x.logsumexp(0, keepdim=True) * 3),
    "mm": (lambda x: x.mm(x.t()), lambda x: x.mm(x.t())),
    "split": (lambda x: x.split(2, dim=1)[1] * 2, lambda x: x.split(2, dim=1)[1] * 2),
    "chunk": (lambda x: x.chunk(2)[1], lambda x: x.chunk(2)[1]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    "elu": (lambda x: F.elu(x), lambda x: TF.elu(x)),
    "silu": (lambda x: F.silu(x), lambda x: TF.silu(x)),
    "normalize": (lambda x: F.normalize(x), lambda x: TF.normalize(x)),
    "l1_loss": (lambda x: F.l1_loss(x, x.detach() * 0.5), lambda x: TF.l1_loss(x, x.detach() * 0.5)),
    "bce": (lambda x: F.binary_cross_entropy(x.sigmoid(), (x.detach() > 0).double()),
            lambda x: TF.binary_cross_entropy(x.sigmoid(), (x.detach() > 0).double())),
    "bce_logits": (lambda x: F.binary_cross_entropy_with_logits(x, (x.detach() > 0.3).double(), reduction="sum"),
                   lambda x: TF.binary_cross_entropy_with_logits(x, (x.detach() > 0.3).double(), reduction="sum")),
    "bce_logits_pos": (lambda x: F.binary_cross_entropy_with_logits(x, (x.detach() > 0).double(),
                                                                    pos_weight=Tensor(np.array([2.0]))),
                       lambda x: TF.binary_cross_entropy_with_logits(x, (x.detach() > 0).double(),
                                                                     pos_weight=torch.tensor([2.0], dtype=torch.float64))),
}


@pytest.mark.parametrize("name", MORE)
def test_more_methods_and_functions_match_pytorch(name):
    ours, theirs = MORE[name]
    x, tx = pair(np.random.default_rng(7).standard_normal((4, 4)) * 2)
    y, ty = ours(x), theirs(tx)
    same(y, ty)
    g = np.random.default_rng(8).standard_normal(ty.shape)
    y.backward(g), ty.backward(torch.tensor(g))
    same(x.grad, tx.grad)


def test_modules_initialisers_and_grad_modes_as_pytorch():
    for ours, theirs in ((nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2)), (nn.ELU(), tnn.ELU()), (nn.SiLU(), tnn.SiLU()),
                         (nn.L1Loss(), tnn.L1Loss()), (nn.BCELoss(), tnn.BCELoss())):
        assert repr(ours) == repr(theirs)
    x, tx = pair(np.random.default_rng(9).uniform(0.1, 0.9, (3, 2)))
    same(nn.BCELoss()(x, Tensor(np.ones((3, 2)))), tnn.BCELoss()(tx, torch.ones(3, 2, dtype=torch.float64)))
    tinygrad_mnist.manual_seed(0)
    w = Tensor(np.zeros((300, 200), np.float32), requires_grad=True)
    nn.init.kaiming_uniform_(w, a=5 ** 0.5)
    assert abs(float(w.array.max()) - 1 / np.sqrt(200)) < 1e-3  # PyTorch's Linear default: ±1/√fan_in
    nn.init.xavier_normal_(w)
    assert abs(float(w.array.std()) - np.sqrt(2 / 500)) < 2e-3
    assert nn.init.calculate_gain("relu") == tnn.init.calculate_gain("relu")
    assert nn.init.calculate_gain("leaky_relu", 0.2) == tnn.init.calculate_gain("leaky_relu", 0.2)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    tmodel = tnn.Sequential(tnn.Linear(2, 3), tnn.Sequential(tnn.ReLU(), tnn.Linear(3, 1)))
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]
    model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert float(model[0].bias.array.sum()) == 0
    model.requires_grad_(False)
    assert model.parameters() == []
    model.requires_grad_(True)
    assert len(model.parameters()) == 4
    p = Tensor(np.ones(2), requires_grad=True)
    tinygrad_mnist.set_grad_enabled(False)
    try:
        assert not (p * 2).requires_grad
    finally:
        tinygrad_mnist.set_grad_enabled(True)
    assert (p * 2).requires_grad
    with tinygrad_mnist.inference_mode():
        assert not (p * 2).requires_grad

    @tinygrad_mnist.no_grad()
    def evaluate():
        return (p * 2).requires_grad
    assert not evaluate() and (p * 2).requires_grad
    assert F.one_hot(Tensor(np.array([0, 2]))).tolist() == TF.one_hot(torch.tensor([0, 2])).tolist()
    tinygrad_mnist.manual_seed(1)
    assert sorted(tinygrad_mnist.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    assert tinygrad_mnist.is_tensor(p) and tinygrad_mnist.empty(2, 3).shape == (2, 3)
    same(tinygrad_mnist.linspace(0, 1, 5), torch.linspace(0, 1, 5), 1e-7)


def test_a_copy_to_the_gpu_and_back_passes_the_gradient_through():
    """`x.to("cuda")` is an op (ToDevice): d/dx is the identity, the gradient copied back to x's
    device (numba's simulator is the GPU in this test process)."""
    pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the test extra brings it)")
    if not tinygrad_mnist.cuda.is_available():
        pytest.skip("no CUDA and no simulator")
    x = Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    y = x.to("cuda") * Tensor(np.array([2.0, 3.0, 4.0], np.float32), device="cuda")
    y.sum().backward()  # one copy on the way: the gradient comes back to the CPU
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, 3.0, 4.0]
    w = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True, device="cuda")
    (w.cpu() * Tensor(np.array([5.0, -1.0], np.float32))).sum().backward()  # and the other way
    assert w.grad.device.type == "cuda" and w.grad.tolist() == [5.0, -1.0]
    assert y.grad_fn.name() == "Mul" and y.cpu().grad_fn.name() == "ToDevice"
