"""The layout a newcomer reads: imports point down the table of docs/architecture.md, the engine
never imports the application, each package keeps to its line budget and each function fits on
a screen, and facts (the model names, the version) live in one place."""
import ast
import re
import sys
from pathlib import Path

from tinygrad_mnist.app import cli, models

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tinygrad_mnist"
MAX_FUNCTION_LINES = 50  # one screen
DOORS = {"train", "evaluate", "predict", "plot"}  # `python -m tinygrad_mnist.train`: a few lines into app
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


def test_the_engine_never_imports_the_application():
    known = modules()
    engine = [m for m in known if m != "app" and not m.startswith("app.") and m not in DOORS]
    leaks = [f"{m or 'tinygrad_mnist'} imports {t}" for m in engine for t in imports(m, known[m], known)
             if t == "app" or t.startswith("app.")]
    assert not leaks, leaks
    assert all(imports(d, known[d], known) == {"app.commands"} for d in DOORS)


def budgets() -> dict:
    """docs/architecture.md's budget table: {folder relative to the root: lines at most}."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Budgets, not caps", 1)[1].split("\n\n")[2]
    return {re.search(r"`([\w/]+)`", row.split("|")[1]).group(1): int(row.split("|")[2])
            for row in table.splitlines()[2:]}


def lines_in(folder: Path) -> int:
    """The lines of the Python files directly in `folder` (a sub-package has a budget of its own)."""
    return sum(p.read_text().count("\n") for p in folder.glob("*.py"))


def test_every_package_keeps_to_its_budget():
    table = budgets()
    folders = {str(p.parent.relative_to(ROOT)) for d in ("tinygrad_mnist", "tests", "benchmarks")
               for p in (ROOT / d).rglob("*.py")} - {"tests"}  # tests/: conftest and shared helpers
    assert folders == set(table), f"docs/architecture.md budgets every package once: {folders ^ set(table)}"
    assert not over_budget(table), f"over budget (lines, budget): {over_budget(table)}"


def over_budget(table: dict) -> dict:
    return {f: (lines_in(ROOT / f), n) for f, n in table.items() if lines_in(ROOT / f) > n}


def test_the_budget_check_can_fail():
    """A package one line over its budget is named; the count is the folder's, not one file's."""
    tensor = lines_in(ROOT / "tinygrad_mnist" / "tensor")
    assert tensor > max(p.read_text().count("\n") for p in (ROOT / "tinygrad_mnist" / "tensor").glob("*.py"))
    assert over_budget({"tinygrad_mnist/tensor": tensor - 1}) == {"tinygrad_mnist/tensor": (tensor, tensor - 1)}


def test_functions_fit_on_a_screen():
    for path in [p for d in ("tinygrad_mnist", "benchmarks", "tests") for p in (ROOT / d).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
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


def test_no_script_shadows_a_standard_module():
    """benchmarks/run.py puts benchmarks/ first on sys.path: a script named like a standard module
    (profile.py, timeit.py) would be imported in its place by whatever imports that module."""
    names = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} | {p.stem for p in (ROOT / "tests").rglob("*.py")}
    assert not names & set(sys.stdlib_module_names), names & set(sys.stdlib_module_names)
