"""The programs' `--device`: on a machine without CUDA, one line and status 1; on the simulated
GPU (numba's simulator, loaded in this test process by tests/conftest.py), the trainer's epoch
lines and checkpoints are the CPU's, the evaluator's report too, and a GPU checkpoint loads on
the CPU."""
import os
import subprocess
import sys

import numpy as np
import pytest

from hostile import fails
from idxfiles import write_dataset
from tinygrad_mnist.app import evaluate, predict, train
from tinygrad_mnist.nn import checkpoint

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the test extra brings it)")


def without_simulator() -> dict:
    return {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}


@pytest.mark.parametrize("program", ["train", "evaluate", "predict"])
def test_device_cuda_without_cuda_is_one_line(program, tmp_path):
    args = {"train": ["--epochs", "1"], "evaluate": ["--load-model-path", str(tmp_path / "none")],
            "predict": ["--load-model-path", str(tmp_path / "none"), "--index", "0"]}[program]
    run = subprocess.run([sys.executable, "-m", f"tinygrad_mnist.{program}", "--device", "cuda", *args],
                         capture_output=True, text=True, env=without_simulator(), timeout=120)
    fails(run, 1, "--device cuda: no CUDA device is available", "use --device cpu")
    assert run.stdout == ""  # nothing loaded, nothing trained


def test_device_auto_without_cuda_trains_on_the_cpu(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=40, n_test=10)
    run = subprocess.run([sys.executable, "-m", "tinygrad_mnist.train", "--device", "auto", "--local-mnist", data,
                          "--epochs", "1"], capture_output=True, text=True, env=without_simulator(), timeout=300)
    assert run.returncode == 0 and "Epoch:    1 Train Loss:  2.30259" in run.stdout, run.stderr


def _epoch_lines(out: str) -> list:
    return [line.split(" Epoch duration")[0] for line in out.splitlines() if not line.startswith("Saving")]


@pytest.mark.parametrize("model,extra", [("linear", ["--epochs", "2"]), ("mlp", ["--epochs", "1", "--batch-size", "8"])])
def test_the_simulated_gpu_trains_as_the_cpu(model, extra, capsys, tmp_path):
    data = write_dataset(tmp_path / "data", n_train=16, n_test=8)
    outs, weights = {}, {}
    for where in ("cpu", "cuda"):
        save = str(tmp_path / f"{where}.safetensors")
        code = train.main(["--local-mnist", data, "--model", model, "--device", where, "--save-model-path", save,
                           *extra])
        outs[where], err = capsys.readouterr()
        assert code == 0, err
        weights[where] = checkpoint.load(save)[0]
    assert _epoch_lines(outs["cuda"]) == _epoch_lines(outs["cpu"])  # loss to 5 digits, accuracy to 2
    for name, a in weights["cpu"].items():
        np.testing.assert_allclose(weights["cuda"][name], a, rtol=1e-5, atol=1e-6)
    # a checkpoint written from the GPU is plain safetensors: evaluated on either device alike
    reports = []
    for where in ("cpu", "cuda"):
        assert evaluate.main(["--local-mnist", data, "--load-model-path", str(tmp_path / "cuda.safetensors"),
                              "--device", where]) == 0
        reports.append(capsys.readouterr().out)
    assert reports[0] == reports[1]
    predictions = []
    for where in ("cpu", "cuda"):
        assert predict.main(["--local-mnist", data, "--load-model-path", str(tmp_path / "cuda.safetensors"),
                             "--device", where, "--index", "3", "5"]) == 0
        predictions.append(capsys.readouterr().out)
    assert predictions[0] == predictions[1] and "test image 3: " in predictions[0]


def test_a_data_parallel_job_refuses_the_gpu(tmp_path, monkeypatch, capsys):
    from tinygrad_mnist.app.job import Job
    start = Job.start

    def a_job_of_two(args):
        job = start(args)
        job.parallel = True  # as in `mpiexec -n 2`
        return job
    monkeypatch.setattr(Job, "start", staticmethod(a_job_of_two))
    assert train.main(["--device", "cuda", "--epochs", "1"]) == 1
    assert "a data-parallel job computes on the CPU" in capsys.readouterr().err


def test_newton_cg_refuses_the_gpu_in_one_line(capsys):
    assert train.main(["--device", "cuda", "--optimizer", "newton-cg", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "--optimizer newton-cg (forward mode, CPU only) computes on the CPU" in err and "Traceback" not in err
