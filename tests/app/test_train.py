"""The trainer and evaluator: the tutorial's trajectory, checkpoints, every failure mode."""
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from hostile import one_line_error
from idxfiles import write_dataset
from tinygrad_mnist.app import evaluate, train
from tinygrad_mnist.datasets import mnist
from tinygrad_mnist.nn import checkpoint


def run_train(capsys, *argv):
    code = train.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny(tmp_path):
    return write_dataset(tmp_path / "data", n_train=600, n_test=100)


def test_default_run_follows_full_batch_gradient_descent(capsys, tmp_path):
    """The tutorial's defaults against a plain numpy implementation of the same arithmetic."""
    metrics = tmp_path / "m.jsonl"
    save = tmp_path / "linear.safetensors"
    code, out, _ = run_train(capsys, "--metrics-out", str(metrics), "--save-model-path", str(save))
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == ["Train Images: [60000, 784]", "Train Labels: [60000]", "Test Images: [10000, 784]",
                         "Test Labels: [10000]"]
    assert lines[4].startswith("Epoch:    1 Train Loss:  2.30259 Test Acc: 68.08% Epoch duration: ")
    assert lines[-1] == f"Saving trained weight in {save}"
    header, *got = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert header["run"]["model"] == "linear" and header["run"]["batch_size"] == 0  # 0: full batch
    assert header["run"]["units"]["test_acc"] == "percent" and header["run"]["seed"] == 0
    assert [m["epoch"] for m in got] == list(range(1, 11))

    d = mnist.load()
    x = d.train_images.numpy().astype(np.float32) / np.float32(255)
    y = d.train_labels.numpy().astype(np.int64)
    xt = d.test_images.numpy().astype(np.float32) / np.float32(255)
    yt = d.test_labels.numpy()
    w, b = np.zeros((10, 784), np.float32), np.zeros(10, np.float32)
    n = len(y)
    for m in got:
        z = x @ w.T + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(n), y].mean(dtype=np.float64)
        g = np.exp(logp)
        g[np.arange(n), y] -= 1
        g /= n
        w -= np.float32(0.1) * (g.T @ x)
        b -= np.float32(0.1) * g.sum(axis=0)
        acc = np.mean((xt @ w.T + b).argmax(axis=1) == yt)
        assert m["train_loss"] == pytest.approx(loss, rel=1e-5)
        assert m["test_acc"] == pytest.approx(100 * acc, abs=2e-2)  # percent; at most 2 of 10,000 digits differ
        assert m["learning_rate"] == 0.1 and m["seconds"] > 0
    saved, meta = checkpoint.load(str(save))
    np.testing.assert_allclose(saved["weight"], w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved["bias"], b, rtol=1e-4, atol=1e-6)
    assert meta["model"] == "linear" and meta["epochs"] == "10"


def test_load_continues_training_where_it_stopped(capsys, tiny, tmp_path):
    ck = str(tmp_path / "ck" / "deep" / "m.safetensors")  # missing directories are created
    base = ["--local-mnist", tiny, "--model", "linear"]
    code, straight, _ = run_train(capsys, *base, "--epochs", "3")
    assert code == 0
    assert run_train(capsys, *base, "--epochs", "2", "--save-model-path", ck)[0] == 0
    code, resumed, _ = run_train(capsys, *base, "--epochs", "1", "--load-model-path", ck)
    assert code == 0 and f"Loading model from {ck}" in resumed
    loss_of = lambda text, epoch: [ln for ln in text.splitlines() if ln.startswith("Epoch:")][epoch][:40]
    assert loss_of(resumed, 0).replace("Epoch:    1", "") == loss_of(straight, 2).replace("Epoch:    3", "")


def test_same_seed_and_threads_give_byte_identical_checkpoints(capsys, tiny, tmp_path):
    def checkpoint_bytes(seed, name):
        path = tmp_path / name
        code, _, _ = run_train(capsys, "--local-mnist", tiny, "--model", "mlp", "--batch-size", "32", "--epochs",
                               "2", "--seed", str(seed), "--threads", "2", "--save-model-path", str(path))
        assert code == 0
        return path.read_bytes()
    a, b, c = checkpoint_bytes(5, "a"), checkpoint_bytes(5, "b"), checkpoint_bytes(6, "c")
    assert a == b and a != c


def test_minibatch_models_learn(capsys, tiny, tmp_path):
    metrics = tmp_path / "m.jsonl"
    code, out, _ = run_train(capsys, "--local-mnist", tiny, "--model", "mlp", "--batch-size", "16", "--epochs",
                             "3", "--metrics-out", str(metrics), "--quiet")
    assert code == 0 and out == ""
    accs = [json.loads(line)["test_acc"] / 100 for line in metrics.read_text().splitlines()[1:]]
    assert len(accs) == 3 and accs[-1] > 0.9  # the label is written in the pixels


