"""The command line's parsers (train, evaluate, predict), their per-model defaults, and the
process settings the programs make before numpy loads.

This module imports only the standard library, and of the package only its version:
argparse-manpage loads this file on its own at build time (`[build_manpages]` in
setup.cfg), before numpy or numba are installed, and `tune_process` must run before
numpy loads OpenBLAS. The console scripts start in `commands.py`.
"""
import argparse
import ctypes
import math
import os
import sys

try:
    from .._version import VERSION
except ImportError:  # loaded as a lone file by argparse-manpage at build time: --version is never run there
    VERSION = "(unknown)"

MODELS = ("linear", "mlp", "cnn")  # the keys of models.MODELS, in that order (tests/project/test_layout.py ties them)
# The tutorial's and Candle's example's choices, per model.
# The tutorial's choices for its linear model, kept exactly; for the MLP and the CNN, settings that
# reach a good model within their default epochs on 2 cores (README: 97.65 % and 99.22 %).
# Candle's own MLP example trains full-batch at 0.05 for 200 epochs (docs/tutorial-port.md).
DEFAULT_LEARNING_RATE = {"linear": 0.1, "mlp": 0.1, "cnn": 0.001}
DEFAULT_OPTIMIZER = {"linear": "sgd", "mlp": "sgd", "cnn": "adamw"}
DEFAULT_BATCH_SIZE = {"linear": None, "mlp": 64, "cnn": 64}  # None: the whole training set
DEFAULT_EPOCHS = {"linear": 10, "mlp": 10, "cnn": 10}
# The learning rate of epoch e is LR * DECAY**(e - 1): 1 keeps it constant (the tutorial's SGD).
DEFAULT_LR_DECAY = {"linear": 1.0, "mlp": 1.0, "cnn": 0.7}
OPTIMIZERS = ("sgd", "adamw", "newton-cg")
NEWTON_CG_LEARNING_RATE = 1.0  # the full Newton step


def per_model(defaults: dict) -> str:
    """A per-model default as help text: `0.1 for linear and mlp, 0.001 for cnn`."""
    groups: dict = {}
    for model in MODELS:
        groups.setdefault(defaults[model], []).append(model)
    shown = {None: "the whole training set", 1.0: "1 (constant)"}
    return "; ".join(f"{shown.get(value, value)} for {' and '.join(names)}" if len(groups) > 1
                     else f"{shown.get(value, value)}" for value, names in groups.items())


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `prog: error: ...`, exit status 2. Options
    are never abbreviated: argparse would take `--lr 0.5` for `--lr-decay 0.5`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}{self._suggestion(message)} (see --help)\n")

    def _suggestion(self, message: str) -> str:
        """'; did you mean --epochs?' for an unknown option close to a real one."""
        import difflib
        if not message.startswith("unrecognized arguments:"):
            return ""
        for word in message.split(":", 1)[1].split():
            if word.startswith("--"):
                close = difflib.get_close_matches(word.split("=")[0], self._option_string_actions, n=1, cutoff=0.6)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


def _number(kind, test, wanted):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value
    parse.__name__ = wanted  # argparse names the type in some messages
    return parse


positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
decay_factor = _number(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
non_negative_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
MAX_THREADS = 1024  # more threads than any machine this runs on has cores: a typo, not a wish
thread_count = _number(int, lambda v: 1 <= v <= MAX_THREADS, f"a whole number from 1 to {MAX_THREADS}")
seed = _number(int, lambda v: 0 <= v < 2 ** 63, "a whole number from 0 to 2**63 - 1")


def path(text):
    """A file or directory name: an empty one would silently mean 'none given'."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def _data_and_model(parser, model_help):
    parser.add_argument("--model", choices=MODELS, default=None, help=model_help)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="compute on the CPU (default), on an NVIDIA GPU through numba's CUDA target (cuda: "
                             "an error when there is none), or on the GPU when there is one (auto)")
    parser.add_argument("--local-mnist", metavar="DIR", type=path,
                        help="read the four MNIST idx files (raw or .gz) from DIR instead of the embedded copy")
    parser.add_argument("--threads", type=thread_count, metavar="N",
                        help="threads in all: the kernels' pool and BLAS (default: every core this process may use; "
                             "results are bit-identical for a given N). On a machine whose cores are busy with other "
                             "work, fewer threads can be faster: the trainer says so when the load average shows it")


def train_parser():
    parser = Parser(
        prog="tinygrad-mnist-train",
        description="Train a handwritten-digit classifier on MNIST with the tinygrad_mnist engine: "
                    "the Candle tutorial's linear model (default), Candle's MLP or its CNN.",
        epilog="Exit status: 0 on success, 1 on a data, checkpoint or training error, "
               "2 on bad arguments, 130 when interrupted (Ctrl-C).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    parser.add_argument("--learning-rate", type=positive_float, metavar="LR",
                        help=f"learning rate (default: {per_model(DEFAULT_LEARNING_RATE)})")
    parser.add_argument("--lr-decay", type=decay_factor, metavar="GAMMA",
                        help="multiply the learning rate by GAMMA after each epoch: epoch e trains at "
                             "LR * GAMMA**(e-1), counting a resumed run's epochs "
                             f"(default: {per_model(DEFAULT_LR_DECAY)})")
    parser.add_argument("--epochs", type=non_negative_int, default=None,
                        help=f"epochs to train (default: {per_model(DEFAULT_EPOCHS)})")
    parser.add_argument("--save-model-path", metavar="PATH", type=path,
                        help="write the trained weights here as safetensors (atomically, directories created)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--load-model-path", metavar="PATH", type=path,
                       help="start from the weights in this safetensors checkpoint (epochs count from 1, "
                            "as in the tutorial)")
    start.add_argument("--resume", metavar="PATH", type=path,
                       help="continue the run saved at PATH: its weights, optimizer state, random "
                            "generator and epoch count (from PATH.state); --epochs more epochs. The run is saved "
                            "back to PATH unless --save-model-path names another file")
    _data_and_model(parser, "linear: the tutorial's zero-initialised Linear(784, 10); mlp: 784-100-10 "
                            "with ReLU; cnn: Candle's convolutional net (default: the model of the checkpoint "
                            "loaded or resumed, else linear)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help=f"optimizer (default: {per_model(DEFAULT_OPTIMIZER)}); newton-cg takes Hessian-free "
                             f"Newton steps (CG on Hessian-vector products, meant for the convex linear model; "
                             f"learning rate {NEWTON_CG_LEARNING_RATE:g} unless given)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help=f"minibatch size, reshuffled each epoch (default: {per_model(DEFAULT_BATCH_SIZE)})")
    parser.add_argument("--seed", type=seed, default=None,
                        help="seed of every random draw: weights, shuffling, dropout (default: 0)")
    parser.add_argument("--metrics-out", metavar="FILE", type=path,
                        help="append JSON lines to FILE: one {\"run\": ...} record of the run's settings, then one "
                             "object per epoch (epoch, train_loss, test_acc, seconds, learning_rate)")
    _output_and_job(parser)
    return parser


def _output_and_job(parser) -> None:
    """The trainer's output options, and its data-parallel job's."""
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (no epoch lines, no progress line, no notes)")
    output.add_argument("--verbose", action="store_true",
                        help="also print the settings in effect (model, optimizer, learning rate, batch size, "
                             "epochs, seed, threads) before training, and a note when the machine is busy")
    parser.add_argument("--collective-timeout", type=positive_float, metavar="SECONDS", default=120.0,
                        help="in a data-parallel job (mpiexec -n N python -m tinygrad_mnist.train), end the job "
                             "with one line when a rank waits longer than this for the others: one is stopped, "
                             "stuck or gone (default: 120)")
    parser.add_argument("--graph", metavar="FILE", type=path,
                        help="write the computation graph of one training step with its backward pass to FILE and "
                             "exit without training: FILE.html a page that steps through backward (offline, no "
                             "Graphviz), FILE.svg a drawing, any other name Graphviz DOT")


def _checkpoint_parser(prog: str, description: str, errors: str, use: str):
    """A program that reads a trained checkpoint: its --version, --load-model-path, data and model."""
    parser = Parser(prog=prog, description=description,
                    epilog=f"Exit status: 0 on success, 1 on {errors} error, 2 on bad arguments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    parser.add_argument("--load-model-path", metavar="PATH", required=True, type=path,
                        help=f"the safetensors checkpoint to {use}")
    _data_and_model(parser, "the model in the checkpoint (default: what its metadata says)")
    return parser


def evaluate_parser():
    parser = _checkpoint_parser(
        "tinygrad-mnist-evaluate", "Evaluate a trained checkpoint on the MNIST test set: accuracy, per-class "
        "accuracy, the confusion matrix and, optionally, misclassified digits.", "a data or checkpoint", "evaluate")
    parser.add_argument("--show-errors", type=non_negative_int, default=0, metavar="N",
                        help="print the first N misclassified test digits as ASCII art")
    return parser


def start(data: bool = False) -> None:
    """The command line's first steps, before the engine is imported: a Ctrl-C while it loads
    ends the program quietly (status 130; training installs its own handler later), a bad
    TINYGRAD_MNIST_KERNELS is one line (status 2), and the process settings of `tune_process`.
    With `data` (the trainer, which always reads MNIST), the decoded MNIST is looked up on a
    thread of its own while numpy and numba load (`datasets/decoded.py`)."""
    import signal

    def interrupted(signum, frame):
        sys.stderr.write("Interrupted\n")
        os._exit(130)
    signal.signal(signal.SIGINT, interrupted)
    kernels = os.environ.get("TINYGRAD_MNIST_KERNELS", "")
    if kernels not in ("", "numba", "numpy"):
        sys.stderr.write(f"TINYGRAD_MNIST_KERNELS={kernels!r}: expected numba or numpy\n")
        os._exit(2)
    tune_process()
    if data:
        from ..datasets import decoded  # standard library only, as this module
        decoded.prefetch()


def predict_parser():
    parser = _checkpoint_parser(
        "tinygrad-mnist-predict", "Predict the digit in test images or in your own images (PGM; PNG and JPEG "
        "with Pillow), with the ten probabilities and the image as ASCII art.", "an image, data or checkpoint",
        "predict with")
    parser.add_argument("--index", type=non_negative_int, nargs="+", metavar="N", default=[],
                        help="test images by their index in the test set")
    parser.add_argument("images", nargs="*", type=path, metavar="IMAGE",
                        help="image files, converted to 28x28 grey as MNIST's digits are")
    return parser


def plot_parser():
    parser = Parser(prog="tinygrad-mnist-plot", description="Draw training curves (loss and test accuracy per "
                    "epoch, one line per run) from a --metrics-out file; needs matplotlib.",
                    epilog="Exit status: 0 on success, 1 when the file cannot be read or drawn, 2 on bad arguments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    parser.add_argument("metrics", type=path, help="the JSON-lines file the trainer's --metrics-out wrote")
    parser.add_argument("-o", "--output", type=path, default="curves.png",
                        help="the PNG to write (default: curves.png)")
    return parser


def tune_process() -> None:
    """Process settings that make the command line faster (measured in docs/kernels.md); for the
    command-line entry points only, never on import of the package.

    - OpenBLAS's idle workers busy-wait for about 2^28 cycles after each call and take the core
      the engine's next kernel needs; `OPENBLAS_THREAD_TIMEOUT=4` keeps that spin short. OpenBLAS
      reads it when numpy loads it, so this must run first; a value the user set is kept.
    - glibc unmaps freed blocks above its mmap threshold, so each training step faults its large
      temporaries (13 MB patch matrices) back in; raising the thresholds lets it reuse them. One
      malloc arena for all threads: a kernel thread's own arena kept its freed blocks too (8 MB
      more peak memory in the default run), and the kernels allocate too rarely to contend.
      Skipped when the user tunes malloc through `MALLOC_*` variables, and outside glibc.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    if any(k.startswith("MALLOC_") for k in os.environ) or not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
    mallopt(M_MMAP_THRESHOLD, 256 << 20)
    mallopt(M_TRIM_THRESHOLD, 512 << 20)
    mallopt(M_ARENA_MAX, 1)
