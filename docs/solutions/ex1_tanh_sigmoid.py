"""Exercise 1: tanh and sigmoid as ops of your own."""
import numpy as np

from tinygrad_mnist import Tensor, gradcheck
from tinygrad_mnist.autograd import Context, Function


class MyTanh(Function):
    """tanh(x):  d/dx = 1 − tanh²(x), from the saved output."""

    @staticmethod
    def forward(ctx: Context, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class MySigmoid(Function):
    """σ(x) = 1/(1 + e^-x):  d/dx = σ(x)(1 − σ(x)); e^-|x| so nothing overflows."""

    @staticmethod
    def forward(ctx: Context, x):
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


def check() -> None:
    x = Tensor(np.random.default_rng(0).normal(size=(3, 4)) * 3, requires_grad=True)
    assert gradcheck(lambda t: MyTanh.apply(t), [x])
    assert gradcheck(lambda t: MySigmoid.apply(t), [x])
    np.testing.assert_allclose(MyTanh.apply(x).numpy(), x.tanh().numpy())
    np.testing.assert_allclose(MySigmoid.apply(x).numpy(), x.sigmoid().numpy())
    assert np.isfinite(MySigmoid.apply(Tensor(np.array([-1000.0, 1000.0]))).numpy()).all()


if __name__ == "__main__":
    check()
    print("ok")
