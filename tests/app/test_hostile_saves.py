"""Hostile input meets the checkpoint files: a save never replaces a good checkpoint with anything
but a complete new one, refuses what is not a regular file, holds signals until its files are in
place, fits its temporary and state files' names in 255 bytes, and leaves no temporary file."""
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hostile import TIME_LIMIT, data, fails, good, limited, run, sha  # noqa: F401 (fixtures)


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
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    for i in range(3):  # what three killed saves would have left (files.atomic_write's names)
        (tmp_path / f".m.safetensors.{dead}.kill{i}abc.tmp").write_bytes(b"half")
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
tripped, wakeup = os.pipe()  # the C-level handler writes each signal here, in whichever thread
os.set_blocking(wakeup, False)
signal.set_wakeup_fd(wakeup)
def fsync(fd):
    calls[0] += 1
    if calls[0] == which:
        for _ in range(times):
            signal.pthread_kill(other.ident, sig) if to_thread else os.kill(os.getpid(), sig)
            os.read(tripped, 1)  # delivered before this fsync returns, however busy the machine
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
    from tinygrad_mnist.app import resume
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
