"""`--optimizer newton-cg` from the command line: Hessian-free Newton steps beat SGD's in four epochs."""
import subprocess
import sys

from idxfiles import write_dataset
from tinygrad_mnist.nn.checkpoint import metadata


def test_newton_cg_from_the_command_line_beats_sgd(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=600, n_test=100)  # learnable images
    losses = {}
    for optimizer in ("sgd", "newton-cg"):
        path = tmp_path / f"{optimizer}.safetensors"
        proc = subprocess.run([sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data, "--epochs", "4",
                               "--optimizer", optimizer, "--save-model-path", str(path)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        last = [line for line in proc.stdout.splitlines() if line.startswith("Epoch:")][-1]
        losses[optimizer] = float(last.split("Train Loss:")[1].split()[0])
        assert metadata(str(path))["optimizer"] == optimizer
    assert losses["newton-cg"] < 0.5 * losses["sgd"], losses
