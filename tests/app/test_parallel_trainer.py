"""`mpiexec -n N python -m tinygrad_mnist.train`: the same run for N = 1, 2, 3 (oversubscribed on
two cores), rank 0 alone speaking and writing, a run resumed with another N, and faults that end
the whole job in bounded time: a rank that fails, one killed, one stopped, and Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from hostile import data, error_lines, good, one_line_error  # noqa: F401  (fixtures)
from launch import mpiexec, needs_mpi, ranks_of
from tinygrad_mnist.nn import checkpoint

pytestmark = needs_mpi
TRAIN = ["-m", "tinygrad_mnist.train", "--threads", "1"]


def train(n, *argv, timeout=240, **kwargs):
    """The trainer on n ranks (n = 1: without mpiexec, the single-process trainer)."""
    command = [sys.executable, *TRAIN, *map(str, argv)]
    if n > 1:
        command = [mpiexec(), "-n", str(n), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def weights(path):
    return checkpoint.load(str(path))[0]


def assert_close(a, b, rtol=1e-5):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_allclose(wa[name], wb[name], rtol=rtol, atol=rtol * np.abs(wb[name]).max(), err_msg=name)


@pytest.mark.parametrize("model,argv,rtol", [
    ("mlp", ["--batch-size", "50"], 1e-5),                     # SGD: the bound
    pytest.param("linear", [], 1e-5, marks=pytest.mark.slow),  # full batch, shards of 300 and 200
    pytest.param("cnn", ["--batch-size", "7", "--lr-decay", "1"], 1e-4,  # AdamW, dropout: 7 rows on 3 ranks
                 marks=pytest.mark.slow),
])
def test_one_two_and_three_ranks_train_the_same_model(data, tmp_path, model, argv, rtol):
    runs = {}
    for n in (1, 2, 3):
        path = tmp_path / f"{model}-{n}.safetensors"
        proc = train(n, "--local-mnist", data, "--model", model, "--epochs", "2", "--save-model-path", path, *argv)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert error_lines(proc.stderr) == []  # a slow batch may print rank 0's progress line, nothing else
        lines = proc.stdout.splitlines()
        assert [line.split()[1] for line in lines if line.startswith("Epoch:")] == ["1", "2"]  # rank 0 only
        assert lines.count(f"Saving trained weight in {path}") == 1
        runs[n] = path
    for n in (2, 3):
        assert_close(runs[n], runs[1], rtol)


@pytest.mark.slow
def test_a_run_resumed_with_another_number_of_ranks_continues_the_same_run(data, tmp_path):
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    common = ["--local-mnist", data, "--model", "cnn", "--batch-size", "16"]
    assert train(1, *common, "--epochs", "2", "--save-model-path", straight).returncode == 0
    assert train(2, *common, "--epochs", "1", "--save-model-path", split).returncode == 0
    proc = train(3, "--local-mnist", data, "--resume", split, "--epochs", "1")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Epoch:")] == ["2"]
    assert_close(split, straight, 1e-4)


@pytest.mark.slow
def test_evaluation_is_sharded_and_counted_exactly(data, tmp_path):
    """The same weights (a learning rate too small to move them) give the same test accuracy,
    to the last printed digit, on 1 and 3 ranks."""
    seed_model = tmp_path / "m.safetensors"
    assert train(1, "--local-mnist", data, "--model", "mlp", "--epochs", "1", "--save-model-path", seed_model
                 ).returncode == 0
    accs = []
    for n in (1, 3):
        proc = train(n, "--local-mnist", data, "--load-model-path", seed_model, "--epochs", "1",
                     "--learning-rate", "1e-30")
        accs.append([line.split("Test Acc:")[1].split()[0] for line in proc.stdout.splitlines() if "Test Acc" in line])
    assert accs[0] == accs[1] and accs[0]


def test_a_rank_that_fails_ends_the_job_with_its_line(data, tmp_path):
    """Rank 1 alone gets a data directory that does not exist (mpiexec's MPMD form)."""
    start = time.monotonic()
    proc = subprocess.run([mpiexec(), "-n", "1", sys.executable, *TRAIN, "--local-mnist", data, "--model", "mlp",
                           ":", "-n", "1", sys.executable, *TRAIN, "--local-mnist", str(tmp_path / "nowhere"),
                           "--model", "mlp"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and time.monotonic() - start < 60
    one_line_error(proc.stderr, "rank 1: tinygrad-mnist-train: error: ", "nowhere")


def running_job(data, path, *argv, ranks=2):
    """A long run on `ranks` ranks, once its first epoch line is out: (process, {rank: pid})."""
    token = uuid.uuid4().hex
    proc = subprocess.Popen([mpiexec(), "-n", str(ranks), sys.executable, *TRAIN, "--local-mnist", data,
                             "--model", "mlp", "--batch-size", "8", "--epochs", "1000", "--save-model-path", path,
                             *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, JOB_TOKEN=token), start_new_session=True)
    assert proc.stdout.readline().startswith("Train Images")
    while not proc.stdout.readline().startswith("Epoch:"):
        pass
    return proc, ranks_of(token)


@pytest.mark.slow
def test_a_stopped_rank_ends_the_job_after_the_collective_timeout(data, good, tmp_path):
    path = tmp_path / "m.safetensors"
    proc, ranks = running_job(data, path, "--collective-timeout", "4")
    os.kill(ranks[1], signal.SIGSTOP)
    start = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and time.monotonic() - start < 30, (proc.returncode, err)
    one_line_error(err, "rank 0: tinygrad-mnist-train: error: no answer from the other ranks within 4 s")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_and_the_checkpoint_stays_loadable(data, good, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    proc, ranks = running_job(data, path)
    os.kill(ranks[1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err
    checkpoint.load(str(path))  # the one there before: no epoch was saved over it
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_ctrl_c_stops_every_rank_at_the_same_step_and_saves(data, tmp_path):
    path = tmp_path / "m.safetensors"
    proc, _ = running_job(data, path)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: mpiexec and every rank get it
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    ours = [line for line in err.splitlines() if not line.startswith("[mpiexec@")]  # mpiexec's own notes
    assert len(ours) == 1 and ours[0].startswith("Interrupted: saved the weights of epoch "), err
    assert int(checkpoint.metadata(str(path))["epochs"]) >= 1


def test_the_ranks_share_the_cores(data):
    """Without --threads, each of two ranks gets half the cores this process may use (at least one)."""
    from tinygrad_mnist.kernels.pool import usable_cores
    proc = subprocess.run([mpiexec(), "-n", "2", sys.executable, "-m", "tinygrad_mnist.train", "--local-mnist", data,
                           "--epochs", "0", "--verbose"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    threads = max(1, usable_cores() // 2)
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("Settings:")]  # rank 0's alone
    assert line.endswith(f", {threads} thread{'s' if threads > 1 else ''}"), line
