"""Exercise 4: find the bug in a broken backward, with gradcheck, and fix it."""
import numpy as np

from tinygrad_mnist import GradcheckError, Tensor, gradcheck
from tinygrad_mnist.autograd import Context, Op


class BrokenDiv(Op):
    """a / b, as handed out: the derivative for b has the wrong sign and misses a factor a."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad):
        a, b = ctx.saved_tensors
        return grad / b, grad / (b * b)   # the bug: d(a/b)/db is -a/b², not 1/b²


class FixedDiv(Op):
    """a / b:  d/da = 1/b,  d/db = -a/b²."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad):
        a, b = ctx.saved_tensors
        return grad / b, -grad * a / (b * b)


def check(fixed=FixedDiv) -> None:
    """gradcheck finds the broken backward's wrong input, and passes the student's fix, first
    and second order (the fix must also work on tensors, for create_graph)."""
    from tinygrad_mnist import gradgradcheck
    rng = np.random.default_rng(2)
    a = Tensor(rng.normal(size=(3,)), requires_grad=True)
    b = Tensor(rng.uniform(1, 2, size=(3,)), requires_grad=True)
    try:
        gradcheck(lambda x, y: BrokenDiv.apply(x, y), [a, b])
    except GradcheckError as err:
        assert "input 1" in str(err)  # gradcheck names the input whose gradient is wrong
    else:
        raise AssertionError("gradcheck should have caught the broken backward")
    assert gradcheck(lambda x, y: fixed.apply(x, y), [a, b])
    assert gradgradcheck(lambda x, y: fixed.apply(x, y), [a, b])


if __name__ == "__main__":
    check()
    print("ok")
