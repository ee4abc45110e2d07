"""Exercise 2: softmax, its Jacobian, and the vector-Jacobian product backward computes instead."""
import numpy as np

from tinygrad_mnist import Tensor


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def softmax_jacobian(x: np.ndarray) -> np.ndarray:
    """∂p_i/∂x_k = p_i (δ_ik − p_k): diag(p) − p pᵀ."""
    p = softmax(x)
    return np.diag(p) - np.outer(p, p)


def check() -> None:
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=5), rng.normal(size=5)
    J = softmax_jacobian(x)
    eps = 1e-6  # each column against central differences
    numeric = np.stack([(softmax(x + eps * e) - softmax(x - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(J, numeric, atol=1e-8)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-12)  # probabilities always sum to 1
    t = Tensor(x, requires_grad=True)  # backward computes gᵀJ without building J
    t.softmax(dim=0).backward(g)
    np.testing.assert_allclose(t.grad, g @ J, atol=1e-12)
    p = softmax(x)
    np.testing.assert_allclose(g @ J, p * (g - g @ p), atol=1e-12)  # the VJP in O(n)


if __name__ == "__main__":
    check()
    print("ok")
