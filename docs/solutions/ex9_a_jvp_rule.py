"""Exercise 9: an op with all three rules: forward, backward (VJP) and jvp (forward mode)."""
import numpy as np

from tinygrad_mnist import Tensor, forward_ad, gradcheck, gradgradcheck, jvpcheck
from tinygrad_mnist.autograd import Context, Op


class Softplus(Op):
    """log(1 + eˣ):  d/dx = σ(x) = 1 / (1 + e⁻ˣ). Written stably: max(x, 0) + log(1 + e^-|x|)."""

    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx: Context, grad):
        (x,) = ctx.saved_tensors  # arrays in a first-order pass, tensors with create_graph
        return grad * (1 / (1 + (-x).exp())) if isinstance(x, Tensor) else grad / (1 + np.exp(-x))

    @staticmethod
    def jvp(ctx: Context, tangent):
        (x,) = ctx.saved_tensors  # the tangent is a plain array: σ(x) · ẋ
        return tangent / (1 + np.exp(-x))


def check() -> None:
    x = Tensor(np.random.default_rng(9).normal(size=(3, 4)) * 3, requires_grad=True)
    assert gradcheck(lambda t: Softplus.apply(t), [x])          # the VJP
    assert jvpcheck(lambda t: Softplus.apply(t), [x])           # the JVP: differences and uᵀ(Jv) = (uᵀJ)v
    assert gradgradcheck(lambda t: Softplus.apply(t), [x])      # and the VJP is differentiable again
    with forward_ad.dual_level():
        _, t = forward_ad.unpack_dual(Softplus.apply(forward_ad.make_dual(Tensor(np.array([0.0])), np.array([2.0]))))
    np.testing.assert_allclose(t.numpy(), [1.0])                # σ(0) · 2


if __name__ == "__main__":
    check()
    print("ok")
