"""Training curves from `--metrics-out` files: `python -m tinygrad_mnist.plot METRICS.jsonl -o curves.png`.

Draws the training loss and the test accuracy per epoch, one line per run in the
file (a run starts at each header record the trainer writes). Needs matplotlib:
`pip install 'tinygrad_mnist[plot]'`; without it, one line says so.
"""
from __future__ import annotations

import json
import os
import sys
from typing import List, Optional

from .cli import plot_parser


class PlotError(Exception):
    """The metrics file cannot be read or drawn."""


def read_runs(path: str) -> List[dict]:
    """[{"run": header or {}, "epochs": [records]}] in file order."""
    runs: List[dict] = []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise PlotError(f"{path}: line {number} is not JSON") from None
                if "run" in record or not runs:
                    runs.append({"run": record.get("run", {}), "epochs": []})
                if "epoch" in record:
                    runs[-1]["epochs"].append(_checked(record, path, number))
    except OSError as err:
        raise PlotError(f"{path}: cannot read: {err.strerror or err}") from None
    runs = [r for r in runs if r["epochs"]]
    if not runs:
        raise PlotError(f"{path}: no epoch records (write one with train --metrics-out)")
    return runs


def _checked(record: dict, path: str, number: int) -> dict:
    """An epoch record whose values are numbers where present (test_acc may be absent)."""
    for key in ("epoch", "train_loss", "test_acc"):
        value = record.get(key)
        if key != "test_acc" and value is None:
            raise PlotError(f"{path}: line {number}: the epoch record has no {key}")
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise PlotError(f"{path}: line {number}: {key} is {value!r}, not a number")
    return record


def target(out: str) -> str:
    """Where the figure goes: into a directory as curves.png; a name without an extension gets
    .png (as matplotlib would add it, so the message names the file really written)."""
    if os.path.isdir(out):
        return os.path.join(out, "curves.png")
    return out if os.path.splitext(out)[1] else out + ".png"


def label(number: int, run: dict) -> str:
    r = run["run"]
    if not r:
        return f"run {number}"
    batch = "full batch" if not r.get("batch_size") else f"batch {r['batch_size']}"
    return f"run {number}: {r.get('model')}, {r.get('optimizer')} {r.get('learning_rate')}, {batch}"


def draw(runs: List[dict], out: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("matplotlib is not installed; pip install 'tinygrad_mnist[plot]'") from None
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for number, run in enumerate(runs, 1):
        epochs = [r["epoch"] for r in run["epochs"]]
        loss_ax.plot(epochs, [r["train_loss"] for r in run["epochs"]], marker="o", label=label(number, run))
        scored = [r for r in run["epochs"] if r.get("test_acc") is not None]  # a run may skip evaluation
        accs = [r["test_acc"] for r in scored]
        if accs and max(accs) <= 1.0 and not run["run"]:  # a file from before the header: fractions
            accs = [100 * a for a in accs]
        if accs:
            acc_ax.plot([r["epoch"] for r in scored], accs, marker="o", label=label(number, run))
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    if acc_ax.lines:
        acc_ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except OSError as err:
        raise PlotError(f"{out}: cannot write: {err.strerror or err}") from None


def main(argv: Optional[list] = None) -> int:
    args = plot_parser().parse_args(argv)
    try:
        runs = read_runs(args.metrics)
        out = target(args.output)
        draw(runs, out)
    except PlotError as err:
        print(f"tinygrad-mnist-plot: error: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {len(runs)} run{'s' if len(runs) > 1 else ''} to {out}")
    return 0


def entry() -> None:
    """The `tinygrad-mnist-plot` command."""
    sys.exit(main())

