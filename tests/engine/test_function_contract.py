"""The functional API with `create_graph`, the checks' PyTorch signatures, and custom Functions
with PyTorch's contract (`autograd.Function`: tensors in forward and backward, a backward that
is differentiated again), each against PyTorch."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, forward_ad, functional, gradcheck, gradgradcheck, jvpcheck
from tinygrad_mnist.autograd import Function

torch = pytest.importorskip("torch")
TF = torch.autograd.functional


def pair(a, requires_grad=True):
    a = np.asarray(a, dtype=np.float64)
    return Tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a.copy(), requires_grad=requires_grad)


def same(ours, theirs, tol=1e-12):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=tol, atol=tol)


def cube(x):
    return (x * x * x).sum()


def vec(x):
    return (x * x).sin() * 2


CASES = {
    "vjp": (lambda lib, f, x, v: lib.vjp(vec, x, v, create_graph=True)[1], "out"),
    "jvp": (lambda lib, f, x, v: lib.jvp(vec, x, v, create_graph=True)[1], "in"),
    "hvp": (lambda lib, f, x, v: lib.hvp(cube, x, v, create_graph=True)[1], "in"),
    "vhp": (lambda lib, f, x, v: lib.vhp(cube, x, v, create_graph=True)[1], "in"),
    "jacobian": (lambda lib, f, x, v: lib.jacobian(vec, x, create_graph=True), None),
    "jacobian_fwd": (lambda lib, f, x, v: lib.jacobian(vec, x, create_graph=True, **(  # PyTorch has no forward
        {"strategy": "forward-mode"} if lib is functional else {})), None),              # mode with create_graph
    "hessian": (lambda lib, f, x, v: lib.hessian(cube, x, create_graph=True), None),
}


@pytest.mark.parametrize("name", CASES)
def test_create_graph_results_are_differentiable_and_agree_with_pytorch(name):
    run, _ = CASES[name]
    rng = np.random.default_rng(0)
    (x, tx), v = pair(rng.standard_normal(3)), rng.standard_normal(3)
    ours, theirs = run(functional, None, x, Tensor(v)), run(TF, None, tx, torch.tensor(v))
    assert ours.requires_grad and theirs.requires_grad
    same(ours, theirs)
    w = rng.standard_normal(ours.shape)
    (ours * Tensor(w)).sum().backward(), (theirs * torch.tensor(w)).sum().backward()
    same(x.grad, tx.grad, 1e-10)


def test_without_create_graph_nothing_the_caller_holds_is_touched():
    x, _ = pair([1.0, 2.0])
    _, h = functional.hvp(cube, x, Tensor(np.ones(2)))
    assert not h.requires_grad and x.grad is None


@pytest.mark.parametrize("x0", [np.array(1.5), np.array([1.0, -2.0])])
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian_of_a_linear_function_is_zeros(x0, strategy):
    x, tx = pair(x0)
    h = functional.hessian(lambda a: (a * 3).sum(), x, outer_jacobian_strategy=strategy)
    same(h, TF.hessian(lambda a: (a * 3).sum(), tx))
    with pytest.raises(ValueError, match="outer_jacobian_strategy"):
        functional.hessian(cube, x, outer_jacobian_strategy="sideways")


def test_grad_outputs_of_the_wrong_shape_raise_as_in_pytorch():
    x, tx = pair([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        torch.autograd.grad(tx * 2, tx, grad_outputs=torch.ones(2))
    with pytest.raises(RuntimeError, match="Mismatch in shape: grad_outputs\\[0\\] has a shape of \\(2,\\)"):
        autograd.grad(x * 2, x, grad_outputs=Tensor(np.ones(2)))


def test_gradcheck_takes_one_tensor_and_checks_a_gradient_penalty():
    x = Tensor(np.array([0.3, -0.8, 1.1]), requires_grad=True)

    def penalty(a):  # ‖∇ₐ Σ sin(a)²‖²: calls autograd.grad inside
        (g,) = autograd.grad((a.sin() ** 2).sum(), a, create_graph=True)
        return (g * g).sum()
    assert gradcheck(penalty, x) and gradgradcheck(penalty, x) and jvpcheck(lambda a: a.sin(), x)


# ---------------------------------------------------------------- custom Functions
class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.saved_tensors[0]


class TorchExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


def test_a_custom_function_gets_tensors_and_is_differentiated_twice():
    x, tx = pair([0.5, -1.0, 2.0])
    y, ty = MyExp.apply(x), TorchExp.apply(tx)
    assert y.grad_fn.name() == "MyExpBackward" and type(ty.grad_fn).__name__ == "TorchExpBackward"
    (g,), (tg,) = autograd.grad(y.sum(), x, create_graph=True), torch.autograd.grad(ty.sum(), tx, create_graph=True)
    same(g, tg)
    (h,), (th,) = autograd.grad((g * g).sum(), x), torch.autograd.grad((tg * tg).sum(), tx)
    same(h, th)
    assert gradcheck(MyExp.apply, x) and gradgradcheck(MyExp.apply, x)
    with forward_ad.dual_level():
        _, t = forward_ad.unpack_dual(MyExp.apply(forward_ad.make_dual(x, np.ones(3))))
    same(t, ty)


def test_needs_input_grad_non_tensor_arguments_and_gradient_counts():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w, k):
            seen["needs"] = ctx.needs_input_grad
            ctx.save_for_backward(x, w)
            ctx.k = k
            return x * w * k

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            return (grad * w * ctx.k if ctx.needs_input_grad[0] else None), grad * x * ctx.k, None
    x, w = pair([1.0, 2.0], requires_grad=False)[0], pair([3.0, 4.0])[0]
    Scale.apply(x, w, 2.0).sum().backward()
    assert seen["needs"] == (False, True, False) and w.grad.tolist() == [2.0, 4.0]

    class TooFew(Scale):
        @staticmethod
        def backward(ctx, grad):
            return grad
    with pytest.raises(RuntimeError, match="TooFewBackward returned an incorrect number of gradients \\(expected 3"):
        TooFew.apply(x, w, 1.0).sum().backward()


def test_saved_tensors_are_freed_after_backward_and_numpy_in_forward_says_why():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = MyExp.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()

    class Numpyish(Function):
        @staticmethod
        def forward(ctx, x):
            return np.exp(x)
    with pytest.raises(TypeError, match="forward gets tensors.*autograd.Op"):
        Numpyish.apply(x)


def test_a_function_with_two_outputs():
    class SplitScale(Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2] * 2, x[2:] * 3

        @staticmethod
        def backward(ctx, a, b):
            from tinygrad_mnist import cat
            return cat([a * 2, b * 3])
    x, tx = pair(np.arange(5.0))
    a, b = SplitScale.apply(x)
    (a.sum() + (b * b).sum()).backward()
    ta, tb = tx[:2] * 2, tx[2:] * 3
    (ta.sum() + (tb * tb).sum()).backward()
    same(x.grad, tx.grad)
    x.grad = None
    a, b = SplitScale.apply(x)
    (b * b).sum().backward()  # the unused output's gradient comes as zeros
    assert x.grad.tolist()[:2] == [0.0, 0.0]


def test_one_wrong_jacobian_entry_among_many_outputs_is_caught_by_the_full_check():
    """A random projection weighs the wrong entry by one normal draw against a tolerance that
    grows with √outputs: at 10,000 outputs some seeds miss a flipped sign; fast_mode=False
    compares every entry and never does."""
    from tinygrad_mnist import GradcheckError
    from tinygrad_mnist.autograd import Op
    rng = np.random.default_rng(0)
    a = rng.standard_normal((10000, 2))
    bad = a.copy()
    bad[5000, 1] *= -1

    class Lin(Op):
        @staticmethod
        def forward(ctx, x):
            return a @ x

        @staticmethod
        def backward(ctx, g):
            return bad.T @ g
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    missed = []
    for seed in range(300):
        try:
            gradcheck(Lin.apply, x, seed=seed)
            missed.append(seed)
        except GradcheckError:
            pass
    assert 0 < len(missed) < 30, len(missed)
    with pytest.raises(GradcheckError, match="input 0 at index \\(1,\\) \\(output \\(5000,\\)\\)"):
        gradcheck(Lin.apply, x, seed=missed[0], fast_mode=False)


def test_a_jvp_off_by_a_tenth_of_a_percent_fails_jvpcheck():
    from tinygrad_mnist import GradcheckError
    from tinygrad_mnist.autograd import Op

    class Square(Op):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            return 2 * ctx.saved_tensors[0] * g

        @staticmethod
        def jvp(ctx, t):
            return 2.0016 * ctx.saved_tensors[0] * t  # 0.08 % too large
    x = Tensor(np.array([0.7, -1.3, 2.0]), requires_grad=True)
    assert gradcheck(Square.apply, x)
    with pytest.raises(GradcheckError, match="uᵀ\\(J·v\\) against \\(uᵀJ\\)·v"):
        jvpcheck(Square.apply, [x])
