"""The workloads: kernels at MNIST shapes, the convolutions, and training epochs through the
trainer's own code, each as a set of implementations to compare side by side."""
from __future__ import annotations

from typing import Callable

import numpy as np

try:
    import torch
except ImportError:
    torch = None

import baselines
from tinygrad_mnist import kernels
from tinygrad_mnist.app import cli
from tinygrad_mnist.app.device import place, upload
from tinygrad_mnist.app.epoch import train_epoch
from tinygrad_mnist.app.inference import EVAL_BATCH, accuracy
from tinygrad_mnist.app.runner import StopRequest
from tinygrad_mnist.datasets import mnist
from tinygrad_mnist.devices import check
from tinygrad_mnist.kernels import numba_kernels, numpy_kernels
from tinygrad_mnist.app.models import MODELS
from tinygrad_mnist.nn import SGD, AdamW, VarBuilder, VarMap, init


def kernel_workloads(rng):
    """1. The kernels at MNIST shapes (60,000 × 784 pixels, 10 classes)."""
    x8 = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
    x8[rng.random(x8.shape) < 0.8] = 0  # MNIST-like: about a fifth of the pixels are ink
    x32 = x8.astype(np.float32)
    w = (rng.standard_normal((10, 784)) * 0.01).astype(np.float32)
    g = rng.standard_normal((60000, 10)).astype(np.float32)
    t = rng.integers(0, 10, 60000).astype(np.uint8)
    lp = numpy_kernels.log_softmax(g)
    cases = {
        "matmul X@W.T uint8": lambda k: (lambda: k.matmul(x8, w.T, 1 / 255)),
        "matmul X@W.T float32": lambda k: (lambda: k.matmul(x32, w.T)),
        "dW = G.T@X uint8": lambda k: (lambda: k.matmul(g.T, x8, 1 / 255)),
        "dW = G.T@X float32": lambda k: (lambda: k.matmul(g.T, x32)),
        "log_softmax": lambda k: (lambda: k.log_softmax(g)),
        "log_softmax backward": lambda k: (lambda: k.log_softmax_backward(g, lp)),
        "nll": lambda k: (lambda: k.nll(lp, t)),
        "nll backward": lambda k: (lambda: k.nll_backward(1.0, t, lp)),
    }
    torch_cases = {}
    if torch is not None:
        tx8, tx32, tw, tg = map(torch.from_numpy, (x8, x32, w, g))
        tt, tlp = torch.from_numpy(t.astype(np.int64)), torch.from_numpy(lp)
        torch_cases = {
            "matmul X@W.T uint8": lambda: (tx8.float() @ tw.T) / 255,
            "matmul X@W.T float32": lambda: tx32 @ tw.T,
            "dW = G.T@X uint8": lambda: (tg.T @ tx8.float()) / 255,
            "dW = G.T@X float32": lambda: tg.T @ tx32,
            "log_softmax": lambda: torch.log_softmax(tg, dim=1),
            "log_softmax backward": lambda: tg - tlp.exp() * tg.sum(dim=1, keepdim=True),
            "nll": lambda: torch.nn.functional.nll_loss(tlp, tt),
        }
    for name, make in cases.items():
        impls = {"numba": make(numba_kernels), "numpy twin": make(numpy_kernels)}
        if name in torch_cases:
            impls["torch"] = torch_cases[name]
        yield name, impls


