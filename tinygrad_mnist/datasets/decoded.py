"""The embedded MNIST decoded once: an uncompressed copy in the user's cache directory, mapped
into memory on later runs instead of being inflated again (0.2 s of every start-up).

An entry is `<cache_root>/mnist/<file>-<sha256 of the .gz, 16 hex digits>.idx`: the decoded
idx bytes (header and body, exactly what the .gz holds), then a trailer of `MAGIC` and the
CRC-32 of those bytes. Keyed by the source's hash, an entry can never be served for another
source; validated by size (the header's dimensions) and by its CRC before use, a damaged or
truncated entry is decoded again and replaced. A cache directory that cannot be written
(read-only, full, not a directory) costs nothing but the decoding: no error, no warning.

The mapping is private (copy on write): the arrays are writable, a write changes this process's
pages and never the file. Standard library only at import, so the trainer can start checking
the cache (`prefetch`) while numpy and numba load: hashing and the CRC release the GIL.
"""
from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import stat
import threading
import zlib
from typing import Callable, Dict, Optional, Tuple

from .. import files

MAGIC = b"TGMNIST-CACHE-1\n"  # 16 bytes, then the CRC-32 (4 bytes, big-endian)
TRAILER = len(MAGIC) + 4

Entry = Tuple[mmap.mmap, Tuple[int, ...], int]  # the mapping, the dimensions, where the body starts
EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
EMBEDDED = tuple((os.path.join(EMBEDDED_DIR, name + ".gz"), ndim) for name, ndim in (
    ("train-images-idx3-ubyte", 3), ("train-labels-idx1-ubyte", 1),
    ("t10k-images-idx3-ubyte", 3), ("t10k-labels-idx1-ubyte", 1)))  # the four files of the copy, and their ranks


def idx_dims(head: bytes, ndim: int) -> Tuple[int, Tuple[int, ...], int]:
    """An idx header's magic number, its `ndim` dimensions and their product (the body's bytes, a
    Python integer: no overflow, whatever the header says). `head` holds 4 + 4·ndim bytes."""
    dims = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = 1
    for n in dims:
        size *= n
    return int.from_bytes(head[:4], "big"), dims, size


def cache_dir() -> str:
    return os.path.join(files.cache_root(), "mnist")


def source_key(path: str) -> str:
    """The first 16 hex digits of the source file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def entry_path(path: str, key: str) -> str:
    name = os.path.basename(path)
    return os.path.join(cache_dir(), f"{name[:-3] if name.endswith('.gz') else name}-{key}.idx")


def _open_entry(path: str, ndim: int) -> Optional[Entry]:
    """The entry at `path` mapped and checked, or None if it is missing, not a regular file, of
    the wrong size or its CRC does not match."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO put there must not hang
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size < 4 + 4 * ndim + TRAILER:
            return None
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    head = 4 + 4 * ndim
    magic, dims, size = idx_dims(mapped[:head], ndim)
    body_end = head + size
    ok = magic == 0x0800 | ndim and len(mapped) == body_end + TRAILER \
        and mapped[body_end:body_end + len(MAGIC)] == MAGIC \
        and zlib.crc32(memoryview(mapped)[:body_end]) == int.from_bytes(mapped[body_end + len(MAGIC):], "big")
    if not ok:
        mapped.close()
        return None
    return mapped, dims, head


def _lookup(path: str, ndim: int) -> Tuple[Optional[str], Optional[Entry]]:
    """The source's entry name and, if a valid one is there, the entry itself."""
    try:
        name = entry_path(path, source_key(path))
    except OSError:
        return None, None
    return name, _open_entry(name, ndim)


class _Prefetch:
    """Entries looked up on a thread of their own, for `load` to pick up."""

    def __init__(self) -> None:
        self.thread: Optional[threading.Thread] = None
        self.found: Dict[Tuple[str, int], Tuple[Optional[str], Optional[Entry]]] = {}

    def start(self, wanted) -> None:
        def run():
            for path, ndim in wanted:
                self.found[(path, ndim)] = _lookup(path, ndim)
        self.thread = threading.Thread(target=run, name="tinygrad_mnist-data", daemon=True)
        self.thread.start()

    def take(self, path: str, ndim: int):
        if self.thread is not None:
            self.thread.join()
        return self.found.pop((path, ndim), None)

    def discard(self) -> None:
        """Unmap what was found and not taken (the run reads another dataset)."""
        if self.thread is not None:
            self.thread.join()
        for _, entry in self.found.values():
            if entry is not None:
                entry[0].close()
        self.found.clear()


_prefetch = _Prefetch()


def prefetch(wanted=EMBEDDED) -> None:
    """Start looking up the entries of `wanted` ((path, ndim) pairs; the embedded copy's four files
    by default) on a background thread."""
    _prefetch.start(list(wanted))


def discard() -> None:
    """Drop what `prefetch` found and nobody took."""
    _prefetch.discard()


def load(path: str, ndim: int, decode: Callable[[str, int], "object"]):
    """The uint8 array of the idx file at `path`: from its cache entry, or `decode(path, ndim)`
    (which also writes the entry, if the cache directory allows)."""
    import numpy as np

    name, entry = _prefetch.take(path, ndim) or _lookup(path, ndim)
    if entry is not None:
        mapped, dims, head = entry
        size = len(mapped) - head - TRAILER
        return np.frombuffer(mapped, np.uint8, count=size, offset=head).reshape(dims)
    array = decode(path, ndim)
    if name is not None:
        _store(name, array)
    return array


def _store(name: str, array) -> None:
    """Write `array` as the entry `name` with the package's atomic writer (no fsync: every read
    checks the CRC, and a lost entry is decoded again), then remove the file's other entries
    (stale keys) and what killed writers of them left. Any OSError: no entry."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    body = memoryview(array.reshape(-1))
    trailer = MAGIC + zlib.crc32(body, zlib.crc32(header)).to_bytes(4, "big")
    try:
        os.makedirs(os.path.dirname(name), exist_ok=True)
        files.atomic_write(name, header, body, trailer, durable=False, what="cache entry", own=True)
    except OSError:
        return
    _prune(os.path.dirname(name), os.path.basename(name))


def _prune(directory: str, keep: str) -> None:
    stem = keep.rsplit("-", 1)[0] + "-"
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for other in names:
        path = os.path.join(directory, other)
        if other.startswith(stem) and other != keep or \
                other.startswith("." + stem) and other.endswith(".tmp") and files.abandoned(path):
            with contextlib.suppress(OSError):
                os.unlink(path)
