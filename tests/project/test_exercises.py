"""Every exercise's reference solution passes its own check, and the exercises page names each."""
import importlib.util
from pathlib import Path

import pytest

SOLUTIONS = sorted((Path(__file__).resolve().parents[2] / "docs" / "solutions").glob("ex*.py"))


def test_twelve_exercises_each_with_a_solution():
    page = (SOLUTIONS[0].parent.parent / "exercises.md").read_text()
    assert len(SOLUTIONS) >= 12 and page.count("\n## ") >= 12
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
    from tinygrad_mnist.autograd import Op
    ex1 = _solution("ex1_tanh_sigmoid")

    class NaiveSigmoid(Op):
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


@pytest.mark.slow
def test_the_ring_check_fails_on_a_ring_that_only_reduce_scatters():
    """Exercise 12's check on three ranks, given an all-reduce that stops after the
    reduce-scatter: every rank holds one summed chunk and p - 1 stale ones, and it must say no."""
    import subprocess
    import sys
    launch = pytest.importorskip("launch")
    if not launch.HAVE_MPI:
        pytest.skip("mpi4py is not installed")
    path = next(p for p in SOLUTIONS if p.stem == "ex12_ring_all_reduce")
    code = (f"import importlib.util, numpy as np; spec = importlib.util.spec_from_file_location('ex12', {str(path)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "def half(comm, x):\n"
            "    p, r = comm.Get_size(), comm.Get_rank(); flat = x.reshape(-1)\n"
            "    b = np.linspace(0, flat.size, p + 1).astype(int)\n"
            "    for s in range(p - 1):\n"
            "        i, j = (r - s) % p, (r - s - 1) % p; got = np.empty(b[j + 1] - b[j])\n"
            "        comm.Sendrecv(np.ascontiguousarray(flat[b[i]:b[i + 1]]), dest=(r + 1) % p, recvbuf=got, source=(r - 1) % p)\n"
            "        flat[b[j]:b[j + 1]] += got\n"
            "    return x\n"
            "m._on_ranks(half)")
    proc = subprocess.run([launch.mpiexec(), "-n", "3", sys.executable, "-m", "mpi4py", "-c", code],
                          capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "AssertionError" in proc.stderr
