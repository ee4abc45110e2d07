"""Exercise 5: the gradient of a broadcast, by hand and by the engine."""
import numpy as np

from tinygrad_mnist import Tensor


def unbroadcast_by_hand(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum over the dimensions numpy added in front, then over those that were 1 and grew."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def check(unbroadcast_by_hand=unbroadcast_by_hand) -> None:
    """The student's un-broadcast against the engine's gradients, on shapes that broadcast in
    front, in the middle and both."""
    rng = np.random.default_rng(3)
    for big, small in (((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 3, 1)), ((5, 1, 4), (2, 1)),
                       ((2, 3), ())):
        target = Tensor(rng.normal(size=small), requires_grad=True)
        g = rng.normal(size=np.broadcast_shapes(big, small))
        (target + Tensor(np.zeros(big))).backward(g)
        mine = unbroadcast_by_hand(g, small)
        assert np.shape(mine) == small, f"{np.shape(mine)} for a gradient of shape {small}"
        np.testing.assert_allclose(mine, target.grad.numpy(), rtol=1e-12)
    a_np, b_np = rng.normal(size=(3, 1)), rng.normal(size=(4,))
    a, b = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    (a * b).sum().backward()          # y[i, j] = a[i, 0] · b[j], a 3 × 4 table
    # dL/da[i] = Σ_j b[j] (a was copied along the 4 columns), dL/db[j] = Σ_i a[i] (b along 3 rows)
    np.testing.assert_allclose(a.grad, np.full((3, 1), b_np.sum()))
    np.testing.assert_allclose(b.grad, np.full(4, a_np.sum()))
    ones = np.ones((3, 4))
    np.testing.assert_allclose(unbroadcast_by_hand(ones * b_np, (3, 1)), a.grad)
    np.testing.assert_allclose(unbroadcast_by_hand(ones * a_np, (4,)), b.grad)


if __name__ == "__main__":
    check()
    print("ok")
