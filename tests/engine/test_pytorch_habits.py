"""What a PyTorch user types first does what PyTorch does, or fails with a clear message: each
test runs the same lines on the engine and on PyTorch (the oracle) where PyTorch is installed."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, cross_entropy, nll
from tinygrad_mnist.nn import Dropout, Linear, Module, ops

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def pair(values, requires_grad=True):
    """The same float64 values as an engine tensor and a PyTorch tensor."""
    a = np.asarray(values, dtype=np.float64)
    return Tensor(a, requires_grad=requires_grad), (torch.tensor(a, requires_grad=requires_grad) if torch else None)


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


@needs_torch
def test_in_place_on_an_intermediate_is_differentiated(backend):
    """micrograd's pattern `c += c + 1` on a non-leaf: allowed and differentiated, as in PyTorch."""
    (a, ta), (b, tb) = pair([-4.0, 1.5]), pair([2.0, -3.0])
    results = []
    for x, y in ((a, b), (ta, tb)):
        c = x + y
        c += c + 1
        c *= y
        c -= x
        c /= 2.0
        results.append(c)
        c.sum().backward()
    close(results[0].array, results[1])
    close(a.grad, ta.grad)
    close(b.grad, tb.grad)


def test_in_place_on_a_leaf_is_still_refused_and_a_constant_is_updated_in_place():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation on a leaf that requires grad"):
        w += 1
    plain = Tensor(np.ones(2))
    alias = plain
    plain += 2  # nothing recorded: the array itself changes, as every name for it sees
    assert alias is plain and plain.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="cannot hold"):
        ints = Tensor(np.ones(2, np.int64))
        ints += 0.5


def test_modules_start_in_training_mode():
    layer = Linear(Tensor(np.ones((2, 3), np.float32), requires_grad=True))
    assert layer.training and Dropout(0.5).training and Module().training
    if torch is not None:
        assert torch.nn.Linear(3, 2).training


def view_fails(t, shape):
    try:
        t.view(*shape)
    except RuntimeError as err:
        assert "torch" in type(t).__module__ or "use .reshape" in str(err), err
        return True
    return False


@needs_torch
def test_view_raises_where_pytorch_does_and_contiguous_makes_it_work():
    x, tx = pair(np.arange(24.0).reshape(2, 3, 4))
    views = {"permute": lambda t: t.permute(2, 0, 1), "transpose": lambda t: t.transpose(0, 1),
             "step": lambda t: t[:, :, ::2], "T": lambda t: t[0].T, "sliced": lambda t: t[:, 1:, :],
             "row": lambda t: t[1], "expand": lambda t: t[:, :1].expand(2, 3, 4)}
    for name, make in views.items():
        for shape in ((-1,), (2, -1), (-1, 2)):
            assert view_fails(make(x), shape) == view_fails(make(tx), shape), (name, shape)
        close(make(x).contiguous().view(-1).array, make(tx).contiguous().view(-1))
        close(make(x).reshape(-1).array, make(tx).reshape(-1))
    assert view_fails(x.permute(2, 0, 1), (-1,))
    np.testing.assert_array_equal(x.view(4, 6).numpy(), tx.view(4, 6).detach().numpy())
    assert x.contiguous() is x and x.permute(1, 0, 2).permute(1, 0, 2).view(6, 4).shape == (6, 4)
    with pytest.raises(ValueError):
        x.view(5, 5)
    (x.permute(2, 0, 1).contiguous().view(-1) * Tensor(np.arange(24.0))).sum().backward()
    (tx.permute(2, 0, 1).contiguous().view(-1) * torch.arange(24.0, dtype=torch.float64)).sum().backward()
    close(x.grad, tx.grad)


