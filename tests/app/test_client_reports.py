"""What a new user hit, each fixed: --help and argument errors answered before numpy and numba
load, "did you mean" for a near miss, plot on a metrics file without test accuracy and with -o
naming a directory or a name without extension, and the CNN predicting in bounded batches."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_mnist.app import inference, plot


@pytest.mark.parametrize("program", ["train", "evaluate", "predict"])
@pytest.mark.parametrize("argv", [["--help"], ["--no-such-flag"]])
def test_help_and_argument_errors_load_neither_numpy_nor_numba(program, argv):
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", f"tinygrad_mnist.{program}", *argv],
                         capture_output=True, text=True, timeout=120)
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert run.returncode == (0 if argv == ["--help"] else 2)
    assert not {"numpy", "numba"} & imported, sorted(m for m in imported if "num" in m)


def test_a_near_miss_says_did_you_mean():
    run = subprocess.run([sys.executable, "-m", "tinygrad_mnist.train", "--epoch", "3"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == ("tinygrad-mnist-train: error: unrecognized arguments: --epoch 3; did you mean --epochs? "
                          "(see --help)\n")


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_plot_of_runs_without_test_accuracy_and_of_bad_values(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    metrics = write(tmp_path / "m.jsonl", [{"run": {"model": "linear"}}, {"epoch": 1, "train_loss": 2.3},
                                           {"epoch": 2, "train_loss": 2.0}])
    assert plot.main([metrics, "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    bad = write(tmp_path / "b.jsonl", [{"epoch": 1, "train_loss": 2.3, "test_acc": "high"}])
    assert plot.main([bad, "-o", str(tmp_path / "d.png")]) == 1
    assert capsys.readouterr().err.endswith("line 1: test_acc is 'high', not a number\n")


def test_plot_says_the_file_it_really_wrote(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    metrics = write(tmp_path / "m.jsonl", [{"epoch": 1, "train_loss": 2.3, "test_acc": 60.0}])
    folder = tmp_path / "out"
    folder.mkdir()
    assert plot.main([metrics, "-o", str(folder)]) == 0
    assert (folder / "curves.png").exists() and f"to {folder / 'curves.png'}" in capsys.readouterr().out
    assert plot.main([metrics, "-o", str(tmp_path / "named")]) == 0
    assert (tmp_path / "named.png").exists() and f"to {tmp_path / 'named.png'}\n" in capsys.readouterr().out


def test_the_cnn_predicts_and_gives_probabilities_in_bounded_batches(monkeypatch):
    model, _ = inference.build("cnn")
    seen = []
    forward = type(model).forward
    monkeypatch.setattr(type(model), "forward", lambda self, x: seen.append(len(x)) or forward(self, x))
    from tinygrad_mnist import Tensor
    images = Tensor(np.zeros((600, 784), np.uint8))
    batch = inference.EVAL_BATCH["cnn"]
    assert batch <= 256
    assert inference.predict(model, images, batch).shape == (600,)
    assert inference.probabilities(model, images, batch).shape == (600, 10)
    assert max(seen) == batch and len(seen) == 6
