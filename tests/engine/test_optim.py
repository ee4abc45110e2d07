"""`tinygrad_mnist.optim` against `torch.optim`, step for step from the same weights and
gradients: SGD (momentum, dampening, Nesterov, weight decay), Adam, AdamW, Adadelta, parameter
groups, per-parameter step counts, state dicts, and the learning-rate schedules."""
import math

import numpy as np
import pytest

from tinygrad_mnist import Tensor, optim
from tinygrad_mnist.optim import lr_scheduler

torch = pytest.importorskip("torch")


def run(make_ours, make_theirs, steps=6, late=None, seed=0):
    """The same gradients into both optimizers; `late` is a step before which the second
    parameter gets no gradient (its state starts later)."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    ours = [Tensor(v.copy(), requires_grad=True) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    a, b = make_ours(ours), make_theirs(theirs)
    for step in range(steps):
        grads = [rng.standard_normal(v.shape) for v in values]
        for i, (p, q, g) in enumerate(zip(ours, theirs, grads)):
            skip = late is not None and i == 1 and step < late
            p.grad = None if skip else Tensor(g.copy())
            q.grad = None if skip else torch.tensor(g.copy())
        a.step()
        b.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14)
    return a, b


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
                                    dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
                                    dict(lr=0.1, weight_decay=0.1, maximize=True)])
def test_sgd_matches_torch(kwargs):
    run(lambda p: optim.SGD(p, **kwargs), lambda p: torch.optim.SGD(p, **kwargs))


@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, weight_decay=0.1)),
                                         ("AdamW", dict(lr=0.01)), ("AdamW", dict(lr=0.02, betas=(0.8, 0.99),
                                                                                  weight_decay=0.05)),
                                         ("Adadelta", dict()), ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1))])
def test_adaptive_optimizers_match_torch(name, kwargs):
    run(lambda p: getattr(optim, name)(p, **kwargs), lambda p: getattr(torch.optim, name)(p, **kwargs))


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adadelta"])
def test_a_parameter_whose_first_gradient_comes_late_counts_its_own_steps(name):
    """PyTorch keeps a step count per parameter: the second one's bias corrections start at its
    own first step (a single global count would differ from the third step on)."""
    ours, _ = run(lambda p: getattr(optim, name)(p, lr=0.01), lambda p: getattr(torch.optim, name)(p, lr=0.01),
                  late=3)
    steps = [ours.state[p]["step"] for p in ours.vars]
    assert steps == [6, 3]


def test_param_groups_have_their_own_hyperparameters():
    def groups(p):
        return [{"params": [p[0]]}, {"params": [p[1]], "lr": 0.001, "momentum": 0.5}]
    ours, theirs = run(lambda p: optim.SGD(groups(p), lr=0.1, momentum=0.9),
                       lambda p: torch.optim.SGD(groups(p), lr=0.1, momentum=0.9))
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups] == [0.1, 0.001]
    with pytest.raises(ValueError, match="more than one parameter group"):
        p = Tensor(np.ones(2), requires_grad=True)
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_state_dict_round_trip_continues_exactly():
    """A fresh optimizer loaded with another's state_dict makes the same next steps."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    a_w = Tensor(w0.copy(), requires_grad=True)
    a = optim.AdamW([a_w], lr=0.01)
    for g in grads[:3]:
        a_w.grad = Tensor(g)
        a.step()
    b_w = Tensor(a_w.numpy().copy(), requires_grad=True)
    b = optim.AdamW([b_w], lr=0.5)
    b.load_state_dict(a.state_dict())
    assert b.param_groups[0]["lr"] == 0.01
    for g in grads[3:]:
        for w, o in ((a_w, a), (b_w, b)):
            w.grad = Tensor(g)
            o.step()
    np.testing.assert_array_equal(a_w.numpy(), b_w.numpy())
    state = a.state_dict()
    assert set(state) == {"state", "param_groups"} and state["param_groups"][0]["params"] == [0]
    assert state["state"][0]["step"] == 6
    with pytest.raises(ValueError, match="different number"):
        optim.AdamW([a_w, b_w]).load_state_dict(state)


def test_step_with_a_closure_returns_its_loss_and_zero_grad_clears():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 5.0
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6])
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize("name,kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                         ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1)),
                                         ("ExponentialLR", dict(gamma=0.9)),
                                         ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
                                         ("LambdaLR", dict(lr_lambda=lambda e: 1 / (e + 1)))])
def test_schedulers_match_torch(name, kwargs):
    w, tw = Tensor(np.ones(2), requires_grad=True), torch.ones(2, requires_grad=True)
    ours, theirs = optim.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)
    s, t = getattr(lr_scheduler, name)(ours, **kwargs), getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    for _ in range(10):
        ours.step(), theirs.step()
        s.step(), t.step()
        assert math.isclose(s.get_last_lr()[0], t.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15)
        assert ours.param_groups[0]["lr"] == s.get_last_lr()[0]


def test_candle_names_and_the_trainer_checkpoint_state_stay():
    from tinygrad_mnist import nn
    assert nn.SGD is optim.SGD and nn.AdamW is optim.AdamW
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = nn.AdamW([w], 0.1)
    w.grad = Tensor(np.ones(3, np.float32))
    opt.step()
    arrays, numbers = opt.checkpoint_state()
    assert sorted(arrays) == ["m.0", "v.0"] and numbers == {"step_count": "1"}
    again = nn.AdamW([Tensor(w.numpy().copy(), requires_grad=True)], 0.1)
    again.load_checkpoint_state(arrays, numbers)
    assert again.step_count == 1 and opt.learning_rate == 0.1 and opt.beta1 == 0.9
