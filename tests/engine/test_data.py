"""datasets.mnist: the embedded copy, load_dir, and one clear error per kind of bad file."""
import gzip
import hashlib
import os

import numpy as np
import pytest

from idxfiles import idx_bytes, learnable, write_dataset
from tinygrad_mnist.datasets import mnist


def test_embedded_mnist_is_the_published_one():
    d = mnist.load()
    assert d.train_images.shape == (60000, 784) and d.train_labels.shape == (60000,)
    assert d.test_images.shape == (10000, 784) and d.test_labels.shape == (10000,)
    assert d.train_images.dtype == np.uint8 and d.train_labels.dtype.kind in "iu"
    # the widely published digests of the decompressed originals
    published = {"train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                 "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}
    for name, digest in published.items():
        with gzip.open(os.path.join(mnist.EMBEDDED_DIR, name + ".gz")) as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    assert d.test_labels.numpy()[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (True, True), (False, True)])
def test_load_dir_reads_raw_gz_and_dotted_names(gz, dotted, tmp_path):
    write_dataset(tmp_path, n_train=50, n_test=20, gz=gz, dotted=dotted)
    d = mnist.load_dir(str(tmp_path))
    images, labels = learnable(50, 0)
    np.testing.assert_array_equal(d.train_images.numpy(), images.reshape(50, 784))
    np.testing.assert_array_equal(d.train_labels.numpy(), labels)
    assert d.test_images.shape == (20, 784)


def _bad(tmp_path, key, data):
    write_dataset(tmp_path, n_train=30, n_test=10, **{key: data})
    with pytest.raises(mnist.DatasetError) as err:
        mnist.load_dir(str(tmp_path))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file_is_named(tmp_path):
    write_dataset(tmp_path, n_train=30, n_test=10)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(mnist.DatasetError, match=r"t10k-labels-idx1-ubyte: missing .*t10k-labels.idx1-ubyte"):
        mnist.load_dir(str(tmp_path))
    with pytest.raises(mnist.DatasetError, match="no such directory"):
        mnist.load_dir(str(tmp_path / "nope"))


def test_wrong_magic(tmp_path):
    images, _ = learnable(30, 0)
    data = bytearray(idx_bytes(images))
    data[2] = 0x0D  # float data
    msg = _bad(tmp_path, "train_images", bytes(data))
    assert "train-images-idx3-ubyte.gz: wrong magic number 0x00000d03, expected 0x00000803" in msg


def test_labels_file_given_as_images(tmp_path):
    images, _ = learnable(10, 1)
    assert "t10k-labels-idx1-ubyte.gz: wrong magic number" in _bad(tmp_path, "test_labels", idx_bytes(images))


def test_truncated_and_over_long(tmp_path):
    images, _ = learnable(30, 0)
    data = idx_bytes(images)
    assert "train-images-idx3-ubyte.gz: truncated" in _bad(tmp_path, "train_images", data[:-5])
    assert "train-images-idx3-ubyte.gz: truncated" in _bad(tmp_path, "train_images", data[:10])
    assert ("train-images-idx3-ubyte.gz: over-long: data continues past the end of dimensions [30, 28, 28]"
            in _bad(tmp_path, "train_images", data + b"abc"))  # gzip: inflating stops there, however much follows


def test_images_not_28_by_28(tmp_path):
    msg = _bad(tmp_path, "test_images", idx_bytes(np.zeros((10, 32, 32), np.uint8)))
    assert "t10k-images-idx3-ubyte.gz: images are 32×32, expected 28×28" in msg


def test_image_and_label_counts_differ(tmp_path):
    _, labels = learnable(31, 0)
    msg = _bad(tmp_path, "train_labels", idx_bytes(labels))
    assert "train-labels-idx1-ubyte.gz: 31 labels, but" in msg and "holds 30 images" in msg


def test_label_out_of_range(tmp_path):
    _, labels = learnable(10, 1)
    labels[4] = 12
    assert "t10k-labels-idx1-ubyte.gz: label 12 at index 4 is outside 0-9" in _bad(tmp_path, "test_labels",
                                                                                  idx_bytes(labels))


def test_corrupt_gzip(tmp_path):
    write_dataset(tmp_path, n_train=30, n_test=10)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    data = path.read_bytes()
    path.write_bytes(data[:12] + b"\xff" * 20 + data[32:])
    with pytest.raises(mnist.DatasetError, match="train-labels-idx1-ubyte.gz: corrupt gzip data"):
        mnist.load_dir(str(tmp_path))
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(mnist.DatasetError, match="train-labels-idx1-ubyte.gz: corrupt gzip data"):
        mnist.load_dir(str(tmp_path))
