"""The engine's one random generator: weights, `Tensor.randn`, shuffling and dropout all draw
from it, so `seed(n)` makes a whole run repeat."""
from __future__ import annotations

from typing import Optional

import numpy as np

_rng = np.random.default_rng()


def seed(value: Optional[int]) -> None:
    """Restart the shared generator (None: from fresh OS entropy)."""
    global _rng
    _rng = np.random.default_rng(value)


def rng() -> np.random.Generator:
    """The shared generator behind every random draw of the library."""
    return _rng
