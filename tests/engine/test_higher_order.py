"""Every op of tests/engine/test_torch_parity.py in every mode, on both kernel sets, in float64:
second order against PyTorch (`torch.autograd.grad(..., create_graph=True)`) and against central
differences (`gradgradcheck`), forward mode against `torch.func.jvp` and against central
differences and the VJP (`jvpcheck`). The cases whose derivative is a rule at a kink or a tie
(NOT_DIFFERENTIABLE there) are compared with PyTorch only."""
import numpy as np
import pytest

from test_torch_parity import CASES, ENGINE, NOT_DIFFERENTIABLE, TORCH, engine_tensors, inputs, outputs, torch
from tinygrad_mnist import Tensor, forward_ad, gradgradcheck, jvpcheck
from tinygrad_mnist.autograd import grad

DIFFERENTIABLE = sorted(set(CASES) - set(NOT_DIFFERENTIABLE))
# where the derivative is a rule at a kink or a tie: PyTorch's rule, compared with PyTorch only
RULES = {name for name, why in NOT_DIFFERENTIABLE.items() if "checked against PyTorch" in why}


def first_float(case, ours):
    """The case as a function of its tensor inputs, returning its first differentiable output."""
    fn = CASES[case][0]
    probe = outputs(fn(ENGINE, *ours))
    index = next(i for i, o in enumerate(probe) if o.dtype.kind == "f" and o.requires_grad)

    def f(*xs):
        it = iter(xs)
        args = [next(it) if isinstance(t, Tensor) else t for t in ours]
        return outputs(fn(ENGINE, *args))[index]
    return f, [t for t in ours if isinstance(t, Tensor)], index


@pytest.mark.parametrize("case", DIFFERENTIABLE)
def test_second_order_against_central_differences(case, backend):
    ours = engine_tensors(inputs(case, np.random.default_rng(sum(map(ord, case)))), np.float64)
    f, leaves, _ = first_float(case, ours)
    assert gradgradcheck(f, leaves)


@pytest.mark.parametrize("case", DIFFERENTIABLE)
def test_jvp_against_central_differences_and_the_vjp(case, backend):
    ours = engine_tensors(inputs(case, np.random.default_rng(sum(map(ord, case)))), np.float64)
    f, leaves, _ = first_float(case, ours)
    assert jvpcheck(f, leaves)


def torch_inputs(arrays):
    """As test_against_pytorch makes them: tensors where a gradient is wanted, arrays elsewhere."""
    return [torch.tensor(a, requires_grad=True) if req else a for a, req in arrays]


def torch_first_float(case, theirs, index):
    fn = CASES[case][0]

    def f(*xs):
        it = iter(xs)
        args = [next(it) if isinstance(t, torch.Tensor) else t for t in theirs]
        out = fn(TORCH, *args)
        return (out if isinstance(out, (tuple, list)) else [out])[index]
    return f, [t for t in theirs if isinstance(t, torch.Tensor)]


def both(case):
    """The case's first differentiable output as a function, for the engine and for PyTorch, and
    the float64 inputs each takes: (f, leaves, torch's f, torch's leaves)."""
    arrays = [(np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a), req)
              for a, req in inputs(case, np.random.default_rng(sum(map(ord, case))))]
    f, leaves, index = first_float(case, engine_tensors(arrays, np.float64))
    return (f, leaves, *torch_first_float(case, torch_inputs(arrays), index))


def close(ours, theirs):
    """None (an input the output does not use) counts as zeros on either side."""
    np.testing.assert_allclose(0 if ours is None else ours.numpy(),
                               0 if theirs is None else theirs.detach().numpy(force=True), rtol=1e-7, atol=1e-9)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("case", sorted(set(DIFFERENTIABLE) | RULES))
def test_second_order_against_pytorch(case, backend):
    f, leaves, tf, tleaves = both(case)
    rng = np.random.default_rng(1)
    out, tout = f(*leaves), tf(*tleaves)
    u = rng.standard_normal(out.shape)
    ws = [rng.standard_normal(t.shape) for t in leaves]
    firsts = grad(out, leaves, grad_outputs=u, create_graph=True, allow_unused=True)
    tfirsts = torch.autograd.grad(tout, tleaves, grad_outputs=torch.tensor(u), create_graph=True, allow_unused=True)
    for g, tg in zip(firsts, tfirsts):
        close(g, tg)
    s = sum(((g * Tensor(w)).sum() for g, w in zip(firsts, ws) if g is not None and g.requires_grad), Tensor(0.0))
    ts = sum(((g * torch.tensor(w)).sum() for g, w in zip(tfirsts, ws) if g is not None and g.requires_grad),
             torch.tensor(0.0, dtype=torch.float64))
    seconds = grad(s, leaves, allow_unused=True) if s.requires_grad else [None] * len(leaves)
    tseconds = torch.autograd.grad(ts, tleaves, allow_unused=True) if ts.requires_grad else [None] * len(tleaves)
    for g, tg in zip(seconds, tseconds):
        close(g, tg)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("case", sorted(set(DIFFERENTIABLE) | RULES))
def test_jvp_against_pytorch(case, backend):
    f, leaves, tf, tleaves = both(case)
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(t.shape) for t in leaves]
    with forward_ad.dual_level():
        _, tangent = forward_ad.unpack_dual(f(*[forward_ad.make_dual(t, v) for t, v in zip(leaves, vs)]))
    _, theirs = torch.func.jvp(lambda *xs: tf(*xs), tuple(t.detach() for t in tleaves),
                               tuple(torch.tensor(v) for v in vs))
    close(tangent, theirs)
