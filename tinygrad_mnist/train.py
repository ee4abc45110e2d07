"""The MNIST trainer: `python -m tinygrad_mnist.train` (options: `--help`, or `man tinygrad-mnist-train`).

The Candle tutorial's program on this engine, plus Candle's MLP and CNN. It is
one client of the library: data from `datasets.mnist`, models from `models`,
parameters, optimizers and checkpoints from `nn`.

Failures are one line on stderr and a non-zero exit: 1 for data, checkpoint
and training errors, 2 for bad arguments, 130 for Ctrl-C. Nothing the user had
is lost: the save path is checked before training, checkpoints are written
atomically, and a run that diverges or is interrupted never writes a NaN or
half-trained checkpoint over a good one.
"""
from __future__ import annotations

if __name__ == "__main__":  # `python -m tinygrad_mnist.train`: settle the process before numpy loads
    from tinygrad_mnist.cli import start
    start()

import glob
import json
import math
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Optional, TextIO, Tuple

import numpy as np

from . import __version__, cli, kernels, resume
from .autograd import no_grad
from .datasets import mnist
from .models import IMAGE_DIM, MODELS
from .nn import SGD, AdamW, CheckpointError, Module, VarBuilder, VarMap, checkpoint, init
from .tensor import Tensor
from .trace import BackwardTrace
from .viz import to_dot

# Test images per forward pass. Only the CNN needs chunks (its im2col buffers for 10,000
# images would take 600 MB); the other models evaluate in one pass, which parallelises.
EVAL_BATCH = {"cnn": 1000}


class TrainingError(Exception):
    """Training cannot go on (diverged, or a setting this machine cannot honour)."""


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
    """--threads: how many threads the kernels split large work over."""
    if threads is not None:
        kernels.set_threads(threads)


