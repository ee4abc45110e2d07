"""The engine's one random generator: weights, `Tensor.randn`, shuffling and dropout all draw
from it, so `seed(n)` makes a whole run repeat.

Data-parallel training keeps every rank's generator in step: each rank draws what one process
would for the whole batch and keeps its own rows (`batch_rows`, `draw_rows`), so a run's random
numbers, and so its result, do not depend on how many ranks share the batches.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional, Tuple

import numpy as np

_rng = np.random.default_rng()
_rows: Optional[Tuple[int, int, int]] = None  # (rows of the whole batch, first, end) inside batch_rows


_device: Optional[list] = None  # [seed, offset] of the GPU's draws (`device_draws`)


def seed(value: Optional[int]) -> None:
    """Restart the shared generator (None: from fresh OS entropy), the GPU's draws with it."""
    global _rng, _device
    _rng, _device = np.random.default_rng(value), None


def device_draws(n: int) -> Tuple[int, int]:
    """(seed, offset) for `n` draws on the GPU, whose generator is a counter-based hash (a draw is
    a function of seed and position, `cuda/kernels.py`): the seed comes from the shared generator
    at the first draw after `seed()`, the offset moves past every earlier draw."""
    global _device
    if _device is None:
        _device = [int(_rng.integers(1, 2 ** 62)), 0]
    start = _device[1]
    _device[1] += n
    return _device[0], start


def rng() -> np.random.Generator:
    """The shared generator behind every random draw of the library."""
    return _rng


@contextlib.contextmanager
def batch_rows(rows: int, lo: int, hi: int) -> Iterator[None]:
    """Inside, a batch's tensors hold rows lo..hi of a batch of `rows` (this rank's shard)."""
    global _rows
    previous, _rows = _rows, (rows, lo, hi)
    try:
        yield
    finally:
        _rows = previous


def draw_rows(draw: Callable[[tuple], np.ndarray], shape: tuple) -> np.ndarray:
    """`draw(shape)` for a tensor whose first dimension is the batch's: inside `batch_rows`, the
    whole batch's draws with only this shard's rows kept, so the generator moves as one process's
    would; elsewhere `draw(shape)` itself."""
    if _rows is None or not shape or shape[0] != _rows[2] - _rows[1]:
        return draw(shape)
    rows, lo, hi = _rows
    return draw((rows,) + tuple(shape[1:]))[lo:hi]
