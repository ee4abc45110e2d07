"""The training layer: initialisers, VarMap/VarBuilder, layers and optimizers."""
import math

import numpy as np
import pytest

from tinygrad_mnist import Tensor, gradcheck
from tinygrad_mnist.nn import (SGD, AdamW, Conv2d, Conv2dConfig, Dropout, Linear, VarBuilder, VarMap, conv2d,
                               init, linear, loss, ops)


def test_init_formulas():
    init.seed(0)
    w = init.DEFAULT_KAIMING_NORMAL((400, 250))          # std = sqrt(2 / fan_in)
    assert w.dtype == np.float32
    assert w.std() == pytest.approx(math.sqrt(2 / 250), rel=0.02)
    c = init.Kaiming(init.NormalOrUniform.UNIFORM, init.FanInOut.FAN_OUT, init.LINEAR)((64, 32, 5, 5))
    bound = math.sqrt(3) / math.sqrt(64 * 25)              # fan_out = out · kernel area
    assert np.abs(c).max() <= bound and np.abs(c).max() > 0.95 * bound
    u = init.Uniform(-0.5, 2.0)((10_000,))
    assert u.min() >= -0.5 and u.max() < 2.0
    r = init.Randn(3.0, 0.5)((20_000,), np.float64)
    assert r.dtype == np.float64 and r.mean() == pytest.approx(3.0, abs=0.02) and r.std() == pytest.approx(0.5, rel=0.03)
    assert (init.ZERO((2, 2)) == 0).all() and (init.ONE((3,)) == 1).all() and (init.Const(7)((1,)) == 7).all()
    assert init.TANH.gain == pytest.approx(5 / 3)


def test_one_seed_makes_everything_reproducible():
    def draw():
        init.seed(42)
        vm = VarMap()
        linear(5, 3, VarBuilder.from_varmap(vm))
        mask = Dropout(0.5)(Tensor(np.ones((4, 4), np.float32)), train=True).numpy()
        return [v.numpy().copy() for v in vm.all_vars()] + [mask]
    assert all(np.array_equal(a, b) for a, b in zip(draw(), draw()))


def test_varmap_get_and_names():
    vm = VarMap()
    vb = VarBuilder.from_varmap(vm)
    w = vb.pp("fc1").get_with_hints((3, 4), "weight", init.ONE)
    assert w.name == "fc1.weight" and w.requires_grad and w.dtype == np.float32
    assert vb.pp("fc1").get((3, 4), "weight") is w                # existing: returned, not re-created
    assert (vb.pp("a").pp("b").get(2, "bias").numpy() == 0).all()  # `get` zero-initialises
    assert [n for n, _ in vm.named_vars()] == ["a.b.bias", "fc1.weight"]
    assert [v.name for v in vm.all_vars()] == ["a.b.bias", "fc1.weight"]
    with pytest.raises(ValueError, match=r"fc1.weight: already exists with shape \[3, 4\], asked for \[4, 3\]"):
        vb.pp("fc1").get((4, 3), "weight")
    f64 = VarBuilder.from_varmap(VarMap(), np.float64).get((2,), "x")
    assert f64.dtype == np.float64


def test_linear_layer_matches_candle_semantics(rng):
    w = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    b = Tensor(rng.standard_normal(3).astype(np.float32))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(Linear(w, b)(Tensor(x)).numpy(), x @ w.numpy().T + b.numpy(), rtol=1e-5)
    np.testing.assert_allclose(Linear(w)(Tensor(x)).numpy(), x @ w.numpy().T, rtol=1e-5)
    x3 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(Linear(w, b)(Tensor(x3)).numpy(), x3 @ w.numpy().T + b.numpy(), rtol=1e-5)
    pixels = rng.integers(0, 256, (5, 4), dtype=np.uint8)  # uint8 input is multiplied by value...
    np.testing.assert_allclose(Linear(w, b)(Tensor(pixels)).numpy(), pixels @ w.numpy().T + b.numpy(), rtol=1e-5)
    np.testing.assert_allclose(Linear(w, b)(Tensor(pixels)).numpy(), (Tensor(pixels) @ w.T + b).numpy(), rtol=1e-6)
    scaled = Linear(w, b, input_scale=1 / 255)(Tensor(pixels))  # ...unless the layer asks for a scale
    np.testing.assert_allclose(scaled.numpy(), (pixels / 255) @ w.numpy().T + b.numpy(), rtol=1e-5, atol=1e-6)
    trained = Tensor(w.numpy(), requires_grad=True)  # a weight that learns: the op is recorded
    recorded = Linear(trained, b, input_scale=1 / 255)(Tensor(pixels))
    assert recorded._ctx.fn.label(recorded._ctx) == "Linear\ninput × 1/255"  # the graph shows the scale
    recorded.sum().backward()
    np.testing.assert_allclose(trained.grad, np.ones((5, 3)).T @ (pixels / 255), rtol=1e-5)


