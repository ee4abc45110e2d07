"""Hostile input to the command line: every failure is one line on stderr and the documented exit
status (1: data, checkpoint, training; 2: arguments; 130: interrupted), in bounded time and memory
(each run under a 2 GiB address-space limit), and a checkpoint that was there is never changed or
replaced by anything but a complete new one."""
import hashlib
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from idxfiles import write_dataset
from tinygrad_mnist.datasets import mnist

ADDRESS_SPACE = 2 << 30   # a normal run peaks near 0.55 GiB of address space
TIME_LIMIT = 120          # seconds; a hang fails the test instead of the suite


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(*argv, program="train", env=None, stdin=None, stdout=subprocess.PIPE):
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"tinygrad_mnist.{program}", *map(str, argv)],
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=TIME_LIMIT,
                          preexec_fn=limited, env=dict(os.environ, **(env or {})), stdin=stdin)
    proc.seconds = time.perf_counter() - started
    return proc


def fails(proc, status, *fragments):
    """One line on stderr, no traceback, the status; each fragment in the line."""
    err = proc.stderr
    assert proc.returncode == status, (proc.returncode, err[-2000:])
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err[-2000:]
    for fragment in fragments:
        assert fragment in err, err


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n_train=200, n_test=50)


@pytest.fixture(scope="module")
def good(tmp_path_factory, data):
    """A trained checkpoint, and its digest."""
    path = tmp_path_factory.mktemp("ckpt") / "good.safetensors"
    assert run("--local-mnist", data, "--epochs", "1", "--save-model-path", path).returncode == 0
    return path


# ---------------------------------------------------------------- data loss

def test_a_device_is_never_replaced(data):
    fails(run("--local-mnist", data, "--save-model-path", "/dev/null"), 1, "it is a character device")
    assert Path("/dev/null").is_char_device()


def test_a_fifo_is_refused_before_training(data, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = run("--local-mnist", data, "--save-model-path", fifo)
    fails(proc, 1, "it is a pipe (FIFO)")
    assert "Epoch" not in proc.stdout and fifo.is_fifo()


def test_a_socket_and_a_directory_are_refused(data, tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    fails(run("--local-mnist", data, "--save-model-path", tmp_path / "sock"), 1, "it is a socket")
    sock.close()
    fails(run("--local-mnist", data, "--save-model-path", tmp_path), 1, "it is a directory")


def test_a_symlink_is_followed_and_stays_a_link(data, good, tmp_path):
    target = tmp_path / "real.safetensors"
    target.write_bytes(good.read_bytes())
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    assert run("--local-mnist", data, "--epochs", "2", "--save-model-path", link).returncode == 0
    assert link.is_symlink() and sha(target) != sha(good)
    assert run("--local-mnist", data, "--epochs", "0", "--load-model-path", link).returncode == 0


def test_a_symlink_to_a_device_is_refused(data, tmp_path):
    link = tmp_path / "zero.safetensors"
    link.symlink_to("/dev/zero")
    fails(run("--local-mnist", data, "--save-model-path", link), 1, "character device")


def test_stale_temporary_files_are_cleaned_by_the_next_save(data, good, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    for i in range(3):  # what three killed saves would have left
        (tmp_path / f".m.safetensors.kill{i}.tmp").write_bytes(b"half")
    assert run("--local-mnist", data, "--epochs", "1", "--save-model-path", path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "m.safetensors.state"]


@pytest.mark.parametrize("suffix,fragment", [("/", "names a directory"), ("x" * 300, "the file name is 300 bytes long"),
                                             ("/sub/m.safetensors", "is a file, not a directory")],
                         ids=["trailing-slash", "name-too-long", "parent-is-a-file"])
def test_save_paths_that_cannot_work_fail_before_training(data, good, suffix, fragment):
    proc = run("--local-mnist", data, "--save-model-path", str(good) + suffix if suffix[0] == "/" else
               good.parent / suffix)
    fails(proc, 1, fragment)
    assert "Epoch" not in proc.stdout


def test_a_checkpoint_survives_sigint_and_sigterm_mid_run(data, good, tmp_path):
    """The first signal stops after the current step and saves the last whole epoch; no temp file."""
    path = tmp_path / "m.safetensors"
    for sig in (signal.SIGINT, signal.SIGTERM):
        path.write_bytes(good.read_bytes())
        proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data,
                                 "--model", "mlp", "--batch-size", "2", "--epochs", "1000",
                                 "--save-model-path", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=limited)
        while b"Epoch:    1" not in (proc.stdout.readline() or "").encode():
            assert proc.poll() is None
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=TIME_LIMIT)
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert "Interrupted: saved the weights of epoch" in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "m.safetensors.state"]


