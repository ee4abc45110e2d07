"""Exercise 8: a broadcasting gradient by hand, three operands and three shapes."""
import numpy as np

from tinygrad_mnist import Tensor


def by_hand(a, b, c):
    """L = Σ (a + b) · c with a [2, 1, 3], b [4, 1], c [3]; the sum runs over the broadcast
    shape [2, 4, 3]. dL/d(a + b) = c copied to [2, 4, 3], and dL/dc = (a + b) there; then each
    operand's gradient is summed over the dimensions it was copied along."""
    full = np.broadcast_shapes(a.shape, b.shape, c.shape)        # (2, 4, 3)
    g_sum = np.broadcast_to(c, full)                              # ∂L/∂(a + b)[i, j, k] = c[k]
    da = g_sum.sum(axis=1, keepdims=True)                         # a was copied along j
    db = g_sum.sum(axis=(0, 2))[:, None]                          # b along i (added in front) and k
    dc = np.broadcast_to(a + b, full).sum(axis=(0, 1))            # c along i and j
    return da, db, dc


def check(by_hand=by_hand) -> None:
    """The student's three gradients: values and shapes against the engine's."""
    rng = np.random.default_rng(8)
    a, b, c = rng.standard_normal((2, 1, 3)), rng.standard_normal((4, 1)), rng.standard_normal(3)
    ta, tb, tc = (Tensor(v, requires_grad=True) for v in (a, b, c))
    ((ta + tb) * tc).sum().backward()
    for mine, engine in zip(by_hand(a, b, c), (ta.grad, tb.grad, tc.grad)):
        assert mine.shape == engine.shape
        np.testing.assert_allclose(mine, engine, rtol=1e-12)
    # closed forms: dL/da[i, 0, k] = 4 · c[k]; dL/db[j, 0] = 2 · Σ c; dL/dc[k] = 4 · Σ_i a[i, 0, k] + 2 · Σ_j b[j]
    np.testing.assert_allclose(ta.grad[:, 0, :], np.tile(4 * c, (2, 1)))
    np.testing.assert_allclose(tb.grad[:, 0], np.full(4, 2 * c.sum()))
    np.testing.assert_allclose(tc.grad, 4 * a[:, 0, :].sum(axis=0) + 2 * b.sum())


if __name__ == "__main__":
    check()
    print("ok")
