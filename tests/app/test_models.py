"""The trainer's three models (app/models.py) keep Candle's checkpoint names and shapes, and the MLP
reads the dataset's CSR images to the dense path's numbers."""
import json
import struct

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.app.models import MODELS
from tinygrad_mnist.nn import VarBuilder, VarMap, init
from tinygrad_mnist.sparse import CSR

LAYOUTS = {
    "linear": {"weight": [10, 784], "bias": [10]},
    "mlp": {"ln1.weight": [100, 784], "ln1.bias": [100], "ln2.weight": [10, 100], "ln2.bias": [10]},
    "cnn": {"c1.weight": [32, 1, 5, 5], "c1.bias": [32], "c2.weight": [64, 32, 5, 5], "c2.bias": [64],
            "fc1.weight": [1024, 1024], "fc1.bias": [1024], "fc2.weight": [10, 1024], "fc2.bias": [10]},
}


def build(kind, seed=0):
    init.seed(seed)
    varmap = VarMap()
    return MODELS[kind](VarBuilder.from_varmap(varmap)), varmap


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_each_models_checkpoint_is_candles_layout(kind, tmp_path):
    path = tmp_path / "m.safetensors"
    build(kind)[1].save(str(path))
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    assert {k: v["shape"] for k, v in header.items() if k != "__metadata__"} == LAYOUTS[kind]
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")


def test_the_mlp_reads_csr_images_to_the_dense_numbers():
    pixels = np.random.default_rng(0).integers(0, 256, (16, 784)).astype(np.uint8)
    pixels[pixels < 180] = 0  # MNIST-like: most pixels blank
    labels = Tensor(np.random.default_rng(1).integers(0, 10, 16))
    results = []
    for images in (Tensor(pixels), Tensor(CSR.from_dense(pixels))):
        model, varmap = build("mlp")
        loss = model.eval().loss(images, labels)
        loss.backward()
        results.append([loss.numpy()] + [v.grad.numpy() for v in varmap.all_vars()])
    assert MODELS["mlp"].sparse_input and not MODELS["linear"].sparse_input
    for dense, sparse in zip(*results):
        np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-6)
