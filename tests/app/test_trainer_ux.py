"""The trainer for users: progress on stderr, metrics with a header per run, curves, defaults."""
import io
import re
import json
import sys

import numpy as np
import pytest

from idxfiles import write_dataset
from tinygrad_mnist.app import cli, plot, progress, train


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_is_a_plain_line_every_tenth_or_ten_seconds():
    stream, clock = io.StringIO(), Clock()
    line = progress.Progress(3, 100, True, stream, clock)
    for step in range(1, 101):
        clock.t += 0.2
        line.update(step, 0.5, 64)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 9 and "\r" not in stream.getvalue()  # at 10 %, 20 %, ... 90 %; the epoch line ends it
    assert lines[0] == "epoch 3: batch 10/100, loss 0.5000, 320 samples/s, 18 s left"
    quick = progress.Progress(1, 100, True, io.StringIO(), Clock())  # an epoch of a fraction of a second
    for step in range(1, 101):
        quick.clock.t += 0.001
        quick.update(step, 0.5, 64)
    assert quick.stream.getvalue() == ""
    stream, clock = io.StringIO(), Clock()
    slow = progress.Progress(1, 1000, True, stream, clock)
    for step in range(1, 30):
        clock.t += 4.0  # a busy machine: 4 s a batch, so every 10 s rather than every 100 batches
        slow.update(step, 1.0, 64)
    assert len(stream.getvalue().splitlines()) == 9


def test_progress_on_a_terminal_is_redrawn_and_cleared():
    stream, clock = Terminal(), Clock()
    line = progress.Progress(1, 50, True, stream, clock)
    for step in range(1, 51):
        clock.t += 0.1
        line.update(step, 0.25, 32)
    line.close()
    text = stream.getvalue()
    assert text.startswith("\repoch 1: batch 10/50, loss 0.2500") and "\n" not in text and text.endswith("\r")


def test_quiet_and_full_batch_epochs_print_no_progress():
    for line in (progress.Progress(1, 100, False, Terminal()), progress.Progress(1, 1, True, Terminal())):
        for step in range(1, line.total + 1):
            line.update(step, 1.0, 10)
        line.close()
        assert line.stream.getvalue() == ""


def test_a_minibatch_run_shows_progress_on_stderr_only(capsys, tmp_path, monkeypatch):
    data = write_dataset(tmp_path / "d", n_train=640, n_test=50)
    ticks = iter(range(10 ** 6))
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(ticks)))  # every call a second later
    assert train.main(["--local-mnist", data, "--model", "mlp", "--batch-size", "16", "--epochs", "1"]) == 0
    out, err = capsys.readouterr()
    assert "epoch 1: batch 4/40, loss" in err and "samples/s" in err and "s left" in err
    assert all(not line.startswith("epoch ") for line in out.splitlines())


def test_defaults_per_model():
    assert (cli.DEFAULT_OPTIMIZER["linear"], cli.DEFAULT_LEARNING_RATE["linear"], cli.DEFAULT_BATCH_SIZE["linear"],
            cli.DEFAULT_EPOCHS["linear"]) == ("sgd", 0.1, None, 10)  # the tutorial's, exactly
    assert cli.DEFAULT_BATCH_SIZE["mlp"] == 64 and cli.DEFAULT_BATCH_SIZE["cnn"] == 64
    assert cli.DEFAULT_LR_DECAY["linear"] == 1.0  # the tutorial's constant rate


def test_the_learning_rate_decays_per_epoch_and_a_resumed_run_continues(tmp_path, capsys):
    data = write_dataset(tmp_path / "d", n_train=200, n_test=50)
    metrics, saved = tmp_path / "m.jsonl", str(tmp_path / "c.safetensors")
    base = ["--local-mnist", data, "--quiet", "--metrics-out", str(metrics)]
    assert train.main(base + ["--model", "mlp", "--lr-decay", "0.5", "--epochs", "2", "--save-model-path", saved]) == 0
    assert train.main(base + ["--resume", saved, "--epochs", "1"]) == 0  # the decay comes from the state file
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["learning_rate"] for r in records if "epoch" in r] == [0.1, 0.05, 0.025]
    assert [r["run"]["lr_decay"] for r in records if "run" in r] == [0.5, 0.5]
    for bad in ("0", "1.5", "nan"):
        with pytest.raises(SystemExit) as exit:
            train.main(["--lr-decay", bad])
        assert exit.value.code == 2
    assert "--lr-decay: expected a number in (0, 1]" in capsys.readouterr().err


