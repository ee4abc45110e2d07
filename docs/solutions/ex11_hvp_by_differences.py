"""Exercise 11: a Hessian-vector product against finite differences of gradients."""
import numpy as np

from tinygrad_mnist import Tensor, cross_entropy, functional

rng = np.random.default_rng(11)
X, Y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)


def loss(w):  # a small softmax regression: w is [3, 4]
    return cross_entropy(Tensor(X).linear(w), Y)


def gradient(w: np.ndarray) -> np.ndarray:
    return functional.vjp(loss, Tensor(w))[1].numpy()


def hvp_by_differences(w: np.ndarray, v: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """H·v ≈ (∇L(w + εv) − ∇L(w − εv)) / 2ε: the directional derivative of the gradient."""
    return (gradient(w + eps * v) - gradient(w - eps * v)) / (2 * eps)


def check() -> None:
    w, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _, forward_over_reverse = functional.hvp(loss, Tensor(w), Tensor(v))
    _, reverse_over_reverse = functional.vhp(loss, Tensor(w), Tensor(v))
    np.testing.assert_allclose(forward_over_reverse.numpy(), hvp_by_differences(w, v), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(reverse_over_reverse.numpy(), forward_over_reverse.numpy(), rtol=1e-10, atol=1e-12)


if __name__ == "__main__":
    check()
    print("ok")
