"""docs/walkthrough.ipynb runs top to bottom, offline, and shows a trace and a graph of the seed's step."""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # in the test extra, with nbclient and ipykernel
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.ipynb"


def test_walkthrough_runs_and_shows_trace_and_graph(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts, pages = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            texts.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
            pages.append(out.get("data", {}).get("text/html", ""))
    # a graph cell shows the backward page inline: no Graphviz needed
    assert sum(page.startswith("<iframe srcdoc=") and "&lt;svg" in page for page in pages) >= 2
    text = "\n".join(texts)
    assert "backward from t7 (NLL), seeded with dt7/dt7 = 1" in text          # the trace
    assert "(un-broadcast: summed [3, 3] to [3])" in text
    assert "= NLL(t4, labels)" in text and "Linear(images, weight, bias) [input × 1/255" in text  # the graph
    # the text beside the page says what it shows: saved arrays, per-edge gradients
    assert "    saved [100, 784] uint8 (76.6 KiB), [10, 784] float32 (30.6 KiB); sent weight [10, 784] norm" in text
    assert "weight [10, 784]: .grad norm" in text
    assert "Epoch:    1 Train Loss:  2.30259 Test Acc: 68.08%" in text          # the trainer
    assert "test accuracy on 2,000 images" in text
    assert "gradient requires grad: True" in text and "H·v the same both ways: True" in text  # section 7
