"""The docs cannot rot: their snippets run, their links and code references resolve."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = "\n".join(p.read_text() for d in ("tinygrad_mnist", "benchmarks", "tests", "docs")
                    for p in (ROOT / d).rglob("*.py"))


def doc_id(path):
    return str(path.relative_to(ROOT))


WITH_CODE = [d for d in DOCS if "```python" in d.read_text()]


@pytest.mark.parametrize("doc", WITH_CODE, ids=doc_id)
def test_python_snippets_run(doc, tmp_path):
    """A document's Python blocks, in order, in one fresh process (in an empty directory)."""
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    proc = subprocess.run([sys.executable, "-c", "\n\n".join(blocks)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if doc.name == "tutorial-port.md":  # the page promises the tutorial's first epoch
        assert proc.stdout.splitlines()[0] == "   1 train loss:  2.30259 test acc: 68.08%"
        assert proc.stdout.splitlines()[-1] == "True"


def test_every_op_states_its_local_derivative():
    import inspect
    from tinygrad_mnist import autograd, functions
    ops = [c for c in vars(functions).values()
           if inspect.isclass(c) and issubclass(c, autograd.Op) and c is not autograd.Op]
    assert len(ops) >= 20
    for op in ops:
        assert op.__doc__ and re.search(r"d/d|d\w*/d", op.__doc__), f"{op.__name__} does not state its derivative"


def test_every_module_says_what_it_owns():
    for path in (ROOT / "tinygrad_mnist").rglob("*.py"):
        first = path.read_text().lstrip()
        assert first.startswith('"""'), f"{path.relative_to(ROOT)} has no module docstring"


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(), re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_links_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    for label, target in re.findall(r"\[([^\]]*)\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # no external links are checked (no network here)
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc_id(doc)} links to missing {target}"
        if path.suffix == ".py" and re.fullmatch(r"L\d+", anchor):  # a line of code: it must still be there
            line = path.read_text().splitlines()[int(anchor[1:]) - 1]
            name = label.strip("`").split(".")[-1]
            assert re.match(rf"\s*(def|class) {name}\b", line), f"{doc_id(doc)} links {label} to {target}: {line.strip()!r}"
        elif anchor:
            assert anchor in anchors(path), f"{doc_id(doc)} links to missing heading #{anchor}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_code_paths_and_names_exist(doc):
    text = doc.read_text()
    code = set(re.findall(r"`([^`\n]+)`", text))
    paths = {c for c in code if re.match(r"(tinygrad_mnist|tests|benchmarks|docs)/[\w/.-]*$", c)}
    for p in paths:
        assert (ROOT / p).exists(), f"{doc_id(doc)} names a missing file {p}"
    # names of code: snake_case, CamelCase or dotted, next to a path or as a call; each must exist
    names = {c for c in code if len(c) >= 4 and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", c)
             and ("_" in c or "." in c or re.search(r"[a-z][A-Z]|^[A-Z][a-z]+[A-Z]", c))}
    ignore = {"candle_core", "candle_nn", "candle_datasets", "NUMBA_DISABLE_JIT", "TINYGRAD_MNIST_KERNELS",
              "NUMBA_CACHE_DIR", "OPENBLAS_THREAD_TIMEOUT", "VmHWM", "ru_maxrss", "DEFAULT_KAIMING_NORMAL",
              "torch.nn.Linear", "safetensors.torch.load_file", "tinygrad_mnist.Tensor", "no_grad"}
    own = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))  # code the page itself defines counts
    for name in sorted(names - ignore):
        parts = [p for p in name.split(".") if p not in ("tinygrad_mnist", "nn", "datasets", "mnist", "init",
                                                         "ops", "loss", "kernels", "impl", "ctx", "self")]
        for part in parts:
            assert re.search(rf"\b{re.escape(part)}\b", SOURCES + own), \
                f"{doc_id(doc)} names `{name}`: no {part} in the code"


CLAIM = re.compile(r"`(\w+)` in `(tinygrad_mnist/[\w/]+\.py)`")


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_what_lives_where_is_true(doc):
    """"`name` in `tinygrad_mnist/file.py`" says where code lives; the file must define the name
    (docs once put cross_entropy in tensor.py, where it was not)."""
    for name, path in CLAIM.findall(doc.read_text()):
        source = (ROOT / path).read_text()
        assert re.search(rf"^\s*(def|class) {name}\b|^{name} = ", source, re.M), \
            f"{doc_id(doc)}: `{name}` is not defined in {path}"


def test_the_where_check_can_fail(tmp_path):
    assert CLAIM.findall("`cross_entropy` in `tinygrad_mnist/tensor/core.py`") == [("cross_entropy", "tinygrad_mnist/tensor/core.py")]
    assert not re.search(r"^\s*(def|class) cross_entropy\b", (ROOT / "tinygrad_mnist/tensor/core.py").read_text(), re.M)


def test_every_op_the_models_use_is_derived_in_autodiff_md():
    """Run one training step of each model; each op in its graph is derived (named in code font)."""
    import numpy as np
    from tinygrad_mnist import Tensor
    from tinygrad_mnist.autograd import topological_order
    from tinygrad_mnist.app.models import MODELS
    from tinygrad_mnist.nn import VarBuilder, VarMap
    text = (ROOT / "docs" / "autodiff.md").read_text()
    seen = set()
    for kind, build in MODELS.items():
        model = build(VarBuilder.from_varmap(VarMap())).train()
        loss = model.loss(Tensor(np.random.default_rng(0).integers(0, 256, (4, 784), dtype=np.uint8)), [1, 2, 3, 4])
        seen |= {t._ctx.fn.__name__ for t in topological_order(loss, every_parent=True) if t._ctx is not None}
    assert {"Linear", "LogSoftmax", "NLL", "ReLU", "Conv2d", "MaxPool2d", "Reshape", "Mul"} <= seen
    for op in sorted(seen):
        assert f"`{op}`" in text or f"`{op}." in text, f"docs/autodiff.md derives no {op}"
    for op in sorted(seen):  # and links the file of its family
        module = vars(__import__("tinygrad_mnist.functions", fromlist=[op]))[op].__module__
        family = "tinygrad_mnist/" + module.split(".", 1)[1].replace(".", "/") + ".py"
        assert family in text, f"docs/autodiff.md links no {family} for {op}"


def test_autodiff_derives_the_ops_peers_asked_for():
    """prod with zeros, avg_pool2d, conv1d as conv2d, and the tie rules of max/amax each have a section."""
    text = (ROOT / "docs" / "autodiff.md").read_text()
    for heading in ("### Product, and what zeros do to it", "### Average pooling is a convolution",
                    "### conv1d is conv2d on a height of 1", "### Max-pooling, and how ties are split"):
        assert heading in text
    for name in ("`ProdOthers`", "`amax(dim)`", "`max(dim)`", "`count_include_pad=True`", "`maximum(a, b)`"):
        assert name in text, name
