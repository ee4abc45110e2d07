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


GPU = ("ex15_row_sums_on_a_gpu", "ex16_transpose_through_shared_memory")  # numba's CUDA simulator


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_passes(path):
    if path.stem in GPU:
        pytest.importorskip("numba_cuda")
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


# ---------------------------------------------------------------- each check grades the student
def _op(name, forward, backward, jvp=None):
    """An `Op` from its rules (a student's answer to an exercise that asks for one)."""
    from tinygrad_mnist.autograd import Op
    body = {"forward": staticmethod(forward), "backward": staticmethod(backward), "__doc__": name}
    if jvp:
        body["jvp"] = staticmethod(jvp)
    return type(name, (Op,), body)


def _saving(f):
    def forward(ctx, *xs):
        ctx.save_for_backward(*xs)
        return f(*xs)
    return forward


def _softmax(x):
    import numpy as np
    e = np.exp(x - x.max())
    return e / e.sum()


def _train_without(relu=True, in_place=True):
    """Exercise 3's training, wrong: without the hidden ReLU, or rebinding the loop's name."""
    import numpy as np

    from tinygrad_mnist import Tensor, cross_entropy, no_grad
    ex3 = _solution("ex3_mlp_by_hand")

    def train():
        rng = np.random.default_rng(0)
        x, y = ex3.make_data(rng)
        w1 = Tensor(rng.normal(size=(2, 16)).astype(np.float32), requires_grad=True)
        b1 = Tensor(np.zeros(16, np.float32), requires_grad=True)
        w2 = Tensor(rng.normal(scale=0.3, size=(16, 2)).astype(np.float32), requires_grad=True)
        b2 = Tensor(np.zeros(2, np.float32), requires_grad=True)

        def logits():
            h = Tensor(x) @ w1 + b1
            return (h.relu() if relu else h) @ w2 + b2
        for _ in range(300):
            loss = cross_entropy(logits(), y)
            for p in (w1, b1, w2, b2):
                p.grad = None
            loss.backward()
            with no_grad():
                for p in (w1, b1, w2, b2):
                    if in_place:
                        p -= 0.5 * Tensor(p.grad)
                    else:  # rebinds the loop's name: the model's tensors never change
                        p = p - 0.5 * Tensor(p.grad)
        with no_grad():
            return float(loss.item()), float((logits().argmax(dim=1).numpy() == y).mean())
    return train


def _adam_variant(correct=True, decoupled=True, eps_inside=False):
    """Exercise 7's Adam, wrong in one of three ways."""
    import numpy as np

    def adamw(p, grads, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
        for t, g in enumerate(grads, start=1):
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
            m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
            mh, vh = (m / (1 - beta1 ** t), v / (1 - beta2 ** t)) if correct else (m, v)
            p = p - lr * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps)
        return p
    return adamw


def _wrong_ops():
    """(exercise, the check's keyword arguments) for wrong ops: each must fail."""
    import numpy as np

    from tinygrad_mnist import Tensor
    stable = _saving(lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))
    return {
        "ex1 tanh without the square": ("ex1_tanh_sigmoid", dict(tanh=_op(
            "T", _saving(np.tanh), lambda c, g: g * (1 - np.tanh(c.saved_tensors[0]))))),
        "ex4 the sign fixed, not the factor": ("ex4_find_the_bug", dict(fixed=_op(
            "D", _saving(lambda a, b: a / b), lambda c, g: (g / c.saved_tensors[1], -g / (c.saved_tensors[1] ** 2))))),
        "ex6 no shift by the maximum": ("ex6_logsumexp", dict(LogSumExp=_op(
            "L", _saving(lambda x: np.asarray(np.log(np.exp(x).sum()))),
            lambda c, g: g * _softmax(c.saved_tensors[0])))),
        "ex6 the gradient eˣ, not the softmax": ("ex6_logsumexp", dict(LogSumExp=_op(
            "L", _saving(lambda x: np.asarray(x.max() + np.log(np.exp(x - x.max()).sum()))),
            lambda c, g: g * np.exp(c.saved_tensors[0] - c.saved_tensors[0].max())))),
        "ex9 a naive sigmoid in backward": ("ex9_a_jvp_rule", dict(Softplus=_op(
            "S", stable, lambda c, g: g / (1 + (-c.saved_tensors[0]).exp()) if isinstance(c.saved_tensors[0], Tensor)
            else g / (1 + np.exp(-c.saved_tensors[0])), lambda c, t: t / (1 + np.exp(-c.saved_tensors[0]))))),
        "ex9 a JVP without σ": ("ex9_a_jvp_rule", dict(Softplus=_op(
            "S", stable, _solution("ex9_a_jvp_rule").Softplus.backward, lambda c, t: t))),
    }


def _edited(exercise: str, factory: str, old: str, new: str):
    """The solution's kernel factory with one line changed (a student's slip)."""
    import inspect
    import textwrap
    module = _solution(exercise)
    source = textwrap.dedent(inspect.getsource(getattr(module, factory)))
    assert old in source
    namespace = dict(vars(module))
    exec(source.replace(old, new), namespace)
    return namespace[factory]


