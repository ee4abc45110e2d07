"""Every op of the engine: one `Op` subclass each, forward beside backward and jvp, by family.

    elementwise.py  arithmetic, powers, exp and log (log1p), sin and cos, abs, maximum and minimum, casts
    activations.py  sigmoid, tanh, clamp, ReLU
    reductions.py   sum, mean, prod, max and min
    movement.py     reshape, transpose, broadcast, cat and stack, indexing and gather
    linalg.py       matmul and the linear layer
    nn.py           log-softmax, max-pooling and unpooling
    conv.py         convolution
    losses.py       the negative log-likelihood, its target checks and each row's weight
    rules.py        the two kinds of op whose jvp follows from what they state: `Elementwise`
                    (its derivative, once) and `LinearOp` (jvp is the op itself)

Each docstring states the op's local derivative. `backward` returns one gradient per tensor
input (None where no gradient is wanted); a gradient may have the broadcast shape of the
output: `autograd.unbroadcast` reduces it. A backward is written for arrays and tensors alike
(`either.py`), so a gradient can be differentiated again; where it needs a kernel, the gradient
is an op of its own (`ReLUBackward`, `ConvInputGrad`). Whatever backward needs goes through
`ctx.save_for_backward`; heavy arithmetic goes through `kernels.impl`, which is numba or numpy.

The registry below is made from the classes: every `Op` a family module defines is
importable from here (`functions.Add`) and listed in `OPS`; `METHODS` maps the name of each op
that is also a one-input `Tensor` method (its `method`) to the op, for `tensor/elementwise.py`.
"""
from ..autograd import Op
from . import activations, conv, elementwise, linalg, losses, movement, nn, reductions
from .losses import REDUCTIONS, check_targets, row_weights

FAMILIES = (elementwise, activations, reductions, movement, linalg, nn, conv, losses)
OPS = {name: op for family in FAMILIES for name, op in vars(family).items()
       if isinstance(op, type) and issubclass(op, Op) and op.__module__ == family.__name__}
METHODS = {op.method: op for op in OPS.values() if getattr(op, "method", None)}
globals().update(OPS)

__all__ = [*OPS, "OPS", "METHODS", "REDUCTIONS", "check_targets", "row_weights"]
