"""The README example runs, prints what the README says, and those numbers are right."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def example():
    text = README.read_text()
    m = re.search(r"## A tiny model, by hand\n.*?```python\n(.*?)```\s*prints\s*```text\n(.*?)```", text, re.S)
    assert m, "README lost its example"
    return m.group(1), m.group(2)


def test_readme_example_prints_what_it_promises():
    code, promised = example()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == promised


def test_readme_numbers_match_a_hand_written_numpy_computation():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w = np.array([[0.1, -0.2, 0.3], [0.0, 0.2, -0.1]])
    b = np.array([0.0, 0.1, -0.1])
    t = np.array([0, 1, 2])
    z = x @ w + b
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(3), t]).mean()
    dz = (p - np.eye(3)[t]) / 3
    dw, db = x.T @ dz, dz.sum(axis=0)
    _, promised = example()
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+", promised)]
    np.testing.assert_allclose(numbers, [loss, *dw.ravel(), *db], atol=6e-5)


def test_readme_trace_prints_what_it_promises():
    m = re.search(r"## Watch backward run\n.*?```python\n(.*?)```\s*prints\s*```text\n(.*?)```",
                  README.read_text(), re.S)
    assert m, "README lost its trace example"
    proc = subprocess.run([sys.executable, "-c", m.group(1)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == m.group(2)
    assert len(proc.stdout.splitlines()) <= 24  # one screen