def metrics_file(tmp_path, runs=2):
    path = tmp_path / "m.jsonl"
    data = write_dataset(tmp_path / "d", n_train=200, n_test=50)
    for model in ("linear", "mlp")[:runs]:
        assert train.main(["--local-mnist", data, "--model", model, "--epochs", "2", "--quiet",
                           "--metrics-out", str(path)]) == 0
    return path


def test_plot_draws_each_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = metrics_file(tmp_path)
    runs = plot.read_runs(str(path))
    assert [r["run"]["model"] for r in runs] == ["linear", "mlp"] and all(len(r["epochs"]) == 2 for r in runs)
    out = tmp_path / "curves.png"
    assert plot.main([str(path), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Wrote 2 runs to" in capsys.readouterr().out


def test_plot_without_matplotlib_says_so(tmp_path, capsys, monkeypatch):
    path = metrics_file(tmp_path, runs=1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert plot.main([str(path), "-o", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert err == "tinygrad-mnist-plot: error: matplotlib is not installed; pip install 'tinygrad_mnist[plot]'\n"


def test_plot_of_a_file_with_no_epochs(tmp_path, capsys):
    empty = tmp_path / "e.jsonl"
    empty.write_text(json.dumps({"run": {"model": "linear"}}) + "\n")
    assert plot.main([str(empty)]) == 1
    assert "no epoch records" in capsys.readouterr().err


def test_version_and_what_the_package_offers():
    import subprocess
    from tinygrad_mnist import __version__
    for program in ("train", "evaluate"):
        proc = subprocess.run([sys.executable, "-m", f"tinygrad_mnist.{program}", "--version"],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout == f"tinygrad-mnist-{program} {__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "tinygrad_mnist"], capture_output=True, text=True)
    assert proc.returncode == 0
    for offer in ("tinygrad_mnist.train", "tinygrad_mnist.evaluate", "tinygrad_mnist.plot", "benchmarks/run.py"):
        assert offer in proc.stdout
    import configparser
    from pathlib import Path
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    assert cfg["metadata"]["version"] == "attr: tinygrad_mnist._version.VERSION"  # one place for the version
    from importlib.metadata import version
    assert version("tinygrad_mnist") == __version__  # what the installed package says


def test_the_first_run_says_it_compiles(tmp_path):
    import os
    import subprocess
    data = write_dataset(tmp_path / "d", n_train=64, n_test=16)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data, "--epochs", "1"],
                           capture_output=True, text=True, env=env) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs)
    assert runs[0].stderr.startswith("Compiling the numba kernels (first run only")
    assert "Compiling" not in runs[1].stderr and "Compiling" not in runs[0].stdout


@pytest.fixture(scope="module")
def mlp_checkpoint(tmp_path_factory):
    """An MLP trained on the embedded MNIST for one epoch (about 95 %)."""
    path = tmp_path_factory.mktemp("m") / "mlp.safetensors"
    assert train.main(["--model", "mlp", "--epochs", "1", "--quiet", "--save-model-path", str(path)]) == 0
    return str(path)


def write_pgm(path, img, binary=True):
    h, w = img.shape
    if binary:
        path.write_bytes(f"P5\n# a digit\n{w} {h}\n255\n".encode() + img.astype(np.uint8).tobytes())
    else:
        path.write_text(f"P2\n{w} {h}\n255\n" + "\n".join(" ".join(map(str, row)) for row in img) + "\n")
    return str(path)


def test_predict_test_images_and_your_own(mlp_checkpoint, tmp_path, capsys):
    from tinygrad_mnist.app import predict
    from tinygrad_mnist.datasets import mnist
    data = mnist.load()
    img, label = data.test_images.numpy()[3].reshape(28, 28), int(data.test_labels.numpy()[3])
    page = np.full((120, 100), 250, np.uint8)  # a user's scan: a dark digit, bigger, off-centre, on white
    page[10:94, 25:85] = 255 - np.kron(img, np.ones((3, 3), np.uint8))[:, 12:72]
    files = [write_pgm(tmp_path / "d.pgm", page), write_pgm(tmp_path / "a.pgm", page, binary=False)]
    assert predict.main(["--load-model-path", mlp_checkpoint, *files, "--index", "3"]) == 0  # images first
    out = capsys.readouterr().out
    assert out.startswith(f"test image 3: {label} with probability")  # test images are listed first
    for f in files:
        assert f"{f}: {label} with probability" in out  # converted as MNIST expects, predicted alike
    assert out.count("  0: ") == 3 and "@@" in out


def test_predict_png_with_pillow_and_a_clear_line_without(mlp_checkpoint, tmp_path, capsys, monkeypatch):
    from tinygrad_mnist.app import predict
    Image = pytest.importorskip("PIL.Image")
    png = tmp_path / "d.png"
    img = np.zeros((40, 40), np.uint8)
    img[8:32, 18:22] = 255  # a one
    Image.fromarray(img).save(png)
    assert predict.main(["--load-model-path", mlp_checkpoint, str(png)]) == 0
    assert f"{png}: " in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert predict.main(["--load-model-path", mlp_checkpoint, str(png)]) == 1
    err = capsys.readouterr().err
    assert "reading PNG or JPEG needs Pillow" in err and err.count("\n") == 1


def test_predict_errors_are_one_line(mlp_checkpoint, tmp_path, capsys):
    from tinygrad_mnist.app import predict
    blank = write_pgm(tmp_path / "blank.pgm", np.full((10, 10), 7, np.uint8))
    (tmp_path / "bad.pgm").write_bytes(b"P5\n3 3\n255\n\x00")
    for argv, fragment in ([[blank], "holds no digit"], [[str(tmp_path / "bad.pgm")], "truncated PGM data"],
                           [["--index", "10000"], "the test set has 10000 images"], [[], "nothing to predict"]):
        assert predict.main(["--load-model-path", mlp_checkpoint, *argv]) == 1
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1, err


def test_evaluate_shows_each_errors_confidence(mlp_checkpoint, capsys):
    from tinygrad_mnist.app import evaluate
    assert evaluate.main(["--load-model-path", mlp_checkpoint, "--show-errors", "2"]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"predicted \d with probability 0\.\d\d \(the true digit: 0\.\d\d\)", out)) == 2


@pytest.mark.parametrize("program,argv,unknown", [
    ("train", ["--lr", "0.5"], "--lr"),                        # once taken for --lr-decay 0.5
    ("train", ["--learning", "0.5"], "--learning"),            # and for --learning-rate
    ("evaluate", ["--load-model-path", "m", "--show", "3"], "--show"),
    ("predict", ["--load-model-path", "m", "--ind", "3"], "--ind"),
    ("plot", ["runs.jsonl", "--out", "c.png"], "--out"),
])
def test_no_command_takes_an_abbreviated_option(program, argv, unknown, capsys):
    parser = getattr(cli, f"{program}_parser")()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"unrecognized arguments: {unknown}" in err


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("small"), n_train=200, n_test=50)


def test_verbose_prints_the_settings_in_effect_and_the_default_output_stays_the_tutorials(small, capsys):
    from tinygrad_mnist import kernels
    threads = kernels.get_threads()
    line = (f"Settings: model linear, optimizer sgd, learning rate 0.1, batch size the whole training set, "
            f"1 epochs, seed 0, {threads} thread{'s' if threads > 1 else ''}")
    assert train.main(["--local-mnist", small, "--epochs", "1"]) == 0
    out, err = capsys.readouterr()
    assert "Settings" not in out + err and out.splitlines()[0] == "Train Images: [200, 784]"  # as it was
    assert train.main(["--local-mnist", small, "--epochs", "1", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == line and "Settings" not in err
    assert train.main(["--local-mnist", small, "--epochs", "1", "--verbose", "--model", "cnn", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    kernels.set_threads(threads)  # --threads 1 set the process's pools: put them back for the next tests
    assert ("Settings: model cnn, optimizer adamw, learning rate 0.001, × 0.7 per epoch, batch size 64, "
            "1 epochs, seed 0, 1 thread") in out.splitlines() and "Settings" not in err
    assert train.main(["--local-mnist", small, "--epochs", "1", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_a_busy_machine_gets_a_note_not_a_different_thread_count(small, capsys, monkeypatch):
    """Results are bit-identical per thread count, so the count stays the user's; the note says
    what to try. No note when the user chose --threads, or when the cores are free."""
    import os
    from tinygrad_mnist import kernels
    from tinygrad_mnist.app import progress
    assert progress.busy_note(2, 2, 1.2) == ("note: this machine is busy (load average 1.2 on 2 cores); the "
                                             "kernels' 2 threads may wait for cores, and --threads 1 may be faster")
    assert progress.busy_note(2, 2, 0.4) is None and progress.busy_note(1, 2, 5.0) is None
    assert progress.busy_note(16, 16, 9.0) is not None and progress.busy_note(8, 16, 7.0) is None
    from tinygrad_mnist.kernels.pool import usable_cores
    if usable_cores() < 2:
        pytest.skip("one core: no thread can wait for another")
    before = kernels.get_threads()
    kernels.set_threads(usable_cores())  # the default count (an earlier test may have set another)
    monkeypatch.setattr(os, "getloadavg", lambda: (float(kernels.get_threads()), 0.0, 0.0))
    assert train.main(["--local-mnist", small, "--epochs", "1", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith("note: this machine is busy") and "busy" not in err
    assert train.main(["--local-mnist", small, "--epochs", "1"]) == 0  # a log (not a terminal): errors stay one line
    assert "busy" not in "".join(capsys.readouterr())
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert train.main(["--local-mnist", small, "--epochs", "1"]) == 0  # a person at a terminal
    assert "note: this machine is busy" in capsys.readouterr().err
    assert train.main(["--local-mnist", small, "--epochs", "1", "--verbose", "--threads", "2"]) == 0
    assert "busy" not in "".join(capsys.readouterr())
    kernels.set_threads(before)


def test_resume_saves_back_to_its_checkpoint_and_ctrl_c_says_how_to_continue(small, tmp_path, capsys):
    from tinygrad_mnist.nn import checkpoint
    path = str(tmp_path / "m.safetensors")
    assert train.main(["--local-mnist", small, "--epochs", "1", "--save-model-path", path, "--quiet"]) == 0
    assert train.main(["--local-mnist", small, "--resume", path, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"Resuming from {path} (the run is saved back there)" in out and f"Saving trained weight in {path}" in out
    assert checkpoint.metadata(path)["epochs"] == "3"
    from tinygrad_mnist.app.progress import resume_command
    assert resume_command("my run.safetensors", 7, "/data dir", None) == \
        "python -m tinygrad_mnist.train --resume 'my run.safetensors' --epochs 7 --local-mnist '/data dir'"


def test_predict_prints_every_row_of_the_image(mlp_checkpoint, capsys):
    """The README's example leaves out the blank rows; the program prints all 28 (the image as
    the model sees it), as the README says."""
    from tinygrad_mnist.app import predict
    assert predict.main(["--load-model-path", mlp_checkpoint, "--index", "18"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 28 and "" in lines[2:]
    readme = (__import__("pathlib").Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "prints all 28 rows; the blank ones are left out here" in readme


def test_the_help_says_what_the_metrics_file_and_grad_hold():
    help_text = " ".join(a.help or "" for a in cli.train_parser()._actions)
    assert 'one {"run": ...} record of the run\'s settings, then one object per epoch' in help_text
    assert "saved back to PATH unless --save-model-path" in help_text
    from tinygrad_mnist import Tensor
    assert "a tensor of the leaf's shape" in " ".join(Tensor.backward.__doc__.split()) and ".grad" in Tensor.__doc__
