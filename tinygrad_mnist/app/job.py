"""The trainer as one rank of a data-parallel job: `mpiexec -n N python -m tinygrad_mnist.train`.

A job of one (no mpiexec) is the trainer as it always was. In a job of several ranks every rank
loads the data and builds the model; rank 0's weights are broadcast; each batch, still of
`--batch-size` images in all, is split into contiguous shards; the gradients are summed
(`distributed.DataParallel`); the test set is split too and the correct answers counted
exactly. Rank 0 alone prints the epoch lines and writes checkpoints and metrics; the others
print only their errors, prefixed with their rank. Threads: the cores this process may use,
divided among the ranks on this machine, unless `--threads` says otherwise.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..distributed import DataParallel, Group, init_group
from ..kernels.pool import usable_cores
from ..nn import Module
from .inference import accuracy, predict
from .runner import CommandError, set_rank


class Job:
    """This process's place in the job, and what differs with it."""

    def __init__(self, group: Group):
        self.group = group
        self.lead = group.rank == 0
        self.parallel = group.size > 1
        set_rank(group.rank, group.size)

    @staticmethod
    def start(args) -> "Job":
        return Job(init_group(args.collective_timeout))

    def threads(self, asked: Optional[int]) -> Optional[int]:
        """`--threads`, else in a job of several ranks this machine's cores shared among its ranks
        (None: the kernels' default, every core)."""
        if asked or not self.parallel:
            return asked
        return max(1, usable_cores() // self.group.local_size)

    def check(self, args, optimizer: str) -> None:
        """What a job of several ranks cannot do, refused before anything is loaded."""
        if not self.parallel:
            return
        if optimizer == "newton-cg":
            raise CommandError("--optimizer newton-cg runs in one process: its conjugate-gradient steps are "
                               "not split across ranks (run it without mpiexec)")
        if args.graph:
            raise CommandError("--graph draws one process's training step: run it without mpiexec")

    def wrap(self, model: Module) -> Module:
        """The model to train: itself, or in a job of several ranks its data-parallel replica."""
        return DataParallel(model, self.group) if self.parallel else model

    def accuracy(self, model: Module, images, labels, batch: Optional[int], stop) -> float:
        """The test accuracy: in a job, each rank predicts its shard and the counts are summed
        exactly; the ranks also agree there whether any was signalled during the epoch's end."""
        if not self.parallel:
            return accuracy(model, images, labels, batch)
        n = len(images)
        lo, hi = (n * self.group.rank) // self.group.size, (n * (self.group.rank + 1)) // self.group.size
        correct = int(np.sum(predict(model, images.narrow(0, lo, hi - lo), batch) == labels.numpy()[lo:hi])) \
            if hi > lo else 0
        counts = np.array([correct, int(stop.signalled)], np.int64)
        self.group.all_reduce(counts)
        stop.requested = stop.requested or bool(counts[1])
        return float(counts[0]) / n if n else 0.0
