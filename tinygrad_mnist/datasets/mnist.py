"""MNIST (and anything in its idx format): the embedded copy, or a directory of the four files.

The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges, under CC BY-SA 3.0; a copy ships inside this package.

Images stay uint8 (0..255) in memory, four times smaller than float32: the
layers read a uint8 input as value/255, so they mean 0..1 as in the tutorial.
Every problem with a file is a `DatasetError` whose message names the file.
"""
from __future__ import annotations

import os
import stat
import zlib
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

import numpy as np

from ..files import kind_of
from ..sparse import CSR
from ..tensor import Tensor
from . import decoded
from .decoded import EMBEDDED_DIR
IMAGE_SIDE = 28                  # each image is IMAGE_SIDE × IMAGE_SIDE pixels
IMAGE_DIM = IMAGE_SIDE * IMAGE_SIDE  # stored flattened: [N, 784]
CLASSES = 10                     # the digits 0-9
# The four canonical names; the dotted variant (train-images.idx3-ubyte) and .gz are accepted too.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DatasetError(ValueError):
    """A dataset file is missing or not what it should be."""


@dataclass
class Dataset:
    """Flattened uint8 images [N, 784] and integer labels [N] of both splits."""
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    source: str = ""
    _sparse: Dict[str, Tensor] = field(default_factory=dict, repr=False)

    def images(self, split: str, sparse: bool = False) -> Tensor:
        """The images of `split` ('train' or 'test'); with `sparse`, in CSR form (`sparse.CSR`:
        only the non-zero pixels), built from them on first use and kept with the dataset. The
        tensor is named `images`, so the graph shows `images [60000, 784] uint8, CSR`."""
        if split not in ("train", "test"):
            raise ValueError(f"images: split is 'train' or 'test', got {split!r}")
        dense = self.train_images if split == "train" else self.test_images
        if not sparse:
            return dense
        if split not in self._sparse:
            self._sparse[split] = Tensor(CSR.from_dense(dense.array))
            self._sparse[split].name = "images"
        return self._sparse[split]


def _candidates(directory: str, name: str) -> Sequence[str]:
    dotted = name.replace("-idx", ".idx")
    return [os.path.join(directory, n) for n in (name, name + ".gz", dotted, dotted + ".gz")]


MAX_BYTES = 1 << 30  # the largest idx body read: 20 times MNIST's training images, far below memory
CHUNK = 1 << 20


def find_file(directory: str, name: str) -> str:
    """The one file of `name`'s four spellings (raw or .gz, canonical or dotted) in `directory`;
    two of them at once is an error, since which one is meant is not clear."""
    found = [path for path in _candidates(directory, name) if os.path.lexists(path)]
    if len(found) > 1:
        raise DatasetError(f"{directory}: both {' and '.join(os.path.basename(p) for p in found)} are there; "
                           "remove all but the one to read")
    if found:
        return found[0]
    raise DatasetError(f"{os.path.join(directory, name)}: missing (also looked for .gz and the dotted "
                       f"name {name.replace('-idx', '.idx')})")


class _Source:
    """Bytes of a raw or gzip file, produced as asked for: nothing is read or inflated
    beyond what the caller asks for, so a gzip bomb or a lying trailer costs no memory.
    Several concatenated gzip members read as one stream, as `gzip.open` reads them."""

    def __init__(self, f, path: str):
        self.f, self.path = f, path
        self.gzip = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        self.inflate = zlib.decompressobj(31) if self.gzip else None

    def read(self, n: int) -> bytes:
        """Up to `n` more bytes; fewer only at the end."""
        out, got = [], 0
        while got < n:
            chunk = self._more(n - got)
            if not chunk:
                break
            out.append(chunk)
            got += len(chunk)
        return b"".join(out)

    def _more(self, want: int) -> bytes:
        """At most `want` more bytes (b"" at the end)."""
        if not self.gzip:
            return self.f.read(min(want, CHUNK))
        try:
            while True:
                if self.inflate.eof:  # a member ended: another may follow
                    rest = self.inflate.unused_data + self.f.read(CHUNK)
                    if not rest:
                        return b""
                    self.inflate = zlib.decompressobj(31)
                    data = self.inflate.decompress(rest, min(want, CHUNK))
                else:
                    raw = self.inflate.unconsumed_tail or self.f.read(CHUNK)
                    if not raw:
                        raise DatasetError(f"{self.path}: corrupt gzip data (truncated: the stream ends inside a member)")
                    data = self.inflate.decompress(raw, min(want, CHUNK))
                if data:
                    return data
        except zlib.error as err:
            raise DatasetError(f"{self.path}: corrupt gzip data ({err})") from None


