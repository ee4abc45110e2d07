"""Datasets and batches, PyTorch's `torch.utils.array`: `Dataset`, `TensorDataset`, `DataLoader`
(batch_size, shuffle with a generator, drop_last), `random_split`.

A batch of a `TensorDataset` is gathered in one indexing per tensor (not item by item and
stacked), so a loader over MNIST's 60,000 images costs what the trainer's own batching costs.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np

from ..generator import rng
from ..tensor import Tensor, stack


class Dataset:
    """Anything with `__getitem__(i)` and `__len__()`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Rows of tensors of one length: item i is `(t[i] for t in tensors)`."""

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        if any(len(t) != len(self.tensors[0]) for t in self.tensors):
            raise ValueError(f"TensorDataset: size mismatch between tensors {[len(t) for t in self.tensors]}")

    def __getitem__(self, index: Any) -> tuple:
        return tuple(Tensor(t.array[index]) for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, np.ndarray):
            return self.dataset[np.asarray(self.indices)[index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class Generator:
    """PyTorch's `torch.Generator` for a loader's shuffling: `Generator().manual_seed(0)`."""

    def __init__(self, device: Any = "cpu"):
        self._rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> "Generator":
        self._rng = np.random.default_rng(seed)
        return self

    def permutation(self, n: int) -> np.ndarray:
        return self._rng.permutation(n)


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Optional[Generator] = None) -> List[Subset]:
    """Disjoint random subsets of the given lengths (or fractions that sum to 1)."""
    n = len(dataset)
    if all(0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) != n:
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = [int(x) for x in lengths]
    if sum(sizes) != n:
        raise ValueError("random_split: the lengths do not add up to the dataset's length")
    order = (generator or Generator()).permutation(n) if generator else rng().permutation(n)
    starts = np.cumsum([0] + sizes)
    return [Subset(dataset, order[a:b].tolist()) for a, b in zip(starts[:-1], starts[1:])]


class DataLoader:
    """Batches of a dataset: `batch_size` items (the last batch smaller unless `drop_last`), in
    order or, with `shuffle`, in a new random order each epoch (from `generator`, else the
    engine's generator, so `manual_seed` makes it repeat). A batch of tuples is a tuple of stacked
    tensors, as PyTorch's default collate makes."""

    def __init__(self, dataset: Dataset, batch_size: Optional[int] = 1, shuffle: bool = False, sampler: Any = None,
                 batch_sampler: Any = None, num_workers: int = 0, collate_fn: Any = None, pin_memory: bool = False,
                 drop_last: bool = False, generator: Optional[Generator] = None, **unused: Any):
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if sampler is not None or batch_sampler is not None:
            raise NotImplementedError("DataLoader: samplers are not implemented; use shuffle= and a generator")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator, self.collate_fn = generator, collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return self.generator.permutation(n) if self.generator is not None else rng().permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order, size = self._order(), self.batch_size
        if size is None:
            yield from (self.dataset[int(i)] for i in order)
            return
        for start in range(0, len(order), size):
            idx = order[start:start + size]
            if self.drop_last and len(idx) < size:
                return
            yield self._batch(idx)

    def _batch(self, idx: np.ndarray) -> Any:
        if self.collate_fn is None and isinstance(self.dataset, (TensorDataset, Subset)):
            return self.dataset[idx]  # one gather per tensor
        items = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(items)


def default_collate(items: List[Any]) -> Any:
    """Stack a list of items: tensors (or numbers) into one tensor, tuples field by field."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(field)) for field in zip(*items))
    if isinstance(first, Tensor):
        return stack(items)
    return Tensor(np.asarray(items))
