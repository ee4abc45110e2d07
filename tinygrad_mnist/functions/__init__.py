"""Every op of the engine: one `Function` subclass each, forward beside backward and jvp, by family.

    elementwise.py  Add Sub Mul Div Neg Pow PowT Exp Log Sqrt Abs Cast Maximum Minimum (and Masked)
    activations.py  Sigmoid Tanh Clamp ReLU (and ReLUBackward)
    reductions.py   Sum Mean Prod Max Min (and ProdOthers)
    movement.py     Reshape Clone Transpose Expand Cat Stack Index Gather (and IndexBackward, ScatterAdd)
    linalg.py       MatMul Linear (and CSRWeightGrad, Linear's d/dW on CSR images)
    nn.py           LogSoftmax MaxPool2d MaxUnpool2d (and LogSoftmaxBackward, MaxPoolBackward)
    conv.py         Conv2d (and ConvInputGrad, ConvWeightGrad)
    losses.py       NLL (and NLLBackward, the target checks, each row's weight)

Each docstring states the op's local derivative. `backward` returns one gradient per
tensor input (None where no gradient is wanted); a gradient may have the broadcast
shape of the output: `autograd.unbroadcast` reduces it. A backward is written for arrays
and tensors alike (`either.py`), so a gradient can be differentiated again; where it needs
a kernel, the gradient is an op of its own (the names in parentheses). Whatever backward
needs goes through `ctx.save_for_backward`; heavy arithmetic goes through `kernels.impl`,
which is numba or numpy. All ops are importable from here (`functions.Add`).
"""
from .activations import Clamp, ReLU, ReLUBackward, Sigmoid, Tanh
from .conv import Conv2d, ConvInputGrad, ConvWeightGrad
from .elementwise import Abs, Add, Cast, Div, Exp, Log, Masked, Maximum, Minimum, Mul, Neg, Pow, PowT, Sqrt, Sub
from .linalg import CSRWeightGrad, Linear, MatMul
from .losses import NLL, REDUCTIONS, NLLBackward, check_targets, row_weights
from .movement import Cat, Clone, Expand, Gather, Index, IndexBackward, Reshape, ScatterAdd, Stack, Transpose
from .nn import LogSoftmax, LogSoftmaxBackward, MaxPool2d, MaxPoolBackward, MaxUnpool2d
from .reductions import Max, Mean, Min, Prod, ProdOthers, Sum

__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowT", "Exp", "Log", "Sqrt", "Abs", "Sigmoid", "Tanh", "Clamp",
           "ReLU", "Cast", "Sum", "Mean", "Max", "Min", "Reshape", "Transpose", "Expand", "Cat", "Stack", "Index",
           "Gather", "MatMul", "Linear", "LogSoftmax", "Conv2d", "MaxPool2d", "NLL", "REDUCTIONS", "check_targets",
           "Masked", "ReLUBackward", "IndexBackward", "ScatterAdd", "LogSoftmaxBackward", "MaxPoolBackward",
           "ConvInputGrad", "ConvWeightGrad", "NLLBackward", "row_weights", "Maximum", "Minimum", "Prod", "ProdOthers", "Clone", "MaxUnpool2d",
           "CSRWeightGrad"]
