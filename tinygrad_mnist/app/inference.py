"""A trained model at work: built from a checkpoint, asked for classes and probabilities, and
the images it saw drawn as text. The trainer, the evaluator and the predictor share it."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..autograd import no_grad
from ..datasets.mnist import IMAGE_SIDE
from .models import MODELS
from ..nn import CheckpointError, Module, VarBuilder, VarMap, checkpoint
from ..tensor import Tensor

# Images per forward pass when a model only predicts. The CNN's patch matrices take about 0.25
# MB an image, so it goes 256 at a time (about 60 MiB at the peak, as fast as 1,000 at a time
# on 2 cores); the other models' activations are small and one pass parallelises best.
EVAL_BATCH = {"cnn": 256}
SHADES = " .:-=+*#%@"  # darkest pixel last


def build(kind: str) -> Tuple[Module, VarMap]:
    """A fresh model of `kind` ('linear', 'mlp', 'cnn') and the VarMap that holds its weights."""
    varmap = VarMap()
    return MODELS[kind](VarBuilder.from_varmap(varmap)), varmap


def checkpoint_model(path: Optional[str], requested: Optional[str]) -> Optional[str]:
    """The model a checkpoint's metadata names, checked against `--model` if both are given."""
    if not path:
        return None
    held = checkpoint.metadata(path).get("model")
    if requested and held in MODELS and held != requested:
        raise CheckpointError(f"{path}: holds a {held} model, not --model {requested}")
    return held if held in MODELS else None


def model_kind(path: str, requested: Optional[str]) -> str:
    """`--model` if given, else the kind recorded in the checkpoint's metadata."""
    kind = requested or checkpoint_model(path, None)
    if kind is None:
        raise CheckpointError(f"{path}: the metadata does not say which model this is; pass --model")
    return kind


def load(path: str, kind: str) -> Module:
    """The model of `kind` with the weights saved at `path`."""
    model, varmap = build(kind)
    varmap.load(path)
    return model


def predict(model: Module, images: Tensor, batch: Optional[int] = None) -> np.ndarray:
    """The predicted class of each image, `batch` images per forward pass (default: all)."""
    batch = batch or max(len(images), 1)
    out = []
    model.eval()
    images = on_model_device(model, images)
    with no_grad():
        for start in range(0, len(images), batch):
            n = min(batch, len(images) - start)
            out.append(model(images.narrow(0, start, n)).argmax(axis=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def on_model_device(model: Module, images: Tensor) -> Tensor:
    """The images where the model's parameters are (on a GPU: one upload)."""
    params = model.parameters()
    return images.to(params[0].device) if params and params[0].device != images.device else images


def accuracy(model: Module, images: Tensor, labels: Tensor, batch: Optional[int] = None) -> float:
    """Fraction of `images` whose largest logit is the label."""
    return float(np.mean(predict(model, images, batch) == labels.cpu().numpy())) if len(images) else 0.0


def probabilities(model: Module, images: Tensor, batch: Optional[int] = None) -> np.ndarray:
    """The model's class probabilities for each image (softmax of its logits), `batch` images
    per forward pass (default: all)."""
    batch = batch or max(len(images), 1)
    model.eval()
    images = on_model_device(model, images)
    with no_grad():
        out = [model(images.narrow(0, start, min(batch, len(images) - start))).softmax(dim=1).cpu().numpy()
               for start in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 10))


def ascii_digit(pixels: np.ndarray) -> str:
    """An MNIST image (uint8, flattened or square) as lines of two characters per pixel."""
    levels = (pixels.reshape(IMAGE_SIDE, IMAGE_SIDE).astype(np.int32) * len(SHADES)) // 256
    return "\n".join("".join(SHADES[v] * 2 for v in row).rstrip() for row in levels)
