"""The installed console scripts: each settles the process (`cli.start`) before the program, and
with it numpy, is imported. `python -m tinygrad_mnist.train` does the same from train.py."""
from . import cli


def train_entry() -> None:
    """The `tinygrad-mnist-train` command."""
    cli.start(data=True)
    from . import train
    train.entry()


def evaluate_entry() -> None:
    """The `tinygrad-mnist-evaluate` command."""
    cli.start()
    from . import evaluate
    evaluate.entry()


def predict_entry() -> None:
    """The `tinygrad-mnist-predict` command."""
    cli.start()
    from . import predict
    predict.entry()
