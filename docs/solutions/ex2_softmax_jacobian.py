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


def softmax_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """gᵀJ in O(n), without J: p ⊙ (g − g·p)."""
    p = softmax(x)
    return p * (g - g @ p)


def check(softmax_jacobian=softmax_jacobian, softmax_vjp=softmax_vjp) -> None:
    """The student's Jacobian (by columns against central differences, columns summing to 0)
    and O(n) VJP (against the engine's backward), on several inputs, large ones included."""
    rng = np.random.default_rng(1)
    for scale in (1.0, 30.0):
        x, g = rng.normal(size=5) * scale, rng.normal(size=5)
        _check_one(softmax_jacobian, softmax_vjp, x, g)


def _check_one(softmax_jacobian, softmax_vjp, x, g) -> None:
    J = softmax_jacobian(x)
    eps = 1e-6  # each column against central differences
    numeric = np.stack([(softmax(x + eps * e) - softmax(x - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(J, numeric, atol=1e-8)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-12)  # probabilities always sum to 1
    t = Tensor(x, requires_grad=True)  # backward computes gᵀJ without building J
    t.softmax(dim=0).backward(g)
    np.testing.assert_allclose(t.grad, g @ J, atol=1e-12)
    np.testing.assert_allclose(softmax_vjp(x, g), t.grad, atol=1e-12)  # the VJP in O(n)


if __name__ == "__main__":
    check()
    print("ok")