def _wrong_kernels():
    return {
        "ex15 the stride forgotten": ("ex15_row_sums_on_a_gpu", dict(row_sums_kernel=_edited(
            "ex15_row_sums_on_a_gpu", "row_sums_kernel", "range(t, x.shape[1], block)", "range(t, x.shape[1])"))),
        "ex16 a tile written untransposed": ("ex16_transpose_through_shared_memory", dict(transpose_kernel=_edited(
            "ex16_transpose_through_shared_memory", "transpose_kernel", "out[row, col] = buf[tx, ty]",
            "out[row, col] = buf[ty, tx]"))),
    }


def _wrong_numbers():
    """(exercise, the check's keyword arguments) for wrong functions: each must fail."""
    import numpy as np

    from tinygrad_mnist import checkpoint
    ex8, ex10, ex11, ex13, ex14 = (_solution(n) for n in (
        "ex8_broadcast_by_hand", "ex10_jacobian_both_ways", "ex11_hvp_by_differences", "ex13_checkpoint_the_mlp",
        "ex14_hypergradient"))
    return {
        "ex2 Jacobian without −ppᵀ": ("ex2_softmax_jacobian", dict(softmax_jacobian=lambda x: np.diag(_softmax(x)))),
        "ex2 VJP without its second term": ("ex2_softmax_jacobian", dict(softmax_vjp=lambda x, g: _softmax(x) * g)),
        "ex3 a linear model": ("ex3_mlp_by_hand", dict(train=_train_without(relu=False))),
        "ex3 an update that rebinds a name": ("ex3_mlp_by_hand", dict(train=_train_without(in_place=False))),
        "ex5 leading dimensions only": ("ex5_broadcast_gradient", dict(
            unbroadcast_by_hand=lambda g, shape: g.sum(axis=tuple(range(g.ndim - len(shape)))))),
        "ex7 no bias correction": ("ex7_adam_from_the_equations", dict(adamw_by_hand=_adam_variant(correct=False))),
        "ex7 decay added to the gradient": ("ex7_adam_from_the_equations",
                                            dict(adamw_by_hand=_adam_variant(decoupled=False))),
        "ex7 eps inside the root": ("ex7_adam_from_the_equations", dict(adamw_by_hand=_adam_variant(eps_inside=True))),
        "ex8 b's gradient without its kept dimension": ("ex8_broadcast_by_hand", dict(
            by_hand=lambda a, b, c: (lambda d: (d[0], d[1][:, 0], d[2]))(ex8.by_hand(a, b, c)))),
        "ex10 rows as columns": ("ex10_jacobian_both_ways", dict(by_rows=lambda x: ex10.by_rows(x).T)),
        "ex10 a missing product-rule term": ("ex10_jacobian_both_ways", dict(
            by_hand=lambda x: (1 - np.tanh(ex10.A @ x) ** 2)[:, None] * ex10.A * x.sum())),
        "ex11 a one-sided difference": ("ex11_hvp_by_differences", dict(
            hvp_by_differences=lambda w, v, eps=1e-5: (ex11.gradient(w + eps * v) - ex11.gradient(w)) / eps)),
        "ex13 one checkpoint around everything": ("ex13_checkpoint_the_mlp", dict(
            checkpointed_forward=lambda layers, x: checkpoint(lambda v: ex13.plain_forward(layers, v), x))),
        "ex14 the hypergradient's sign": ("ex14_hypergradient", dict(hypergradient=lambda *a: -ex14.hypergradient(*a))),
        "ex14 the damping left out of the solve": ("ex14_hypergradient", dict(
            hypergradient=lambda tl, vl, w, lam: ex14.hypergradient(lambda x, _: tl(x, 0.0), vl, w, lam))),
    }


@pytest.mark.parametrize("name", [
    "ex1 tanh without the square", "ex2 Jacobian without −ppᵀ", "ex2 VJP without its second term", "ex3 a linear model",
    "ex3 an update that rebinds a name", "ex4 the sign fixed, not the factor", "ex5 leading dimensions only",
    "ex6 no shift by the maximum", "ex6 the gradient eˣ, not the softmax", "ex7 no bias correction",
    "ex7 decay added to the gradient", "ex7 eps inside the root", "ex8 b's gradient without its kept dimension",
    "ex9 a naive sigmoid in backward", "ex9 a JVP without σ", "ex10 rows as columns",
    "ex10 a missing product-rule term", "ex11 a one-sided difference", "ex13 one checkpoint around everything",
    "ex14 the hypergradient's sign", "ex14 the damping left out of the solve", "ex15 the stride forgotten",
    "ex16 a tile written untransposed"])
def test_each_check_fails_on_a_plausible_wrong_answer(name):
    import numpy as np
    if name.startswith("ex15") or name.startswith("ex16"):
        pytest.importorskip("numba_cuda")
        exercise, kwargs = _wrong_kernels()[name]
    else:
        exercise, kwargs = {**_wrong_ops(), **_wrong_numbers()}[name]
    with np.errstate(all="ignore"), pytest.raises((AssertionError, FloatingPointError, RuntimeWarning)):
        with _warnings_as_errors():
            _solution(exercise).check(**kwargs)


def _warnings_as_errors():
    import warnings
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("error", RuntimeWarning)

    class Exit:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return context.__exit__(*exc)
    return Exit()
