"""benchmarks/gpu.py's training workloads: the engine's through the trainer's code with the model
and data on the GPU, and PyTorch's same models on the same GPU (None without CUDA PyTorch)."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

import workloads
from tinygrad_mnist.app import cli
from tinygrad_mnist.datasets import mnist


def engine_run(kind: str, data: mnist.Dataset, batch: int, rows: Optional[int]) -> Callable[[], float]:
    """One epoch (with the test accuracy) or, with `rows`, one step on them, with the model and
    the data on the GPU: benchmarks/workloads.py's epoch, through the trainer's code."""
    return workloads.engine_epoch(kind, _first(data, rows), batch, evaluate=rows is None, device="cuda")


def _first(data: mnist.Dataset, rows: Optional[int]) -> mnist.Dataset:
    return data if rows is None else workloads.first_rows(data, rows)


def torch_run(kind: str, data: mnist.Dataset, batch: int, rows: Optional[int]) -> Optional[Callable[[], None]]:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    nn, dev = torch.nn, torch.device("cuda")
    torch.manual_seed(0)
    model = {"linear": lambda: nn.Linear(784, 10),
             "mlp": lambda: nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10)),
             "cnn": lambda: nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5), nn.MaxPool2d(2),
                                          nn.Conv2d(32, 64, 5), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 1024),
                                          nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))}[kind]().to(dev)
    train = _first(data, rows)
    x = torch.from_numpy(np.asarray(train.train_images.array)).to(dev)
    y = torch.from_numpy(np.asarray(train.train_labels.array).astype(np.int64)).to(dev)
    xt = torch.from_numpy(np.asarray(data.test_images.array)).to(dev)
    lr = cli.DEFAULT_LEARNING_RATE[kind]
    opt = (torch.optim.SGD if cli.DEFAULT_OPTIMIZER[kind] == "sgd" else torch.optim.AdamW)(model.parameters(), lr)

    def run() -> None:
        model.train()
        order = torch.randperm(len(x), device=dev) if batch < len(x) else torch.arange(len(x), device=dev)
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss = nn.functional.cross_entropy(model(x[idx].float() / 255), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if rows is None:
            model.eval()
            with torch.no_grad():
                model(xt.float() / 255).argmax(1)
    return run
