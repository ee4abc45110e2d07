"""Writing small idx files (MNIST's format) for the data and trainer tests."""
import gzip
import os

import numpy as np

NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.tobytes()


def learnable(n: int, seed: int):
    """Images whose label is written in their pixels: a bright 3×3 block at a label-dependent spot."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        r, c = 2 + 2 * int(y), 4 + 2 * int(y)
        images[i, r:r + 3, c:c + 3] = 255
    return images, labels


def write_dataset(directory, n_train=1000, n_test=200, gz=True, dotted=False, seed=0, **override) -> str:
    """Write the four files into `directory`; `override` replaces a file's bytes by key."""
    os.makedirs(directory, exist_ok=True)
    train, test = learnable(n_train, seed), learnable(n_test, seed + 1)
    arrays = {"train_images": train[0], "train_labels": train[1], "test_images": test[0], "test_labels": test[1]}
    for key, name in NAMES.items():
        data = override.get(key, idx_bytes(arrays[key]))
        if dotted:
            name = name.replace("-idx", ".idx")
        path = os.path.join(directory, name + (".gz" if gz else ""))
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if gz else data)
    return str(directory)
