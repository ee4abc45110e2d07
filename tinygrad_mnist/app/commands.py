"""The programs' doors: the installed console scripts and `python -m tinygrad_mnist.train`
(`evaluate`, `predict`, `plot`) all come here. Each reads its command line first (`--help` and
an argument error end here, in a fraction of a second: numpy and numba are not imported yet),
then settles the process (`cli.start`) before the program, and with it numpy, is imported."""
import sys
from . import cli


def train_entry() -> None:
    """The `tinygrad-mnist-train` command and `python -m tinygrad_mnist.train`."""
    cli.train_parser().parse_args(sys.argv[1:])
    cli.start(data=True)
    from . import train
    train.entry()


def evaluate_entry() -> None:
    """The `tinygrad-mnist-evaluate` command and `python -m tinygrad_mnist.evaluate`."""
    cli.evaluate_parser().parse_args(sys.argv[1:])
    cli.start()
    from . import evaluate
    evaluate.entry()


def predict_entry() -> None:
    """The `tinygrad-mnist-predict` command and `python -m tinygrad_mnist.predict`."""
    cli.predict_parser().parse_args(sys.argv[1:])
    cli.start()
    from . import predict
    predict.entry()


def plot_entry() -> None:
    """The `tinygrad-mnist-plot` command and `python -m tinygrad_mnist.plot` (no numba: nothing to settle)."""
    from . import plot
    plot.entry()
