"""Gradient hooks, PyTorch's way: `register_hook` (any tensor; may replace the gradient) and
`register_post_accumulate_grad_hook` (leaves, after `.grad` is final), each with a handle whose
`remove()` takes it off. Each scenario runs on both engines and the calls must agree."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd

torch = pytest.importorskip("torch")


def scenario(lib, make, grad_of):
    """One graph with every kind of hook; returns the hooks' calls in order and the gradients."""
    calls = []

    def note(name, value):
        value = value.detach().numpy() if lib is torch and hasattr(value, "detach") else value
        calls.append((name, np.array(value, np.float64)))

    w = make([1.0, -2.0, 3.0])
    x = make([0.5, 1.5, -1.0])
    h = w * x                      # a node used twice below: its hook sees the sum of both uses
    h.register_hook(lambda g: note("h", g))
    h.register_hook(lambda g: g * 10)  # replaces the gradient for what comes after, and for w and x
    h.register_hook(lambda g: note("h after", g))
    w.register_hook(lambda g: note("w", g) or g + 1)
    w.register_post_accumulate_grad_hook(lambda leaf: note("w post", grad_of(leaf)))
    removed = x.register_hook(lambda g: note("never", g))
    removed.remove()
    loss = (h * h).sum() + h.sum()
    loss.backward()
    return calls, [grad_of(w), grad_of(x)]


def test_hooks_run_as_pytorchs_do():
    ours = scenario(Tensor, lambda v: Tensor(np.array(v, np.float32), requires_grad=True), lambda t: t.grad.numpy())
    theirs = scenario(torch, lambda v: torch.tensor(v, requires_grad=True), lambda t: t.grad.numpy())
    assert [name for name, _ in ours[0]] == [name for name, _ in theirs[0]] == ["h", "h after", "w", "w post"]
    for (_, a), (_, b) in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_hook_changes_what_autograd_grad_returns_and_a_post_hook_does_not_run_there():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    x.register_hook(lambda g: g * 2)
    posts = []
    x.register_post_accumulate_grad_hook(posts.append)
    (g,) = autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [4.0, 8.0])  # PyTorch: tensor([4., 8.])
    assert posts == [] and x.grad is None


def test_hooks_see_tensors_in_a_recorded_pass_and_stay_differentiable():
    """The hook multiplies y's gradient by y: a graph under create_graph. It fires again in the
    second pass, which goes through y too (as PyTorch's does): 4x⁴ + 2x², not (2x³)' = 6x²."""
    def both(lib, make):
        x = make([1.0, 2.0])
        y = x * x
        y.register_hook(lambda g: g * y)
        grad = torch.autograd.grad if lib is torch else autograd.grad
        (g,) = grad(y.sum(), x, create_graph=True)
        (gg,) = grad(g.sum(), x)
        return g.detach().numpy() if lib is torch else g.numpy(), gg.numpy()
    ours = both(Tensor, lambda v: Tensor(np.array(v), requires_grad=True))
    theirs = both(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    np.testing.assert_allclose(ours[0], [2.0, 16.0])
    np.testing.assert_allclose(ours[1], [6.0, 72.0])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b)


def test_what_a_hook_cannot_be_registered_on_or_return():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        Tensor([1.0]).register_hook(lambda g: g)
    leaf = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (leaf * 2).register_post_accumulate_grad_hook(lambda t: None)
    leaf.register_post_accumulate_grad_hook(lambda t: t * 2)
    with pytest.raises(RuntimeError, match="must return None"):
        (leaf * 1).sum().backward()
    other = Tensor([1.0, 2.0], requires_grad=True)
    other.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"returned shape \(\) for a tensor of shape \(2,\)"):
        (other * 1).sum().backward()


def test_a_leaf_gradient_a_hook_returned_is_not_taken_over():
    """The pass keeps an unshared gradient without copying it; one a hook returned may be the
    hook's own (kept by it), so it is copied."""
    kept = Tensor(np.array([5.0, 5.0], np.float32))
    w = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    w.register_hook(lambda g: kept)
    (w * 3).sum().backward()
    w.grad.array[0] = 0
    assert kept.numpy().tolist() == [5.0, 5.0]
