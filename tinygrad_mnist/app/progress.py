"""What a training run reports as it goes: the progress line on stderr during an epoch, the
tutorial's epoch line, and the records of the metrics file."""
from __future__ import annotations

import json
import sys
import time
from typing import Optional, TextIO

from .runner import CommandError


class Progress:
    """A progress line on stderr while an epoch of several batches runs: batches done, running loss,
    samples per second and time left. On a terminal it is redrawn in place; otherwise (a log
    file, a pipe) a plain line is written every `every_s` seconds or tenth of the epoch,
    whichever comes first, at most one a second. The epoch lines on stdout are untouched;
    --quiet silences this too."""

    def __init__(self, epoch: int, total: int, enabled: bool, stream: Optional[TextIO] = None,
                 clock=None, every_s: float = 10.0):
        self.stream = stream or sys.stderr
        self.epoch, self.total, self.enabled = epoch, total, enabled and total > 1
        self.tty = self.enabled and self.stream.isatty()
        self.clock, self.every_s = clock or time.perf_counter, every_s
        self.start = self.last_time = self.clock()
        self.last_done, self.loss, self.samples = 0, 0.0, 0

    def update(self, done: int, batch_loss: Optional[float], batch_samples: int) -> None:
        """`batch_loss` None: not known yet (on a GPU the loss is read once per epoch)."""
        self.loss = None if batch_loss is None or self.loss is None else self.loss + batch_loss
        self.samples += batch_samples
        if not self.enabled:
            return
        now = self.clock()
        if self.tty:
            due = done % 10 == 0 or done == self.total
        else:  # a tenth of the epoch (but not more than a line a second: short epochs stay quiet)
            since = now - self.last_time
            due = (done - self.last_done >= self.total / 10 and since >= 1.0) or since >= self.every_s
        if due and done < self.total:
            self.last_done, self.last_time = done, now
            self._write(self.line(done, now))

    def line(self, done: int, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        left = elapsed / done * (self.total - done)
        loss = "" if self.loss is None else f"loss {self.loss / done:.4f}, "
        return (f"epoch {self.epoch}: batch {done}/{self.total}, {loss}"
                f"{self.samples / elapsed:,.0f} samples/s, {left:.0f} s left")

    def _write(self, text: str) -> None:
        self.stream.write(f"\r{text:<78}" if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.last_done:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()


def epoch_line(epoch: int, train_loss: float, test_acc: float, seconds: float) -> str:
    """The tutorial's line: Rust's `{epoch:4}`, `{:8.5}`, `{:5.2}`, `{:.2}`."""
    return (f"Epoch: {epoch:4} Train Loss: {train_loss:8.5f} Test Acc: {100 * test_acc:5.2f}% "
            f"Epoch duration: {seconds:.2f} second.")


def append_metrics(path: str, record: Optional[dict]) -> None:
    """Append one JSON line to the metrics file (with no record: just check it can be written).
    Opened per epoch, so no handle outlives a failed run and each line is on disk when printed."""
    try:
        with open(path, "a") as f:
            if record is not None:
                f.write(json.dumps(record) + "\n")
    except OSError as err:
        raise CommandError(f"{path}: cannot write metrics: {err.strerror or err}") from None


def settings_line(settings, train_size: int, threads: int) -> str:
    """The settings in effect, in one line (`train --verbose` prints it on stdout, else stderr)."""
    batch = "the whole training set" if settings.batch_size >= train_size else str(settings.batch_size)
    decay = f", × {settings.lr_decay:g} per epoch" if settings.lr_decay != 1 else ""
    return (f"Settings: model {settings.model}, optimizer {settings.optimizer}, learning rate "
            f"{settings.learning_rate:g}{decay}, batch size {batch}, {settings.epochs} epochs, seed {settings.seed}, "
            f"{threads} thread{'s' if threads > 1 else ''}")


def busy_note(threads: int, cores: int, load: float) -> Optional[str]:
    """A note when other work keeps this machine's cores busy (the 1-minute load average) and the
    kernels' threads would wait for one: two threads on a machine with one core busy elsewhere
    ran the CNN at half the speed of one. The thread count is not changed behind the user's back,
    since results are bit-identical only for the same count."""
    idle = cores - load
    if threads < 2 or idle >= threads - 0.5:
        return None
    return (f"note: this machine is busy (load average {load:.1f} on {cores} cores); the kernels' {threads} "
            f"threads may wait for cores, and --threads {max(1, int(idle + 0.5))} may be faster")


def resume_command(path: str, epochs: int, local_mnist: Optional[str], threads: Optional[int]) -> str:
    """The command that continues an interrupted run where it stopped."""
    import shlex
    words = ["python", "-m", "tinygrad_mnist.train", "--resume", path, "--epochs", str(epochs)]
    words += ["--local-mnist", local_mnist] if local_mnist else []
    words += ["--threads", str(threads)] if threads else []
    return " ".join(shlex.quote(w) for w in words)
