"""Exercise 14: the hypergradient of the L2 strength, by the implicit function theorem, checked
against unrolled differentiation and central differences."""
import numpy as np

from tinygrad_mnist import Tensor, autograd, cross_entropy, functional
from tinygrad_mnist.datasets import mnist


def problem(n=300):
    """MNIST's first images, averaged over 4×4 blocks (49 features and a constant)."""
    data = mnist.load()

    def features(images):
        x = images.numpy().reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49) / 255.0
        return Tensor(np.hstack([x, np.ones((len(x), 1))]))
    return (features(data.train_images.narrow(0, 0, n)), data.train_labels.narrow(0, 0, n).long(),
            features(data.test_images.narrow(0, 0, n)), data.test_labels.narrow(0, 0, n).long())


def losses(X, Y, Xv, Yv):
    return (lambda w, lam: cross_entropy(X @ w, Y) + 0.5 * lam * (w * w).sum()), (lambda w: cross_entropy(Xv @ w, Yv))


def solve(train_loss, lam, start=None, steps=2000, lr=2.0):
    """w*(λ) by gradient descent (strongly convex), from zeros or `start`."""
    w = Tensor(np.zeros((50, 10)) if start is None else start.numpy().copy(), requires_grad=True)
    for _ in range(steps):
        (g,) = autograd.grad(train_loss(w, lam), w)
        w = Tensor(w.numpy() - lr * g.numpy(), requires_grad=True)
    return w


def cg(matvec, b, iters=200, tol=1e-12):
    q, r = np.zeros_like(b), b.copy()
    p, rs = r.copy(), float((r * r).sum())
    for _ in range(iters):
        if rs <= tol ** 2:
            break
        ap = matvec(p)
        alpha = rs / float((p * ap).sum())
        q, r = q + alpha * p, r - alpha * ap
        rs, previous = float((r * r).sum()), rs
        p = r + (rs / previous) * p
    return q


def hypergradient(train_loss, val_loss, w_star, lam) -> float:
    """dV(w*(λ))/dλ = −qᵀw*, (H + λI) q = ∇V(w*): the implicit function theorem, CG on HVPs."""
    (gv,) = autograd.grad(val_loss(w_star), w_star)

    def hessian_vector(v):
        return functional.hvp(lambda w: train_loss(w, lam), Tensor(w_star.numpy()), Tensor(v))[1].numpy()
    q = cg(hessian_vector, gv.numpy())
    return -float((q * w_star.numpy()).sum())


def unrolled(train_loss, val_loss, lam, steps=300, lr=2.0) -> float:
    """dV/dλ through `steps` recorded steps of gradient descent."""
    lam_t = Tensor(np.array(lam), requires_grad=True)
    w = Tensor(np.zeros((50, 10)), requires_grad=True)
    for _ in range(steps):
        (g,) = autograd.grad(train_loss(w, lam_t), w, create_graph=True)
        w = w - lr * g
    return autograd.grad(val_loss(w), lam_t)[0].item()


def check(hypergradient=hypergradient) -> None:
    """The student's `hypergradient(train_loss, val_loss, w_star, lam)` against central
    differences in λ (to 1e-6 relative) and unrolled differentiation (to 1e-2: 300 steps)."""
    train_loss, val_loss = losses(*problem())
    lam, eps = 0.01, 1e-5
    w_star = solve(train_loss, lam)
    ours = hypergradient(train_loss, val_loss, w_star, lam)
    numeric = (val_loss(solve(train_loss, lam + eps, w_star, 600)).item()
               - val_loss(solve(train_loss, lam - eps, w_star, 600)).item()) / (2 * eps)
    assert abs(ours - numeric) <= 1e-6 * abs(numeric), (ours, numeric)
    assert abs(ours - unrolled(train_loss, val_loss, lam)) <= 1e-2 * abs(numeric)
