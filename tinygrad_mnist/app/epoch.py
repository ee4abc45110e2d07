"""One epoch of training: the batches of a shuffle, a step on each, and the guard that ends a
run whose loss has diverged."""
from __future__ import annotations

import math
from typing import Optional

from ..datasets import mnist
from ..generator import rng
from ..nn import Module, Optimizer
from .progress import Progress
from .runner import CommandError, StopRequest


class TrainingError(CommandError):
    """Training cannot go on (diverged, or a setting this machine cannot honour)."""


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
            raise TrainingError(f"training diverged at epoch {epoch} (loss {value:.4g}); "
                                f"try a smaller --learning-rate (now {learning_rate:g})")


def batches_of(n: int, batch_size: int) -> list:
    """The epoch's batches: None for the whole set in its stored order (the tutorial's full-batch
    gradient descent), else index arrays of a fresh shuffle."""
    if batch_size >= n:
        return [None]
    order = rng().permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_epoch(model: Module, optimizer: Optimizer, data: mnist.Dataset, batch_size: int, epoch: int,
                stop: StopRequest, show_progress: bool, guard: Optional[DivergenceGuard] = None) -> Optional[float]:
    """One pass over the training set; the mean batch loss, or None if stopped part-way."""
    images, labels = data.images("train", model.sparse_input), data.train_labels
    guard = guard or DivergenceGuard()
    batches = batches_of(len(images), batch_size)
    progress = Progress(epoch, len(batches), show_progress)
    model.train()
    total = 0.0
    for step, idx in enumerate(batches, start=1):
        xs, ys = (images, labels) if idx is None else (images[idx], labels[idx])
        batch_loss = model.loss(xs, ys)  # nll(log_softmax(model(xs))), dropout active (train mode)
        value = batch_loss.item()
        try:
            guard.check(value, epoch, optimizer.learning_rate)
        except TrainingError:
            progress.close()
            raise
        optimizer.backward_step(batch_loss)
        del batch_loss  # free this step's graph before the next forward pass allocates another
        total += value
        progress.update(step, value, len(ys))
        if stop.requested and step < len(batches):
            progress.close()
            return None
    progress.close()
    return total / len(batches)
