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
    x = t.array
    analytic = t.grad.array if t.grad is not None else np.zeros_like(x)
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


def _as_tuple(inputs) -> tuple:
    """PyTorch's checks take one tensor or a sequence of them."""
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0, fast_mode: bool = True) -> bool:
    """Check d fn(*inputs) / d input for every input with `requires_grad`.

    A non-scalar output is projected on a fixed random cotangent `r`, so the
    check covers the whole Jacobian through `sum(fn(*inputs) * r)`; each input
    element is nudged by ±eps and `(f(x+eps) - f(x-eps)) / 2eps` is compared
    with the analytic gradient: |analytic - numeric| <= atol + rtol·|numeric|.
    One projection can hide a single wrong entry among many outputs (its weight in r may be
    small against the tolerance, which grows with the projection: docs/autodiff.md measures
    how often); `fast_mode=False` checks every entry, one output element at a time.
    Returns True, or raises GradcheckError naming the input, the index and both
    values of the worst mismatch. `fn` always runs with grad enabled, so a function that
    differentiates inside (a gradient penalty calling `autograd.grad`) can be checked.
    """
    import numpy as np

    from .autograd import enable_grad

    inputs = _as_tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; central differences need float64")
    saved = [(inputs[i].array, inputs[i].grad) for i in checked]
    try:
        for i in checked:
            inputs[i].array = inputs[i].array.copy()
        with enable_grad():
            shape = fn(*inputs).shape
        n = int(np.prod(shape))
        cotangents = [np.random.default_rng(seed).standard_normal(shape)] if fast_mode else \
            [np.eye(1, n, k).reshape(shape) for k in range(n)]
        for k, cotangent in enumerate(cotangents):
            worst = _projection_check(fn, inputs, checked, cotangent, eps, atol, rtol)
            if worst is not None:
                _, i, idx, a, b = worst
                where = "" if fast_mode else f" (output {tuple(int(j) for j in np.unravel_index(k, shape))})"
                raise GradcheckError(f"gradcheck: input {i} at index {idx}{where}: analytic gradient {a:.8g}, "
                                     f"numerical {b:.8g}")
        return True
    finally:
        for i, (data, grad) in zip(checked, saved):
            inputs[i].array, inputs[i].grad = data, grad


def _projection_check(fn, inputs, checked, cotangent, eps: float, atol: float, rtol: float):
    """The worst mismatch of ⟨cotangent, fn⟩'s gradient (one backward pass) against its central
    differences, over every checked input, or None."""
    from .autograd import enable_grad
    for i in checked:
        inputs[i].grad = None
    with enable_grad():
        fn(*inputs).backward(cotangent)

    def projected() -> float:
        with enable_grad():
            return float((fn(*inputs).array * cotangent).sum())
    return max((_worst(i, inputs[i], projected, eps, atol, rtol) for i in checked),
               key=lambda w: -1 if w is None else w[0])


def _directions(inputs, seed: int, count: int):
    import numpy as np
    rng = np.random.default_rng(seed + 1)
    return [[rng.standard_normal(t.shape) if t.requires_grad else None for t in inputs] for _ in range(count)]


def _nudged(fn, inputs, direction, eps: float):
    """(f(x + eps·d) − f(x − eps·d)) / 2eps, every input that requires grad moved along d (f run
    with grad enabled: it may differentiate inside)."""
    import numpy as np

    from .autograd import enable_grad
    saved = [t.array for t in inputs]
    try:
        values = []
        for sign in (1.0, -1.0):
            for t, d, x in zip(inputs, direction, saved):
                t.array = x if d is None else x + sign * eps * d
            with enable_grad():
                values.append(np.asarray(fn(*inputs).array, dtype=np.float64))
        return (values[0] - values[1]) / (2 * eps)
    finally:
        for t, x in zip(inputs, saved):
            t.array = x


def _close(analytic, numeric, atol: float, rtol: float, what: str) -> None:
    import numpy as np
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if not np.allclose(a, n, atol=atol, rtol=rtol):
        worst = np.unravel_index(np.argmax(np.abs(a - n) - rtol * np.abs(n)), a.shape) if a.ndim else ()
        raise GradcheckError(f"{what}: analytic {a[worst]:.8g}, numerical {n[worst]:.8g} at index {worst}")


def jvpcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
             rtol: float = 1e-3, seed: int = 0, directions: int = 2) -> bool:
    """Forward mode against the definitions, in float64: along `directions` random directions v
    (2 by default: a projection of the Jacobian, not every entry), the JVP (one forward pass
    carrying v) against the central difference (f(x + εv) − f(x − εv)) / 2ε within atol/rtol,
    and uᵀ(J·v) against (uᵀJ)·v from one backward pass with a random cotangent u, to rounding
    (1e-12 of the terms' size): both sides are analytic, so a JVP off by 0.1 % fails there."""
    import numpy as np

    from . import forward_ad
    from .autograd import enable_grad, grad
    inputs = _as_tuple(inputs)
    leaves = [t for t in inputs if t.requires_grad]
    if not leaves or any(t.dtype != np.float64 for t in leaves):
        raise TypeError("jvpcheck: needs float64 inputs that require grad")
    for k, direction in enumerate(_directions(inputs, seed, directions)):
        with forward_ad.dual_level():
            duals = [t if d is None else forward_ad.make_dual(t, d) for t, d in zip(inputs, direction)]
            out, tangent = forward_ad.unpack_dual(fn(*duals))
        tangent = np.zeros(out.shape) if tangent is None else tangent.array
        _close(tangent, _nudged(fn, inputs, direction, eps), atol, rtol, f"jvpcheck: J·v (direction {k})")
        u = np.random.default_rng(seed + 7 + k).standard_normal(out.shape)
        with enable_grad():
            grads = grad(fn(*inputs), leaves, grad_outputs=u, allow_unused=True)
        uJv = sum(float((g.array * d).sum()) for g, d in zip(grads, [d for d in direction if d is not None])
                  if g is not None)
        # both sides are analytic: they agree to rounding, so a JVP off by 0.1 % (which the central
        # difference's rtol lets through) fails here, wherever backward is right
        scale = float(np.abs(u * tangent).sum()) + sum(float(np.abs(g.array * d).sum()) for g, d in zip(
            grads, [d for d in direction if d is not None]) if g is not None)
        _close(float((u * tangent).sum()), uJv, 1e-12 * scale + 1e-300, 0.0,
               f"jvpcheck: uᵀ(J·v) against (uᵀJ)·v (direction {k})")
    return True


def gradgradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0, directions: int = 2) -> bool:
    """Second order against central differences, in float64. With random u (a cotangent of the
    output) and w (a direction per input), s(x) = Σ ⟨∂⟨u, f(x)⟩/∂x, w⟩ is computed with
    `create_graph=True`; its gradient (a second derivative: Hessian-vector products, cross
    terms included) must match central differences of s along `directions` random directions
    (2 by default): a projection of the second derivative, not every entry."""
    import numpy as np

    from .autograd import enable_grad, grad
    inputs = _as_tuple(inputs)
    leaves = [t for t in inputs if t.requires_grad]
    if not leaves or any(t.dtype != np.float64 for t in leaves):
        raise TypeError("gradgradcheck: needs float64 inputs that require grad")
    rng = np.random.default_rng(seed)
    with enable_grad():
        u = rng.standard_normal(fn(*inputs).shape)
    ws = [rng.standard_normal(t.shape) for t in leaves]

    def s(*xs) -> Tensor:
        with enable_grad():
            chosen = [x for x in xs if x.requires_grad]
            firsts = grad(fn(*xs), chosen, grad_outputs=u, create_graph=True, allow_unused=True)
            terms = [(g * type(g)(w)).sum() for g, w in zip(firsts, ws) if g is not None]
            return sum(terms[1:], terms[0]) if terms else type(xs[0])(np.zeros(()))
    with enable_grad():
        out = s(*inputs)
        second = grad(out, leaves, allow_unused=True) if out.requires_grad else [None] * len(leaves)
    for k, direction in enumerate(_directions(inputs, seed, directions)):
        analytic = sum(float((g.array * d).sum()) for g, d in zip(second, [d for d in direction if d is not None])
                       if g is not None)
        _close(analytic, _nudged(s, inputs, direction, eps), atol, rtol, f"gradgradcheck: direction {k}")
    return True
