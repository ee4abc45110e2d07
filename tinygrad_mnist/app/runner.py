"""What every command-line program shares: its exit statuses, its output, its threads.

Failures are one line on stderr and an exit status: 1 for an expected failure (a
dataset, a checkpoint, or a `CommandError` of the program), 130 for Ctrl-C, 141
when the reader of standard output went away. Bad arguments exit 2 in the parser.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Callable, Optional, TextIO

import numpy as np

from .. import kernels
from ..datasets.mnist import DatasetError
from ..distributed.group import CollectiveTimeout, MPIMissing, exit_process
from ..nn.checkpoint import CheckpointError


class CommandError(Exception):
    """An expected failure of a program: one line on stderr, exit status 1."""


_rank = (0, 1)  # this process's rank and the job's size (app/job.py sets them)


def set_rank(rank: int, size: int) -> None:
    """In a job of several ranks, errors name the rank that had them; one every rank had alike
    (`shared`: a diverged loss they agreed on) is said by rank 0 alone."""
    global _rank
    _rank = (rank, size)


def say_error(prog: str, err: Exception) -> None:
    rank, size = _rank
    if size > 1 and getattr(err, "shared", False) and rank:
        return
    print(f"{f'rank {rank}: ' if size > 1 else ''}{prog}: error: {err}", file=sys.stderr, flush=True)


class StopRequest:
    """The first Ctrl-C (or SIGTERM) asks the loop to stop after the current step; a second one
    stops at once. In a data-parallel job (`agree`) a signal only marks this rank (`signalled`):
    the ranks agree at each step whether any was signalled and set `requested` together, so they
    stop at the same step; and a second signal within a second is the same Ctrl-C (a terminal
    signals every rank, and mpiexec forwards its own)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    SAME_CTRL_C = 1.0  # seconds

    def __init__(self, agree: bool = False) -> None:
        self.requested = self.signalled = False
        self.agree, self._first = agree, 0.0

    def _handler(self, signum, frame) -> None:
        if self.signalled and not (self.agree and time.monotonic() - self._first < self.SAME_CTRL_C):
            raise KeyboardInterrupt
        if not self.signalled:
            self.signalled, self._first = True, time.monotonic()
        self.requested = self.requested or not self.agree

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
    except (DatasetError, CheckpointError, CommandError, CollectiveTimeout, MPIMissing) as err:
        say_error(parser.prog, err)
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
    no thread has work. For the command line only; `main` returns normally. A rank of a
    data-parallel job leaves as `distributed.group.exit_process` says."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 141
    exit_process(code)
