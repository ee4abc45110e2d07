"""Do the tests catch a planted bug? Each mutant breaks one op's backward or one kernel, and the
suite must go red for every one of them.

    python tests/project/mutation_check.py            # every mutant (about 15 minutes on 2 cores)
    python tests/project/mutation_check.py --list     # their names
    python tests/project/mutation_check.py Mul.sign   # some of them

Each mutant runs the op and kernel tests in a fresh `pytest -x`, with this file loaded as a
plugin that plants the bug before any test module is imported:

- `Op.sign`: the op's backward returns the first gradient negated (a sign error);
- `Op.drop`: the second input's gradient is zero (a dropped term), for ops of two inputs;
- `Op.edit`: one line of the op's backward (or of the graph code) rewritten by hand: a missing
  transpose, factor or tie split, an edge moved, accumulation lost;
- `numba.kernel` and `numpy.kernel`: the kernel's output loses its last element (an off-by-one
  loop bound), or an in-place kernel skips its last element.

Exit status 0 when every mutant was caught, 1 otherwise.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import time
from typing import Callable, Dict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENV = "TINYGRAD_MNIST_MUTANT"
TESTS = [f"tests/engine/test_{name}.py" for name in (
    "torch_parity", "higher_order", "ops", "autograd", "kernels", "kernels_conv", "functional", "semantics", "tensor",
    "nn", "pytorch_habits", "pytorch_modules", "sparse", "newton", "optim", "function_contract", "pytorch_spelling")] + [
    "tests/app/test_train.py"]

# Hand-written edits: (where, the line as it is, the line with the bug).
EDITS = {
    "MatMul.edit": ("functions.linalg.MatMul.backward", "MatMul.call(grad, swap_last(b))", "MatMul.call(grad, b)"),
    "Linear.edit": ("functions.linalg.Linear.backward", "Linear.call(grad.T, x.T, scale=s)",
                    "Linear.call(grad.T, x.T, scale=1.0)"),
    "Transpose.edit": ("functions.movement.Transpose.backward", "grad.transpose(tuple(int(a) for a in np.argsort(ctx.axes)))",
                       "grad.transpose(ctx.axes)"),
    "Pow.edit": ("functions.elementwise.Pow.derivative", "return p * x ** (p - 1)", "return x ** (p - 1)"),
    "Div.edit": ("functions.elementwise.Div.derivatives", "-a / (b * b)", "-a / b"),
    "Tanh.edit": ("functions.activations.Tanh.derivative", "return 1 - y * y", "return 1 - y"),
    "Sigmoid.edit": ("functions.activations.Sigmoid.derivative", "return y * (1 - y)", "return y"),
    "PowT.edit": ("functions.elementwise.PowT.derivatives", "Masked.call(y * log(a),", "Masked.call(log(a),"),
    "Clamp.edit": ("functions.activations.Clamp.derivative", "inside &= x >= ctx.lo", "inside &= x > ctx.lo"),
    "Elementwise.edit": ("functions.rules.Elementwise.jvp", "None if t is None else t * d", "None if t is None else t"),
    "LinearOp.edit": ("functions.rules.LinearOp.jvp", "(z if t is None else t for", "(z + 1 if t is None else t for"),
    "Max.edit": ("functions.reductions.Max.forward", "(mask / mask.sum(axis=axis, keepdims=True))", "(mask * 1.0)"),
    "Mean.edit": ("functions.reductions.Mean.backward", "grad / ctx.n", "grad"),
    "Index.edit": ("functions.movement.IndexBackward.forward", "np.add.at(out, idx, grad)", "out[idx] = grad"),
    "Conv2d.edit": ("functions.conv.Conv2d.backward",
                    "return dx, (dw if needs[1] else None), (g_sum if needs[2] else None)",
                    "return dx, (dw if needs[1] else None), (-g_sum if needs[2] else None)"),
    "LogSoftmaxBackward.edit": ("functions.nn.LogSoftmaxBackward.backward", "(-h * p * grad.sum(", "(h * p * grad.sum("),
    "ConvInputGrad.edit": ("functions.conv.ConvInputGrad.backward", "(Conv2d.call(h, w, **options) if dg else None)",
                           "(Conv2d.call(h, w * 1.01, **options) if dg else None)"),
    "unbroadcast.edit": ("autograd.unbroadcast", "grad = grad.sum(axis=axes, keepdims=True)", "grad = grad[..., :1]"),
    "accumulate.edit": ("autograd._visit", "pending[key] = pg if key not in pending else pending[key] + pg",
                        "pending[key] = pg"),
    "Prod.edit": ("functions.reductions.ProdOthers.forward", "np.ascontiguousarray((before * after).transpose(back))",
                  "np.ascontiguousarray(before.transpose(back))"),
    "ProdOthers.edit": ("functions.reductions.ProdOthers.pairs", "axis=xl.ndim) * (1 - eye), back",
                        "axis=xl.ndim), back"),
    "Maximum.edit": ("functions.elementwise.Maximum.forward", "(wins_a / (wins_a.astype(y.dtype) + wins_b))",
                     "wins_a"),
    "avg_pool2d.edit": ("tensor.nn._pool_divisor", "sides.append(end - start if count_include_pad",
                        "sides.append(end - np.maximum(start, 0) if count_include_pad"),
    "row_weights.edit": ("functions.losses.row_weights", "weight[t].astype(np.float64)", "np.ones(len(t))"),
    "CSRWeightGrad.edit": ("functions.linalg.CSRWeightGrad.backward", "Linear.call(x, k, scale=ctx.scale)",
                           "Linear.call(x, k, scale=1.0)"),
    "Linear.csr.edit": ("functions.linalg.Linear.forward", "csr_matmul(x.indptr, x.indices, x.values, w.T, scale)",
                        "csr_matmul(x.indptr, x.indices, x.values, w.T, 1.0)"),
    "owned.edit": ("autograd._owned", "and not any(v is g for v in pending.values()) and", "and"),
    "NewtonCG.edit": ("nn.newton.NewtonCG._cg", "for _ in range(self.cg_iters):", "for _ in range(self.cg_iters - 1):"),
    "AdamW.edit": ("optim.adaptive.AdamW._update", 'state["step"] += 1', 'state["step"] = self.step_count + 1'),
    "BatchNorm.edit": ("nn.normalization._BatchNorm._track", "var.array * (n / (n - 1))", "var.array"),
    "where.edit": ("tensor.elementwise.where", "F.Masked.apply(y, keep=~keep)", "F.Masked.apply(y, keep=keep)"),
    "Function.edit": ("autograd._CustomNode.backward", 'r if recorded and hasattr(r, "_ctx") else',
                      'r.detach() if recorded and hasattr(r, "_ctx") else'),
}
TWO_INPUTS = ("Add", "Sub", "Mul", "Div", "PowT", "MatMul", "Linear", "Conv2d", "Maximum", "Minimum")  # both take a gradient


def ops() -> Dict[str, type]:
    from tinygrad_mnist import functions
    return dict(functions.OPS)


def mutants() -> list:
    from tinygrad_mnist.kernels.interface import ARITHMETIC
    names = []
    for name in ops():
        names.append(f"{name}.sign")
        if name in TWO_INPUTS:
            names.append(f"{name}.drop")
    names += list(EDITS)
    names += [f"{s}.{k}" for s in ("numba", "numpy") for k in ARITHMETIC]
    return names


# ---------------------------------------------------------------- planting (inside the pytest run)

def _grads(op: type, change: Callable) -> None:
    """Wrap op's own backward so `change(grads)` rewrites the gradients it returns."""
    backward = op.backward

    def mutated(ctx, grad):
        grads = backward(ctx, grad)
        return change(grads if isinstance(grads, tuple) else (grads,))
    op.backward = staticmethod(mutated)


