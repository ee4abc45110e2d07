"""The backward page (viz.to_html), in a real browser: headless Chromium (Debian's
chromium-headless-shell) driven by Playwright. For the README's tiny model, the three models'
training steps and a user graph, every step of the page shows what an independent printed trace
of the same pass says (the node visited, the norm it received, each input's norm and
un-broadcast); at the end each leaf's badge is the norm of `.grad` from a separate backward; the
buttons, keys, nodes and trace lines navigate; no console error, and no request but the page.
A page with one note removed fails the same check. Skipped where Playwright or the browser is
missing; never in CI (.ci/run installs both and checks)."""
import io
import os
import re
import shutil

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nll
from tinygrad_mnist.app.models import MODELS
from tinygrad_mnist.nn import VarBuilder, VarMap, init
from tinygrad_mnist.trace import BackwardTrace
from tinygrad_mnist.viz import to_html

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the test extra has it)")
BROWSER = os.environ.get("TINYGRAD_MNIST_CHROMIUM") or shutil.which("chromium-headless-shell") or \
    ("/usr/bin/chromium-headless-shell" if os.path.exists("/usr/bin/chromium-headless-shell") else None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium-headless-shell (apt-get install chromium-headless-shell)")


def tiny():
    x = Tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w = Tensor([[0.1, -0.2, 0.3], [0.0, 0.2, -0.1]], requires_grad=True)
    b = Tensor([0.0, 0.1, -0.1], requires_grad=True)
    x.name, w.name, b.name = "x", "w", "b"
    return nll((x @ w + b).log_softmax(), [0, 1, 2])


def user():
    """Broadcasting in both operands, a node used twice, a diamond, a constant."""
    rng = np.random.default_rng(3)
    w = Tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal((3,)).astype(np.float32), requires_grad=True)
    c = Tensor(rng.standard_normal((4, 1)).astype(np.float32), requires_grad=True)
    w.name, b.name, c.name = "w", "b", "c"
    h = Tensor(rng.standard_normal((4, 2)).astype(np.float32)) @ w + b
    return ((h * h.sigmoid()) * c).mean() + (w * w).sum()


def model_step(kind):
    def build():
        init.seed(0)  # weights and the dropout mask, the same on each build
        model = MODELS[kind](VarBuilder.from_varmap(VarMap()))
        rng = np.random.default_rng(0)
        x = Tensor(rng.integers(0, 256, (8, 784)).astype(np.uint8))
        x.name = "images"
        return model.train().loss(x, Tensor(rng.integers(0, 10, 8)))
    return build


GRAPHS = {"tiny": tiny, "user": user, "linear": model_step("linear"), "mlp": model_step("mlp"), "cnn": model_step("cnn")}


def norm_of(text: str) -> str:
    m = re.search(r"norm (\S+)$", text)
    return m.group(1) if m else f"{abs(float(text)):.4g}"


def expected_steps(text: str) -> list:
    """The steps of a printed trace: node, received norm, and each input sent (name, norm, the
    un-broadcast's shapes or None), parsed from the text alone."""
    lines = text.splitlines()
    root, seed = re.match(r"backward from (.+?)(?: \(\w+\))?, seeded with .* = (.+)$", lines[0]).groups()
    steps = [{"node": root, "received": norm_of(seed), "sent": []}]
    for line in lines[1:]:
        visit = re.match(r"\[\d+\] (.+?) = \w+ \[.*?\]: received (.+)$", line)
        leaf = re.match(r"\[\d+\] (.+?) leaf \[.*?\]: \.grad \+= (.+)$", line)
        sent = re.match(r"\s+-> (.+?): (.+?)(?:  \(un-broadcast: summed (\[.*?\] to \[.*?\])\))?"
                        r"(?:  \(added to the gradient from its other use\))?$", line)
        if visit or leaf:
            node, received = (visit or leaf).groups()
            steps.append({"node": node, "received": norm_of(received), "sent": []})
        elif sent:
            steps[-1]["sent"].append((sent.group(1), norm_of(sent.group(2)), sent.group(3)))
    return steps


def shown(page) -> dict:
    rows = page.query_selector_all("#panel .sent")
    return {"node": page.inner_text("#step-node"), "received": page.inner_text("#received-norm"),
            "sent": [(r.get_attribute("data-input"), r.query_selector(".sent-norm").inner_text(),
                      (lambda u: re.search(r"summed (\[.*?\] to \[.*?\])", u.inner_text()).group(1) if u else None)(
                          r.query_selector(".unbroadcast"))) for r in rows]}


def badges(page) -> dict:
    return {g.query_selector("title").text_content(): g.query_selector(".badge").text_content()
            for g in page.query_selector_all(".node.tensor") if g.query_selector(".badge")}


def check_page(browser, path, build) -> None:
    """Every step of the page at `path` against a printed trace of the same graph built anew, the
    badges against a separate backward, navigation, console and requests."""
    text = io.StringIO()
    build().backward(trace=text)
    want = expected_steps(text.getvalue())
    again = build()
    again.backward()
    from tinygrad_mnist.autograd import topological_order
    grads = {t.name or "": f".grad ‖{np.linalg.norm(np.asarray(t.grad, np.float64)):.4g}‖"
             for t in topological_order(again, every_parent=True) if t._ctx is None and t.requires_grad}
    page = browser.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"file://{path}")
    for i, step in enumerate(want):
        assert page.inner_text("#counter") == f"step {i} of {len(want) - 1}"
        assert shown(page) == step, (i, shown(page), step)
        page.keyboard.press("ArrowRight")
    named = {k: v for k, v in badges(page).items() if k in grads}
    assert named == {k: v for k, v in grads.items() if k in named} and named, (badges(page), grads)
    page.keyboard.press("Home")
    assert page.inner_text("#counter").startswith("step 0 ")
    page.click("#last")
    assert page.inner_text("#counter") == f"step {len(want) - 1} of {len(want) - 1}"
    page.click("#prev")
    assert page.inner_text("#counter") == f"step {len(want) - 2} of {len(want) - 1}"
    page.click("#trace .line[data-step='1']")
    assert page.inner_text("#counter").startswith("step 1 ") and page.inner_text("#step-node") == want[1]["node"]
    page.click(".node.op.current")  # the op of step 1: a click on it stays there
    assert page.inner_text("#counter").startswith("step 1 ")
    page.close()
    assert not errors, errors
    assert requests == [f"file://{path}"], requests


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER)
        yield b
        b.close()


def write_page(tmp_path, name, build):
    record = BackwardTrace()
    loss = build()
    loss.backward(trace=record)
    path = tmp_path / f"{name}.html"
    path.write_text(to_html(loss, record))
    return path


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_the_page_shows_every_step_of_the_pass(browser, tmp_path, name):
    check_page(browser, write_page(tmp_path, name, GRAPHS[name]), GRAPHS[name])


def test_a_page_without_the_un_broadcast_note_fails_the_check(browser, tmp_path):
    path = write_page(tmp_path, "user", user)
    html = path.read_text()
    cut = re.sub(r'"unbroadcast":\{[^}]*\}', '"unbroadcast":null', html, count=1)
    assert cut != html
    path.write_text(cut)
    with pytest.raises(AssertionError):
        check_page(browser, path, user)
