"""What resuming a training run needs besides the weights, in a file beside the checkpoint.

`model.safetensors` keeps Candle's names only, so the tutorial's program, Candle and
`torch.nn.Module.load_state_dict` read it as before; `model.safetensors.state` (also
safetensors) holds the optimizer's arrays (AdamW's moments, SGD's momentum), and in its
metadata the optimizer's step count, the random generator's state, the number of epochs done,
the run's settings, and the SHA-256 of the checkpoint it belongs to, so a state file is never
applied to weights from another run.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Dict

import numpy as np

from .nn import checkpoint
from .nn.checkpoint import CheckpointError

SUFFIX = ".state"


@dataclass
class TrainingState:
    """A snapshot taken at the end of an epoch."""
    arrays: Dict[str, np.ndarray]     # the optimizer's
    numbers: Dict[str, str]           # the optimizer's
    rng: dict                         # numpy's bit-generator state
    epoch: int                        # epochs completed in all runs so far
    settings: Dict[str, str]          # model, optimizer, learning_rate, lr_decay, batch_size, seed

    @staticmethod
    def take(optimizer, rng: np.random.Generator, epoch: int, settings: Dict[str, str]) -> "TrainingState":
        arrays, numbers = optimizer.state()
        return TrainingState(arrays, numbers, copy.deepcopy(rng.bit_generator.state), epoch, dict(settings))


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save(path: str, state: TrainingState) -> None:
    """Write the state file of the checkpoint just written at `path`."""
    meta = {"optimizer_numbers": json.dumps(state.numbers), "rng": json.dumps(state.rng), "epoch": str(state.epoch),
            "checkpoint_sha256": _digest(checkpoint.save_target(path)), **state.settings}
    checkpoint.save(path + SUFFIX, state.arrays, meta)


def load(path: str) -> TrainingState:
    """The state file of the checkpoint at `path`, checked to belong to it."""
    state_path = path + SUFFIX
    try:
        arrays, meta = checkpoint.load(state_path, max_bytes=None)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: cannot resume: {err}") from None
    if meta.get("checkpoint_sha256") != _digest(path):
        raise CheckpointError(f"{state_path}: does not belong to {path} (the checkpoint was written by "
                              "another run); resume from the pair a run saved together")
    try:
        numbers, rng, epoch = json.loads(meta["optimizer_numbers"]), json.loads(meta["rng"]), int(meta["epoch"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{state_path}: not a training state file ({err})") from None
    names = ("model", "optimizer", "learning_rate", "lr_decay", "batch_size", "seed")
    settings = {k: meta[k] for k in names if k in meta}
    return TrainingState(arrays, numbers, rng, epoch, settings)
