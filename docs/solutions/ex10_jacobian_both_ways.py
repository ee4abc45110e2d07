"""Exercise 10: a Jacobian by columns (JVPs) and by rows (VJPs), by hand."""
import numpy as np

from tinygrad_mnist import Tensor, functional

A = np.random.default_rng(10).standard_normal((5, 3))


def f(x):  # R³ → R⁵
    return (Tensor(A) @ x).tanh() * x.sum()


def by_columns(x: np.ndarray) -> np.ndarray:
    """Column j is J·e_j: one forward pass per input."""
    return np.stack([functional.jvp(f, Tensor(x), Tensor(np.eye(3)[j]))[1].numpy() for j in range(3)], axis=1)


def by_rows(x: np.ndarray) -> np.ndarray:
    """Row i is e_iᵀJ: one backward pass per output."""
    return np.stack([functional.vjp(f, Tensor(x), Tensor(np.eye(5)[i]))[1].numpy() for i in range(5)], axis=0)


def by_hand(x: np.ndarray) -> np.ndarray:
    """f_i = tanh(a_i·x) · s with s = Σx:  ∂f_i/∂x_j = (1 − tanh²(a_i·x)) a_ij s + tanh(a_i·x)."""
    t, s = np.tanh(A @ x), x.sum()
    return (1 - t ** 2)[:, None] * A * s + t[:, None]


def check(by_columns=by_columns, by_rows=by_rows, by_hand=by_hand) -> None:
    """The student's three Jacobians against the engine's, at two points."""
    for x in (np.array([0.2, -0.5, 0.9]), np.array([1.5, 0.3, -2.0])):
        reference = functional.jacobian(f, Tensor(x)).numpy()
        np.testing.assert_allclose(reference, functional.jacobian(f, Tensor(x), strategy="forward-mode").numpy(),
                                   rtol=1e-12, atol=1e-14)
        for name, jac in (("by_columns", by_columns(x)), ("by_rows", by_rows(x)), ("by_hand", by_hand(x))):
            assert np.shape(jac) == (5, 3), f"{name}: shape {np.shape(jac)}, J is [5, 3] (outputs × inputs)"
            np.testing.assert_allclose(jac, reference, rtol=1e-12, atol=1e-14, err_msg=name)


if __name__ == "__main__":
    check()
    print("ok")
