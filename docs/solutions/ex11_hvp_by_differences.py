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


def check(hvp_by_differences=hvp_by_differences) -> None:
    """The student's central difference of gradients, at its ε = 10⁻⁵, against the HVP: good
    to about 10 digits (a one-sided difference keeps about 5, and fails). hvp (forward over
    reverse) and vhp (reverse over reverse) agree to rounding: the same sums, differently
    ordered."""
    w, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _, forward_over_reverse = functional.hvp(loss, Tensor(w), Tensor(v))
    _, reverse_over_reverse = functional.vhp(loss, Tensor(w), Tensor(v))
    exact = forward_over_reverse.numpy()
    np.testing.assert_allclose(hvp_by_differences(w, v), exact, rtol=0, atol=1e-8 * np.abs(exact).max())
    np.testing.assert_allclose(reverse_over_reverse.numpy(), exact, rtol=0, atol=1e-14 * np.abs(exact).max())


if __name__ == "__main__":
    check()
    print("ok")
