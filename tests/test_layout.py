"""The layout a newcomer reads: imports point down the table of docs/architecture.md, each file
and function fits on a screen, every op keeps its arrays through save_for_backward, and facts
(the model names, the version) live in one place."""
import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import Tensor, cli, models
from tinygrad_mnist.autograd import topological_order

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinygrad_mnist"
MAX_FILE_LINES = 350
MAX_FUNCTION_LINES = 50  # one screen
UNROLLED = {"_nt_rows"}  # explicitly unrolled register blocks (kernels/products.py says why)


def modules() -> dict:
    """Every module of the package by dotted name relative to it ('' for the package itself)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set:
    """The modules of the package that `name` imports, anywhere in the file: `from . import x`
    is an import of module x where x is one, else of the package it names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [p for p in package if p]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif (node.module or "").startswith("tinygrad_mnist"):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                target = ".".join(base + [alias.name])
                found.add(target if target in known else ".".join(base))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[1:]) for a in node.names if a.name.startswith("tinygrad_mnist")}
    return {t for t in found if t in known and t != name}


def table_order() -> list:
    """The modules of docs/architecture.md's layer table, in its order."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## The layers", 1)[1].split("\n\n")[2]
    order = []
    for row in table.splitlines()[2:]:
        order += [("" if m == "tinygrad_mnist" else m) for m in re.findall(r"`([\w.]+)`", row.split("|")[2])]
    return order


def test_imports_point_down_the_layer_table():
    known = modules()
    order = table_order()
    assert sorted(order) == sorted(known), "docs/architecture.md lists every module once: " \
        f"missing {sorted(set(known) - set(order))}, unknown or twice {sorted(set(order) ^ set(known))}"
    rank = {m: i for i, m in enumerate(order)}
    upward = [f"{m or 'tinygrad_mnist'} imports {t or 'tinygrad_mnist'}" for m, path in known.items()
              for t in imports(m, path, known) if rank[t] >= rank[m]]
    assert not upward, upward  # no import up the table, so no cycle either


def test_the_layout_check_can_fail(tmp_path, monkeypatch):
    """A planted upward import (the losses importing the trainer) is caught."""
    known = modules()
    fake = tmp_path / "losses.py"
    fake.write_text(known["losses"].read_text() + "\nfrom . import train\n")
    assert "train" in imports("losses", fake, known)


def test_files_and_functions_fit_on_a_screen():
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "benchmarks").glob("*.py")) + list((ROOT / "tests").glob("*.py")):
        text = path.read_text()
        assert text.count("\n") <= MAX_FILE_LINES, f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.name not in UNROLLED:
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, f"{path.relative_to(ROOT)}:{node.name} is {length} lines"


def test_one_name_one_thing():
    """No two functions or classes of the package share a name unless one is a method (a
    `forward` per op is the protocol), so a name found in the docs means one thing."""
    seen = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_") \
                    and not node.name.startswith("__"):
                seen.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    twice = {n: p for n, p in seen.items() if len(p) > 1}
    assert not twice, twice


def test_models_and_defaults_are_named_once():
    """cli.py imports nothing of the package above it, so it spells the model names out; this
    ties them to models.MODELS, and every per-model default to them."""
    assert cli.MODELS == tuple(models.MODELS)
    for defaults in (cli.DEFAULT_LEARNING_RATE, cli.DEFAULT_OPTIMIZER, cli.DEFAULT_BATCH_SIZE,
                     cli.DEFAULT_EPOCHS, cli.DEFAULT_LR_DECAY):
        assert tuple(defaults) == cli.MODELS
    help_text = cli.train_parser().format_help()
    assert "0.001 for cnn" in re.sub(r"\s+", " ", help_text)  # generated from the defaults


def test_the_version_is_written_once():
    from tinygrad_mnist import __version__
    hits = [p for p in list(PACKAGE.rglob("*.py")) + [ROOT / "setup.cfg"] if __version__ in p.read_text()]
    assert [p.name for p in hits] == ["_version.py"]


def _contexts(root):
    return [t._ctx for t in topological_order(root, every_parent=True) if t._ctx is not None]


def _keeps_an_array(value) -> bool:
    if isinstance(value, np.ndarray) or callable(value):
        return True
    return isinstance(value, (list, tuple, dict)) and any(
        _keeps_an_array(v) for v in (value.values() if isinstance(value, dict) else value))


def test_every_op_keeps_its_arrays_through_save_for_backward(backend):
    """Run every parity case and look at each context of its graph: an array (or a list of them,
    or a closure) kept on ctx beside save_for_backward is one the graph view would not show."""
    import test_torch_parity as parity
    for case in sorted(parity.CASES):
        rng = np.random.default_rng(0)
        ours = parity.engine_tensors(parity.inputs(case, rng), np.float64)
        for out in parity.outputs(parity.CASES[case][0](parity.ENGINE, *ours)):
            for ctx in _contexts(out) if isinstance(out, Tensor) else []:
                kept = {k: v for k, v in vars(ctx).items()
                        if k not in ("fn", "parents", "needs_input_grad", "_saved") and _keeps_an_array(v)}
                assert not kept, f"{case}: {ctx.fn.__name__} keeps {sorted(kept)} on ctx"


def test_the_save_check_can_fail():
    class Leaky:
        pass
    ctx = Leaky()
    ctx.back = lambda y: y
    assert _keeps_an_array(ctx.back) and _keeps_an_array([np.zeros(1)])


def test_no_script_shadows_a_standard_module():
    """benchmarks/run.py puts benchmarks/ first on sys.path: a script named like a standard module
    (profile.py, timeit.py) would be imported in its place by whatever imports that module."""
    names = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} | {p.stem for p in (ROOT / "tests").glob("*.py")}
    assert not names & set(sys.stdlib_module_names), names & set(sys.stdlib_module_names)