@pytest.mark.slow
def test_cnn_trains_on_a_tiny_dataset(capsys, tiny, tmp_path):
    save = tmp_path / "cnn.safetensors"
    code, out, _ = run_train(capsys, "--local-mnist", tiny, "--model", "cnn", "--epochs", "2",
                             "--save-model-path", str(save))
    assert code == 0
    assert float(out.splitlines()[-2].split("Test Acc:")[1].split("%")[0]) > 80
    assert sorted(checkpoint.load(str(save))[0]) == ["c1.bias", "c1.weight", "c2.bias", "c2.weight",
                                                     "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]


# ---------------------------------------------------------------- failure modes

@pytest.mark.parametrize("argv,fragment", [
    (["--learning-rate", "0"], "argument --learning-rate: expected a finite number > 0, got 0"),
    (["--learning-rate", "-0.1"], "expected a finite number > 0"),
    (["--learning-rate", "nan"], "expected a finite number > 0"),
    (["--learning-rate", "inf"], "expected a finite number > 0"),
    (["--learning-rate", "fast"], "expected a finite number > 0, got 'fast'"),
    (["--epochs", "-1"], "argument --epochs: expected a whole number >= 0, got -1"),
    (["--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got 0"),
    (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["--threads", "0"], "argument --threads: expected a whole number from 1 to 1024"),
    (["--threads", "100000"], "argument --threads: expected a whole number from 1 to 1024, got 100000"),
    (["--seed", "-1"], "argument --seed: expected a whole number from 0 to 2**63 - 1, got -1"),
    (["--save-model-path", ""], "argument --save-model-path: expected a path, got an empty string"),
    (["--load-model-path", ""], "argument --load-model-path: expected a path, got an empty string"),
])
def test_bad_arguments(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_:
        train.main(argv)
    assert exit_.value.code == 2
    one_line_error(capsys.readouterr().err, "tinygrad-mnist-train: error: ", fragment)


def test_bad_data_directory(capsys, tmp_path):
    write_dataset(tmp_path, n_train=30, n_test=10, train_labels=b"\x00\x00\x08\x03garbage")
    code, out, err = run_train(capsys, "--local-mnist", str(tmp_path))
    assert code == 1 and out == ""
    one_line_error(err, "train-labels-idx1-ubyte.gz: wrong magic number")
    code, _, err = run_train(capsys, "--local-mnist", str(tmp_path / "nope"))
    assert code == 1
    one_line_error(err, "nope: no such directory")


@pytest.mark.parametrize("content,fragment", [
    (None, "no such checkpoint file"),
    (b"not a checkpoint at all, but long enough", "not a safetensors file"),
    ("mlp", "holds a mlp model, not --model linear"),
    ("mlp-unnamed", "does not match the model: bias: missing from the file"),
])
def test_bad_checkpoints(capsys, tiny, tmp_path, content, fragment):
    path = tmp_path / "bad.safetensors"
    if isinstance(content, str):
        assert run_train(capsys, "--local-mnist", tiny, "--model", "mlp", "--epochs", "0",
                         "--save-model-path", str(path))[0] == 0
        if content == "mlp-unnamed":  # as Candle writes it: no metadata naming the model
            checkpoint.save(str(path), checkpoint.load(str(path))[0])
    elif content is not None:
        path.write_bytes(content)
    code, _, err = run_train(capsys, "--local-mnist", tiny, "--load-model-path", str(path), "--model", "linear")
    assert code == 1
    one_line_error(err, str(path), fragment)


def test_unwritable_save_path_fails_before_training(capsys, tiny, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run_train(capsys, "--local-mnist", tiny, "--save-model-path", str(blocker / "m.safetensors"))
    assert code == 1 and "Epoch" not in out and "Train Images" not in out
    one_line_error(err, f"{blocker} is a file, not a directory")
    code, out, err = run_train(capsys, "--local-mnist", tiny, "--save-model-path", str(tmp_path))
    assert code == 1
    one_line_error(err, "refusing to replace it: it is a directory")


def test_divergence_stops_and_keeps_the_old_checkpoint(capsys, tiny, tmp_path):
    path = tmp_path / "good.safetensors"
    assert run_train(capsys, "--local-mnist", tiny, "--epochs", "1", "--save-model-path", str(path))[0] == 0
    good = path.read_bytes()
    code, out, err = run_train(capsys, "--local-mnist", tiny, "--learning-rate", "1e38", "--epochs", "5",
                               "--save-model-path", str(path))
    assert code == 1
    one_line_error(err, "training diverged at epoch", "try a smaller --learning-rate")
    assert path.read_bytes() == good and "Saving" not in out


def test_ctrl_c_saves_the_last_completed_epoch(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=3000, n_test=100)
    path = tmp_path / "m.safetensors"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data, "--model", "mlp",
                             "--batch-size", "8", "--epochs", "1000", "--save-model-path", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("Epoch:    1"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    epochs = int(err.split("saved the weights of epoch ")[1].split(maxsplit=1)[0].rstrip(";"))
    assert 1 <= epochs < 1000
    assert f"to continue: python -m tinygrad_mnist.train --resume {path} --epochs {1000 - epochs} " \
           f"--local-mnist {data}" in err  # the exact command, the epochs still to run
    _, meta = checkpoint.load(str(path))
    assert meta["epochs"] == str(epochs) and meta["model"] == "mlp"


def test_cli_errors_never_show_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinygrad_mnist.train", "--load-model-path",
                           str(tmp_path / "missing.safetensors"), "--epochs", "0"], capture_output=True, text=True)
    assert proc.returncode == 1
    one_line_error(proc.stderr, "missing.safetensors: no such checkpoint file")


# ---------------------------------------------------------------- evaluate

def test_evaluate_reports_accuracy_confusion_and_errors(capsys, tiny, tmp_path):
    path = str(tmp_path / "m.safetensors")
    assert run_train(capsys, "--local-mnist", tiny, "--model", "mlp", "--batch-size", "16", "--epochs", "1",
                     "--save-model-path", path)[0] == 0
    code = evaluate.main(["--load-model-path", path, "--local-mnist", tiny, "--show-errors", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"Model: mlp from {path}\nTest accuracy: ")
    rows = [ln for ln in out.splitlines() if ln.startswith("  ") and len(ln.split()) == 11]
    confusion = np.array([[int(v) for v in r.split()[1:]] for r in rows])
    assert confusion.shape == (10, 10) and confusion.sum() == 100
    accuracy = float(out.split("Test accuracy: ")[1].split("%")[0])
    assert accuracy == pytest.approx(100 * np.trace(confusion) / 100, abs=0.01)
    shown = out.count("\nTest image ")
    assert shown == min(2, 100 - np.trace(confusion))


def test_evaluate_errors(capsys, tiny, tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(str(path), {"weight": np.zeros((10, 784), np.float32)})  # no model in the metadata
    assert evaluate.main(["--load-model-path", str(path), "--local-mnist", tiny]) == 1
    one_line_error(capsys.readouterr().err, "does not say which model this is; pass --model")
    assert evaluate.main(["--load-model-path", str(path), "--local-mnist", tiny, "--model", "linear"]) == 1
    one_line_error(capsys.readouterr().err, "bias: missing from the file")


@pytest.mark.parametrize("module", ["train", "evaluate"])
def test_a_closed_pipe_is_not_a_traceback(module, tmp_path):
    """`python -m tinygrad_mnist.evaluate ... | head -1` must end quietly."""
    data = write_dataset(tmp_path / "data", n_train=200, n_test=50)
    path = tmp_path / "m.safetensors"
    assert train.main(["--local-mnist", data, "--epochs", "1", "--save-model-path", str(path), "--quiet"]) == 0
    args = {"train": ["--local-mnist", data, "--epochs", "50"],
            "evaluate": ["--local-mnist", data, "--load-model-path", str(path), "--show-errors", "50"]}[module]
    proc = subprocess.Popen([sys.executable, "-m", f"tinygrad_mnist.{module}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as head does after its first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and proc.returncode in (0, 141), err


def test_threads_option_sizes_the_kernel_pool_and_blas(capsys, tiny, tmp_path):
    from tinygrad_mnist import kernels
    from tinygrad_mnist.kernels import blas
    before = kernels.get_threads()
    try:
        paths = []
        for name in ("a", "b"):
            paths.append(tmp_path / name)
            assert run_train(capsys, "--local-mnist", tiny, "--model", "mlp", "--epochs", "1", "--threads", "1",
                             "--save-model-path", str(paths[-1]))[0] == 0
            assert kernels.get_threads() == 1
            assert blas.threads() in (1, None)  # None: no OpenBLAS here to cap
        assert paths[0].read_bytes() == paths[1].read_bytes()
    finally:
        kernels.set_threads(before)


def test_unwritable_metrics_file_fails_before_training(capsys, tiny, tmp_path):
    code, out, err = run_train(capsys, "--local-mnist", tiny, "--metrics-out", str(tmp_path / "no" / "m.jsonl"))
    assert code == 1 and "Epoch" not in out
    one_line_error(err, "m.jsonl: cannot write metrics")