def conv_workloads(rng):
    """1b. Candle's two convolutions on a batch of 64, forward and backward, through the engine."""
    from tinygrad_mnist import Tensor
    shapes = {"conv1 64×1×28×28 ⋆ 32×1×5×5": ((64, 1, 28, 28), (32, 1, 5, 5), np.uint8),
              "conv2 64×32×12×12 ⋆ 64×32×5×5": ((64, 32, 12, 12), (64, 32, 5, 5), np.float32)}
    for name, (xs, ws, dtype) in shapes.items():
        x = rng.integers(0, 256, xs, dtype=np.uint8) if dtype == np.uint8 else rng.standard_normal(xs).astype(dtype)
        w = (rng.standard_normal(ws) * 0.05).astype(np.float32)
        b = np.zeros(ws[0], np.float32)
        x = x.astype(np.float32) / 255 if dtype == np.uint8 else x  # pixels as 0..1, as the CNN reads them

        def engine(backend, x=x, w=w, b=b, grad_x=dtype != np.uint8):
            def step():
                with kernels.use(backend):
                    wt, bt = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
                    y = Tensor(x, requires_grad=grad_x).conv2d(wt, bt)
                    y.backward(np.ones(y.shape, np.float32))
            return step
        impls = {"numba": engine("numba"), "numpy twin": engine("numpy")}
        if torch is not None:
            tx = torch.from_numpy(x)

            def torch_step(tx=tx, w=w, b=b, grad_x=dtype != np.uint8):
                tw, tb = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
                y = torch.nn.functional.conv2d(tx.detach().requires_grad_(grad_x), tw, tb)
                y.backward(torch.ones_like(y))
            impls["torch"] = torch_step
        yield name + ", forward + backward", impls


def engine_epoch(kind: str, data: mnist.Dataset, batch_size: int, backend: str = "numba",
                 evaluate: bool = True, device: str = "cpu") -> Callable[[], float]:
    """One epoch through the trainer's own code (train_epoch, then accuracy), on kernel set
    `backend`, or with `device` "cuda" the model and the data on the GPU (benchmarks/gpu.py)."""
    init.seed(0)
    varmap = VarMap()
    model = place(MODELS[kind](VarBuilder.from_varmap(varmap)), check(device))
    data = upload(data, check(device))
    lr = cli.DEFAULT_LEARNING_RATE[kind]
    opt = (SGD if cli.DEFAULT_OPTIMIZER[kind] == "sgd" else AdamW)(varmap.all_vars(), lr)
    stop = StopRequest()  # never entered: no signal handler, never requested

    def epoch() -> float:
        with kernels.use(backend):
            loss = train_epoch(model, opt, data, batch_size, 1, stop, False)
            if evaluate:
                accuracy(model, data.images("test", model.sparse_input), data.test_labels, EVAL_BATCH.get(kind))
        return loss
    return epoch


def first_rows(data: mnist.Dataset, rows: int) -> mnist.Dataset:
    """The data set with its first `rows` training images only."""
    return mnist.Dataset(data.train_images.narrow(0, 0, rows), data.train_labels.narrow(0, 0, rows),
                         data.test_images, data.test_labels)


def cnn_step(data: mnist.Dataset) -> Callable[[], float]:
    """One CNN training step on the first 64 training images, through the trainer's code."""
    return engine_epoch("cnn", first_rows(data, 64), 64, evaluate=False)


def epoch_workloads(data: mnist.Dataset, floats, quick: bool):
    """2-4. Training epochs and steps: the engine against numpy and PyTorch."""
    x, y, xt, yt = floats
    full = 1 << 62
    impls = {"engine": engine_epoch("linear", data, full),
             "engine, numpy kernels": engine_epoch("linear", data, full, "numpy"),
             "hand-written numpy": baselines.numpy_linear_epoch(x, y, xt, yt)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("linear", x, y, xt, yt, 0.1)
    yield "tutorial epoch: linear, full batch, + test accuracy", impls

    impls = {"engine": engine_epoch("mlp", data, full)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("mlp", x, y, xt, yt, cli.DEFAULT_LEARNING_RATE["mlp"])
    yield "MLP epoch, full batch, + test accuracy", impls

    impls = {"engine": engine_epoch("mlp", data, 64)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("mlp", x, y, xt, yt, cli.DEFAULT_LEARNING_RATE["mlp"], batch_size=64)
    yield "MLP epoch, batch 64 (938 steps), + test accuracy", impls

    impls = {"engine": cnn_step(data)}
    if torch is not None:
        impls["torch"] = baselines.torch_epoch("cnn", x[:64], y[:64], xt, yt, 0.001, batch_size=64, steps=1,
                                               optimizer="adamw")
    yield "CNN training step, batch 64", impls
