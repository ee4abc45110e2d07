"""One epoch of training: the batches of a shuffle, a step on each, and the guard that ends a
run whose loss has diverged. In a data-parallel job (`distributed.DataParallel`) each rank
steps on its shard of every batch; the batch's loss and a stop request are agreed by all ranks
before backward, so they diverge, stop and print together."""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ..autograd import no_grad
from ..datasets import mnist
from ..generator import rng
from ..nn import Module, Optimizer
from ..tensor import Tensor
from .progress import Progress
from .runner import CommandError, StopRequest


class TrainingError(CommandError):
    """Training cannot go on (diverged, or a setting this machine cannot honour). `shared`: every
    rank of a job raised it from numbers they agreed on, so rank 0's line says it for all."""

    shared = False


class DivergenceGuard:
    """Ends a run whose batch loss is no longer finite, or has grown a hundredfold over the run's
    first one: such a loss is not coming back."""

    FACTOR = 100.0

    def __init__(self) -> None:
        self.first: Optional[float] = None  # the run's first batch loss, kept across epochs

    def check(self, value: float, epoch: int, learning_rate: float) -> None:
        if self.first is None:
            self.first = value
        if not math.isfinite(value) or (self.first and value > self.FACTOR * self.first):
            err = TrainingError(f"training diverged at epoch {epoch} (loss {value:.4g}); "
                                f"try a smaller --learning-rate (now {learning_rate:g})")
            err.shared = True  # the batch loss is the same number on every rank
            raise err


def batches_of(n: int, batch_size: int) -> list:
    """The epoch's batches: None for the whole set in its stored order (the tutorial's full-batch
    gradient descent), else index arrays of a fresh shuffle."""
    if batch_size >= n:
        return [None]
    order = rng().permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_epoch(model: Module, optimizer: Optimizer, data: mnist.Dataset, batch_size: int, epoch: int,
                stop: StopRequest, show_progress: bool, guard: Optional[DivergenceGuard] = None) -> Optional[float]:
    """One pass over the training set; the mean batch loss, or None if stopped part-way. A
    data-parallel `model` (it has `synchronize`) steps on this rank's shard of each batch."""
    images, labels = data.images("train", model.sparse_input), data.train_labels
    guard = guard or DivergenceGuard()
    batches = batches_of(len(images), batch_size)
    on_gpu = images.device.type == "cuda"
    if on_gpu:
        batches = uploaded(batches, images.device)
    progress = Progress(epoch, len(batches), show_progress)
    model.train()
    total = 0.0
    for step, idx in enumerate(batches, start=1):
        try:
            if hasattr(model, "synchronize"):
                value = parallel_step(model, optimizer, images, labels, idx, stop, guard, epoch)
            elif on_gpu:  # the loss stays on the GPU, summed there: read once, at the epoch's end
                value = gpu_step(model, optimizer, images, labels, idx)
            else:
                value = step_on(model, optimizer, images, labels, idx, guard, epoch)
        except TrainingError:
            progress.close()
            raise
        total = total + value
        progress.update(step, None if on_gpu else value, len(labels) if idx is None else len(idx))
        if stop.requested and step < len(batches):
            progress.close()
            return None
    progress.close()
    if on_gpu:
        total = total.item()  # the epoch's one read of the loss (it waits for the GPU)
        guard.check(total / len(batches), epoch, optimizer.learning_rate)
    return total / len(batches)


def uploaded(batches: list, where) -> list:
    """The epoch's batches as index tensors on the GPU: the shuffle copied there once, each batch
    a view of it (None, the whole set, stays None)."""
    if batches == [None]:
        return batches
    order = Tensor(np.concatenate(batches), device=where)
    starts = np.cumsum([0] + [len(b) for b in batches])
    return [Tensor(order.array[int(a):int(b)]) for a, b in zip(starts[:-1], starts[1:])]


def gpu_step(model: Module, optimizer: Optimizer, images, labels, idx) -> Tensor:
    """One step on the GPU; its loss as a 0-d tensor there (reading it would wait for the GPU)."""
    xs, ys = (images, labels) if idx is None else (images[idx], labels[idx])
    batch_loss = model.loss(xs, ys)
    optimizer.backward_step(batch_loss)
    return batch_loss.detach()


def step_on(model: Module, optimizer: Optimizer, images, labels, idx, guard: DivergenceGuard, epoch: int) -> float:
    """One step on the batch `idx` (None: all of it); its loss."""
    xs, ys = (images, labels) if idx is None else (images[idx], labels[idx])
    batch_loss = model.loss(xs, ys)  # nll(log_softmax(model(xs))), dropout active (train mode)
    value = batch_loss.item()
    guard.check(value, epoch, optimizer.learning_rate)
    optimizer.backward_step(batch_loss)
    return value  # the step's graph goes with batch_loss, before the next forward allocates another


def parallel_step(model, optimizer: Optimizer, images, labels, idx, stop: StopRequest, guard: DivergenceGuard,
                  epoch: int) -> float:
    """One step of a data-parallel job: this rank's rows of the batch, the batch's loss (each
    rank's share of it, summed) and the stop request agreed before backward, the gradients
    summed by `model.synchronize()` before the step. A rank without rows (a batch smaller than
    the job) runs the forward pass all the same: it draws the batch's random numbers."""
    rows = len(labels) if idx is None else len(idx)
    with model.shard(rows) as (lo, hi):
        xs, ys = _rows(images, labels, idx, lo, hi)
        optimizer.zero_grad()
        if hi > lo:
            batch_loss = model.loss(xs, ys)
            local = batch_loss.item()
        else:
            with no_grad():
                model(xs)
            batch_loss, local = None, 0.0
    agreed = np.array([local * model.share, float(stop.signalled)])
    model.group.all_reduce(agreed)
    stop.requested = bool(agreed[1] > 0)  # any rank signalled: every rank stops after this step
    guard.check(float(agreed[0]), epoch, optimizer.learning_rate)
    if batch_loss is not None:
        batch_loss.backward()
        del batch_loss
    model.synchronize()
    optimizer.step()
    return float(agreed[0])


def _rows(images, labels, idx, lo: int, hi: int) -> Tuple:
    if idx is None:
        return images.narrow(0, lo, hi - lo), labels.narrow(0, lo, hi - lo)
    return images[idx[lo:hi]], labels[idx[lo:hi]]
