"""`gradcheck`: analytic gradients against central differences, in float64.

numpy and the engine are imported when the function runs, so the package can
bind `gradcheck` at import without loading numpy (see `__init__.py`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its numerical estimate."""


def _worst(i: int, t: "Tensor", projected: Callable[[], float], eps: float, atol: float, rtol: float):
    """The largest excess over tolerance among input `t`'s elements, nudged one at a time by ±eps:
    (excess, i, index, analytic, numeric), or None when every element agrees."""
    import numpy as np
    x = t.data
    analytic = t.grad if t.grad is not None else np.zeros_like(x)
    worst = None
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        plus = projected()
        x[idx] = orig - eps
        minus = projected()
        x[idx] = orig
        numeric = (plus - minus) / (2 * eps)
        excess = abs(analytic[idx] - numeric) - (atol + rtol * abs(numeric))
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, i, idx, analytic[idx], numeric)
    return worst


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check d fn(*inputs) / d input for every input with `requires_grad`.

    A non-scalar output is projected on a fixed random cotangent `r`, so the
    check covers the whole Jacobian through `sum(fn(*inputs) * r)`; each input
    element is nudged by ±eps and `(f(x+eps) - f(x-eps)) / 2eps` is compared
    with the analytic gradient: |analytic - numeric| <= atol + rtol·|numeric|.
    Returns True, or raises GradcheckError naming the input, the index and both
    values of the worst mismatch.
    """
    import numpy as np

    from .autograd import no_grad

    checked = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; central differences need float64")
    saved = [(inputs[i].data, inputs[i].grad) for i in checked]
    try:
        for i in checked:
            inputs[i].data, inputs[i].grad = inputs[i].data.copy(), None
        out = fn(*inputs)
        cotangent = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(cotangent)

        def projected() -> float:
            with no_grad():
                return float((fn(*inputs).data * cotangent).sum())

        worst = max((_worst(i, inputs[i], projected, eps, atol, rtol) for i in checked),
                    key=lambda w: -1 if w is None else w[0])
        if worst is not None:
            _, i, idx, a, n = worst
            raise GradcheckError(f"gradcheck: input {i} at index {idx}: analytic gradient {a:.8g}, "
                                 f"numerical {n:.8g}")
        return True
    finally:
        for i, (data, grad) in zip(checked, saved):
            inputs[i].data, inputs[i].grad = data, grad
