"""Grad mode: whether ops record a graph, per thread (`no_grad`, `enable_grad`,
`set_grad_enabled`, re-exported by `autograd`, where PyTorch users look for them)."""
from __future__ import annotations

import contextlib
import threading


class _GradMode(threading.local):
    """Whether ops record a graph: per thread, as PyTorch's grad mode is (a loader thread's
    no_grad must not switch recording off for the training thread)."""
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class _Mode(contextlib.ContextDecorator):
    """A block (or, as a decorator, a function) in which ops record a graph or not."""

    def __init__(self, mode: bool):
        self.mode, self._previous = mode, []

    def __enter__(self) -> None:
        self._previous.append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _mode.enabled = self._previous.pop()


class set_grad_enabled(_Mode):
    """`mode` from now on, as PyTorch's: called as a function it switches recording on or off
    (on this thread) at once; as a context manager or decorator the previous mode comes back
    at the end."""

    def __init__(self, mode: bool):
        super().__init__(bool(mode))
        self._before = _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self) -> None:
        self._previous.append(self._before)

    def __call__(self, fn):  # a decorator: the mode only while fn runs
        _mode.enabled = self._before
        return super().__call__(fn)


def no_grad() -> _Mode:
    """Inside this block (on this thread) ops record nothing, so no graph is kept."""
    return _Mode(False)


def enable_grad() -> _Mode:
    return _Mode(True)