# `python -m tinygrad_mnist.train` with signals sent at a known moment of a save: inside the
# fsync of its N-th file (an injected os.fsync sends them), to the process or to another thread.
SIGNAL_IN_SAVE = """
import os, runpy, signal, sys, threading
sig, times, which, to_thread = getattr(signal, sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "thread"
other = threading.Thread(target=threading.Event().wait, daemon=True)
other.start()
real, calls = os.fsync, [0]
def fsync(fd):
    calls[0] += 1
    if calls[0] == which:
        for _ in range(times):
            signal.pthread_kill(other.ident, sig) if to_thread else os.kill(os.getpid(), sig)
    return real(fd)
os.fsync = fsync
sys.argv = ["tinygrad_mnist.train", *sys.argv[5:]]
runpy.run_module("tinygrad_mnist.train", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("sig,times,which,to", [
    ("SIGINT", 1, 1, "process"), ("SIGTERM", 1, 1, "process"), ("SIGINT", 2, 1, "process"),
    ("SIGINT", 1, 3, "thread"), ("SIGTERM", 2, 3, "thread")],
    ids=["sigint-checkpoint", "sigterm-checkpoint", "sigint-twice", "sigint-state-file-other-thread",
         "sigterm-twice-other-thread"])
def test_a_signal_during_the_final_save_waits_for_the_files(data, good, tmp_path, sig, times, which, to):
    """The finished run ends saved, both files whole and belonging together, and no temporary
    file is left, whichever thread the signal reached (fsync 1 is the checkpoint's, 3 the state file's)."""
    from tinygrad_mnist import resume
    from tinygrad_mnist.nn import checkpoint
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_SAVE, sig, str(times), str(which), to, "--local-mnist",
                           data, "--epochs", "2", "--save-model-path", path], capture_output=True, text=True,
                          timeout=TIME_LIMIT, preexec_fn=limited)
    fails(proc, 130, f"Interrupted while saving: the finished run is saved in {path}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "m.safetensors.state"]
    assert checkpoint.metadata(str(path))["epochs"] == "2"
    assert resume.load(str(path)).epoch == 2


def test_a_legal_250_character_name_saves_and_resumes(data, tmp_path):
    """245 letters and `.safe`: the temporary file and the state file are named to fit 255 bytes."""
    path = tmp_path / ("m" * 245 + ".safe")
    assert run("--local-mnist", data, "--epochs", "1", "--save-model-path", path).returncode == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert path.name in names and len(names) == 2 and all(len(n.encode()) <= 255 for n in names), names
    assert not any(n.endswith(".tmp") for n in names)
    proc = run("--local-mnist", data, "--epochs", "1", "--resume", path)
    assert proc.returncode == 0 and "Epoch:    2" in proc.stdout, proc.stderr
    assert run("--local-mnist", data, "--load-model-path", path, program="evaluate").returncode == 0


def test_evaluate_to_a_full_disk(data, good):
    with open("/dev/full", "w") as full:
        fails(run("--local-mnist", data, "--load-model-path", good, program="evaluate", stdout=full), 1,
              "cannot write to standard output")


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
    assert proc.returncode == 130 and "Traceback" not in err and err.count("\n") == 1, err
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
    from tinygrad_mnist.inference import build
    model, _ = build(name)
    with pytest.raises(ValueError, match="empty batch"):
        model.loss(Tensor(np.zeros((0, 784), np.uint8)), np.zeros(0, np.int64))


def test_integer_input_to_float_ops_computes_in_float32():
    from tinygrad_mnist import Tensor
    out = Tensor(np.array([1, 2, 3])).log_softmax()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np.log(np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum()), rtol=1e-6)


# ---------------------------------------------------------------- SIGKILL at random moments of a save

# Loads checkpoint.py (and the files.py it imports) without the package's __init__ files, which
# would load numba: the kills must land in the saves, not in the imports.
KILLER = """
import os, sys, types, numpy as np
package = os.path.dirname(os.path.dirname(sys.argv[1]))
for name, path in (("tinygrad_mnist", package), ("tinygrad_mnist.nn", os.path.join(package, "nn"))):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
from tinygrad_mnist.nn import checkpoint as ck
weights = [{"w": np.full((1 << 20,), v, np.float32)} for v in (1.0, 2.0)]
i = 0
while True:
    ck.save(sys.argv[2], weights[i % 2]); i += 1
"""


@pytest.mark.slow
def test_sigkill_during_saves_leaves_old_or_new_and_no_temps(tmp_path):
    """50 SIGKILLs at random moments of a loop of saves: the file is always one whole version;
    the next save removes whatever temporary file the killed one left."""
    import tinygrad_mnist.nn.checkpoint as ck
    path = tmp_path / "m.safetensors"
    versions = {}
    for v in (1.0, 2.0):
        ck.save(str(path), {"w": np.full((1 << 20,), v, np.float32)})
        versions[sha(path)] = v
    rng = random.Random(0)
    for _ in range(50):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, ck.__file__, str(path)])
        time.sleep(0.25 + rng.random() * 0.25)
        proc.kill()
        proc.wait()
        assert sha(path) in versions  # old or new, never half of one
    ck.save(str(path), {"w": np.full((1 << 20,), 1.0, np.float32)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
