"""Importing the package changes nothing in the process: environment, signal handlers, threads."""
import os
import subprocess
import sys

import pytest

MODULES = ["tinygrad_mnist", "tinygrad_mnist.datasets.mnist", "tinygrad_mnist.kernels.numba_kernels",
           "tinygrad_mnist.kernels.numpy_kernels", "tinygrad_mnist.nn", "tinygrad_mnist.app.models",
           "tinygrad_mnist.app.train", "tinygrad_mnist.app.evaluate", "tinygrad_mnist.viz", "tinygrad_mnist.gradcheck",
           "tinygrad_mnist.app.predict", "tinygrad_mnist.app.plot", "tinygrad_mnist.losses", "tinygrad_mnist.trace",
           "tinygrad_mnist.functional", "tinygrad_mnist.forward_ad", "tinygrad_mnist.app.runner", "tinygrad_mnist.app.inference",
           "tinygrad_mnist.app.commands", "tinygrad_mnist.kernels.cache", "tinygrad_mnist.files", "tinygrad_mnist.app",
           "tinygrad_mnist.train", "tinygrad_mnist.evaluate", "tinygrad_mnist.predict", "tinygrad_mnist.plot",
           "tinygrad_mnist.distributed", "tinygrad_mnist.app.job", "tinygrad_mnist.viz.page"]

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


def test_process_tuning_lives_in_the_command_line_entry_only():
    """glibc's mallopt is called from `cli.tune_process` alone, and that runs only from the
    command-line entry points (the console scripts and `python -m`), never on import."""
    import re
    from pathlib import Path
    import tinygrad_mnist
    root = Path(tinygrad_mnist.__file__).parent
    assert [p.name for p in root.rglob("*.py") if "mallopt" in p.read_text()] == ["cli.py"]
    for path in root.rglob("*.py"):
        text = path.read_text()
        for m in re.finditer(r"^\s+(?:tune_process|start)\(\)", text, re.M):  # every call (indented)
            block = [line for line in text[:m.start()].splitlines() if line and not line[0].isspace()][-1]
            assert block.startswith(('if __name__ == "__main__":', "def train_entry", "def evaluate_entry",
                                     "def predict_entry", "def start")), \
                f"{path.name}: tune_process() called under {block!r}"


def test_the_command_line_tunes_its_own_process_only():
    """`cli.tune_process` (run by the command-line entry points, before numpy loads) shortens
    OpenBLAS's spin unless the user chose a value, and does nothing to the environment once numpy
    is loaded; the package itself imports numpy lazily, so `python -m` can run it first."""
    probe = ("import os, sys\n{before}\nfrom tinygrad_mnist.app import cli\ncli.tune_process()\n"
             "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), 'numpy' in sys.modules)")
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}

    def run(before="", **env):
        proc = subprocess.run([sys.executable, "-c", probe.format(before=before)], capture_output=True,
                              text=True, timeout=120, env=dict(clean, **env))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()
    assert run() == "4 False"
    assert run(OPENBLAS_THREAD_TIMEOUT="7") == "7 False"
    assert run(before="import numpy") == "None True"
    assert run(before="import tinygrad_mnist") == "4 False"
