"""The MNIST trainer: `python -m tinygrad_mnist.train` (options: `--help`, or `man tinygrad-mnist-train`).

The Candle tutorial's program on this engine, plus Candle's MLP and CNN. It is
one client of the library: data from `datasets.mnist`, models from `models`,
parameters, optimizers and checkpoints from `nn`.

`run` reads as its phases: settings, data and model, the weights to start from,
the epochs, the save. Failures are one line on stderr and a non-zero exit
(`runner.py`): 1 for data, checkpoint and training errors, 2 for bad
arguments, 130 for Ctrl-C. Nothing the user had
is lost: the save path is checked before training, checkpoints are written
atomically, and a run that diverges or is interrupted never writes a NaN or
half-trained checkpoint over a good one.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, TextIO

import numpy as np

from .. import files, kernels, viz
from . import cli, device, resume
from .._version import VERSION
from ..datasets import mnist
from ..generator import rng
from ..generator import seed as seed_generator
from .inference import EVAL_BATCH, build, checkpoint_model
from .job import Job
from .models import IMAGE_DIM
from ..nn import SGD, AdamW, CheckpointError, Module, NewtonCG, Optimizer, VarMap, checkpoint
from ..kernels.pool import usable_cores
from .epoch import DivergenceGuard, TrainingError, train_epoch
from .progress import append_metrics, busy_note, epoch_line, resume_command, settings_line
from .runner import StopRequest, exit_now, printer, run_command, set_threads
from ..tensor import Tensor
from ..trace import BackwardTrace


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


def warm_up(model: Module, varmap: VarMap, quiet: bool = True) -> None:
    """One forward and backward pass on two blank images: loads (or compiles) the kernels a
    training step needs. Touches no weight and draws no random number (no dropout). The first
    run says on stderr that it compiles, instead of a silence of several seconds."""
    if not quiet and not kernels.is_compiled():
        print("Compiling the numba kernels (first run only; they are cached for the next runs)...",
              file=sys.stderr, flush=True)
    images = Tensor(np.zeros((2, IMAGE_DIM), np.uint8))
    model.eval().loss(images, Tensor(np.zeros(2, np.uint8))).backward()
    for v in varmap.all_vars():
        v.grad = None


def write_graph(path: str, model: Module, data: mnist.Dataset, batch_size: int, say) -> int:
    """The graph of one training step, the first batch of the stored order (`batch_size` images),
    drawn with its backward pass: `.html` a page that steps through it, `.svg` a drawing (no
    Graphviz needed), anything else Graphviz DOT with the order backward visits the ops and the
    gradients on the edges."""
    xs, ys = data.images("train", model.sparse_input).narrow(0, 0, batch_size), data.train_labels.narrow(0, 0, batch_size)
    xs.name, ys.name = "images", "labels"
    step_loss = model.train().loss(xs, ys)
    step_loss.name = "loss"
    record = BackwardTrace()
    step_loss.backward(trace=record)
    try:
        viz.write(path, step_loss, record)
    except OSError as err:
        raise TrainingError(f"{path}: cannot write the graph: {err.strerror or err}") from None
    say(f"Wrote the graph of one training step (the first {batch_size} training images, "
        f"forward and backward) to {path}")
    return 0


@dataclass(frozen=True)
class Settings:
    """What a run trains with: the command line's choices, else the resumed run's, else the model's
    defaults (cli.py). `batch_size` is sys.maxsize for the whole training set."""
    model: str
    learning_rate: float
    lr_decay: float
    optimizer: str
    batch_size: int
    seed: int
    epochs: int

    @staticmethod
    def of(args, resumed: Optional[resume.TrainingState]) -> "Settings":
        held = checkpoint_model(args.resume or args.load_model_path, args.model)  # checks a --model given too
        kind = args.model or held or "linear"
        was = resumed.settings if resumed else {}

        def pick(given, key: str, defaults: dict, kind_of=float):
            return given if given is not None else kind_of(was.get(key, defaults[kind]))
        batch = args.batch_size or int(was.get("batch_size", 0)) or cli.DEFAULT_BATCH_SIZE[kind] or sys.maxsize
        optimizer = args.optimizer or was.get("optimizer") or cli.DEFAULT_OPTIMIZER[kind]
        rates = {k: cli.NEWTON_CG_LEARNING_RATE for k in cli.MODELS} if optimizer == "newton-cg" else \
            cli.DEFAULT_LEARNING_RATE
        return Settings(kind, pick(args.learning_rate, "learning_rate", rates),
                        pick(args.lr_decay, "lr_decay", cli.DEFAULT_LR_DECAY), optimizer, batch,
                        args.seed if args.seed is not None else int(was.get("seed", 0)),
                        args.epochs if args.epochs is not None else cli.DEFAULT_EPOCHS[kind])

    def stored(self) -> Dict[str, str]:
        """As the state file keeps them, for a resumed run to continue with."""
        return {"model": self.model, "optimizer": self.optimizer, "learning_rate": repr(self.learning_rate),
                "lr_decay": repr(self.lr_decay), "batch_size": str(self.batch_size if self.batch_size < sys.maxsize else 0),
                "seed": str(self.seed)}

    def checkpoint_metadata(self, epochs: int) -> dict:
        meta = {"model": self.model, "epochs": epochs, "optimizer": self.optimizer, "learning_rate": self.learning_rate}
        if self.lr_decay != 1:  # the tutorial's checkpoints keep their metadata as they were
            meta["lr_decay"] = self.lr_decay
        return meta


@dataclass
class Outcome:
    """How the epochs ended, and what a save needs."""
    first: int                                          # the number of the run's first epoch
    previous: int                                       # epochs the starting weights had been trained for
    epochs_done: int = 0
    completed: Optional[Dict[str, np.ndarray]] = None  # weights after the last completed epoch
    snapshot: Optional[resume.TrainingState] = None    # and what resuming from there needs
    interrupted: bool = False


def report_settings(args, settings: Settings, train_size: int, say, job: Job) -> None:
    """With --verbose, the settings line on stdout. On a busy machine, a note: on stdout with
    --verbose, else on stderr when it is a terminal (a person watching; a log keeps its errors
    to one line). Not in a job of several ranks, whose ranks share the cores by design."""
    if args.verbose:
        say(settings_line(settings, train_size, kernels.get_threads()))
    note = None if args.threads or args.quiet or job.parallel or not hasattr(os, "getloadavg") else \
        busy_note(kernels.get_threads(), usable_cores(), os.getloadavg()[0])
    if note and args.verbose:
        say(note)
    elif note and sys.stderr.isatty():
        print(note, file=sys.stderr)


def check_outputs(args) -> None:
    """Fail now, not after training, if what the run writes cannot be written."""
    if args.save_model_path:
        check_writable(args.save_model_path)
    if args.metrics_out:
        append_metrics(args.metrics_out, None)


def load_data_and_model(args, settings: Settings, where: device.device):
    """The dataset and the model, seeded. Decompressing the data releases the GIL: it runs on a
    second thread while this one loads (or compiles) the CPU's kernels (a GPU's compile at their
    first launch)."""
    with ThreadPoolExecutor(1) as loader:
        pending = loader.submit(mnist.load, args.local_mnist)
        seed_generator(settings.seed)
        model, varmap = build(settings.model)
        if where == device.CPU:
            warm_up(model, varmap, args.quiet)
        data = pending.result()
    if len(data.train_images) == 0:
        raise TrainingError(f"{data.source or 'the dataset'}: has no training images")
    return data, model, varmap


def start_from(args, varmap: VarMap, resumed: Optional[resume.TrainingState], say) -> int:
    """Load the weights the run starts from, if any; the epochs they had been trained for."""
    source = args.resume or args.load_model_path
    if not source:
        return 0
    saved_back = " (the run is saved back there)" if args.resume and args.save_model_path == args.resume else ""
    say(f"{'Resuming' if args.resume else 'Loading model'} from {source}{saved_back}")
    trained = varmap.load(source).get("epochs", "")
    return resumed.epoch if resumed else int(trained) if trained.isdigit() else 0


def make_optimizer(settings: Settings, varmap: VarMap, resumed: Optional[resume.TrainingState],
                   path: Optional[str]) -> Optimizer:
    kinds = {"sgd": SGD, "adamw": AdamW, "newton-cg": NewtonCG}
    optimizer = kinds[settings.optimizer](varmap.all_vars(), settings.learning_rate)
    if resumed:
        try:
            optimizer.load_checkpoint_state(resumed.arrays, resumed.numbers)
            rng().bit_generator.state = resumed.rng
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{resume.state_path(path)}: cannot be resumed: {err}") from None
    return optimizer


def run_record(args, settings: Settings, first: int) -> dict:
    """The header record of a run in the metrics file, so a file of several runs can be told apart."""
    return {"run": {**settings.stored(), "learning_rate": settings.learning_rate, "lr_decay": settings.lr_decay,
                    "batch_size": int(settings.stored()["batch_size"]), "seed": settings.seed,
                    "epochs": settings.epochs, "first_epoch": first, "threads": kernels.get_threads(),
                    "resumed_from": args.resume, "loaded_from": args.load_model_path, "version": VERSION,
                    "units": {"test_acc": "percent", "seconds": "wall-clock seconds per epoch"}}}


def train_epochs(args, settings: Settings, model: Module, varmap: VarMap, optimizer: Optimizer,
                 data: mnist.Dataset, outcome: Outcome, stop: StopRequest, say, job: Job) -> Outcome:
    """The epochs, each ending in its line, its metrics record and (when the run saves) a snapshot;
    Ctrl-C or SIGTERM stops after the current batch."""
    guard = DivergenceGuard()
    for epoch in range(outcome.first, outcome.first + settings.epochs):
        start = time.perf_counter()
        optimizer.set_learning_rate(settings.learning_rate * settings.lr_decay ** (epoch - 1))
        train_loss = train_epoch(model, optimizer, data, settings.batch_size, epoch, stop, not args.quiet and job.lead, guard)
        if train_loss is None:
            break
        if not all(np.isfinite(v.cpu().numpy()).all() for v in varmap.all_vars()):  # from a GPU: a copy
            raise TrainingError(f"training diverged at epoch {epoch} (the weights are no longer finite); "
                                f"try a smaller --learning-rate (now {settings.learning_rate:g})")
        test_acc = job.accuracy(model, data.images("test", model.sparse_input), data.test_labels,
                                EVAL_BATCH.get(settings.model), stop)
        seconds = time.perf_counter() - start
        say(epoch_line(epoch, train_loss, test_acc, seconds))
        if args.metrics_out and job.lead:  # test accuracy in percent, as the epoch line prints it
            append_metrics(args.metrics_out, {"epoch": epoch, "train_loss": train_loss, "test_acc": 100 * test_acc,
                                              "seconds": seconds, "learning_rate": optimizer.learning_rate})
        outcome.epochs_done += 1
        if args.save_model_path and job.lead:
            outcome.completed = {k: v.copy() for k, v in varmap.data().items()}
            outcome.snapshot = resume.TrainingState.take(optimizer, rng(), outcome.previous + outcome.epochs_done,
                                                         settings.stored())
        if stop.requested:
            break
    outcome.interrupted = stop.requested
    return outcome


def finish(args, settings: Settings, varmap: VarMap, optimizer: Optimizer, outcome: Outcome,
           stop: StopRequest, say, job: Job) -> int:
    """Save what the run earned: all of it, or after Ctrl-C the last completed epoch. A signal
    during a save waits for it: a finished run interrupted while it saves still ends saved.
    In a job of several ranks, rank 0 saves and speaks for all."""
    meta = settings.checkpoint_metadata(outcome.previous + outcome.epochs_done)
    path = args.save_model_path
    if not job.lead:
        return 130 if outcome.interrupted else 0
    if outcome.interrupted:
        if outcome.completed is not None:  # roll back any half-done epoch, keep the last whole one
            for name, arr in outcome.completed.items():
                varmap[name].array[...] = arr  # in place, on the weights' device
            save_run(path, varmap, meta, outcome.snapshot)
            left = settings.epochs - outcome.epochs_done
            print(f"Interrupted: saved the weights of epoch {outcome.first + outcome.epochs_done - 1} in {path}; "
                  f"to continue: {resume_command(path, left, args.local_mnist, args.threads)}", file=sys.stderr)
        else:
            print("Interrupted: no epoch completed, nothing saved" if path else "Interrupted", file=sys.stderr)
        return 130
    if path:
        say(f"Saving trained weight in {path}")
        # no epoch ran (--epochs 0): what resuming needs is as it was loaded
        snapshot = outcome.snapshot or resume.TrainingState.take(optimizer, rng(), outcome.previous, settings.stored())
        if save_run(path, varmap, meta, snapshot) or stop.requested:
            print(f"Interrupted while saving: the finished run is saved in {path}", file=sys.stderr)
            return 130
    return 0


def run(args, out: Optional[TextIO] = None) -> int:
    """Train as `args` say: settings → data and model → starting weights → epochs → save."""
    job = Job.start(args)
    say = printer(out or sys.stdout, args.quiet or not job.lead)
    resumed = resume.load(args.resume) if args.resume else None
    if args.resume and not args.save_model_path:  # continuing a run saves it where it was
        args.save_model_path = args.resume
    settings = Settings.of(args, resumed)
    where = device.resolve(args.device)  # before the data loads: no GPU is one line, at once
    if where != device.CPU and (job.parallel or settings.optimizer == "newton-cg"):
        what = "a data-parallel job" if job.parallel else "--optimizer newton-cg (forward mode, CPU only)"
        raise device.DeviceError(f"--device cuda: {what} computes on the CPU; use --device cpu")
    job.check(args, settings.optimizer)
    set_threads(job.threads(args.threads))
    if job.lead:
        check_outputs(args)
    data, model, varmap = load_data_and_model(args, settings, where)
    report_settings(args, settings, len(data.train_images), say, job)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        say(f"{name.replace('_', ' ').title()}: {list(getattr(data, name).shape)}")
    previous = start_from(args, varmap, resumed, say)
    if args.graph:
        return write_graph(args.graph, model, data, min(settings.batch_size, len(data.train_images)), say)
    model, data = device.place(model, where), device.upload(data, where)  # the data set uploaded once
    model = job.wrap(model)  # a job of several ranks: rank 0's weights, broadcast
    optimizer = make_optimizer(settings, varmap, resumed, args.resume)
    outcome = Outcome(first=resumed.epoch + 1 if resumed else 1, previous=previous)  # a resumed run's numbering goes on
    if args.metrics_out and job.lead:
        append_metrics(args.metrics_out, run_record(args, settings, outcome.first))
    with StopRequest(agree=job.parallel) as stop:  # through the last save: a signal there waits for the file
        train_epochs(args, settings, model, varmap, optimizer, data, outcome, stop, say, job)
        status = finish(args, settings, varmap, optimizer, outcome, stop, say, job)
    job.group.finalize()  # every rank waits for rank 0's save; a failure exits without, ending the job
    return status


def save_run(path: str, varmap: VarMap, meta: dict, snapshot: resume.TrainingState) -> List[int]:
    """The checkpoint (Candle's names only), then beside it what `--resume` needs. Ctrl-C and
    SIGTERM wait until both are written, so the pair always belongs together; the signals that
    came are returned, for the caller to act on."""
    with files.signals_held(deliver=False) as caught:
        varmap.save(path, meta)
        resume.save(path, snapshot)
    return caught


def main(argv=None) -> int:
    return run_command(cli.train_parser(), run, argv)


def entry() -> None:
    """The `tinygrad-mnist-train` command and `python -m tinygrad_mnist.train`."""
    exit_now(main())

