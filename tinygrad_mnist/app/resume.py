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
import os
from dataclasses import dataclass
from typing import Dict

import numpy as np

from .. import files
from ..nn import checkpoint
from ..nn.checkpoint import CheckpointError

SUFFIX = ".state"


def state_path(path: str) -> str:
    """Where the state file of the checkpoint `path` goes: `path` + `.state`, or, where that name
    would pass 255 bytes (a legal checkpoint name of 250), a shortened one with a digest of the
    checkpoint's name, so it is still found from the checkpoint alone."""
    directory, name = os.path.split(path)
    return os.path.join(directory, files.fitted(name, files.NAME_MAX - len(SUFFIX)) + SUFFIX)


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
        arrays, numbers = optimizer.checkpoint_state()
        return TrainingState(arrays, numbers, copy.deepcopy(rng.bit_generator.state), epoch, dict(settings))


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save(path: str, state: TrainingState) -> None:
    """Write the state file of the checkpoint just written at `path`."""
    meta = {"optimizer_numbers": json.dumps(state.numbers), "rng": json.dumps(state.rng), "epoch": str(state.epoch),
            "checkpoint_sha256": _digest(checkpoint.save_target(path)), **state.settings}
    checkpoint.save(state_path(path), state.arrays, meta)


def load(path: str) -> TrainingState:
    """The state file of the checkpoint at `path`, checked to belong to it."""
    state = state_path(path)
    try:
        arrays, meta = checkpoint.load(state, max_bytes=None)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: cannot resume: {err}") from None
    if meta.get("checkpoint_sha256") != _digest(path):
        raise CheckpointError(f"{state}: does not belong to {path} (the checkpoint was written by "
                              "another run); resume from the pair a run saved together")
    try:
        numbers, rng, epoch = json.loads(meta["optimizer_numbers"]), json.loads(meta["rng"]), int(meta["epoch"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{state}: not a training state file ({err})") from None
    names = ("model", "optimizer", "learning_rate", "lr_decay", "batch_size", "seed")
    settings = {k: meta[k] for k in names if k in meta}
    return TrainingState(arrays, numbers, rng, epoch, settings)
