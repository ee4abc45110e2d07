"""The three MNIST models, built exactly as the Candle tutorial and Candle's MNIST example
build them, so their checkpoints carry the same names and shapes.

Each takes a batch of flattened images [B, 784] as MNIST stores them, uint8
pixels 0..255, reads them as value/255 where its own code says so (the first
layer's `input_scale`, or an explicit multiply), and returns logits [B, 10].
The loss is `Module.loss`: log_softmax then nll, two ops in the graph.
"""
from __future__ import annotations

from typing import Dict, Type

import numpy as np

from ..datasets.mnist import CLASSES as LABELS
from ..datasets.mnist import IMAGE_DIM, IMAGE_SIDE
from ..nn import Conv2dConfig, Dropout, Linear, Module, VarBuilder, conv2d, init, linear
from ..nn.layers import PIXEL_SCALE
from ..tensor import Tensor


def linear_z(in_dim: int, out_dim: int, vb: VarBuilder, input_scale: float = 1.0) -> Linear:
    """The tutorial's zero-initialised linear layer."""
    weight = vb.get_with_hints((out_dim, in_dim), "weight", init.ZERO)
    bias = vb.get_with_hints((out_dim,), "bias", init.ZERO)
    return Linear(weight, bias, input_scale)


class LinearModel(Module):
    """The tutorial's model: one zero-initialised Linear(784 → 10); saves `weight`, `bias`."""

    def __init__(self, vb: VarBuilder):
        self.linear = linear_z(IMAGE_DIM, LABELS, vb, input_scale=PIXEL_SCALE)  # pixels as 0..1

    def forward(self, xs: Tensor) -> Tensor:
        return self.linear(xs)


class Mlp(Module):
    """Candle's MLP: 784 → 100 → ReLU → 10; saves `ln1.*`, `ln2.*`. Its first layer reads the
    images in CSR form (`sparse_input`): 100 outputs a non-zero pixel make its product faster
    than the dense one (the linear model's 10 do not; docs/kernels.md)."""

    sparse_input = True

    def __init__(self, vb: VarBuilder):
        self.ln1 = linear(IMAGE_DIM, 100, vb.pp("ln1"), input_scale=PIXEL_SCALE)  # pixels as 0..1
        self.ln2 = linear(100, LABELS, vb.pp("ln2"))

    def forward(self, xs: Tensor) -> Tensor:
        return self.ln2(self.ln1(xs).relu())


class ConvNet(Module):
    """Candle's CNN: conv5×5·32 → maxpool 2 → conv5×5·64 → maxpool 2 → fc 1024 → ReLU
    → dropout 0.5 → fc 10; saves `c1.*`, `c2.*`, `fc1.*`, `fc2.*`."""

    def __init__(self, vb: VarBuilder):
        self.conv1 = conv2d(1, 32, 5, Conv2dConfig(), vb.pp("c1"))
        self.conv2 = conv2d(32, 64, 5, Conv2dConfig(), vb.pp("c2"))
        self.fc1 = linear(1024, 1024, vb.pp("fc1"))
        self.fc2 = linear(1024, LABELS, vb.pp("fc2"))
        self.dropout = Dropout(0.5)

    def forward(self, xs: Tensor) -> Tensor:
        x = xs.astype(np.float32) * PIXEL_SCALE  # pixels as 0..1 (a small batch: the copy is cheap)
        x.name = "images / 255"  # no gradient flows into x, so no op records it: say it here
        x = x.reshape(xs.shape[0], 1, IMAGE_SIDE, IMAGE_SIDE)
        x = self.conv1(x).max_pool2d(2)
        x = self.conv2(x).max_pool2d(2)
        x = self.fc1(x.flatten(1)).relu()
        return self.fc2(self.dropout(x))  # active in training mode only (model.train())


MODELS: Dict[str, Type[Module]] = {"linear": LinearModel, "mlp": Mlp, "cnn": ConvNet}
