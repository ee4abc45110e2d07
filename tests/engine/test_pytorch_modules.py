"""PyTorch's module habits: `nn.Parameter`, `requires_grad_`, `Linear(in, out)`, `Sequential`,
`ReLU`, `CrossEntropyLoss`, `Conv1d`, `AvgPool2d`, `state_dict`/`load_state_dict`, `AdamW(betas=)`,
and the tensor spellings a PyTorch user types first (`size()`, `clone`, `is_leaf`, `retain_grad`,
`grad_fn`, `isclose`, `std`/`var`). PyTorch is the oracle where it is installed."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, no_grad
from tinygrad_mnist.nn import (SGD, AdamW, AvgPool2d, Conv1d, Conv2d, CrossEntropyLoss, Linear, MaxPool2d, Module,
                               Parameter, ReLU, Sequential, init)

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def test_parameter_requires_grad_and_what_ops_make_from_it_is_plain():
    p = Parameter(Tensor(np.ones(3, np.float32)))
    assert isinstance(p, Parameter) and p.requires_grad and p.is_leaf
    assert not Parameter(np.ones(2), requires_grad=False).requires_grad
    y = p * 2
    assert type(y) is Tensor and not y.is_leaf and y.grad_fn.name() == "Mul"
    with no_grad():
        assert type(p + 1) is Tensor and not (p + 1).requires_grad
    y.sum().backward()
    assert type(p.grad) is Tensor and not p.grad.requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        Parameter(np.ones(2, np.int64))


def test_requires_grad_is_leaf_grad_fn_retain_grad():
    x = Tensor(np.array([1.0, 2.0])).requires_grad_()
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    h = x * x
    h.retain_grad()
    (h.relu() * 3).sum().backward()
    assert not h.is_leaf and h.grad_fn.name() == "Mul" and repr(h.grad_fn) == "<Mul>"
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 3.0])  # kept: the non-leaf asked for it
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 12.0])
    assert "grad_fn=Mul" in repr(h) or "grad_fn=<Mul>" in repr(h)
    with pytest.raises(RuntimeError, match="detach"):
        h.requires_grad_(False)
    assert not x.requires_grad_(False).requires_grad


@needs_torch
def test_size_clone_isclose_std_var_match_pytorch():
    a = np.arange(12.0).reshape(3, 4) / 3
    x, tx = Tensor(a), torch.tensor(a)
    assert x.size() == tuple(tx.size()) and x.size(1) == tx.size(1) and x.size(-2) == tx.size(-2)
    assert x.numel() == tx.numel()
    c = x.clone()
    assert c is not x and c.array is not x.array and c.tolist() == x.tolist()
    for kw in ({}, {"dim": 1}, {"dim": 0, "unbiased": False}, {"dim": (0, 1), "correction": 0, "keepdim": True}):
        np.testing.assert_allclose(x.var(**kw).numpy(), tx.var(**kw).numpy())
        np.testing.assert_allclose(x.std(**kw).numpy(), tx.std(**kw).numpy())
    np.testing.assert_allclose(x.var(False).numpy(), tx.var(False).numpy())
    y = a + 1e-9
    assert x.isclose(Tensor(y)).tolist() == tx.isclose(torch.tensor(y)).tolist()
    assert x.allclose(y) == tx.allclose(torch.tensor(y)) and not x.allclose(a + 1)
    assert x.sum(dtype=np.float32).dtype == np.float32
    assert Tensor(np.array([200, 100], np.uint8)).sum().item() == 300  # int64, as PyTorch


@needs_torch
def test_linear_built_pytorch_s_way():
    init.seed(0)
    lin = Linear(2, 16)
    assert lin.weight.shape == (16, 2) and lin.bias.shape == (16,) and isinstance(lin.weight, Parameter)
    bound = 1 / np.sqrt(2)
    assert np.abs(lin.weight.numpy()).max() <= bound and np.abs(lin.bias.numpy()).max() <= bound
    assert Linear(3, 4, bias=False).bias is None and Linear(in_features=3, out_features=4).weight.shape == (4, 3)
    assert lin(Tensor(np.ones((5, 2), np.float32))).shape == (5, 16)
    with pytest.raises(TypeError, match="Linear"):
        Linear(np.ones((2, 2)))
    with pytest.raises(TypeError, match="Linear"):
        Linear(2, 16, bogus=1)


@needs_torch
def test_sequential_state_dict_and_a_pytorch_state_dict_loaded_as_it_is():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ours = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert len(ours) == 3 and isinstance(ours[1], ReLU) and [type(m) for m in ours][0] is Linear
    state = ours.state_dict()
    assert state["0.weight"].array is ours[0].weight.array and not state["0.weight"].requires_grad


def test_load_state_dict_names_missing_unexpected_and_misshapen_keys():
    net = Sequential(Linear(2, 3), Linear(3, 1))
    good = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: '1.bias'"):
        net.load_state_dict({k: v for k, v in good.items() if k != "1.bias"})
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: 'extra'"):
        net.load_state_dict({**good, "extra": np.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight"):
        net.load_state_dict({**good, "0.weight": np.zeros((3, 3))})
    before = net[0].weight.numpy().copy()
    with pytest.raises(RuntimeError):
        net.load_state_dict({**good, "0.weight": np.zeros((3, 2)), "1.bias": np.zeros(7)})
    np.testing.assert_array_equal(net[0].weight.numpy(), before)  # nothing copied when something is wrong
    result = net.load_state_dict({"0.weight": np.zeros((3, 2)), "extra": 1}, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"] and result.unexpected_keys == ["extra"]
    assert np.all(net[0].weight.numpy() == 0)


@needs_torch
def test_cross_entropy_loss_module_and_adamw_betas():
    rng = np.random.default_rng(2)
    logits, target, weight = rng.standard_normal((6, 3)), np.array([0, 2, 1, 1, -100, 0]), np.array([1.0, 2.0, 0.5])
    ours = CrossEntropyLoss(weight=weight, label_smoothing=0.1)(Tensor(logits), target)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight), label_smoothing=0.1)(torch.tensor(logits),
                                                                                          torch.tensor(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    p, tp = Parameter(np.ones(3)), torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt, topt = AdamW([p], lr=0.1, betas=(0.5, 0.9)), torch.optim.AdamW([tp], lr=0.1, betas=(0.5, 0.9))
    for _ in range(3):
        opt.zero_grad(), topt.zero_grad()
        (p * p * Tensor(np.arange(3.0))).sum().backward()
        (tp * tp * torch.arange(3.0, dtype=torch.float64)).sum().backward()
        opt.step(), topt.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        AdamW([p], beta1=0.8, betas=(0.5, 0.9))


@needs_torch
def test_conv1d_conv2d_avgpool_maxpool_modules_built_pytorch_s_way():
    torch.manual_seed(1)
    for ours, theirs, shape in ((Conv1d(3, 4, 3, stride=2, padding=1), torch.nn.Conv1d(3, 4, 3, stride=2, padding=1),
                                 (2, 3, 9)),
                                (Conv2d(2, 4, (3, 2), padding=1, groups=2), torch.nn.Conv2d(2, 4, (3, 2), padding=1,
                                                                                            groups=2), (2, 2, 5, 6))):
        assert ours.weight.shape == tuple(theirs.weight.shape)
        ours.weight.array[...], ours.bias.array[...] = theirs.weight.detach().numpy(), theirs.bias.detach().numpy()
        x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 7)).astype(np.float32)
    np.testing.assert_allclose(AvgPool2d(3, 2, 1, ceil_mode=True)(Tensor(x)).numpy(),
                               torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True)(torch.from_numpy(x)).numpy(), rtol=1e-6)
    values, indices = MaxPool2d(2, return_indices=True)(Tensor(x))
    tvalues, tindices = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    assert indices.tolist() == tindices.tolist() and values.tolist() == tvalues.tolist()


def test_a_module_of_pytorch_s_spelling_trains():
    class Net(Module):
        def __init__(self):
            self.body = Sequential(Linear(2, 16), ReLU(), Linear(16, 2))

        def forward(self, x):
            return self.body(x)

    init.seed(0)
    net, loss_fn = Net(), CrossEntropyLoss()
    x = Tensor(np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32))
    y = (x.numpy()[:, 0] > 0).astype(np.int64)
    opt = SGD(net.parameters(), 0.5)
    first = None
    for _ in range(50):
        loss = loss_fn(net(x), y)
        first = first or loss.item()
        opt.backward_step(loss)
    assert [n for n, _ in net.named_parameters()] == ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    assert loss.item() < first / 4


@pytest.mark.parametrize("recorded", [True, False])
def test_max_pool_with_indices_runs_its_kernel_once(monkeypatch, recorded):
    from tinygrad_mnist import kernels
    calls = []
    real = kernels.impl.max_pool2d
    monkeypatch.setattr(kernels.impl, "max_pool2d", lambda *a: calls.append(1) or real(*a))
    x = Tensor(np.random.default_rng(5).standard_normal((1, 2, 4, 4)).astype(np.float32), requires_grad=recorded)
    values, indices = x.max_pool2d(2, return_indices=True)
    assert len(calls) == 1 and indices.shape == values.shape and indices.dtype == np.int64
