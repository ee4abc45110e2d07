"""Exercise 7: Adam from its equations, matched against the engine's AdamW."""
import numpy as np

from tinygrad_mnist import Tensor
from tinygrad_mnist.nn import AdamW


def adamw_by_hand(p, grads, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """docs/optimizers.md's (8), (4), (5), (6), (7), one step per gradient."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * weight_decay)                  # (8): decoupled, not added to g
        m = beta1 * m + (1 - beta1) * g                  # (4)
        v = beta2 * v + (1 - beta2) * g * g              # (5)
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)  # (6)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)      # (7)
    return p


def engine(p, grads, **options):
    w = Tensor(p.copy(), requires_grad=True)
    opt = AdamW([w], **options)
    for g in grads:
        w.grad = Tensor(g)
        opt.step()
    return w.numpy()


def check(adamw_by_hand=adamw_by_hand) -> None:
    """The student's `adamw_by_hand(p, grads, lr, beta1, beta2, eps, weight_decay)` against the
    engine's AdamW, with and without decay, on gradients of two scales."""
    rng = np.random.default_rng(7)
    p = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(25)]
    for scale in (1.0, 1e-6):
        for wd in (0.0, 0.1):
            g = [scale * x for x in grads]
            np.testing.assert_allclose(adamw_by_hand(p, g, lr=0.01, weight_decay=wd),
                                       engine(p, g, lr=0.01, weight_decay=wd), rtol=0, atol=1e-12)
    # the first step: m̂ = g, v̂ = g², so |Δp| = lr·|g| / (|g| + eps): lr to within eps/|g|, and
    # visibly less for gradients near eps (the written answer in exercises.md)
    g = np.array([1.0, 1e-8, 1e-10])
    first = adamw_by_hand(np.zeros(3), [g], lr=0.01, eps=1e-8)
    np.testing.assert_allclose(np.abs(first), 0.01 * g / (g + 1e-8), rtol=1e-9)


if __name__ == "__main__":
    check()
    print("ok")