def _negate_first(grads: tuple) -> tuple:
    i = next(i for i, g in enumerate(grads) if g is not None)
    return grads[:i] + (-grads[i],) + grads[i + 1:]


def _zero_second(grads: tuple) -> tuple:
    if len(grads) < 2 or grads[1] is None:
        return grads
    return (grads[0], np.zeros_like(grads[1])) + grads[2:]


def _edit(where: str, old: str, new: str) -> None:
    """Recompile one function with `old` replaced by `new` (which must occur once)."""
    import importlib
    parts = where.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module("tinygrad_mnist." + ".".join(parts[:cut]))
            break
        except ImportError:
            continue
    owner = module
    for name in parts[cut:-1]:
        owner = getattr(owner, name)
    fn = inspect.getattr_static(owner, parts[-1])
    wrap = type(fn) if isinstance(fn, (staticmethod, classmethod)) else None
    fn = fn.__func__ if wrap else fn
    source = textwrap.dedent(inspect.getsource(fn))
    assert source.count(old) == 1, f"{where}: {old!r} occurs {source.count(old)} times"
    source = "\n".join(line for line in source.replace(old, new).splitlines() if not line.lstrip().startswith("@"))
    namespace: dict = {}
    exec(compile(source, inspect.getsourcefile(fn), "exec"), module.__dict__, namespace)
    replacement = namespace[parts[-1]]
    setattr(owner, parts[-1], wrap(replacement) if wrap else replacement)


