"""`CSR`: a 2-D array kept as its non-zeros, row by row (compressed sparse rows). An explicit value:
a tensor holds it as its data (the graph labels it `[60000, 784] uint8, CSR`), the dataset builds
it once from its images, a minibatch takes its rows, and a `Linear` that reads it multiplies only
the non-zeros (kernels/sparse.py; both kernel sets). MNIST's pixels are 81 % zeros.

It is a constant input, never a gradient's target: nothing takes a gradient with respect to it.
Anything that needs the dense array (numpy, another op) gets it written out through `__array__`.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import kernels
from .kernels import numpy_kernels


class CSR:
    """Rows in CSR form: `indptr` [M+1] (row i's non-zeros are entries indptr[i]..indptr[i+1]-1),
    `indices` (each non-zero's column), `values` (the non-zeros, in the array's dtype)."""

    __slots__ = ("indptr", "indices", "values", "shape")
    ndim = 2

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, shape: Tuple[int, int]):
        self.indptr, self.indices, self.values, self.shape = indptr, indices, values, tuple(shape)

    @classmethod
    def from_dense(cls, x: Any) -> "CSR":
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"CSR holds a 2-D array, got shape {x.shape}")
        return cls(*kernels.impl.csr_from_dense(x), x.shape)

    dtype = property(lambda self: self.values.dtype)
    size = property(lambda self: self.shape[0] * self.shape[1])
    nnz = property(lambda self: len(self.values))

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: Any) -> "CSR":
        """Rows `rows` (integers, negative from the end), in that order: a minibatch."""
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iu" or rows.ndim != 1:
            raise IndexError(f"CSR rows are taken by a 1-D integer array, got {rows.dtype} {rows.shape}")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"a row index is out of range for {self.shape[0]} rows")
        return CSR(*kernels.impl.csr_take_rows(self.indptr, self.indices, self.values, rows),
                   (len(rows), self.shape[1]))

    def __getitem__(self, key: Any) -> "CSR":
        """Rows by a slice or an integer array (`x[idx]`, `x[a:b]`, `x[a:b, :]`); other keys raise."""
        if isinstance(key, tuple) and len(key) == 2 and key[1] == slice(None):
            key = key[0]
        if isinstance(key, slice):
            return self.take(np.arange(self.shape[0])[key])
        if isinstance(key, (list, np.ndarray)):
            return self.take(key)
        raise IndexError(f"CSR rows are indexed by a slice or an integer array, not {key!r}; "
                         "write the array out first (np.asarray)")

    def toarray(self) -> np.ndarray:
        return numpy_kernels.csr_to_dense(self.indptr, self.indices, self.values, self.shape[1], self.dtype)

    def __array__(self, dtype: Optional[Any] = None, copy: Optional[bool] = None) -> np.ndarray:
        dense = self.toarray()
        return dense if dtype is None else dense.astype(dtype)

    def __getattr__(self, name: str):
        """An array method the CSR form does not have (`reshape`, `astype`, ...): one clear line."""
        if name.startswith("__"):
            raise AttributeError(name)  # numpy's protocol probes (__array_interface__, ...)
        raise AttributeError(f"images in CSR form have no .{name}(): only Linear and row indexing read them; "
                             "np.asarray(x.array) writes them out dense")

    def __repr__(self) -> str:
        share = 100.0 * self.nnz / self.size if self.size else 0.0
        return f"CSR({list(self.shape)}, {self.dtype}, {share:.1f} % non-zero)"


def is_csr(x: Any) -> bool:
    return isinstance(x, CSR)
