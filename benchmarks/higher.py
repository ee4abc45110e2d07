"""7. Higher order: a Hessian-vector product and a JVP on Candle's MLP (784-100-10, a batch of 64
images), the engine's `functional` against PyTorch's `torch.autograd.functional.hvp` and
`torch.func.jvp`, on the same float32 weights, images and directions."""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError:
    torch = None

from tinygrad_mnist import Tensor, cross_entropy, functional


def _mlp_arrays(rng):
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    shapes = [(100, 784), (100,), (10, 100), (10,)]
    params = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in shapes]
    vs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return x, y, params, vs


def higher_workloads(rng):
    x, y, params, vs = _mlp_arrays(rng)
    images = Tensor(x)

    def loss(w1, b1, w2, b2):
        return cross_entropy(images.linear(w1, b1).relu().linear(w2, b2), y)

    def logits(w1, b1, w2, b2):
        return images.linear(w1, b1).relu().linear(w2, b2)

    ours = tuple(Tensor(p) for p in params)
    directions = tuple(Tensor(v) for v in vs)
    hvp = {"engine": lambda: functional.hvp(loss, ours, directions),
           "engine, vhp (reverse over reverse)": lambda: functional.vhp(loss, ours, directions)}
    jvp = {"engine": lambda: functional.jvp(logits, ours, directions)}
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        tp, tv = tuple(torch.from_numpy(p) for p in params), tuple(torch.from_numpy(v) for v in vs)

        def tlogits(w1, b1, w2, b2):
            return torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(tx, w1, b1)), w2, b2)

        def tloss(*ps):
            return torch.nn.functional.cross_entropy(tlogits(*ps), ty)
        hvp["torch"] = lambda: torch.autograd.functional.hvp(tloss, tp, tv)
        jvp["torch"] = lambda: torch.func.jvp(tlogits, tp, tv)
    yield "HVP of the MLP's loss, batch 64 (all weights)", hvp
    yield "JVP of the MLP's logits, batch 64 (all weights)", jvp
