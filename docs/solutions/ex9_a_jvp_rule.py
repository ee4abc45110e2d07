"""Exercise 9: an op with all three rules: forward, backward (VJP) and jvp (forward mode)."""
import numpy as np

from tinygrad_mnist import Tensor, forward_ad, gradcheck, gradgradcheck, jvpcheck
from tinygrad_mnist.autograd import Context, Op


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ) = e^(−log(1 + e⁻ˣ)): `logaddexp` never overflows, at x = −1000 too."""
    return np.exp(-np.logaddexp(0.0, -x))


class Softplus(Op):
    """log(1 + eˣ):  d/dx = σ(x) = 1 / (1 + e⁻ˣ). Written stably: max(x, 0) + log(1 + e^-|x|)."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors  # arrays in a first-order pass, tensors with create_graph
        return grad * (x.sigmoid() if isinstance(x, Tensor) else sigmoid(x))

    @staticmethod
    def jvp(ctx: Context, tangent):
        (x,) = ctx.saved_tensors  # the tangent is a plain array: σ(x) · ẋ
        return tangent * sigmoid(x)


def check(Softplus=Softplus) -> None:
    """The student's op: its three rules against central differences (and each other), and
    every rule at x = ±1000 without a floating-point warning (where a naive σ overflows)."""
    x = Tensor(np.random.default_rng(9).normal(size=(3, 4)) * 3, requires_grad=True)
    assert gradcheck(lambda t: Softplus.apply(t), [x])          # the VJP
    assert jvpcheck(lambda t: Softplus.apply(t), [x])           # the JVP: differences and uᵀ(Jv) = (uᵀJ)v
    assert gradgradcheck(lambda t: Softplus.apply(t), [x])      # and the VJP is differentiable again
    far = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = Tensor(far, requires_grad=True)
        out = Softplus.apply(y)
        out.backward(np.ones(5))
        with forward_ad.dual_level():
            _, t = forward_ad.unpack_dual(Softplus.apply(forward_ad.make_dual(Tensor(far), np.full(5, 2.0))))
    np.testing.assert_allclose(out.numpy(), [0.0, np.log1p(np.exp(-30.0)), np.log(2.0), 30 + np.log1p(np.exp(-30.0)),
                                             1000.0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(y.grad.numpy(), [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0],
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(t.numpy(), 2 * y.grad.numpy(), rtol=1e-12, atol=1e-300)


if __name__ == "__main__":
    check()
    print("ok")
