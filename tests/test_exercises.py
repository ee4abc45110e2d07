"""Every exercise's reference solution passes its own check, and the exercises page names each."""
import importlib.util
from pathlib import Path

import pytest

SOLUTIONS = sorted((Path(__file__).resolve().parent.parent / "docs" / "solutions").glob("ex*.py"))


def test_six_exercises_each_with_a_solution():
    page = (SOLUTIONS[0].parent.parent / "exercises.md").read_text()
    assert len(SOLUTIONS) >= 6 and page.count("\n## ") >= 6
    for path in SOLUTIONS:
        assert f"(solutions/{path.name})" in page


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_passes(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.check()
