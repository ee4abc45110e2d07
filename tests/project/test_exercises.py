"""Every exercise's reference solution passes its own check, and the exercises page names each."""
import importlib.util
from pathlib import Path

import pytest

SOLUTIONS = sorted((Path(__file__).resolve().parents[2] / "docs" / "solutions").glob("ex*.py"))


def test_eleven_exercises_each_with_a_solution():
    page = (SOLUTIONS[0].parent.parent / "exercises.md").read_text()
    assert len(SOLUTIONS) >= 11 and page.count("\n## ") >= 11
    for path in SOLUTIONS:
        assert f"(solutions/{path.name})" in page


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_passes(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.check()


def _solution(name):
    path = next(p for p in SOLUTIONS if p.stem == name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sigmoid_check_fails_on_an_overflow_warning():
    """Exercise 1 asks for no overflow warning; a naive 1 / (1 + exp(-x)) has the right values
    and gradients but warns at x = -1000, and the check must say no."""
    import numpy as np
    from tinygrad_mnist.autograd import Function
    ex1 = _solution("ex1_tanh_sigmoid")

    class NaiveSigmoid(Function):
        """1 / (1 + exp(-x)):  d/dx = σ(1 − σ)."""

        @staticmethod
        def forward(ctx, x):
            y = 1 / (1 + np.exp(-x))
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y * (1 - y)
    ex1.check()
    with pytest.raises((RuntimeWarning, FloatingPointError)):
        ex1.check(sigmoid=NaiveSigmoid)
