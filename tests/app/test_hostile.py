"""Hostile input to the command line: every failure is one line on stderr and the documented exit
status (1: data, checkpoint, training; 2: arguments; 130: interrupted), in bounded time and memory
(each run under a 2 GiB address-space limit), and a checkpoint that was there is never changed or
replaced by anything but a complete new one."""
import signal
import subprocess
import sys

import numpy as np
import pytest

from hostile import TIME_LIMIT, data, fails, good, limited, one_line_error, run, sha  # noqa: F401 (fixtures)
from idxfiles import write_dataset
from tinygrad_mnist.datasets import mnist


# ---------------------------------------------------------------- tracebacks and broken promises

def _header_checkpoint(path, header: bytes):
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return path


@pytest.mark.parametrize("header,fragment", [
    (b"[" * 100000 + b"]" * 100000, "corrupt or truncated safetensors file"),
    (b'{"__metadata__": ["a", "b"]}', "its metadata is not a map"),
    (b'{"__metadata__": "model"}', "its metadata is not a map"),
    (b"not json at all", "corrupt or truncated"),
], ids=["nested-200000-deep", "metadata-list", "metadata-string", "not-json"])  # pytest exports ids: keep short
@pytest.mark.parametrize("program", ["train", "evaluate"])
def test_damaged_headers_are_one_line(data, tmp_path, header, fragment, program):
    path = _header_checkpoint(tmp_path / "bad.safetensors", header)
    fails(run("--local-mnist", data, "--load-model-path", path, program=program), 1, fragment)


@pytest.mark.parametrize("argv,fragment", [
    (["--seed", "-1"], "argument --seed"), (["--threads", "100000"], "argument --threads"),
    (["--save-model-path", ""], "expected a path, got an empty string"),
    (["--load-model-path", ""], "expected a path, got an empty string"),
    (["--metrics-out", ""], "expected a path"), (["--epochs", "-3"], "argument --epochs"),
])
def test_bad_arguments_exit_2(argv, fragment):
    fails(run(*argv), 2, fragment)


def test_zero_images(tmp_path):
    directory = write_dataset(tmp_path / "d", n_train=0, n_test=0)
    data = mnist.load(directory)  # valid idx files of zero images: the programs, not the reader, refuse them
    assert data.train_images.shape == (0, 784) and data.test_labels.shape == (0,)
    fails(run("--local-mnist", directory, "--epochs", "1"), 1, "has no training images")
    fails(run("--local-mnist", directory, "--load-model-path", "x", "--model", "linear", program="evaluate"),
          1, "has no test images")


def test_stdout_that_cannot_be_written(data):
    with open("/dev/full", "w") as full:
        fails(run("--local-mnist", data, "--epochs", "1", stdout=full), 1, "cannot write to standard output")


# `python -m tinygrad_mnist.train`, with Ctrl-C arriving at a known moment of start-up: when the
# engine begins to import numpy (an import hook sends it), not after a guessed sleep.
CTRL_C_IN_IMPORTS = """
import os, runpy, signal, sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            sys.stdout.write("start-up reached numpy\\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["tinygrad_mnist.train", *sys.argv[1:]]
runpy.run_module("tinygrad_mnist.train", run_name="__main__", alter_sys=True)
"""


def test_sigint_during_start_up_is_quiet(data):
    proc = subprocess.run([sys.executable, "-c", CTRL_C_IN_IMPORTS, "--local-mnist", data], capture_output=True,
                          text=True, timeout=TIME_LIMIT)
    assert proc.stdout == "start-up reached numpy\n"  # the interrupt arrived inside the imports
    assert proc.returncode == 130 and proc.stderr == "Interrupted\n", proc.stderr


def test_sigint_twice_mid_epoch_stops_at_once(data, good, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    before = sha(path)
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data, "--model", "mlp",
                             "--batch-size", "1", "--epochs", "1000", "--save-model-path", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limited)
    assert proc.stdout.readline().startswith("Train Images")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=TIME_LIMIT)
    assert proc.returncode == 130
    one_line_error(err)
    assert sha(path) == before  # no epoch completed: nothing saved over the old checkpoint


# ---------------------------------------------------------------- unclear messages

@pytest.mark.parametrize("argv", [["--learning-rate", "1e308"], ["--model", "cnn", "--learning-rate", "1e20"],
                                  ["--model", "mlp", "--learning-rate", "1e20"]])
def test_divergence_is_one_line_and_keeps_the_checkpoint(data, good, tmp_path, argv):
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    before = sha(path)
    fails(run("--local-mnist", data, "--epochs", "3", "--save-model-path", path, *argv), 1,
          "training diverged at epoch", "--learning-rate")
    assert sha(path) == before


def test_unknown_kernel_set_is_one_line(data):
    fails(run("--local-mnist", data, env={"TINYGRAD_MNIST_KERNELS": "foo"}), 2, "TINYGRAD_MNIST_KERNELS='foo'")


def test_a_file_given_as_the_data_directory(good):
    fails(run("--local-mnist", good), 1, "not a directory")


def test_empty_batches_say_so():
    from tinygrad_mnist import Tensor, cross_entropy, nll
    with pytest.raises(ValueError, match="empty batch"):
        nll(Tensor(np.zeros((0, 10), np.float32)), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="empty batch"):
        cross_entropy(Tensor(np.zeros((0, 10), np.float32)), np.zeros(0, np.int64))


@pytest.mark.parametrize("name", ["linear", "mlp", "cnn"])
def test_every_model_says_empty_batch(name):
    from tinygrad_mnist import Tensor
    from tinygrad_mnist.app.inference import build
    model, _ = build(name)
    with pytest.raises(ValueError, match="empty batch"):
        model.loss(Tensor(np.zeros((0, 784), np.uint8)), np.zeros(0, np.int64))


def test_integer_input_to_float_ops_computes_in_float32():
    from tinygrad_mnist import Tensor
    out = Tensor(np.array([1, 2, 3])).log_softmax()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np.log(np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum()), rtol=1e-6)
