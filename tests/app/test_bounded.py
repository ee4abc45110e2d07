"""Hostile input that would blow up memory or hang: every reader of a checkpoint or of data is
bounded, under the same address-space limit and time limit as test_hostile.py."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from idxfiles import NAMES, idx_bytes, learnable, write_dataset
from test_hostile import data, fails, good, run  # noqa: F401  (data and good are fixtures)


# ---------------------------------------------------------------- memory blow-ups and hangs

@pytest.mark.parametrize("make,fragment", [
    (lambda tmp: "/dev/zero", "is a character device"),
    (lambda tmp: "/dev/urandom", "is a character device"),
    (lambda tmp: tmp, "is a directory"),
    (lambda tmp: _fifo(tmp), "is a pipe (FIFO), not a checkpoint file (a process substitution?"),
    (lambda tmp: _sparse(tmp / "big.safetensors", 3 << 30), "big.safetensors: "),  # header-only read, or too big
    (lambda tmp: _loop(tmp), "Too many levels of symbolic links"),
])
@pytest.mark.parametrize("program", ["train", "evaluate"])
def test_checkpoint_readers_are_bounded(data, tmp_path, make, fragment, program):
    path = make(tmp_path)
    extra = ("--model", "linear") if program == "evaluate" else ()
    proc = run("--local-mnist", data, "--load-model-path", path, *extra, program=program)
    fails(proc, 1, fragment)
    assert proc.seconds < 60


def _fifo(tmp):
    os.mkfifo(tmp / "ckpt")
    return tmp / "ckpt"


def _sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _loop(tmp):
    (tmp / "a").symlink_to(tmp / "b")
    (tmp / "b").symlink_to(tmp / "a")
    return tmp / "a"


def _dataset_with(tmp, key, raw=None, gz=None):
    """The tiny dataset with one file replaced by raw bytes (written as .gz unless gz is False)."""
    directory = write_dataset(tmp / "d", n_train=60, n_test=20)
    path = Path(directory) / (NAMES[key] + ".gz")
    if raw is not None:
        path.write_bytes(raw)
    elif gz is not None:
        path.unlink()
        gz(Path(directory) / NAMES[key])
    return directory


def _bomb(path):
    """A valid MNIST header, then 6 GiB of zeros: 96 concatenated gzip members of 64 MiB each."""
    member = gzip.compress(bytes(64 << 20), compresslevel=1)
    with open(str(path) + ".gz", "wb") as f:
        f.write(gzip.compress(bytes([0, 0, 8, 3]) + (60).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2))
        for _ in range(96):
            f.write(member)


@pytest.mark.parametrize("build,fragment", [
    (lambda tmp: _dataset_with(tmp, "train_images", gz=_bomb), "over-long: data continues past the end"),
    (lambda tmp: _dataset_with(tmp, "train_labels", raw=gzip.compress(idx_bytes(np.zeros(60, np.uint8)))[:-9]),
     "corrupt gzip data"),
    (lambda tmp: _dataset_with(tmp, "train_labels", raw=_lying_trailer()), "corrupt gzip data"),
    (lambda tmp: _dataset_with(tmp, "train_images", gz=lambda p: _sparse_idx(p, 32 << 30)), "over-long"),
    (lambda tmp: _dataset_with(tmp, "train_images", gz=lambda p: p.write_bytes(
        bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3)), "more than the 1073741824 this reader accepts"),
    (lambda tmp: _dataset_with(tmp, "test_images", gz=lambda p: os.mkfifo(p)), "is a pipe (FIFO), not an idx"),
    (lambda tmp: _dataset_with(tmp, "test_images", gz=lambda p: p.mkdir()), "is a directory, not an idx"),
    (lambda tmp: _dataset_with(tmp, "test_labels", gz=lambda p: p.symlink_to("/dev/zero")), "is a character device"),
    (lambda tmp: _dataset_with(tmp, "test_labels", gz=lambda p: (p.symlink_to(p.parent / "y"),
                                                                 (p.parent / "y").symlink_to(p))),
     "Too many levels of symbolic links"),
])
def test_data_readers_are_bounded(tmp_path, build, fragment):
    proc = run("--local-mnist", build(tmp_path), "--epochs", "1")
    fails(proc, 1, fragment)
    assert proc.seconds < 90


def _lying_trailer():
    """A gzip whose size trailer claims 4 GiB: the reader never trusts it, zlib's check rejects it."""
    data = bytearray(gzip.compress(idx_bytes(np.zeros(60, np.uint8))))
    data[-4:] = (0xFFFFFFFF).to_bytes(4, "little")
    return bytes(data)


def _sparse_idx(path, size):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + (60).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        f.truncate(size)


def test_multi_member_gzip_is_valid_data(tmp_path):
    images, labels = learnable(60, 0)
    raw = idx_bytes(images)
    two = gzip.compress(raw[:1000]) + gzip.compress(raw[1000:])
    proc = run("--local-mnist", _dataset_with(tmp_path, "train_images", raw=two), "--epochs", "1")
    assert proc.returncode == 0, proc.stderr


def test_two_spellings_of_one_file_are_refused(tmp_path):
    directory = _dataset_with(tmp_path, "test_labels")
    raw = gzip.decompress((Path(directory) / (NAMES["test_labels"] + ".gz")).read_bytes())
    (Path(directory) / NAMES["test_labels"]).write_bytes(raw)
    fails(run("--local-mnist", directory), 1, "both t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz")
