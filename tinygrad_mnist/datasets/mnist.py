"""MNIST (and anything in its idx format): the embedded copy, or a directory of the four files.

The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges, under CC BY-SA 3.0; a copy ships inside this package.

Images stay uint8 (0..255) in memory, four times smaller than float32: the
layers read a uint8 input as value/255, so they mean 0..1 as in the tutorial.
Every problem with a file is a `DatasetError` whose message names the file.
"""
from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..tensor import Tensor

EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
IMAGE_SIDE = 28
CLASSES = 10
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
    labels: int = CLASSES
    source: str = ""


def _candidates(directory: str, name: str) -> Sequence[str]:
    dotted = name.replace("-idx", ".idx")
    return [os.path.join(directory, n) for n in (name, name + ".gz", dotted, dotted + ".gz")]


def find_file(directory: str, name: str) -> str:
    for path in _candidates(directory, name):
        if os.path.isfile(path):
            return path
    raise DatasetError(f"{os.path.join(directory, name)}: missing (also looked for .gz and the dotted "
                       f"name {name.replace('-idx', '.idx')})")


def _gunzip(data: bytes) -> bytes:
    """Decompress into one buffer of the size the gzip trailer announces (gzip.decompress would
    grow and join blocks, briefly holding the 47 MB of images twice)."""
    size = int.from_bytes(data[-4:], "little")
    out = zlib.decompress(data, 31, max(size, 1))
    if len(out) != size:  # zlib stops after the first member; gzip joins them all
        out = gzip.decompress(data)
    return out


def read_idx(path: str, ndim: int) -> np.ndarray:
    """The uint8 array stored in the idx file at `path` (gzip-compressed or not)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read: {err.strerror or err}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DatasetError(f"{path}: corrupt gzip data ({err})") from None
    expected_magic = 0x00000800 | ndim
    if len(data) < 4:
        raise DatasetError(f"{path}: truncated: {len(data)} bytes, not even an idx header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DatasetError(f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                           f"(an idx{ndim}-ubyte file)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated: the header needs {header} bytes, the file has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(dims, dtype=np.int64))
    body = len(data) - header
    if body < size:
        raise DatasetError(f"{path}: truncated: {body} bytes of data for dimensions {list(dims)} ({size} bytes)")
    if body > size:
        raise DatasetError(f"{path}: over-long: {body - size} bytes past the end of dimensions {list(dims)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _images(path: str) -> np.ndarray:
    arr = read_idx(path, 3)
    if arr.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DatasetError(f"{path}: images are {arr.shape[1]}×{arr.shape[2]}, expected "
                           f"{IMAGE_SIDE}×{IMAGE_SIDE}")
    return arr.reshape(arr.shape[0], IMAGE_SIDE * IMAGE_SIDE)


def _labels(path: str, images: np.ndarray, images_path: str) -> np.ndarray:
    arr = read_idx(path, 1)
    if arr.shape[0] != images.shape[0]:
        raise DatasetError(f"{path}: {arr.shape[0]} labels, but {images_path} holds {images.shape[0]} images")
    if arr.size and arr.max() >= CLASSES:
        i = int(np.argmax(arr >= CLASSES))
        raise DatasetError(f"{path}: label {arr[i]} at index {i} is outside 0-{CLASSES - 1}")
    return arr


def load_dir(directory: str) -> Dataset:
    """Read the four idx files (raw or .gz, canonical or dotted names) from `directory`."""
    if not os.path.isdir(directory):
        raise DatasetError(f"{directory}: no such directory")
    paths = {key: find_file(directory, name) for key, name in FILES.items()}
    train_images = _images(paths["train_images"])
    test_images = _images(paths["test_images"])
    train_labels = _labels(paths["train_labels"], train_images, paths["train_images"])
    test_labels = _labels(paths["test_labels"], test_images, paths["test_images"])
    return Dataset(Tensor(train_images), Tensor(train_labels), Tensor(test_images), Tensor(test_labels),
                   source=directory)


def load(directory: Optional[str] = None) -> Dataset:
    """The MNIST copy embedded in the package (or `load_dir(directory)` if given)."""
    return load_dir(directory if directory is not None else EMBEDDED_DIR)
