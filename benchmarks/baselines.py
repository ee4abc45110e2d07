"""What the engine is compared with: the same training arithmetic in plain numpy and in PyTorch.

Imported by run.py for the in-process timings, and runnable as a whole process
for the start-to-finish comparison (the tutorial's default run, 10 epochs):

    python benchmarks/baselines.py numpy
    python benchmarks/baselines.py torch
"""
from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from tinygrad_mnist.datasets import mnist


def float_data():
    """MNIST as float32 in 0..1 (what numpy and PyTorch users feed their models) and int64 labels."""
    d = mnist.load()
    scale = np.float32(1 / 255)
    return (d.train_images.numpy().astype(np.float32) * scale, d.train_labels.numpy().astype(np.int64),
            d.test_images.numpy().astype(np.float32) * scale, d.test_labels.numpy().astype(np.int64))


# ---------------------------------------------------------------- hand-written numpy

def numpy_linear_epoch(x, y, xt, yt, lr: float = 0.1) -> Callable[[], float]:
    """The tutorial's epoch in plain numpy: full-batch step on zero-initialised weights, then test accuracy."""
    w = np.zeros((10, 784), np.float32)
    b = np.zeros(10, np.float32)
    n, rows = len(y), np.arange(len(y))

    def epoch() -> float:
        nonlocal w, b
        z = x @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[rows, y].mean()
        g = np.exp(logp)
        g[rows, y] -= 1
        g /= n
        w -= np.float32(lr) * (g.T @ x)
        b -= np.float32(lr) * g.sum(axis=0)
        np.mean((xt @ w.T + b).argmax(axis=1) == yt)
        return float(loss)
    return epoch


# ---------------------------------------------------------------- PyTorch

def torch_model(kind: str):
    import torch
    from torch import nn
    if kind == "linear":
        model = nn.Linear(784, 10)
        nn.init.zeros_(model.weight)
        nn.init.zeros_(model.bias)
        return model
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))

    class ConvNet(nn.Module):  # Candle's CNN
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 32, 5), nn.Conv2d(32, 64, 5)
            self.fc1, self.fc2 = nn.Linear(1024, 1024), nn.Linear(1024, 10)
            self.dropout = nn.Dropout(0.5)

        def forward(self, x):
            x = x.reshape(-1, 1, 28, 28)
            x = torch.max_pool2d(self.c1(x), 2)
            x = torch.max_pool2d(self.c2(x), 2)
            return self.fc2(self.dropout(torch.relu(self.fc1(x.flatten(1)))))
    return ConvNet()


def torch_epoch(kind: str, x, y, xt, yt, lr: float, batch_size: int = 0, steps: int = 0,
                optimizer: str = "sgd") -> Callable[[], float]:
    """One epoch (or `steps` minibatch steps) of training plus test accuracy, in PyTorch."""
    import torch
    torch.manual_seed(0)
    tx, ty, txt, tyt = (torch.from_numpy(a) for a in (x, y, xt, yt))
    model = torch_model(kind)
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.AdamW)(model.parameters(), lr=lr)
    n = len(ty)

    def step(xs, ys) -> float:
        opt.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log_softmax(model(xs), dim=1), ys)
        loss.backward()
        opt.step()
        return loss.item()

    def epoch() -> float:
        model.train()
        if not batch_size:
            loss = step(tx, ty)
        else:
            order = torch.randperm(n)
            losses = [step(tx[idx], ty[idx]) for idx in order[:steps * batch_size or n].split(batch_size)]
            loss = sum(losses) / len(losses)
        if not steps:
            model.eval()
            with torch.no_grad():
                (model(txt).argmax(dim=1) == tyt).float().mean()
        return loss
    return epoch


def main(argv) -> int:
    which = argv[1] if len(argv) > 1 else ""
    if which not in ("numpy", "torch"):
        print("usage: python benchmarks/baselines.py numpy|torch", file=sys.stderr)
        return 2
    x, y, xt, yt = float_data()
    epoch = numpy_linear_epoch(x, y, xt, yt) if which == "numpy" else torch_epoch("linear", x, y, xt, yt, 0.1)
    for e in range(1, 11):
        print(f"Epoch: {e:4} Train Loss: {epoch():8.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
