"""Evaluate a checkpoint on the MNIST test set: `python -m tinygrad_mnist.evaluate --load-model-path PATH`.

Prints the test accuracy, the accuracy of each digit, the 10×10 confusion matrix
(rows: true digit, columns: predicted) and, with `--show-errors N`, the first N
misclassified digits as ASCII art.
"""
from __future__ import annotations

if __name__ == "__main__":  # `python -m tinygrad_mnist.evaluate`: settle the process before numpy loads
    from tinygrad_mnist.cli import start
    start()

import sys
from typing import Optional, TextIO

import numpy as np

from . import cli
from .datasets import mnist
from .models import MODELS
from .autograd import no_grad
from .nn import CheckpointError, VarBuilder, VarMap
from .tensor import Tensor
from .train import EVAL_BATCH, checkpoint_model, exit_now, predict, run_command, set_threads

SHADES = " .:-=+*#%@"  # darkest pixel last


def ascii_digit(pixels: np.ndarray) -> str:
    """A 28×28 uint8 image as 28 lines of two characters per pixel."""
    levels = (pixels.reshape(28, 28).astype(np.int32) * len(SHADES)) // 256
    return "\n".join("".join(SHADES[v] * 2 for v in row).rstrip() for row in levels)


def model_kind(path: str, requested: str | None) -> str:
    """`--model` if given, else the kind recorded in the checkpoint's metadata."""
    if requested:
        return requested
    kind = checkpoint_model(path, None)
    if kind is None:
        raise CheckpointError(f"{path}: the metadata does not say which model this is; pass --model")
    return kind


def report(labels: np.ndarray, predicted: np.ndarray, out: TextIO) -> None:
    classes = 10
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    print(f"Test accuracy: {100 * np.mean(labels == predicted):.2f}% "
          f"({int(np.sum(labels == predicted))}/{len(labels)})", file=out)
    print("\nPer-class accuracy:", file=out)
    for c in range(classes):
        total = confusion[c].sum()
        acc = f"{100 * confusion[c, c] / total:6.2f}%" if total else "     —"
        print(f"  {c}: {acc}  ({confusion[c, c]}/{total})", file=out)
    print("\nConfusion matrix (rows: true digit, columns: predicted):", file=out)
    print("      " + "".join(f"{c:>6}" for c in range(classes)), file=out)
    for c in range(classes):
        print(f"  {c:>2}  " + "".join(f"{v:>6}" for v in confusion[c]), file=out)


def run(args, out: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    set_threads(args.threads)
    kind = model_kind(args.load_model_path, args.model)
    data = mnist.load(args.local_mnist)
    if len(data.test_images) == 0:
        raise mnist.DatasetError(f"{data.source or 'the dataset'}: has no test images to evaluate on")
    varmap = VarMap()
    model = MODELS[kind](VarBuilder.from_varmap(varmap))
    varmap.load(args.load_model_path)
    labels = data.test_labels.numpy().astype(np.int64)
    predicted = predict(model, data.test_images, EVAL_BATCH.get(kind))
    print(f"Model: {kind} from {args.load_model_path}", file=out)
    report(labels, predicted, out)
    wrong = np.flatnonzero(predicted != labels)[:args.show_errors]
    if len(wrong):
        probs = probabilities(model, data.test_images[wrong])
    for row, i in enumerate(wrong):
        p = probs[row]
        print(f"\nTest image {i}: true {labels[i]}, predicted {predicted[i]} with probability "
              f"{p[predicted[i]]:.2f} (the true digit: {p[labels[i]]:.2f})", file=out)
        print(ascii_digit(data.test_images.numpy()[i]), file=out)
    return 0


def probabilities(model, images: Tensor) -> np.ndarray:
    """The model's ten class probabilities for each image (softmax of its logits)."""
    model.eval()
    with no_grad():
        return model(images).softmax(dim=1).numpy().astype(np.float64)


def main(argv=None) -> int:
    return run_command(cli.evaluate_parser(), run, argv)


def entry() -> None:
    """The `tinygrad-mnist-evaluate` command and `python -m tinygrad_mnist.evaluate`."""
    exit_now(main())


if __name__ == "__main__":
    entry()