def _open_regular(path: str):
    """`path` opened for reading if it is a regular file (after following links); a directory,
    pipe or device is refused without opening it (a pipe with no writer would hang)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise DatasetError(f"{path}: is {kind_of(mode)}, not an idx data file")
        return open(path, "rb")
    except OSError as err:  # a symlink loop, no permission
        raise DatasetError(f"{path}: cannot read: {err.strerror or err}") from None


def read_idx(path: str, ndim: int) -> np.ndarray:
    """The uint8 array stored in the idx file at `path` (gzip-compressed or not). Memory is bounded
    by the header's dimensions (at most MAX_BYTES), checked against the file before reading."""
    with _open_regular(path) as f:
        source = _Source(f, path)
        size_on_disk = os.fstat(f.fileno()).st_size
        header = 4 + 4 * ndim
        head = source.read(header)
        expected_magic = 0x00000800 | ndim
        if len(head) < 4:
            raise DatasetError(f"{path}: truncated: {len(head)} bytes, not even an idx header")
        magic = int.from_bytes(head[:4], "big")
        if magic != expected_magic:
            raise DatasetError(f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                               f"(an idx{ndim}-ubyte file)")
        if len(head) < header:
            raise DatasetError(f"{path}: truncated: the header needs {header} bytes, the file has {len(head)}")
        _, dims, size = decoded.idx_dims(head, ndim)
        if size > MAX_BYTES:
            raise DatasetError(f"{path}: dimensions {list(dims)} declare {size} bytes, more than the "
                               f"{MAX_BYTES} this reader accepts")
        if not source.gzip and header + size != size_on_disk:
            body = size_on_disk - header
            raise DatasetError(f"{path}: truncated: {body} bytes of data for dimensions {list(dims)} ({size} bytes)"
                               if body < size else
                               f"{path}: over-long: {body - size} bytes past the end of dimensions {list(dims)}")
        out = np.empty(size, np.uint8)
        view, got = memoryview(out), 0
        while got < size:
            chunk = source.read(min(CHUNK, size - got))
            if not chunk:
                raise DatasetError(f"{path}: truncated: {got} bytes of data for dimensions {list(dims)} ({size} bytes)")
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
        extra = len(source.read(1))
        if extra:
            raise DatasetError(f"{path}: over-long: data continues past the end of dimensions {list(dims)}")
    return out.reshape(dims)


def _images(path: str, read=read_idx) -> np.ndarray:
    arr = read(path, 3)
    if arr.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DatasetError(f"{path}: images are {arr.shape[1]}×{arr.shape[2]}, expected "
                           f"{IMAGE_SIDE}×{IMAGE_SIDE}")
    return arr.reshape(arr.shape[0], IMAGE_DIM)


def _labels(path: str, images: np.ndarray, images_path: str, read=read_idx) -> np.ndarray:
    arr = read(path, 1)
    if arr.shape[0] != images.shape[0]:
        raise DatasetError(f"{path}: {arr.shape[0]} labels, but {images_path} holds {images.shape[0]} images")
    if arr.size and arr.max() >= CLASSES:
        i = int(np.argmax(arr >= CLASSES))
        raise DatasetError(f"{path}: label {arr[i]} at index {i} is outside 0-{CLASSES - 1}")
    return arr


def load_dir(directory: str, read=read_idx) -> Dataset:
    """Read the four idx files (raw or .gz, canonical or dotted names) from `directory` with
    `read(path, ndim)`."""
    if not os.path.isdir(directory):
        raise DatasetError(f"{directory}: no such directory" if not os.path.lexists(directory) else
                           f"{directory}: not a directory (--local-mnist takes the directory of the four files)")
    paths = {key: find_file(directory, name) for key, name in FILES.items()}
    train_images = _images(paths["train_images"], read)
    test_images = _images(paths["test_images"], read)
    train_labels = _labels(paths["train_labels"], train_images, paths["train_images"], read)
    test_labels = _labels(paths["test_labels"], test_images, paths["test_images"], read)
    return Dataset(Tensor(train_images), Tensor(train_labels), Tensor(test_images), Tensor(test_labels),
                   source=directory)


def load(directory: Optional[str] = None) -> Dataset:
    """The MNIST copy embedded in the package, through its decoded cache (`decoded.py`); or
    `load_dir(directory)` if given."""
    if directory is not None:
        decoded.discard()
        return load_dir(directory)
    return load_dir(EMBEDDED_DIR, lambda path, ndim: decoded.load(path, ndim, read_idx))
