"""The embedded MNIST's decoded copy in the user's cache directory (datasets/decoded.py): written
once, mapped on later loads, checked by size and CRC, rebuilt when damaged or stale, and never an
error where the cache cannot be written."""
import errno
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from tinygrad_mnist.datasets import decoded, mnist

TRAIN = decoded.EMBEDDED[1]  # the training labels: the smallest file, 60,000 bytes decoded


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache home; the directory the entries go to."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "tinygrad_mnist" / "mnist"


def entries(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_first_load_writes_the_entries_and_later_loads_map_them(cache):
    first = mnist.load()
    names = entries(cache)
    assert len(names) == 4 and all(n.endswith(".idx") for n in names)
    key = decoded.source_key(TRAIN[0])
    assert f"train-labels-idx1-ubyte-{key}.idx" in names
    again = mnist.load()
    for a, b in ((first.train_images, again.train_images), (first.test_labels, again.test_labels)):
        assert np.array_equal(a.numpy(), b.numpy()) and b.numpy().dtype == np.uint8
    assert again.train_images.shape == (60000, 784) and again.test_images.shape == (10000, 784)


def test_the_mapped_arrays_are_writable_and_a_write_never_reaches_the_file(cache):
    mnist.load()
    path = decoded.entry_path(TRAIN[0], decoded.source_key(TRAIN[0]))
    before = open(path, "rb").read()
    labels = decoded.load(*TRAIN, decode=pytest.fail)  # from the entry: decoding would fail the test
    labels[:10] = 9
    assert labels.flags.writeable and open(path, "rb").read() == before


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "lengthen", "empty", "directory", "fifo"])
def test_a_damaged_entry_is_decoded_again_and_replaced(cache, damage):
    want = mnist.read_idx(*TRAIN)
    decoded.load(*TRAIN, decode=mnist.read_idx)
    path = decoded.entry_path(TRAIN[0], decoded.source_key(TRAIN[0]))
    good = open(path, "rb").read()
    data = bytearray(good)
    os.unlink(path)
    if damage == "flip a byte":
        data[100] ^= 1
        open(path, "wb").write(data)
    elif damage == "truncate":
        open(path, "wb").write(data[:-5])
    elif damage == "lengthen":
        open(path, "wb").write(data + b"\0")
    elif damage == "empty":
        open(path, "wb").close()
    elif damage == "directory":
        os.mkdir(path)
    else:
        os.mkfifo(path)  # opening it for reading must not wait for a writer
    calls = []
    got = decoded.load(*TRAIN, decode=lambda p, n: calls.append(p) or mnist.read_idx(p, n))
    assert calls == [TRAIN[0]] and np.array_equal(got, want)
    if damage not in ("directory",):
        assert open(path, "rb").read() == good  # rebuilt, the same bytes as before the damage
        assert np.array_equal(decoded.load(*TRAIN, decode=pytest.fail), want)


def test_a_stale_entry_and_an_abandoned_partial_write_are_removed(cache):
    """The writer's temporary files are `.NAME.PID.XXXXXXXX.tmp` (files.atomic_write): one whose
    writer is gone, or ten minutes old, is removed, for this key's entry and for a stale key's."""
    cache.mkdir(parents=True)
    stale = cache / "train-labels-idx1-ubyte-0000000000000000.idx"
    stale.write_bytes(b"old")
    key = decoded.source_key(TRAIN[0])
    abandoned = cache / f".train-labels-idx1-ubyte-{key}.idx.{os.getppid()}.abcd1234.tmp"
    abandoned.write_bytes(b"half")
    os.utime(abandoned, (0, 0))  # ten minutes old: its pid names another process now
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    killed = cache / f".train-labels-idx1-ubyte-0000000000000000.idx.{dead}.k1ll3d00.tmp"  # its writer is gone
    killed.write_bytes(b"half, just now")
    writing = cache / f".train-labels-idx1-ubyte-0000000000000000.idx.{os.getppid()}.l1v3w0rk.tmp"
    writing.write_bytes(b"a live writer's")  # a running process, just now: left alone
    other = cache / "t10k-labels-idx1-ubyte-0000000000000000.idx"
    other.write_bytes(b"another file's entry")
    decoded.load(*TRAIN, decode=mnist.read_idx)
    assert entries(cache) == sorted([other.name, writing.name, f"train-labels-idx1-ubyte-{key}.idx"])


@pytest.mark.parametrize("blocked", ["home is a file", "disk full", "read-only"])
def test_a_cache_that_cannot_be_written_costs_only_the_decoding(cache, tmp_path, monkeypatch, blocked):
    """(Permissions cannot make a directory read-only for root, who runs CI: a read-only file
    system's error is raised where the entry would be created instead.)"""
    if blocked == "home is a file":
        (tmp_path / "home").write_text("not a directory")
    elif blocked == "disk full":  # the temporary file is created, then the write fails
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fd, *args, **kwargs):
                self.file = real_fdopen(fd, *args, **kwargs)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def write(self, data):
                raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(os, "fdopen", Full)
    else:
        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr("tempfile.mkstemp", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = mnist.load()
    assert data.train_images.shape == (60000, 784) and int(data.train_labels.numpy()[0]) == 5
    if blocked != "home is a file":
        assert entries(cache) == []  # nothing half-written left behind


def test_a_prefetched_entry_is_what_load_returns_and_another_dataset_drops_it(cache, tmp_path):
    mnist.load()
    decoded.prefetch()
    assert np.array_equal(decoded.load(*TRAIN, decode=pytest.fail), mnist.read_idx(*TRAIN))
    decoded.prefetch()
    local = tmp_path / "local"
    local.mkdir()
    for path, _ in decoded.EMBEDDED:
        os.symlink(path, local / os.path.basename(path))
    assert mnist.load(str(local)).source == str(local)  # read from its own files, the prefetch dropped
    assert decoded._prefetch.found == {}


def test_the_trainer_checks_the_cache_before_numpy_loads(cache):
    """The trainer starts the lookup before importing the engine: decoded.py needs no numpy."""
    code = ("import sys; from tinygrad_mnist.datasets import decoded; decoded.prefetch(); "
            "decoded._prefetch.thread.join(); print('numpy' in sys.modules, len(decoded._prefetch.found))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, XDG_CACHE_HOME=str(cache.parent.parent))).stdout.split()
    assert out == ["False", "4"]
