"""`Module`, the protocol every layer and model shares (PyTorch's `nn.Module` and Candle's `Module`
in one), `Parameter`, and `Sequential`."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from ..losses import cross_entropy
from ..tensor import Tensor
from ..devices import host


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

    def _members(self) -> Iterator[Tuple[str, object]]:
        """(attribute, value) of the modules and tensors this module holds, lists included."""
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
            for i, v in items:
                if isinstance(v, (Module, Tensor)):
                    yield (name if i is None else f"{name}.{i}"), v

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """(name, module) of the modules directly inside this one, as PyTorch's."""
        return ((n, v) for n, v in self._members() if isinstance(v, Module))

    def children(self) -> Iterator["Module"]:
        return (v for _, v in self.named_children())

    def modules(self) -> List["Module"]:
        out, todo = [], [self]
        while todo:
            m = todo.pop(0)
            if all(m is not seen for seen in out):
                out.append(m)
                todo.extend(m.children())
        return out

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        return self._named_tensors(prefix, buffers=False)

    def _named_tensors(self, prefix: str = "", buffers: Any = "persistent") -> Iterator[Tuple[str, Tensor]]:
        """Parameters (tensors that require grad), and the persistent buffers (or with `buffers`
        "all" every buffer, with False none), by
        path, each once: PyTorch's order, a module's own parameters, then its buffers, then each
        module inside it in turn."""
        seen: List[Tensor] = []
        kept = getattr(self, "_buffer_names", frozenset())
        kept = kept - getattr(self, "_transient", frozenset()) if buffers == "persistent" else kept
        members = list(self._members())
        own = [(prefix + n, v) for n, v in members if isinstance(v, Tensor) and v.requires_grad]
        own += [(prefix + n, v) for n, v in members if isinstance(v, Tensor) and buffers and not v.requires_grad
                and n in kept]
        inner = (pair for n, v in members if isinstance(v, Module) for pair in v._named_tensors(f"{prefix}{n}.", buffers))
        for path, t in (*own, *inner):
            if all(t is not s for s in seen):
                seen.append(t)
                yield path, t

    def parameters(self) -> List[Tensor]:
        return [t for _, t in self.named_parameters()]

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """A tensor the module keeps that is not a parameter (BatchNorm's running statistics): an
        attribute, in `state_dict()` unless `persistent=False`, never in `parameters()`."""
        setattr(self, name, tensor)
        self._buffer_names = getattr(self, "_buffer_names", frozenset()) | {name}
        if not persistent:
            self._transient = getattr(self, "_transient", frozenset()) | {name}

    def named_buffers(self) -> Iterator[Tuple[str, Tensor]]:
        return ((n, t) for n, t in self._named_tensors(buffers="all") if not t.requires_grad)

    def buffers(self) -> List[Tensor]:
        return [t for _, t in self.named_buffers()]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's `.grad` (None, or zeros with `set_to_none=False`)."""
        for p in self.parameters():
            if p.grad is not None and not set_to_none:
                p.grad = Tensor(np.zeros_like(p.grad.array))  # on the gradient's device
            else:
                p.grad = None

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """PyTorch's `model.to(device)` (or a dtype): the parameters and buffers, and their
        gradients, moved in place (the same tensors, so an optimizer made before still holds
        them); a device that is not available raises."""
        from ..devices import check
        for a in list(args) + [kwargs.get("device"), kwargs.get("dtype")]:
            if isinstance(a, (type, np.dtype)):
                for _, t in self._named_tensors():
                    if t.dtype.kind == "f":
                        t.array = t.array.astype(a)
            elif a is not None:
                where = check(a)
                for _, t in self._named_tensors(buffers="all"):
                    t.array = t.to(where).array
                    if t.grad is not None:
                        t.grad = t.grad.to(where)
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device: Any = None) -> "Module":
        return self.to("cuda" if device is None else device)

    def named_modules(self, prefix: str = "") -> Iterator[Tuple[str, "Module"]]:
        """(path, module) for this module ('' ) and every module inside it, PyTorch's order."""
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def apply(self, fn: Any) -> "Module":
        """fn(m) for every module inside this one, then this one (an initialiser's loop)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter; a frozen one leaves parameters() too."""
        if requires_grad:  # every Parameter: a frozen one is no longer among parameters()
            tensors = [v for m in self.modules() for _, v in m._members() if isinstance(v, Parameter)]
        else:
            tensors = self.parameters()
        for t in tensors:
            t.requires_grad = requires_grad
        return self

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param: Optional[Tensor]) -> None:
        setattr(self, name, param)

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def extra_repr(self) -> str:
        """What `print(model)` shows inside this module's parentheses (its settings)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = [self.extra_repr()] if self.extra_repr() else []
        return f"{type(self).__name__}(\n" + "".join(f"  {line}\n" for line in extra + lines) + ")"

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """The parameters and persistent buffers by path (`fc1.weight`, `bn.running_mean`),
        detached: they share the module's arrays."""
        return OrderedDict((name, t.detach()) for name, t in self._named_tensors())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy `state`'s values (tensors, arrays, or anything numpy reads) into the parameters of
        the same path, in place. A shape that differs always raises; a missing or an unexpected
        key raises unless `strict=False`, which returns them (PyTorch's rule)."""
        own = dict(self._named_tensors())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        errors = [f"Missing key(s) in state_dict: {', '.join(map(repr, missing))}."] if strict and missing else []
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {', '.join(map(repr, unexpected))}.")
        values = {k: host(getattr(state[k], "array", state[k])) for k in own if k in state}
        for k, v in values.items():
            if v.shape != own[k].shape:
                errors.append(f"size mismatch for {k}: copying a parameter of shape {list(v.shape)}, "
                              f"the parameter in the model has shape {list(own[k].shape)}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + " ".join(errors))
        for k, v in values.items():
            own[k].array[...] = v  # in place, on the parameter's device (to a GPU: an upload)
        return LoadResult(missing, unexpected)


class Sequential(Module):
    """Modules applied in order, each to the last one's output (PyTorch's `nn.Sequential`); its
    parameters are named by position, `0.weight`, as PyTorch names them."""

    def __init__(self, *modules: Module):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} ({getattr(m, '__name__', type(m).__name__)}) is not a "
                                "Module; wrap a function in a module (nn.ReLU() for relu, nn.Flatten() for flatten)")
        self.layers = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.layers:
            x = m(x)
        return x

    def _members(self) -> Iterator[Tuple[str, object]]:
        return ((str(i), m) for i, m in enumerate(self.layers))

    def __getitem__(self, i: Any) -> Any:
        return type(self)(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def append(self, module: Module) -> "Sequential":
        self.__init__(*self.layers, module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the model sees, named by position (`layers.0.weight`):
    PyTorch's `nn.ModuleList`. It has no forward; the model decides how to call them."""

    def __init__(self, modules: Optional[Any] = None):
        self.layers: List[Module] = []
        self.extend(modules or [])

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: {type(module).__name__} is not a Module")
        self.layers.append(module)
        return self

    def extend(self, modules: Any) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self.append(module)
        self.layers.insert(index, self.layers.pop())

    def _members(self) -> Iterator[Tuple[str, object]]:
        return ((str(i), m) for i, m in enumerate(self.layers))

    def __getitem__(self, i: Any) -> Any:
        return ModuleList(self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __setitem__(self, i: int, module: Module) -> None:
        self.layers[i] = module

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
