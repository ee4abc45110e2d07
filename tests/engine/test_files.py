"""The one atomic writer (tinygrad_mnist/files.py) that checkpoints and the decoded cache share:
whole files or none, temporary files of killed writers removed, live writers' left alone, and
what it refuses to replace."""
import os
import subprocess
import sys

import pytest

from tinygrad_mnist import files


def test_chunks_are_written_whole_and_nothing_else_is_left(tmp_path):
    path = tmp_path / "f.bin"
    files.atomic_write(str(path), b"head", memoryview(b"body"), bytearray(b"tail"))
    assert path.read_bytes() == b"headbodytail" and os.listdir(tmp_path) == ["f.bin"]
    files.atomic_write(str(path), b"new", durable=False)
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        files.atomic_write(str(path), b"new")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_a_killed_writers_temporary_file_is_removed_and_a_live_ones_kept(tmp_path):
    path = tmp_path / "f.bin"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    killed = tmp_path / f".f.bin.{dead}.abcdefgh.tmp"
    live = tmp_path / f".f.bin.{os.getppid()}.ijklmnop.tmp"
    old = tmp_path / f".f.bin.{os.getppid()}.qrstuvwx.tmp"
    for p in (killed, live, old):
        p.write_bytes(b"half")
    os.utime(old, (0, 0))  # older than STALE_TEMP: its pid now names another process
    files.atomic_write(str(path), b"whole")
    assert sorted(os.listdir(tmp_path)) == sorted(["f.bin", live.name])


@pytest.mark.parametrize("own", [False, True])
def test_a_pipe_is_refused_unless_the_path_is_the_packages_own(tmp_path, own):
    path = tmp_path / "entry"
    os.mkfifo(path)
    if own:  # a cache entry: whatever stands there is replaced
        files.atomic_write(str(path), b"rebuilt", own=True)
        assert path.read_bytes() == b"rebuilt"
    else:
        with pytest.raises(files.UnsafeTarget, match=r"refusing to replace it: it is a pipe \(FIFO\), not a "
                                                     r"cache entry file"):
            files.atomic_write(str(path), b"x", what="cache entry")


def test_long_names_are_fitted_with_a_digest():
    name = "m" * 300
    short = files.fitted(name, 200)
    assert len(short.encode()) <= 200 and short != files.fitted("m" * 299 + "n", 200)
    assert files.fitted("short", 200) == "short"
    assert len((files.temp_prefix(name) + "4194304.abcdefgh.tmp").encode()) <= files.NAME_MAX
