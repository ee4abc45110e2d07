"""The functional API against torch.autograd.functional, the identities between its answers,
and the graph's lifetime (what backward frees, and when a second pass raises)."""
import gc
import weakref

import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, functional, nll
from tinygrad_mnist.autograd import grad

try:
    import torch
    import torch.autograd.functional as TAF
except ImportError:
    torch = None

RNG = np.random.default_rng(5)
A_TALL, A_WIDE = RNG.standard_normal((6, 2)), RNG.standard_normal((2, 6))


def tall(x):   # R² → R⁶: few inputs, so forward mode builds its Jacobian in 2 passes
    return (Tensor(A_TALL) @ x).tanh() * x.sum()


def wide(x):   # R⁶ → R²: few outputs, so reverse mode builds it in 2 passes
    return (Tensor(A_WIDE) @ x.sigmoid()) * x[0]


def scalar(x, y):
    return (x * y).tanh().sum() + (x ** 3).sum() * y.sum()


def torch_version(fn):
    def f(*xs):
        return {tall: lambda x: (torch.tensor(A_TALL) @ x).tanh() * x.sum(),
                wide: lambda x: (torch.tensor(A_WIDE) @ x.sigmoid()) * x[0],
                scalar: lambda x, y: (x * y).tanh().sum() + (x ** 3).sum() * y.sum()}[fn](*xs)
    return f


@pytest.mark.parametrize("fn,n", [(tall, 2), (wide, 6)], ids=["tall", "wide"])
def test_jacobian_by_rows_and_by_columns_agree(fn, n, backend):
    x = Tensor(RNG.standard_normal(n))
    rows = functional.jacobian(fn, x)
    columns = functional.jacobian(fn, x, strategy="forward-mode")
    np.testing.assert_allclose(rows.numpy(), columns.numpy(), rtol=1e-12, atol=1e-14)
    if torch is not None:
        np.testing.assert_allclose(rows.numpy(), TAF.jacobian(torch_version(fn), torch.tensor(x.numpy())).numpy(),
                                   rtol=1e-12, atol=1e-14)


def test_vjp_jvp_hvp_vhp_hessian_match_pytorch_and_each_other(backend):
    x, y = Tensor(RNG.standard_normal(3)), Tensor(RNG.standard_normal(3))
    v = (Tensor(RNG.standard_normal(3)), Tensor(RNG.standard_normal(3)))
    value, hv = functional.hvp(scalar, (x, y), v)
    _, vh = functional.vhp(scalar, (x, y), v)
    for a, b in zip(hv, vh):  # the Hessian is symmetric: forward-over-reverse = reverse-over-reverse
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)
    (hxx, hxy), (hyx, hyy) = functional.hessian(scalar, (x, y))
    np.testing.assert_allclose(hxx.numpy() @ v[0].numpy() + hxy.numpy() @ v[1].numpy(), hv[0].numpy(), rtol=1e-10)
    _, jv = functional.jvp(tall, Tensor(x.numpy()[:2]), Tensor(np.array([1.0, -2.0])))
    _, uj = functional.vjp(wide, Tensor(np.arange(6.0)), Tensor(np.array([0.5, 1.5])))
    if torch is None:
        return
    t = [torch.tensor(a.numpy()) for a in (x, y, *v)]
    tval, thv = TAF.hvp(torch_version(scalar), (t[0], t[1]), (t[2], t[3]))
    assert value.item() == pytest.approx(tval.item(), rel=1e-12)
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)
    np.testing.assert_allclose(hxy.numpy(), TAF.hessian(torch_version(scalar), (t[0], t[1]))[0][1].numpy(), rtol=1e-10)
    _, tjv = TAF.jvp(torch_version(tall), torch.tensor(x.numpy()[:2]), torch.tensor([1.0, -2.0], dtype=torch.float64))
    _, tuj = TAF.vjp(torch_version(wide), torch.arange(6.0, dtype=torch.float64), torch.tensor([0.5, 1.5],
                                                                                             dtype=torch.float64))
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), rtol=1e-12)
    np.testing.assert_allclose(uj.numpy(), tuj.numpy(), rtol=1e-12)


def test_jvp_is_one_forward_pass_and_equals_the_double_vjp():
    """J·v by forward mode keeps no graph; the same J·v by the double-VJP trick (the VJP of
    u ↦ uᵀJ, which is linear in u, taken along v) agrees."""
    x0, v = RNG.standard_normal(2), np.array([0.3, -1.1])
    out, jv = functional.jvp(tall, Tensor(x0), Tensor(v))
    assert out._ctx is None and jv._ctx is None and not out.requires_grad
    x = Tensor(x0, requires_grad=True)
    u = Tensor(np.zeros(6), requires_grad=True)
    (uj,) = grad(tall(x), x, grad_outputs=u, create_graph=True)
    (double,) = grad(uj, u, grad_outputs=Tensor(v))
    np.testing.assert_allclose(double.numpy(), jv.numpy(), rtol=1e-12)


def test_create_graph_makes_grad_a_graph_and_grad_leaves_grad_alone():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x ** 3).sum()
    (g,) = grad(y, x, create_graph=True)
    assert x.grad is None and g.requires_grad and g._ctx is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (x * 1.0).sum().backward()  # a plain backward: .grad is a tensor without a graph
    assert isinstance(x.grad, Tensor) and not x.grad.requires_grad
    x.grad = None
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (h,) = grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad((x * 2).sum(), [x, Tensor(np.ones(1), requires_grad=True)])


def test_backward_frees_what_the_graph_saved():
    """A CNN-sized patch matrix is released by backward, not when the loss goes away."""
    x = Tensor(RNG.standard_normal((4, 3, 12, 12)))
    w = Tensor(RNG.standard_normal((8, 3, 5, 5)), requires_grad=True)
    loss = nll(x.conv2d(w).flatten(1).log_softmax(), [0, 1, 2, 3])
    conv = loss._ctx.parents[0]._ctx.parents[0]._ctx.parents[0]._ctx
    patches = weakref.ref(conv._saved[0])
    assert patches() is not None and patches().shape == (4 * 8 * 8, 5 * 5 * 3)
    loss.backward()
    gc.collect()
    assert patches() is None and loss._ctx is not None  # freed while the loss is alive
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    kept = nll(x.conv2d(w).flatten(1).log_softmax(), [0, 1, 2, 3])
    w.grad = None
    kept.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    kept.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first)


def test_a_first_order_backward_records_nothing():
    x = Tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    loss = nll(x.relu().log_softmax(), [0, 1, 2, 0, 1])
    made = []
    original = autograd.Op.apply.__func__

    def spy(cls, *inputs, **kwargs):
        made.append(cls.__name__)
        return original(cls, *inputs, **kwargs)
    autograd.Op.apply = classmethod(spy)
    try:
        loss.backward()
    finally:
        autograd.Op.apply = classmethod(original)
    assert made == [] and isinstance(x.grad, Tensor)


def test_an_op_without_a_jvp_rule_says_so_in_forward_mode():
    from tinygrad_mnist import forward_ad
    from tinygrad_mnist.autograd import Op

    class Twice(Op):
        """2x:  d/dx = 2 (no jvp rule written)."""

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return 2 * grad
    with forward_ad.dual_level():
        x = forward_ad.make_dual(Tensor(np.ones(2)), np.ones(2))
        with pytest.raises(NotImplementedError, match="Twice has no jvp rule"):
            Twice.apply(x)
    assert Twice.apply(Tensor(np.ones(2))).numpy().tolist() == [2.0, 2.0]  # outside forward mode: fine
