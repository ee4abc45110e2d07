"""Every op of the engine: one `Function` subclass each, forward beside backward, by family.

    elementwise.py  Add Sub Mul Div Neg Pow PowT Exp Log Sqrt Abs Sigmoid Tanh Clamp ReLU Cast
    reductions.py   Sum Mean Max Min
    movement.py     Reshape Transpose Expand Cat Stack Index Gather
    linalg.py       MatMul Linear
    nn.py           LogSoftmax Conv2d MaxPool2d
    losses.py       NLL (and the target checks)

Each docstring states the op's local derivative. `backward` returns one gradient per
tensor input (None where no gradient is wanted); a gradient may have the broadcast
shape of the output: `autograd.unbroadcast` reduces it. Whatever backward needs
goes through `ctx.save_for_backward`; heavy arithmetic goes through `kernels.impl`,
which is numba or numpy. All ops are importable from here (`functions.Add`).
"""
from .elementwise import Abs, Add, Cast, Clamp, Div, Exp, Log, Mul, Neg, Pow, PowT, ReLU, Sigmoid, Sqrt, Sub, Tanh
from .linalg import Linear, MatMul
from .losses import NLL, REDUCTIONS, check_targets
from .movement import Cat, Expand, Gather, Index, Reshape, Stack, Transpose
from .nn import Conv2d, LogSoftmax, MaxPool2d
from .reductions import Max, Mean, Min, Sum

__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowT", "Exp", "Log", "Sqrt", "Abs", "Sigmoid", "Tanh", "Clamp",
           "ReLU", "Cast", "Sum", "Mean", "Max", "Min", "Reshape", "Transpose", "Expand", "Cat", "Stack", "Index",
           "Gather", "MatMul", "Linear", "LogSoftmax", "Conv2d", "MaxPool2d", "NLL", "REDUCTIONS", "check_targets"]
