"""What the hostile-input tests share: programs run under a 2 GiB address-space limit and a time
limit, the one-line failure check, and a small dataset and a good checkpoint per module."""
import hashlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idxfiles import write_dataset


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