@needs_torch
@pytest.mark.parametrize("spelling", ["dim", "axis"])
def test_max_along_a_dim_means_one_thing_whatever_the_keyword(spelling, backend):
    """max(dim=1) and max(axis=1) are PyTorch's max(dim): (values, indices), the gradient to the
    index returned; amax/amin and a full max() split ties evenly."""
    ties = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    x, tx = pair(ties)
    values, indices = x.max(**{spelling: 1})
    tvalues, tindices = tx.max(**{spelling: 1})
    assert indices.tolist() == tindices.tolist()
    values.sum().backward()
    tvalues.sum().backward()
    close(x.grad, tx.grad)
    for reduce in (lambda t: t.amax(1), lambda t: t.amin(dim=(0, 1)), lambda t: t.max(), lambda t: t.min(),
                   lambda t: t.amax(), lambda t: t.amax(dim=0, keepdim=True)):
        x, tx = pair(ties)
        close(reduce(x).array, reduce(tx))
        reduce(x).sum().backward()
        reduce(tx).sum().backward()
        close(x.grad, tx.grad)
    with pytest.raises(TypeError, match="amax/amin"):
        Tensor(np.ones((2, 2))).max(dim=(0, 1))


@needs_torch
def test_integer_to_a_negative_integer_power_raises():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        torch.tensor([2]) ** -1
    with pytest.raises(ValueError, match="integers to negative integer powers are not allowed"):
        Tensor(np.array([2])) ** -1
    assert (Tensor(np.array([2])) ** 2).tolist() == [4] and (Tensor(np.array([2.0])) ** -1).tolist() == [0.5]
    assert (Tensor(np.array([4])) ** -0.5).dtype == np.float32


def test_dropout_of_one_gives_zeros_in_training_and_the_input_in_eval(backend):
    x = Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    d = Dropout(p=1.0)
    y = d(x)
    assert np.all(y.numpy() == 0) and np.isfinite(y.numpy()).all()
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)
    assert d.eval()(x) is x
    assert np.all(ops.dropout(x, 1.0).numpy() == 0) and ops.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ops.dropout(x, -0.1)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_weights_are_the_third_positional_argument(reduction, backend):
    rng = np.random.default_rng(0)
    logits, t_logits = pair(rng.standard_normal((6, 4)))
    target = np.array([0, 3, 1, 1, -100, 2])
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    ours = cross_entropy(logits, target, Tensor(weight), reduction=reduction)
    theirs = TF.cross_entropy(t_logits, torch.from_numpy(target), torch.from_numpy(weight), reduction=reduction)
    close(ours.array, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    close(logits.grad, t_logits.grad)
    lp, t_lp = pair(rng.standard_normal((6, 4)))
    close(nll(lp, target, weight, reduction=reduction).array,
          TF.nll_loss(t_lp, torch.from_numpy(target), torch.from_numpy(weight), reduction=reduction))
    close(nll(lp[:4], target[:4], reduction=reduction).array,
          TF.nll_loss(t_lp[:4], torch.from_numpy(target[:4]), reduction=reduction))  # keywords as before
    with pytest.raises(TypeError, match="give reduction by name"):
        nll(lp, target, "sum")


@needs_torch
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_class_weights_with_smoothing_and_probability_targets(smoothing, backend):
    rng = np.random.default_rng(1)
    logits, t_logits = pair(rng.standard_normal((5, 3)))
    weight = np.array([0.2, 1.5, 0.7])
    for target in (np.array([0, 2, -100, 1, 1]), rng.dirichlet(np.ones(3), 5)):
        ours = cross_entropy(logits, target, weight, label_smoothing=smoothing)
        theirs = TF.cross_entropy(t_logits, torch.from_numpy(target), torch.from_numpy(weight),
                                  label_smoothing=smoothing)
        close(ours.array, theirs)


@needs_torch
def test_relu_sends_zero_where_flat_even_for_a_nan_cotangent(backend):
    x, tx = pair([-1.0, 2.0, 0.0])
    g = np.array([np.nan, np.nan, np.inf])
    x.relu().backward(g), tx.relu().backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # [0, nan, 0]
