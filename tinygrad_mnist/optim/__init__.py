"""Optimizers where PyTorch keeps them (`torch.optim`): `SGD`, `Adam`, `AdamW`, `Adadelta`, the
`Optimizer` they share (parameter groups, per-parameter state, state dicts) and
`lr_scheduler`. `tinygrad_mnist.nn` exports SGD and AdamW too, Candle's place for them."""
from . import lr_scheduler
from .adaptive import Adadelta, Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adadelta", "lr_scheduler"]
