"""PyTorch- and tinygrad-style op tests: every op and argument, forward and every input's gradient.

Each case (`tests/engine/op_cases.py`) is one function written once in the spelling PyTorch and this
engine share, run on both: `lib` gives the few free functions whose module differs (`lib.cat` is `torch.cat` or
`tinygrad_mnist.cat`). Against PyTorch (skipped when torch is not installed) in float32 with
`torch.testing`'s default tolerances; against central differences in float64 always
(`gradcheck`). Both on each kernel set. A case's inputs are made by `make(rng)`: arrays, and which
of them require a gradient.
"""
import numpy as np
import pytest

from op_cases import CASES, ENGINE, NOT_DIFFERENTIABLE, TORCH, torch  # noqa: F401 (test_higher_order's too)
from tinygrad_mnist import Tensor, gradcheck


def inputs(case, rng):
    return [make(rng) for make in CASES[case][1]]


def engine_tensors(arrays, dtype):
    out = []
    for a, grad in arrays:
        a = np.asarray(a)
        out.append(Tensor(a.astype(dtype), requires_grad=True) if grad else
                   (a.astype(dtype) if a.dtype.kind == "f" else a))
    return out


def outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def views(t) -> bool:
    """Whether t.view(-1) works (it raises where the elements are not in row-major order)."""
    try:
        t.view(-1)
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_against_pytorch(case, backend):
    """Forward and every input's gradient against PyTorch, float32, PyTorch's tolerances."""
    rng = np.random.default_rng(sum(map(ord, case)))
    arrays = inputs(case, rng)
    ours = engine_tensors(arrays, np.float32)
    theirs = [torch.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) if g else
              (np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f" else np.asarray(a))
              for a, g in arrays]
    fn = CASES[case][0]
    got, want = outputs(fn(ENGINE, *ours)), outputs(fn(TORCH, *theirs))
    cotangents = []
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape), (g.shape, w.shape)
        assert views(g) == views(w), "view(-1) works on one side only: the output's memory order differs"
        if w.dtype.is_floating_point:
            torch.testing.assert_close(torch.tensor(np.array(g.numpy())), w.detach())
            cotangents.append(rng.standard_normal(g.shape).astype(np.float32))
        else:
            np.testing.assert_array_equal(g.numpy(), w.numpy())
            cotangents.append(None)
    pairs = [(g, w, c) for g, w, c in zip(got, want, cotangents) if c is not None and w.requires_grad]
    if not pairs:
        return
    sum(((g * Tensor(c)).sum() for g, _, c in pairs), Tensor(np.float32(0))).backward()
    sum((w * torch.from_numpy(c)).sum() for _, w, c in pairs).backward()
    for o, t in zip(ours, theirs):
        if isinstance(o, Tensor) and o.requires_grad:
            torch.testing.assert_close(torch.tensor(np.array(o.grad)), t.grad)


@pytest.mark.parametrize("case", sorted(set(CASES) - set(NOT_DIFFERENTIABLE)))
def test_gradcheck(case, backend):
    """Every input's gradient against central differences in float64 (runs without torch); the
    cases in NOT_DIFFERENTIABLE say why they have none to check."""
    rng = np.random.default_rng(sum(map(ord, case)))
    ours = engine_tensors(inputs(case, rng), np.float64)
    fn = CASES[case][0]
    leaves = [t for t in ours if isinstance(t, Tensor)]
    probe = outputs(fn(ENGINE, *ours))
    float_outputs = [i for i, o in enumerate(probe) if o.dtype.kind == "f" and o.requires_grad]
    assert float_outputs, "a case with no differentiable output belongs in NOT_DIFFERENTIABLE"

    def first_float(*xs):
        it = iter(xs)
        args = [next(it) if isinstance(t, Tensor) else t for t in ours]
        return outputs(fn(ENGINE, *args))[float_outputs[0]]
    assert gradcheck(first_float, leaves)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_constructors_match_pytorch():
    pairs = [(Tensor.zeros(2, 3), torch.zeros(2, 3)), (Tensor.ones((4,)), torch.ones(4)),
             (Tensor.full((2, 2), 1.5), torch.full((2, 2), 1.5)), (Tensor.full((3,), 2), torch.full((3,), 2)),
             (Tensor.arange(5), torch.arange(5)), (Tensor.arange(1, 7, 2), torch.arange(1, 7, 2)),
             (Tensor.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)), (Tensor.eye(3), torch.eye(3)),
             (Tensor.eye(2, 3), torch.eye(2, 3))]
    for ours, theirs in pairs:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert Tensor.randn(3, 4).shape == tuple(torch.randn(3, 4).shape)