def test_linear_builder_uses_candle_init():
    init.seed(3)
    vm = VarMap()
    layer = linear(400, 300, VarBuilder.from_varmap(vm))
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.numpy().std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert np.abs(layer.bias.numpy()).max() <= 1 / math.sqrt(400)


def test_conv2d_layer_against_a_direct_loop(rng, backend):
    vm = VarMap()
    conv = conv2d(2, 3, 3, Conv2dConfig(padding=1, stride=2), VarBuilder.from_varmap(vm, np.float64))
    assert [n for n, _ in vm.named_vars()] == ["bias", "weight"] and conv.weight.shape == (3, 2, 3, 3)
    x = rng.standard_normal((2, 2, 5, 5))
    y = conv(Tensor(x)).numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = conv.weight.numpy(), conv.bias.numpy()
    expect = np.zeros((2, 3, 3, 3))
    for n in range(2):
        for o in range(3):
            for i in range(3):
                for j in range(3):
                    expect[n, o, i, j] = (xp[n, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o]).sum() + b[o]
    np.testing.assert_allclose(y, expect, rtol=1e-12)
    # groups split channels and filters into independent convolutions; dilation spreads the taps
    vb2 = VarBuilder.from_varmap(VarMap(), np.float64)
    grouped = conv2d(4, 6, 3, Conv2dConfig(padding=1, dilation=2, groups=2), vb2.pp("g"))
    assert grouped.weight.shape == (6, 2, 3, 3)
    x4 = rng.standard_normal((2, 4, 6, 6))
    y = grouped(Tensor(x4)).numpy()
    xp = np.pad(x4, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = grouped.weight.numpy(), grouped.bias.numpy()
    for o in range(6):
        g = o // 3
        for i, j in [(0, 0), (1, 3), (3, 3)]:
            taps = xp[:, 2 * g:2 * g + 2, i:i + 5:2, j:j + 5:2]
            np.testing.assert_allclose(y[:, o, i, j], (taps * w[o]).sum(axis=(1, 2, 3)) + b[o], rtol=1e-12)


def test_conv_and_pool_gradchecks_through_layers(rng, backend):
    vm = VarMap()
    conv = conv2d(1, 2, 3, Conv2dConfig(), VarBuilder.from_varmap(vm, np.float64))
    x = Tensor(rng.standard_normal((2, 1, 6, 6)), requires_grad=True)
    assert gradcheck(lambda x, w, b: Conv2d(w, b)(x).max_pool2d(2), [x, conv.weight, conv.bias])


def test_dropout():
    x = Tensor(np.ones((200, 100), np.float32), requires_grad=True)
    d = Dropout(0.25)
    assert d.eval()(x) is x and d.train()(x, train=False) is x
    init.seed(0)
    y = d(x, train=True).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    assert y.mean() == pytest.approx(1.0, abs=0.03)  # expectation preserved
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        Dropout(1.5)


def test_dropout_gradcheck(rng):
    x = Tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def f(x):
        init.seed(7)  # the same mask at every evaluation
        return Dropout(0.4)(x, train=True)
    assert gradcheck(f, [x])


def test_ops_and_loss_names(rng):
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_allclose(ops.softmax(x, 1).numpy().sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ops.log_softmax(x, -1).numpy(), x.log_softmax().numpy())
    t = [0, 3, 1]
    assert loss.nll(ops.log_softmax(x, 1), t).item() == pytest.approx(loss.cross_entropy(x, t).item(), rel=1e-6)


# ---------------------------------------------------------------- optimizers

def _params(rng, dtype=np.float32):
    return [Tensor(rng.standard_normal((3, 4)).astype(dtype), requires_grad=True),
            Tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)]


