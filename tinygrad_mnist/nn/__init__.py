"""The training layer, with Candle's names so its programs port line for line:

    from tinygrad_mnist.nn import VarMap, VarBuilder, Linear, linear, Module, Conv2d, conv2d, SGD, AdamW, init, ops, loss

and PyTorch's where a PyTorch user would look: `Parameter`, `Sequential`, `ModuleList`,
`Linear(784, 10)`, `ReLU`, `Tanh`, `Sigmoid`, `Flatten`, `Conv1d`, `MaxPool2d`, `AvgPool2d`,
`BatchNorm1d/2d`, `CrossEntropyLoss`, `MSELoss`, `Module.state_dict()`, and `nn.functional`.
The optimizers live in `tinygrad_mnist.optim` (PyTorch's place); `nn.SGD` and `nn.AdamW` are
Candle's names for the same classes.
"""
from . import functional, init, loss, ops
from .checkpoint import CheckpointError
from .activations import ELU, BCELoss, BCEWithLogitsLoss, L1Loss, LeakyReLU, SiLU
from .layers import (AvgPool2d, Conv1d, Conv2d, Conv2dConfig, CrossEntropyLoss, Dropout, Flatten, Identity, Linear,
                     LogSoftmax, MaxPool2d, MSELoss, ReLU, Sigmoid, Softmax, Tanh, conv2d, conv2d_no_bias, linear,
                     linear_no_bias, max_pool2d, relu)
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d
from .newton import NewtonCG
from ..optim import SGD, AdamW, Optimizer
from .varmap import VarBuilder, VarMap

__all__ = ["VarMap", "VarBuilder", "Linear", "linear", "linear_no_bias", "Module", "Conv2d", "Conv2dConfig",
           "conv2d", "conv2d_no_bias", "Dropout", "max_pool2d", "relu", "SGD", "AdamW", "NewtonCG", "Optimizer",
           "CheckpointError", "init", "ops", "loss", "Parameter", "Sequential", "ReLU", "CrossEntropyLoss", "Conv1d",
           "AvgPool2d", "MaxPool2d", "Tanh", "Sigmoid", "Identity", "Flatten", "LogSoftmax", "Softmax", "MSELoss",
           "ModuleList", "BatchNorm1d", "BatchNorm2d", "functional", "LeakyReLU", "ELU", "SiLU", "L1Loss", "BCELoss",
           "BCEWithLogitsLoss"]