def check_writable(path: str) -> None:
    """Fail now, not after training, if a checkpoint cannot be written at `path` (or where the
    symbolic link `path` points): no device, pipe or directory is ever replaced."""
    directory = os.path.dirname(checkpoint.save_target(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot write there: {err.strerror or err}") from None


def kernels_compiled() -> bool:
    """Whether numba's cache already holds the product kernels (else the first step compiles
    them, a few seconds). The numpy set, or no JIT, has nothing to compile."""
    if not kernels.impl.__name__.endswith("numba_kernels") or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return True
    source = os.path.dirname(kernels.impl.__file__)
    chosen = os.environ.get("NUMBA_CACHE_DIR")  # numba's own order: this, else beside the source, else per user
    places = [chosen] if chosen else [os.path.join(source, "__pycache__"), os.path.expanduser("~/.cache/numba")]
    return any(glob.glob(os.path.join(glob.escape(p), "**", "products._nt_rows-*.nbi"), recursive=True)
               for p in places)


def warm_up(model: Module, varmap: VarMap, quiet: bool = True) -> None:
    """One forward and backward pass on two blank images: loads (or compiles) the kernels a
    training step needs. Touches no weight and draws no random number (no dropout). The first
    run says on stderr that it compiles, instead of a silence of several seconds."""
    if not quiet and not kernels_compiled():
        print("Compiling the numba kernels (first run only; they are cached for the next runs)...",
              file=sys.stderr, flush=True)
    images = Tensor(np.zeros((2, IMAGE_DIM), np.uint8))
    model.eval().loss(images, Tensor(np.zeros(2, np.uint8))).backward()
    for v in varmap.all_vars():
        v.grad = None


def predict(model: Module, images: Tensor, batch: Optional[int] = None) -> np.ndarray:
    """The predicted class of each image, `batch` images per forward pass (default: all)."""
    batch = batch or max(len(images), 1)
    out = []
    model.eval()
    with no_grad():
        for start in range(0, len(images), batch):
            n = min(batch, len(images) - start)
            out.append(model(images.narrow(0, start, n)).argmax(axis=1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def accuracy(model: Module, images: Tensor, labels: Tensor, batch: Optional[int] = None) -> float:
    """Fraction of `images` whose largest logit is the label."""
    return float(np.mean(predict(model, images, batch) == labels.numpy())) if len(images) else 0.0


def epoch_line(epoch: int, train_loss: float, test_acc: float, seconds: float) -> str:
    """The tutorial's line: Rust's `{epoch:4}`, `{:8.5}`, `{:5.2}`, `{:.2}`."""
    return (f"Epoch: {epoch:4} Train Loss: {train_loss:8.5f} Test Acc: {100 * test_acc:5.2f}% "
            f"Epoch duration: {seconds:.2f} second.")


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

    def update(self, done: int, batch_loss: float, batch_samples: int) -> None:
        self.loss += batch_loss
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
        return (f"epoch {self.epoch}: batch {done}/{self.total}, loss {self.loss / done:.4f}, "
                f"{self.samples / elapsed:,.0f} samples/s, {left:.0f} s left")

    def _write(self, text: str) -> None:
        self.stream.write(f"\r{text:<78}" if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.last_done:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()


DIVERGED = 100.0  # a batch loss this many times the run's first one means divergence


def train_epoch(model: Module, optimizer, data: mnist.Dataset, batch_size: int, epoch: int,
                stop: StopRequest, show_progress: bool, first_loss: Optional[list] = None) -> Optional[float]:
    """One pass over the training set; the mean batch loss, or None if stopped part-way.
    `first_loss` ([None] at the start of a run) keeps the run's first batch loss across epochs."""
    images, labels = data.train_images, data.train_labels
    n = len(images)
    if batch_size >= n:  # the tutorial: full-batch gradient descent, in the stored order
        batches = [None]
    else:
        order = init.rng().permutation(n)
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    progress = Progress(epoch, len(batches), show_progress)
    model.train()
    total = 0.0
    for step, idx in enumerate(batches, start=1):
        xs, ys = (images, labels) if idx is None else (images[idx], labels[idx])
        batch_loss = model.loss(xs, ys)  # nll(log_softmax(model(xs))), dropout active (train mode)
        value = batch_loss.item()
        if first_loss is not None and first_loss[0] is None:
            first_loss[0] = value
        # a loss that is no longer finite, or has grown a hundredfold, is not coming back
        if not math.isfinite(value) or (first_loss and first_loss[0] and value > DIVERGED * first_loss[0]):
            progress.close()
            raise TrainingError(f"training diverged at epoch {epoch} (loss {value:.4g}); "
                                f"try a smaller --learning-rate (now {optimizer.learning_rate:g})")
        optimizer.backward_step(batch_loss)
        del batch_loss  # free this step's graph before the next forward pass allocates another
        total += value
        progress.update(step, value, len(ys))
        if stop.requested and step < len(batches):
            progress.close()
            return None
    progress.close()
    return total / len(batches)


def append_metrics(path: str, record: Optional[dict]) -> None:
    """Append one JSON line to the metrics file (with no record: just check it can be written).
    Opened per epoch, so no handle outlives a failed run and each line is on disk when printed."""
    try:
        with open(path, "a") as f:
            if record is not None:
                f.write(json.dumps(record) + "\n")
    except OSError as err:
        raise TrainingError(f"{path}: cannot write metrics: {err.strerror or err}") from None


def write_graph(path: str, model: Module, data: mnist.Dataset, batch_size: int, say) -> int:
    """The DOT graph of one training step, the first batch of the stored order (`batch_size` images),
    drawn with its backward pass: the order backward visits the ops and the gradients on the edges."""
    xs, ys = data.train_images.narrow(0, 0, batch_size), data.train_labels.narrow(0, 0, batch_size)
    xs.name, ys.name = "images", "labels"
    step_loss = model.train().loss(xs, ys)
    step_loss.name = "loss"
    record = BackwardTrace()
    step_loss.backward(trace=record)
    try:
        with open(path, "w") as f:
            f.write(to_dot(step_loss, show_grad=True, trace=record))
    except OSError as err:
        raise TrainingError(f"{path}: cannot write the graph: {err.strerror or err}") from None
    say(f"Wrote the graph of one training step (the first {batch_size} training images, "
        f"forward and backward) to {path}")
    return 0


def checkpoint_model(path: Optional[str], requested: Optional[str]) -> Optional[str]:
    """The model a checkpoint's metadata names, checked against `--model` if both are given."""
    if not path:
        return None
    held = checkpoint.metadata(path).get("model")
    if requested and held in MODELS and held != requested:
        raise CheckpointError(f"{path}: holds a {held} model, not --model {requested}")
    return held if held in MODELS else None


def settings_of(args, resumed: Optional[resume.TrainingState]) -> Tuple[str, float, float, str, int, int]:
    """Model, learning rate and its decay per epoch, optimizer, batch size and seed: the command
    line's, else the resumed run's, else the model's defaults."""
    held = checkpoint_model(args.resume or args.load_model_path, args.model)  # checks a --model given too
    kind = args.model or held or "linear"
    was = resumed.settings if resumed else {}
    lr = args.learning_rate if args.learning_rate is not None else float(
        was.get("learning_rate", cli.DEFAULT_LEARNING_RATE[kind]))
    decay = args.lr_decay if args.lr_decay is not None else float(
        was.get("lr_decay", cli.DEFAULT_LR_DECAY[kind]))
    optimizer_name = args.optimizer or was.get("optimizer") or cli.DEFAULT_OPTIMIZER[kind]
    batch = args.batch_size or int(was.get("batch_size", 0)) or cli.DEFAULT_BATCH_SIZE[kind] or sys.maxsize
    seed = args.seed if args.seed is not None else int(was.get("seed", 0))
    return kind, lr, decay, optimizer_name, batch, seed


def run(args, out: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    resumed = resume.load(args.resume) if args.resume else None
    kind, lr, decay, optimizer_name, batch_size, seed = settings_of(args, resumed)

    def say(line: str) -> None:
        if not args.quiet:
            try:
                print(line, file=out, flush=True)
            except BrokenPipeError:
                raise
            except OSError as err:  # /dev/full, a closed terminal
                raise TrainingError(f"cannot write to standard output: {err.strerror or err}") from None

    set_threads(args.threads)
    if args.save_model_path:
        check_writable(args.save_model_path)
    if args.metrics_out:
        append_metrics(args.metrics_out, None)  # fail now if it cannot be written

    # Decompressing the data releases the GIL: do it while this thread loads the compiled kernels.
    with ThreadPoolExecutor(1) as loader:
        pending = loader.submit(mnist.load, args.local_mnist)
        init.seed(seed)
        varmap = VarMap()
        model = MODELS[kind](VarBuilder.from_varmap(varmap))
        warm_up(model, varmap, args.quiet)
        data = pending.result()
    if len(data.train_images) == 0:
        raise TrainingError(f"{data.source or 'the dataset'}: has no training images")
    say(f"Train Images: {list(data.train_images.shape)}")
    say(f"Train Labels: {list(data.train_labels.shape)}")
    say(f"Test Images: {list(data.test_images.shape)}")
    say(f"Test Labels: {list(data.test_labels.shape)}")

    previous = 0  # epochs the loaded weights had already been trained for
    source = args.resume or args.load_model_path
    if source:
        say(f"{'Resuming' if args.resume else 'Loading model'} from {source}")
        trained = varmap.load(source).get("epochs", "")
        previous = resumed.epoch if resumed else int(trained) if trained.isdigit() else 0
    if args.graph:
        return write_graph(args.graph, model, data, min(batch_size, len(data.train_images)), say)
    optimizer = (SGD if optimizer_name == "sgd" else AdamW)(varmap.all_vars(), lr)
    if resumed:
        try:
            optimizer.load_state(resumed.arrays, resumed.numbers)
            init.rng().bit_generator.state = resumed.rng
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{args.resume}{resume.SUFFIX}: cannot be resumed: {err}") from None
    settings = {"model": kind, "optimizer": optimizer_name, "learning_rate": repr(lr), "lr_decay": repr(decay),
                "batch_size": str(batch_size if batch_size < sys.maxsize else 0), "seed": str(seed)}
    first = resumed.epoch + 1 if resumed else 1  # a resumed run's epochs continue its numbering
    epochs = args.epochs if args.epochs is not None else cli.DEFAULT_EPOCHS[kind]

    if args.metrics_out:  # one header record per run, so a file of several runs can be told apart
        append_metrics(args.metrics_out, {"run": {
            **settings, "learning_rate": lr, "lr_decay": decay, "batch_size": int(settings["batch_size"]), "seed": seed,
            "epochs": epochs, "first_epoch": first, "threads": kernels.get_threads(),
            "resumed_from": args.resume, "loaded_from": args.load_model_path, "version": __version__,
            "units": {"test_acc": "percent", "seconds": "wall-clock seconds per epoch"}}})

    completed: Optional[Dict[str, np.ndarray]] = None  # weights after the last completed epoch
    snapshot: Optional[resume.TrainingState] = None   # and what resuming from there needs
    epochs_done = 0
    first_loss: list = [None]
    with StopRequest() as stop:
        for epoch in range(first, first + epochs):
            start = time.perf_counter()
            optimizer.set_learning_rate(lr * decay ** (epoch - 1))  # a resumed run continues the schedule
            train_loss = train_epoch(model, optimizer, data, batch_size, epoch, stop, not args.quiet, first_loss)
            if train_loss is None:
                break
            if not all(np.isfinite(v.data).all() for v in varmap.all_vars()):
                raise TrainingError(f"training diverged at epoch {epoch} (the weights are no longer finite); "
                                    f"try a smaller --learning-rate (now {lr:g})")
            test_acc = accuracy(model, data.test_images, data.test_labels, EVAL_BATCH.get(kind))
            seconds = time.perf_counter() - start
            say(epoch_line(epoch, train_loss, test_acc, seconds))
            if args.metrics_out:  # test accuracy in percent, as the epoch line prints it
                append_metrics(args.metrics_out, {"epoch": epoch, "train_loss": train_loss,
                                                  "test_acc": 100 * test_acc, "seconds": seconds,
                                                  "learning_rate": optimizer.learning_rate})
            epochs_done += 1
            if args.save_model_path:
                completed = {k: v.copy() for k, v in varmap.data().items()}
                snapshot = resume.TrainingState.take(optimizer, init.rng(), previous + epochs_done, settings)
            if stop.requested:
                break
        interrupted = stop.requested

    meta = {"model": kind, "epochs": previous + epochs_done, "optimizer": optimizer_name, "learning_rate": lr}
    if decay != 1:  # the tutorial's checkpoints keep their metadata as they were
        meta["lr_decay"] = decay
    if interrupted:
        if completed is not None:  # roll back any half-done epoch, keep the last whole one
            for name, arr in completed.items():
                varmap[name].data[...] = arr
            save_run(args.save_model_path, varmap, meta, snapshot)
            print(f"Interrupted: saved the weights of epoch {first + epochs_done - 1} in {args.save_model_path}",
                  file=sys.stderr)
        else:
            print("Interrupted: no epoch completed, nothing saved" if args.save_model_path
                  else "Interrupted", file=sys.stderr)
        return 130
    if args.save_model_path:
        say(f"Saving trained weight in {args.save_model_path}")
        if snapshot is None:  # no epoch ran (--epochs 0): what resuming needs is as it was loaded
            snapshot = resume.TrainingState.take(optimizer, init.rng(), previous, settings)
        save_run(args.save_model_path, varmap, meta, snapshot)
    return 0


def save_run(path: str, varmap: VarMap, meta: dict, snapshot: resume.TrainingState) -> None:
    """The checkpoint (Candle's names only), then beside it what `--resume` needs."""
    varmap.save(path, meta)
    resume.save(path, snapshot)


def run_command(parser, run_fn, argv=None) -> int:
    """Parse `argv` and run: expected failures become one line on stderr and an exit status.
    numpy's floating-point warnings (overflow in a diverging run) never reach the user: a
    diverged run is one line saying so."""
    args = parser.parse_args(argv)
    try:
        with np.errstate(all="ignore"):
            return run_fn(args)
    except (mnist.DatasetError, CheckpointError, TrainingError) as err:
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


def main(argv=None) -> int:
    return run_command(cli.train_parser(), run, argv)


def entry() -> None:
    """The `tinygrad-mnist-train` command and `python -m tinygrad_mnist.train`."""
    exit_now(main())


if __name__ == "__main__":
    entry()
