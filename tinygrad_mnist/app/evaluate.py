"""Evaluate a checkpoint on the MNIST test set: `python -m tinygrad_mnist.evaluate --load-model-path PATH`.

Prints the test accuracy, the accuracy of each digit, the 10×10 confusion matrix
(rows: true digit, columns: predicted) and, with `--show-errors N`, the first N
misclassified digits as ASCII art.
"""
from __future__ import annotations

import sys
from typing import Optional, TextIO

import numpy as np

from . import cli, device, inference
from ..datasets import mnist
from .runner import exit_now, printer, run_command, set_threads


def report(labels: np.ndarray, predicted: np.ndarray, say) -> None:
    classes = mnist.CLASSES
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    say(f"Test accuracy: {100 * np.mean(labels == predicted):.2f}% ({int(np.sum(labels == predicted))}/{len(labels)})")
    say("\nPer-class accuracy:")
    for c in range(classes):
        total = confusion[c].sum()
        acc = f"{100 * confusion[c, c] / total:6.2f}%" if total else "     —"
        say(f"  {c}: {acc}  ({confusion[c, c]}/{total})")
    say("\nConfusion matrix (rows: true digit, columns: predicted):")
    say("      " + "".join(f"{c:>6}" for c in range(classes)))
    for c in range(classes):
        say(f"  {c:>2}  " + "".join(f"{v:>6}" for v in confusion[c]))


def run(args, out: Optional[TextIO] = None) -> int:
    say = printer(out or sys.stdout)
    set_threads(args.threads)
    where = device.resolve(args.device)  # no GPU: one line, before anything loads
    kind = inference.model_kind(args.load_model_path, args.model)
    data = mnist.load(args.local_mnist)
    if len(data.test_images) == 0:
        raise mnist.DatasetError(f"{data.source or 'the dataset'}: has no test images to evaluate on")
    model = device.place(inference.load(args.load_model_path, kind), where)
    labels = data.test_labels.numpy().astype(np.int64)
    predicted = inference.predict(model, data.test_images, inference.EVAL_BATCH.get(kind))
    say(f"Model: {kind} from {args.load_model_path}")
    report(labels, predicted, say)
    wrong = np.flatnonzero(predicted != labels)[:args.show_errors]
    probs = inference.probabilities(model, data.test_images[wrong], inference.EVAL_BATCH.get(kind)) if len(wrong) else []
    for p, i in zip(probs, wrong):
        say(f"\nTest image {i}: true {labels[i]}, predicted {predicted[i]} with probability "
            f"{p[predicted[i]]:.2f} (the true digit: {p[labels[i]]:.2f})")
        say(inference.ascii_digit(data.test_images.numpy()[i]))
    return 0


def main(argv=None) -> int:
    return run_command(cli.evaluate_parser(), run, argv)


def entry() -> None:
    """The `tinygrad-mnist-evaluate` command and `python -m tinygrad_mnist.evaluate`."""
    exit_now(main())