def _run(opt, params, grads):
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = gi.copy()
        opt.step()


@pytest.mark.parametrize("momentum,weight_decay,nesterov", [(0, 0, False), (0.9, 0, False), (0.9, 0.01, True),
                                                            (0, 0.1, False)])
def test_sgd_matches_a_numpy_reimplementation(momentum, weight_decay, nesterov, rng):
    params = _params(rng, np.float64)
    expect = [p.numpy().copy() for p in params]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    _run(SGD(params, 0.1, momentum, weight_decay=weight_decay, nesterov=nesterov), params, grads)
    bufs = [None, None]
    for g in grads:
        for i in range(2):
            d = g[i] + weight_decay * expect[i]
            if momentum:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            expect[i] = expect[i] - 0.1 * d
    for p, e in zip(params, expect):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-12)


def test_adamw_matches_a_numpy_reimplementation(rng, backend):
    params = _params(rng, np.float64)
    expect = [p.numpy().copy() for p in params]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(6)]
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.99, 1e-6, 0.05
    _run(AdamW(params, lr, b1, b2, eps, wd), params, grads)
    m = [np.zeros_like(e) for e in expect]
    v = [np.zeros_like(e) for e in expect]
    for t, g in enumerate(grads, start=1):
        for i in range(2):
            expect[i] = expect[i] * (1 - lr * wd)
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            mh, vh = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            expect[i] = expect[i] - lr * mh / (np.sqrt(vh) + eps)
    for p, e in zip(params, expect):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-10)


@pytest.mark.parametrize("make", [lambda v: AdamW(v, 0.1), lambda v: SGD(v, 0.1, momentum=0.9)])
def test_optimizers_update_parameters_of_any_layout(make, backend):
    """A Fortran-ordered parameter is updated in place like a C-ordered one."""
    f = Tensor(np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)), requires_grad=True)
    c = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    opt_f, opt_c = make([f]), make([c])
    for step in range(3):
        g = np.sin(np.arange(12, dtype=np.float32) + step).reshape(3, 4)
        f.grad, c.grad = np.asfortranarray(g), g.copy()
        opt_f.step()
        opt_c.step()
    assert not np.allclose(c.numpy(), np.arange(12).reshape(3, 4))
    np.testing.assert_allclose(f.numpy(), c.numpy(), rtol=1e-5, atol=1e-5)  # float32 rounding


def test_adamw_defaults_are_candles():
    opt = AdamW([Tensor(np.zeros(2, np.float32), requires_grad=True)])
    assert (opt.learning_rate, opt.beta1, opt.beta2, opt.eps, opt.weight_decay) == (0.001, 0.9, 0.999, 1e-8, 0.01)


@pytest.mark.parametrize("make", [lambda v: SGD(v, 0.1), lambda v: SGD(v, 0.05, momentum=0.9),
                                  lambda v: AdamW(v, 0.05, weight_decay=0.0)])
def test_optimizer_drives_a_quadratic_to_its_minimum(make):
    target = np.array([1.5, -2.0, 0.25], np.float32)
    x = Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = make([x])
    for _ in range(500):
        opt.backward_step(((x - Tensor(target)) ** 2).sum())
    np.testing.assert_allclose(x.numpy(), target, atol=1e-3)


def test_backward_step_does_not_accumulate_across_steps():
    x = Tensor(np.array([1.0], np.float32), requires_grad=True)
    opt = SGD([x], 0.0)
    for _ in range(3):
        opt.backward_step((x * 3.0).sum())
    assert x.grad.tolist() == [3.0]


def test_learning_rate_validation():
    x = Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = SGD([x], 0.1)
    opt.set_learning_rate(0.5)
    assert opt.learning_rate == 0.5
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning rate must be a finite number >= 0"):
            opt.set_learning_rate(bad)
        with pytest.raises(ValueError, match="learning rate"):
            AdamW([x], bad)
    with pytest.raises(ValueError, match="does not require a gradient"):
        SGD([Tensor(np.zeros(1, np.float32))], 0.1)


def test_updates_record_no_graph():
    x = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = AdamW([x], 0.1)
    opt.backward_step((x * x).sum())
    assert x._ctx is None and x.dtype == np.float32
