"""What every command-line program shares: its exit statuses, its output, its threads.

Failures are one line on stderr and an exit status: 1 for an expected failure (a
dataset, a checkpoint, or a `CommandError` of the program), 130 for Ctrl-C, 141
when the reader of standard output went away. Bad arguments exit 2 in the parser.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Callable, Optional, TextIO

import numpy as np

from .. import kernels
from ..datasets.mnist import DatasetError
from ..nn.checkpoint import CheckpointError


class CommandError(Exception):
    """An expected failure of a program: one line on stderr, exit status 1."""


class StopRequest:
    """The first Ctrl-C (or SIGTERM) asks the loop to stop after the current step; a second one
    stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "StopRequest":
        self._previous = [signal.signal(s, self._handler) for s in self.SIGNALS]
        return self

    def __exit__(self, *exc) -> None:
        for s, previous in zip(self.SIGNALS, self._previous):
            signal.signal(s, previous)


def set_threads(threads: Optional[int]) -> None:
    """--threads: how many threads the kernels split large work over (None: the default)."""
    if threads is not None:
        kernels.set_threads(threads)


def printer(out: TextIO, quiet: bool = False) -> Callable[[str], None]:
    """A `say(line)` that writes to `out` (nothing when `quiet`) and turns a standard output that
    cannot be written (/dev/full, a closed terminal) into one line, not a traceback."""
    def say(line: str) -> None:
        if quiet:
            return
        try:
            print(line, file=out, flush=True)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise CommandError(f"cannot write to standard output: {err.strerror or err}") from None
    return say


def run_command(parser, run_fn: Callable, argv=None) -> int:
    """Parse `argv` and run: expected failures become one line on stderr and an exit status.
    numpy's floating-point warnings (overflow in a diverging run) never reach the user: a
    diverged run is one line saying so."""
    args = parser.parse_args(argv)
    try:
        with np.errstate(all="ignore"):
            return run_fn(args)
    except (DatasetError, CheckpointError, CommandError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141


def exit_now(code: int) -> None:
    """End the process with `code` once its output is flushed, skipping interpreter teardown.

    Dismantling numba's and LLVM's objects at exit takes 0.13 s, a sixth of the default
    run, and there is nothing left to do by then: checkpoints are written and fsynced, and
    no thread has work. For the command line only; `main` returns normally."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 141
    os._exit(code)
