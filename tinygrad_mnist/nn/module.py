"""`Module`, the protocol every layer and model shares (PyTorch's `nn.Module` and Candle's `Module`
in one), `Parameter`, and `Sequential`."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, List, Mapping, NamedTuple, Tuple

import numpy as np

from ..losses import cross_entropy
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's parameter: it requires a gradient unless told otherwise
    (PyTorch's `nn.Parameter`). What ops make from it are plain tensors."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        super().__init__(np.zeros(0, np.float32) if data is None else data, requires_grad=requires_grad)


class LoadResult(NamedTuple):
    """What `load_state_dict(strict=False)` did not match, as in PyTorch."""
    missing_keys: List[str]
    unexpected_keys: List[str]


class Module:
    """Something callable on a tensor, one protocol for every layer and model:

    - `module(x)` is `module.forward(x)`;
    - `train()` and `eval()` switch `training` on the module and every module inside it (only
      dropout behaves differently). Modules start in training mode, as `torch.nn.Module` does
      (the trainer and the evaluator set the mode they need), and `forward_t(x, train)`
      (Candle's `ModuleT`) runs one call in the mode asked for;
    - `parameters()` and `named_parameters()`: the tensors that require a gradient, by
      attribute path (`ln1.weight`), as in PyTorch;
    - `state_dict()` and `load_state_dict(state, strict=True)`: the parameters by path, as in
      PyTorch (a PyTorch model's state dict loads as it is, its tensors read as arrays);
    - `loss(x, targets)`: `cross_entropy(self(x), targets)`, log_softmax then nll;
    - `sparse_input`: whether the trainer hands it the images in CSR form (`sparse.CSR`).
    """

    training = True
    sparse_input = False

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> Tensor:
        return self.forward(*args, **kwargs)

    def loss(self, x: Tensor, targets) -> Tensor:
        return cross_entropy(self(x), targets)

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def forward_t(self, x: Tensor, train: bool) -> Tensor:
        modes = [(m, m.training) for m in self.modules()]
        self.train(train)
        try:
            return self(x)
        finally:
            for m, mode in modes:
                m.training = mode

    def children(self) -> Iterator[Tuple[str, object]]:
        """(attribute, value) of the modules and tensors this module holds, lists included."""
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
            for i, v in items:
                if isinstance(v, (Module, Tensor)):
                    yield (name if i is None else f"{name}.{i}"), v

    def modules(self) -> List["Module"]:
        out, todo = [], [self]
        while todo:
            m = todo.pop(0)
            if all(m is not seen for seen in out):
                out.append(m)
                todo.extend(v for _, v in m.children() if isinstance(v, Module))
        return out

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        seen: List[Tensor] = []
        for name, v in self.children():
            pairs = v.named_parameters(f"{prefix}{name}.") if isinstance(v, Module) else [(prefix + name, v)]
            for path, t in pairs:
                if t.requires_grad and all(t is not s for s in seen):
                    seen.append(t)
                    yield path, t

    def parameters(self) -> List[Tensor]:
        return [t for _, t in self.named_parameters()]

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """The parameters by path (`fc1.weight`), detached: they share the parameters' arrays."""
        return OrderedDict((name, t.detach()) for name, t in self.named_parameters())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy `state`'s values (tensors, arrays, or anything numpy reads) into the parameters of
        the same path, in place. A shape that differs always raises; a missing or an unexpected
        key raises unless `strict=False`, which returns them (PyTorch's rule)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        errors = [f"Missing key(s) in state_dict: {', '.join(map(repr, missing))}."] if strict and missing else []
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {', '.join(map(repr, unexpected))}.")
        values = {k: np.asarray(getattr(state[k], "data", state[k])) for k in own if k in state}
        for k, v in values.items():
            if v.shape != own[k].shape:
                errors.append(f"size mismatch for {k}: copying a parameter of shape {list(v.shape)}, "
                              f"the parameter in the model has shape {list(own[k].shape)}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + " ".join(errors))
        for k, v in values.items():
            own[k].data[...] = v
        return LoadResult(missing, unexpected)


class Sequential(Module):
    """Modules applied in order, each to the last one's output (PyTorch's `nn.Sequential`); its
    parameters are named by position, `0.weight`, as PyTorch names them."""

    def __init__(self, *modules: Module):
        self.layers = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.layers:
            x = m(x)
        return x

    def children(self) -> Iterator[Tuple[str, object]]:
        return ((str(i), m) for i, m in enumerate(self.layers))

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
