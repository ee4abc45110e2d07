"""Resuming a run: the checkpoint keeps Candle's names, PATH.state keeps the rest, and an
interrupted run resumed ends bit-identical to one that was never interrupted."""
import hashlib
import re
import signal
import subprocess
import sys

import pytest

from hostile import one_line_error
from idxfiles import write_dataset
from tinygrad_mnist.app import train
from tinygrad_mnist.nn import checkpoint


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n_train=200, n_test=50)


def test_two_plus_two_epochs_equal_four(data, tmp_path, capsys):
    whole, split = str(tmp_path / "whole.safetensors"), str(tmp_path / "split.safetensors")
    base = ["--local-mnist", data, "--model", "cnn", "--seed", "3"]
    assert train.main(base + ["--epochs", "4", "--save-model-path", whole]) == 0
    assert train.main(base + ["--epochs", "2", "--save-model-path", split]) == 0
    capsys.readouterr()
    assert train.main(["--local-mnist", data, "--resume", split, "--epochs", "2", "--save-model-path", split]) == 0
    out = capsys.readouterr().out
    assert "Resuming from" in out and re.search(r"^Epoch:    3 ", out, re.M) and re.search(r"^Epoch:    4 ", out, re.M)
    assert digest(whole) == digest(split) and digest(whole + ".state") == digest(split + ".state")
    meta = checkpoint.metadata(split)
    assert meta["epochs"] == "4" and meta["model"] == "cnn"
    assert set(checkpoint.load(split)[0]) == {"c1.weight", "c1.bias", "c2.weight", "c2.bias", "fc1.weight",
                                              "fc1.bias", "fc2.weight", "fc2.bias"}  # Candle's names only


def test_a_run_interrupted_by_ctrl_c_resumes_bit_identically(data, tmp_path):
    path = str(tmp_path / "m.safetensors")
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data, "--model", "mlp",
                             "--batch-size", "16", "--epochs", "1000", "--seed", "5", "--save-model-path", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (proc.stdout.readline() or "").startswith("Epoch:    2 "):
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    saved = int(re.search(r"saved the weights of epoch (\d+)", err).group(1))
    assert proc.returncode == 130 and saved >= 2
    assert train.main(["--local-mnist", data, "--resume", path, "--epochs", "2", "--save-model-path", path,
                       "--quiet"]) == 0
    whole = str(tmp_path / "whole.safetensors")
    assert train.main(["--local-mnist", data, "--model", "mlp", "--batch-size", "16", "--seed", "5", "--quiet",
                       "--epochs", str(saved + 2), "--save-model-path", whole]) == 0
    assert digest(whole) == digest(path)


def test_a_state_file_from_another_run_is_refused(data, tmp_path, capsys):
    a, b = str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")
    assert train.main(["--local-mnist", data, "--epochs", "1", "--save-model-path", a, "--quiet"]) == 0
    assert train.main(["--local-mnist", data, "--epochs", "2", "--save-model-path", b, "--quiet"]) == 0
    open(a + ".state", "wb").write(open(b + ".state", "rb").read())
    capsys.readouterr()
    assert train.main(["--local-mnist", data, "--resume", a]) == 1
    one_line_error(capsys.readouterr().err, "does not belong to")


def test_the_checkpoint_names_its_model(data, tmp_path, capsys):
    path = str(tmp_path / "m.safetensors")
    assert train.main(["--local-mnist", data, "--model", "mlp", "--epochs", "1", "--save-model-path", path,
                       "--quiet"]) == 0
    capsys.readouterr()
    assert train.main(["--local-mnist", data, "--load-model-path", path, "--epochs", "1"]) == 0  # mlp, from metadata
    assert train.main(["--local-mnist", data, "--load-model-path", path, "--model", "cnn"]) == 1
    assert "holds a mlp model, not --model cnn" in capsys.readouterr().err


def test_plain_loading_counts_epochs_from_one_and_adds_them_up(data, tmp_path, capsys):
    path = str(tmp_path / "m.safetensors")
    assert train.main(["--local-mnist", data, "--epochs", "3", "--save-model-path", path, "--quiet"]) == 0
    capsys.readouterr()
    assert train.main(["--local-mnist", data, "--epochs", "2", "--load-model-path", path,
                       "--save-model-path", path]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^Epoch:    1 ", out, re.M)  # the tutorial's second run: numbering starts over
    assert checkpoint.metadata(path)["epochs"] == "5"  # but the checkpoint knows its history


def test_sgd_with_momentum_resumes_bit_identically():
    """The momentum buffers go through the state file: two steps, save, load into a fresh SGD and
    two more equal four steps of one optimizer."""
    import numpy as np
    from tinygrad_mnist import Tensor
    from tinygrad_mnist.app import resume
    from tinygrad_mnist.generator import rng as engine_rng
    from tinygrad_mnist.nn import SGD

    def grads(step):
        return np.sin(np.arange(6, dtype=np.float32) + step).reshape(2, 3)

    def steps(opt, w, first, last):
        for s in range(first, last):
            w.grad = grads(s)
            opt.step()

    whole = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    steps(SGD([whole], 0.1, momentum=0.9, nesterov=True), whole, 0, 4)
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    first = SGD([w], 0.1, momentum=0.9, nesterov=True)
    steps(first, w, 0, 2)
    state = resume.TrainingState.take(first, engine_rng(), 2, {})
    assert sorted(state.arrays) == ["momentum.0"]
    again = SGD([w], 0.1, momentum=0.9, nesterov=True)
    again.load_checkpoint_state(state.arrays, state.numbers)
    steps(again, w, 2, 4)
    np.testing.assert_array_equal(w.numpy(), whole.numpy())
    fresh = SGD([w], 0.1, momentum=0.9, nesterov=True)
    steps(fresh, w, 4, 5)  # without the buffers the next step differs: the test can fail
    assert not np.array_equal(w.numpy(), whole.numpy())


def test_resume_errors_name_the_file(data, tmp_path):
    """No state file, a state file of another checkpoint, a damaged one: each a CheckpointError
    that names the file, never a traceback."""
    from tinygrad_mnist.app import resume
    path = str(tmp_path / "m.safetensors")
    assert train.main(["--local-mnist", data, "--epochs", "1", "--save-model-path", path, "--quiet"]) == 0
    state = path + resume.SUFFIX
    arrays, meta = checkpoint.load(state)
    checkpoint.save(state, arrays, {k: v for k, v in meta.items() if k != "optimizer_numbers"})
    with pytest.raises(checkpoint.CheckpointError, match=r"m.safetensors.state: not a training state file"):
        resume.load(path)
    checkpoint.save(state, arrays, dict(meta, checkpoint_sha256="0" * 64))
    with pytest.raises(checkpoint.CheckpointError, match=r"does not belong to .*m.safetensors"):
        resume.load(path)
    import os
    os.unlink(state)
    with pytest.raises(checkpoint.CheckpointError, match=r"m.safetensors: cannot resume: .*m.safetensors.state"):
        resume.load(path)