def _off_by_one(kernel: Callable) -> Callable:
    def mutated(*args, **kwargs):
        out = kernel(*args, **kwargs)
        if out is None:  # an in-place kernel: its first argument loses the last element's update
            raise NotImplementedError
        first = out[0] if isinstance(out, tuple) else out
        if isinstance(first, np.ndarray) and first.size:
            first = first.copy()
            first.reshape(-1)[-1] = 0
        elif isinstance(first, (int, np.integer)):
            first = first + 1
        else:
            first = np.dtype(np.float16)
        return (first,) + out[1:] if isinstance(out, tuple) else first
    return mutated


def _skip_last(kernel: Callable) -> Callable:
    def mutated(param, *args, **kwargs):
        last = param.reshape(-1)[-1].copy() if param.size else None
        kernel(param, *args, **kwargs)
        if last is not None:
            param.reshape(-1)[-1] = last
    return mutated


def plant(name: str) -> None:
    what, _, how = name.rpartition(".")
    if name in EDITS:
        _edit(*EDITS[name])
    elif what in ("numba", "numpy"):
        from tinygrad_mnist.kernels import numba_kernels, numpy_kernels
        module = numba_kernels if what == "numba" else numpy_kernels
        kernel = getattr(module, how)
        setattr(module, how, _skip_last(kernel) if how == "adamw_update" else _off_by_one(kernel))
    elif how == "sign":
        _grads(ops()[what], _negate_first)
    elif how == "drop":
        _grads(ops()[what], _zero_second)
    else:
        raise SystemExit(f"unknown mutant {name!r}")


def pytest_configure(config) -> None:
    """pytest loads this file as a plugin (`-p mutation_check`): plant the mutant named in the
    environment before any test module imports the engine's names."""
    if os.environ.get(ENV):
        plant(os.environ[ENV])


# ---------------------------------------------------------------- the driver

def caught(name: str) -> tuple:
    env = dict(os.environ, **{ENV: name}, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p",
                           "mutation_check", *TESTS], cwd=ROOT, env=env, capture_output=True, text=True)
    failed = [line.split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    if proc.returncode != 1 and proc.returncode != 0:  # not a test failure: the mutant itself is broken
        raise SystemExit(f"{name}: pytest exited {proc.returncode}, the mutant was not planted:\n"
                         f"{(proc.stdout + proc.stderr)[-2000:]}")
    return proc.returncode == 1, failed[:1], time.perf_counter() - start


def main(argv: list) -> int:
    names = mutants()
    if argv == ["--list"]:
        print("\n".join(names))
        return 0
    unknown = sorted(set(argv) - set(names))
    if unknown:
        print(f"unknown mutants: {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    chosen = argv or names
    missed = []
    for name in chosen:
        red, first, seconds = caught(name)
        print(f"{'caught' if red else 'MISSED'}  {name:32} {seconds:5.1f} s  {first[0] if first else ''}", flush=True)
        if not red:
            missed.append(name)
    print(f"\n{len(chosen) - len(missed)} of {len(chosen)} mutants caught" +
          (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main(sys.argv[1:]))
