"""`DataParallel`: one model replica per rank, each rank a shard of every batch, gradients summed
across the ranks before each step (PyTorch's DistributedDataParallel, on a `Group`).

Why this is the full-batch gradient: a rank's loss is the mean over its n_r rows, so its
gradient is (1/n_r) Σ_r ∇ℓᵢ. Scaled by its share n_r / n and summed over the ranks, that is
(1/n) Σ ∇ℓᵢ, the gradient one process computes on the whole batch (to float rounding: the
sums are added in another order). Shares need not be equal: the last batch of an epoch, or a
batch smaller than the job, gives some ranks fewer rows, or none.

Each parameter's gradient hook scales what backward sends it by the rank's share, before it
is added to `.grad`, so gradients accumulated over several batches (`no_sync`) are each
weighted by their own batch's share. Gradients travel in buckets of about `bucket_bytes`,
filled in reverse registration order (the order backward finishes them: the last layer's
first). A parameter's post-accumulate hook copies its final `.grad` into its bucket; with
`overlap` (a choice, off by default), a full bucket's all-reduce starts at once, while backward
goes on with earlier layers. Measured on two cores it did not pay (docs/distributed.md: with
one thread a rank and no idle core, MPI's progress competes with backward for the same core). Buckets start strictly in order, so every
rank issues the same collectives in the same order whatever its timing. `synchronize()` starts
what has not started (a parameter that got no gradient counts as zeros), waits, and puts the
sums back into `.grad`.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, List, Tuple

import numpy as np

from ..generator import batch_rows
from ..nn import Module
from .group import Group, Work

DEFAULT_BUCKET_BYTES = 1 << 20


class Bucket:
    """Parameters whose gradients travel together, and the flat buffer they travel in."""

    def __init__(self, params: list):
        self.params = params
        dtype = np.result_type(*[p.dtype for p in params])
        self.offsets = np.cumsum([0] + [p.array.size for p in params])
        self.buffer = np.zeros(int(self.offsets[-1]), dtype)
        self.filled: set = set()
        self.work: "Work | None" = None

    def put(self, i: int, grad) -> None:
        self.buffer[self.offsets[i]:self.offsets[i + 1]] = np.asarray(grad).reshape(-1)
        self.filled.add(i)

    def ready(self) -> bool:
        return len(self.filled) == len(self.params)


class DataParallel(Module):
    """Wraps `module` for data-parallel training on `group`: rank 0's weights are broadcast at
    construction, `shard` gives this rank its rows of a batch, the hooks and `synchronize` sum
    the gradients. Calls, `loss`, `parameters` and the modes are the module's."""

    def __init__(self, module: Module, group: Group, bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                 overlap: bool = False):
        self.module, self.group, self.overlap = module, group, overlap
        self.share, self._sync = 1.0, True
        params = [p for p in module.parameters() if p.requires_grad]
        for p in params:  # every rank starts from rank 0's weights
            group.broadcast(p.array)
        self.buckets: List[Bucket] = []
        current, size = [], 0
        for p in reversed(params):
            current.append(p)
            size += p.array.nbytes
            if size >= bucket_bytes:
                self.buckets.append(Bucket(current))
                current, size = [], 0
        if current:
            self.buckets.append(Bucket(current))
        self._where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self._started = 0
        self._handles = [p.register_hook(self._scale) for p in params] + \
            [p.register_post_accumulate_grad_hook(self._ready) for p in params]

    # ---------------------------------------------------------------- the module's face
    sparse_input = property(lambda self: self.module.sparse_input)

    def forward(self, x):
        return self.module(x)

    def loss(self, x, targets):
        return self.module.loss(x, targets)

    def train(self, mode: bool = True) -> "DataParallel":
        self.module.train(mode)
        return self

    def eval(self) -> "DataParallel":
        return self.train(False)

    # ---------------------------------------------------------------- the batch and the gradients
    @contextlib.contextmanager
    def shard(self, rows: int) -> Iterator[Tuple[int, int]]:
        """This rank's contiguous rows `(lo, hi)` of a batch of `rows`; inside, the share of the
        gradient is (hi - lo) / rows and random draws per row (dropout) are the whole batch's
        rows lo..hi, as one process would draw them (`generator.batch_rows`)."""
        lo, hi = (rows * self.group.rank) // self.group.size, (rows * (self.group.rank + 1)) // self.group.size
        self.share = (hi - lo) / rows if rows else 0.0
        with batch_rows(rows, lo, hi):
            yield lo, hi

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside add to `.grad` on this rank only; the next one outside sums
        everything accumulated (gradient accumulation over several batches)."""
        self._sync = False
        try:
            yield
        finally:
            self._sync = True

    def _scale(self, grad):
        return None if self.share == 1.0 else grad * self.share

    def _ready(self, param) -> None:
        if not self._sync:
            return
        bucket, i = self._where[id(param)]
        bucket.put(i, param.grad.array)
        if self.overlap:
            self._start_ready()

    def _start_ready(self) -> None:
        """Start the buckets that are full, in order, up to the first that is not, and move the
        ones under way along: MPI progresses a non-blocking collective only inside MPI calls."""
        while self._started < len(self.buckets) and self.buckets[self._started].ready():
            self._start(self.buckets[self._started])
        for b in self.buckets[:self._started]:
            b.work.done()

    def _start(self, bucket: Bucket) -> None:
        bucket.work = self.group.all_reduce(bucket.buffer, wait=False)
        self._started += 1

    def synchronize(self) -> None:
        """After backward: every bucket summed across the ranks and back in `.grad` (a parameter
        without a gradient on this rank counts as zeros). Call it before the optimizer's step."""
        for b in self.buckets:
            for i, p in enumerate(b.params):
                if i not in b.filled:
                    b.put(i, np.zeros(p.shape, p.dtype) if p.grad is None else p.grad.array)
        while self._started < len(self.buckets):
            self._start(self.buckets[self._started])
        for b in self.buckets:
            b.work.wait()
            for i, p in enumerate(b.params):
                lo, hi = b.offsets[i], b.offsets[i + 1]
                p.grad = type(p).plain(b.buffer[lo:hi].reshape(p.shape).astype(p.dtype))
            b.filled.clear()
            b.work = None
        self._started = 0
