"""The course's corrected statements, held by tests where a test can hold them: what a graph
keeps after backward, why the linear model's Newton step needs damping, how many HVPs a
NewtonCG step takes, and that a forward-mode Jacobian records no graph."""
import gc
import weakref

import numpy as np

from tinygrad_mnist import Tensor, cross_entropy, functional
from tinygrad_mnist.nn import Linear, NewtonCG


def test_after_backward_the_graph_keeps_outputs_until_the_loss_goes():
    """higher-order.md: besides .grad, what a step holds after backward is every op's output,
    kept through the graph while the loss lives; dropping the loss frees them."""
    w = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    hidden = (Tensor(np.ones((5, 3))).linear(w)).tanh()
    array = weakref.ref(hidden.array.base if hidden.array.base is not None else hidden.array)
    loss = (hidden * 2).sum()
    del hidden
    loss.backward()
    gc.collect()
    assert array() is not None  # still held, through loss's graph
    del loss
    gc.collect()
    assert array() is None and w.grad is not None


def test_the_linear_model_s_hessian_is_singular_and_damping_makes_the_step_exist():
    """higher-order.md: a pixel zero in every image, and adding one number to every class's
    weights for a pixel, are flat directions: H·v = 0 there."""
    rng = np.random.default_rng(1)
    x = rng.random((20, 6))
    x[:, 2] = 0.0  # a pixel that is 0 in every image
    y = rng.integers(0, 3, 20)
    w0 = rng.standard_normal((3, 6)) * 0.1

    def loss(w):
        return cross_entropy(Tensor(x).linear(w), y)
    zero_pixel = np.zeros((3, 6))
    zero_pixel[:, 2] = rng.standard_normal(3)
    class_constant = np.zeros((3, 6))
    class_constant[:, 4] = 1.0  # the same shift of every class's weight for pixel 4
    for v in (zero_pixel, class_constant):
        _, hv = functional.hvp(loss, Tensor(w0), Tensor(v))
        assert np.abs(hv.numpy()).max() < 1e-12
    _, damped = functional.hvp(lambda w: loss(w) + 0.5e-3 * (w * w).sum(), Tensor(w0), Tensor(class_constant))
    np.testing.assert_allclose(damped.numpy(), 1e-3 * class_constant, atol=1e-12)


def test_a_newton_cg_step_takes_at_most_ten_hvps_by_default():
    """higher-order.md: cg_iters HVPs a step, 10 by default (not 'a few tens')."""
    layer = Linear(Tensor(np.zeros((10, 30))), Tensor(np.zeros(10)))
    layer.weight.requires_grad_(), layer.bias.requires_grad_()
    opt = NewtonCG(layer.parameters(), damping=1e-3, tol=0.0)
    x, y = np.random.default_rng(2).random((50, 30)), np.random.default_rng(3).integers(0, 10, 50)
    opt.backward_step(cross_entropy(layer(Tensor(x)), y))
    assert opt.cg_iters == 10 and opt.last_iterations == 10


def test_a_forward_mode_jacobian_records_no_graph():
    seen = []

    def f(x):
        seen.append(x.requires_grad)
        return (x * x).sin()
    functional.jacobian(f, Tensor(np.array([0.5, 1.0, 2.0])), strategy="forward-mode")
    assert seen and not any(seen)
