"""Grad mode: whether ops record a graph, per thread (`no_grad`, `enable_grad`,
`set_grad_enabled`, re-exported by `autograd`, where PyTorch users look for them)."""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator


class _GradMode(threading.local):
    """Whether ops record a graph: per thread, as PyTorch's grad mode is (a loader thread's
    no_grad must not switch recording off for the training thread)."""
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Inside this block (on this thread) ops record a graph or not, as `mode` says."""
    previous, _mode.enabled = _mode.enabled, mode
    try:
        yield
    finally:
        _mode.enabled = previous


def no_grad():
    """Inside this block (on this thread) ops record nothing, so no graph is kept."""
    return set_grad_enabled(False)


def enable_grad():
    return set_grad_enabled(True)
