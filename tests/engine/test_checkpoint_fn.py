"""`checkpoint(fn, *args)`: the same values and gradients as the plain graph, first and second
order, parameters inside fn included, a dropout's mask replayed, and nothing inside fn kept."""
import numpy as np
import pytest

import tinygrad_mnist
from tinygrad_mnist import Tensor, autograd, checkpoint, gradcheck, gradgradcheck, nn
from tinygrad_mnist.autograd import topological_order
from tinygrad_mnist.generator import rng


def layers():
    tinygrad_mnist.manual_seed(0)
    return nn.Linear(4, 8).to(np.float64), nn.Linear(8, 3).to(np.float64)


def test_gradients_of_parameters_and_inputs_match_the_plain_graph_with_dropout():
    l1, l2 = layers()
    x0 = np.random.default_rng(1).standard_normal((5, 4))

    def block(x):
        return nn.functional.dropout(l1(x).tanh(), 0.5, True)
    results = []
    for wrap in (lambda f, x: f(x), checkpoint):
        state = rng().bit_generator.state
        x = Tensor(x0.copy(), requires_grad=True)
        for p in l1.parameters() + l2.parameters():
            p.grad = None
        loss = (l2(wrap(block, x)) ** 2).sum()
        loss.backward()
        results.append([loss.item(), x.grad.numpy(), l1.weight.grad.numpy(), l2.weight.grad.numpy()])
        rng().bit_generator.state = state
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_an_input_without_gradient_still_sends_the_parameters_theirs():
    l1, _ = layers()
    x = Tensor(np.ones((2, 4)))
    checkpoint(lambda v: l1(v).tanh(), x).sum().backward()
    assert l1.weight.grad is not None and x.grad is None


def test_second_order_through_a_checkpoint():
    w = Tensor(np.random.default_rng(2).standard_normal((3, 3)), requires_grad=True)
    x = Tensor(np.random.default_rng(3).standard_normal(3), requires_grad=True)

    def f(a):
        return (w @ a).tanh()
    (g,) = autograd.grad(f(x).sum(), x, create_graph=True)
    (h,) = autograd.grad((g * g).sum(), x)
    (gc,) = autograd.grad(checkpoint(f, x).sum(), x, create_graph=True)
    (hc,) = autograd.grad((gc * gc).sum(), x)
    np.testing.assert_allclose(gc.numpy(), g.numpy(), rtol=1e-14)
    np.testing.assert_allclose(hc.numpy(), h.numpy(), rtol=1e-14)
    assert gradcheck(lambda a: checkpoint(f, a), x) and gradgradcheck(lambda a: checkpoint(f, a), x)


def test_nothing_inside_the_checkpoint_is_in_the_graph():
    l1, l2 = layers()
    x = Tensor(np.ones((2, 4)), requires_grad=True)
    plain = topological_order(l2(l1(x).tanh()).sum())
    kept = topological_order(l2(checkpoint(lambda v: l1(v).tanh(), x)).sum())
    names = [n._ctx.fn.__name__ for n in kept if n._ctx is not None]
    assert "Tanh" not in names and "RecomputeBackward" in names and len(kept) < len(plain)
    with tinygrad_mnist.no_grad():
        assert checkpoint(lambda v: l1(v), x).grad_fn is None


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="checkpoint: fn must return one tensor"):
        checkpoint(lambda v: (v, v), Tensor(np.ones(2), requires_grad=True))
