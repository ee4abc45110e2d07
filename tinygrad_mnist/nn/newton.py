"""Hessian-free Newton steps: conjugate gradient on Hessian-vector products (Martens' idea).

Each step solves (H + λI) p = −g for the loss's Hessian H at the current weights, never forming
H: conjugate gradient only needs products H·v, and each is one more backward pass through the
gradient's own graph (`backward(create_graph=True)`, then the gradient of ⟨g, v⟩, which is H·v
because H is symmetric). Then w ← w + lr · p. For the linear model's cross-entropy H is
positive semi-definite, so the damped system is positive definite and CG converges; on a
non-convex model it can meet negative curvature, where it stops at the last good direction.
"""
from __future__ import annotations

from typing import Iterable, List

import numpy as np

from ..autograd import grad
from ..tensor import Tensor
from ..optim import Optimizer


class NewtonCG(Optimizer):
    """p solves (H + damping·I) p = −g by at most `cg_iters` CG iterations on H·v products;
    w ← w + lr · p. `lr` 1 is the full Newton step."""

    def __init__(self, vars: Iterable[Tensor], lr: float = 1.0, cg_iters: int = 10, damping: float = 1e-3,
                 tol: float = 1e-6):
        super().__init__(vars, dict(lr=lr))
        if cg_iters < 1 or damping < 0:
            raise ValueError("NewtonCG: needs cg_iters >= 1 and damping >= 0")
        self.cg_iters, self.damping, self.tol = cg_iters, damping, tol
        self.last_iterations = 0

    def backward_step(self, loss: Tensor) -> None:
        grads = grad(loss, self.vars, create_graph=True, allow_unused=True)
        grads = [Tensor(np.zeros_like(v.array)) if g is None else g for g, v in zip(grads, self.vars)]
        b = -self._flat([g.array for g in grads])

        def hvp(vector: np.ndarray) -> np.ndarray:
            pieces = [Tensor(p.astype(v.dtype)) for p, v in zip(self._split(vector), self.vars)]
            products = grad(grads, self.vars, grad_outputs=pieces, retain_graph=True, allow_unused=True)
            return self._flat([np.zeros(v.shape) if h is None else h.array for h, v in zip(products, self.vars)]) \
                + self.damping * vector
        step = self._cg(hvp, b)
        for v, p in zip(self.vars, self._split(step)):
            v.array += v.dtype.type(self.learning_rate) * p.astype(v.dtype)
            v.grad = None

    def step(self) -> None:
        raise RuntimeError("NewtonCG needs the loss's graph for its Hessian-vector products: "
                           "call backward_step(loss) instead of backward() and step()")

    def _cg(self, hvp, b: np.ndarray) -> np.ndarray:
        """Conjugate gradient for A x = b, A symmetric positive definite, from x = 0."""
        x, r = np.zeros_like(b), b.copy()
        p, rs = r.copy(), float(r @ r)
        self.last_iterations = 0
        for _ in range(self.cg_iters):
            if rs <= self.tol ** 2 * float(b @ b):
                break
            ap = hvp(p)
            curvature = float(p @ ap)
            if curvature <= 0:  # negative curvature (a non-convex loss): keep the last good x
                break
            alpha = rs / curvature
            x += alpha * p
            r -= alpha * ap
            rs, previous = float(r @ r), rs
            p = r + (rs / previous) * p
            self.last_iterations += 1
        return x

    def _flat(self, arrays: List[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])

    def _split(self, vector: np.ndarray) -> List[np.ndarray]:
        out, start = [], 0
        for v in self.vars:
            out.append(vector[start:start + v.array.size].reshape(v.shape))
            start += v.array.size
        return out
