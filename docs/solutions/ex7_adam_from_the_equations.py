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


def check() -> None:
    rng = np.random.default_rng(7)
    p = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(25)]
    for wd in (0.0, 0.1):
        np.testing.assert_allclose(engine(p, grads, lr=0.01, weight_decay=wd),
                                   adamw_by_hand(p, grads, weight_decay=wd), rtol=0, atol=1e-12)
    # without the bias correction the first steps are far too small: the check can tell
    first = adamw_by_hand(p, grads[:1])
    assert np.allclose(np.abs(first - p), 0.01, rtol=1e-4)  # |step| = lr on step 1, whatever g's scale


if __name__ == "__main__":
    check()
    print("ok")
