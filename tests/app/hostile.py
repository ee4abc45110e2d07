"""What the hostile-input tests share: programs run under a 2 GiB address-space limit and a time
limit, the one-line failure check, and a small dataset and a good checkpoint per module."""
import hashlib
import os
import re
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


# What a run may print on stderr besides its error, depending on the machine's speed and its
# cache, not on the input: the progress line (a slow batch prints one in a log, app/progress.py)
# and the first run's note that it compiles the kernels.
PROGRESS = re.compile(r"^epoch \d+: batch \d+/\d+, loss [\d.naif]+, [\d,]+ samples/s, \d+ s left$")
COMPILING = "Compiling the numba kernels (first run only; they are cached for the next runs)..."


def error_lines(err: str) -> list:
    """The lines of stderr that are not progress or the compile note: on a busy machine or a cold
    cache the same error gets the same lines."""
    return [line for line in err.splitlines() if not PROGRESS.match(line) and line != COMPILING]


def one_line_error(err: str, *fragments) -> None:
    """One error line (whatever progress came before it), no traceback, no warning; each fragment in it."""
    lines = error_lines(err)
    assert len(lines) == 1 and err.endswith(lines[0] + "\n"), err[-2000:]
    assert "Traceback" not in err and "Warning" not in err, err[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], err


def fails(proc, status, *fragments):
    """The status, and one error line on stderr (`one_line_error`)."""
    assert proc.returncode == status, (proc.returncode, proc.stderr[-2000:])
    one_line_error(proc.stderr, *fragments)


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
