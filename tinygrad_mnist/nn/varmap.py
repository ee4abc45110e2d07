"""`VarMap` (named trainable tensors) and `VarBuilder` (a path prefix into one), as in Candle."""
from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..tensor import Tensor
from .checkpoint import CheckpointError
from .checkpoint import load as load_checkpoint
from .checkpoint import save as save_checkpoint
from .init import ZERO, Init

ShapeLike = Union[int, Sequence[int]]


def _shape(shape: ShapeLike) -> Tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


class VarMap:
    """Trainable tensors by name (`fc1.weight`); the names are the checkpoint's names."""

    def __init__(self) -> None:
        self._vars: Dict[str, Tensor] = {}

    def get(self, shape: ShapeLike, path: str, init: Init = ZERO, dtype=np.float32) -> Tensor:
        """The variable called `path`, created with `init` if it does not exist yet."""
        shape, dtype = _shape(shape), np.dtype(dtype)
        var = self._vars.get(path)
        if var is not None:
            if var.shape != shape:
                raise ValueError(f"{path}: already exists with shape {list(var.shape)}, asked for {list(shape)}")
            if var.dtype != dtype:
                raise ValueError(f"{path}: already exists as {var.dtype}, asked for {dtype}")
            return var
        data = np.ascontiguousarray(init(shape, dtype), dtype=dtype)
        var = Tensor(data, requires_grad=True)
        var.name = path
        self._vars[path] = var
        return var

    def all_vars(self) -> List[Tensor]:
        """Every variable, sorted by name (a stable order for optimizers)."""
        return [self._vars[k] for k in sorted(self._vars)]

    def named_vars(self) -> List[Tuple[str, Tensor]]:
        return [(k, self._vars[k]) for k in sorted(self._vars)]

    def data(self) -> Dict[str, np.ndarray]:
        """Every variable's values on the host (the arrays themselves; a GPU's copied back)."""
        return {k: v.cpu().array for k, v in self.named_vars()}

    def __len__(self) -> int:
        return len(self._vars)

    def __contains__(self, path: str) -> bool:
        return path in self._vars

    def __getitem__(self, path: str) -> Tensor:
        return self._vars[path]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._vars))

    def save(self, path: str, metadata: Optional[Mapping[str, object]] = None) -> None:
        """Write every variable to a safetensors file, atomically (see checkpoint.py)."""
        save_checkpoint(path, self.data(), metadata)

    def load(self, path: str) -> Dict[str, str]:
        """Replace every variable's values by the file's; returns the file's metadata.

        Strict and all-or-nothing: a variable missing from the file, a shape or
        dtype that differs, non-finite values, or a tensor the model does not
        have is an error naming every such path, and then nothing is changed.
        """
        expected = sum(v.array.nbytes for v in self._vars.values())
        tensors, metadata = load_checkpoint(path, max_bytes=2 * expected + (16 << 20))  # room for names, extras
        problems = []
        for name, var in self.named_vars():
            arr = tensors.get(name)
            if arr is None:
                problems.append(f"{name}: missing from the file")
            elif arr.shape != var.shape:
                problems.append(f"{name}: shape {list(arr.shape)} in the file, {list(var.shape)} in the model")
            elif arr.dtype != var.dtype:
                problems.append(f"{name}: dtype {arr.dtype} in the file, {var.dtype} in the model")
            elif arr.dtype.kind == "f" and not np.isfinite(arr).all():
                problems.append(f"{name}: holds NaN or infinite values")
        problems += [f"{name}: in the file but not in the model" for name in sorted(set(tensors) - set(self._vars))]
        if problems:
            raise CheckpointError(f"{path}: does not match the model: " + "; ".join(problems))
        for name, var in self._vars.items():
            var.array[...] = tensors[name]  # in place: optimizers keep their references
        return metadata


class VarBuilder:
    """Creates variables in a VarMap under a dotted path prefix: `vb.pp("fc1").get(..., "weight")`."""

    def __init__(self, varmap: VarMap, dtype=np.float32, prefix: Tuple[str, ...] = ()):
        self.varmap, self.dtype, self.prefix = varmap, np.dtype(dtype), prefix

    @classmethod
    def from_varmap(cls, varmap: VarMap, dtype=np.float32) -> "VarBuilder":
        return cls(varmap, dtype)

    def pp(self, prefix: str) -> "VarBuilder":
        """A builder whose names start with this one's prefix, then `prefix`."""
        return VarBuilder(self.varmap, self.dtype, self.prefix + (str(prefix),))

    push_prefix = pp

    def path(self, name: str) -> str:
        return ".".join(self.prefix + (name,))

    def get_with_hints(self, shape: ShapeLike, name: str, init: Init) -> Tensor:
        return self.varmap.get(shape, self.path(name), init, self.dtype)

    def get(self, shape: ShapeLike, name: str) -> Tensor:
        """The variable `name`, zero-initialised if new (Candle's default hint)."""
        return self.get_with_hints(shape, name, ZERO)
