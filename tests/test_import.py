"""Importing the package changes nothing in the process: environment, signal handlers, threads."""
import subprocess
import sys

import pytest

MODULES = ["tinygrad_mnist", "tinygrad_mnist.datasets.mnist", "tinygrad_mnist.kernels.numba_kernels",
           "tinygrad_mnist.kernels.numpy_kernels", "tinygrad_mnist.nn", "tinygrad_mnist.models",
           "tinygrad_mnist.train", "tinygrad_mnist.evaluate", "tinygrad_mnist.viz", "tinygrad_mnist.gradcheck"]

PROBE = """
import os, signal, sys, threading
import numpy, numba  # the dependencies' own import effects are theirs, not the package's
env = dict(os.environ)
handlers = {s: signal.getsignal(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)}
threads = threading.active_count()
__import__(sys.argv[1])
changed = sorted(set(env.items()) ^ set(os.environ.items()))
moved = [s for s, h in handlers.items() if signal.getsignal(s) != h]
print(changed, moved, threading.active_count() - threads)
"""


@pytest.mark.parametrize("module", MODULES)
def test_import_changes_nothing(module):
    proc = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "[] [] 0"


def test_no_allocator_tuning_in_the_package():
    """The package never calls glibc's mallopt (it would hold freed memory for the whole process)."""
    from pathlib import Path
    import tinygrad_mnist
    root = Path(tinygrad_mnist.__file__).parent
    assert not [p for p in root.rglob("*.py") if "mallopt" in p.read_text() or "ctypes" in p.read_text()]
