"""`Optimizer`, PyTorch's shape with Candle's names beside it: parameter groups (each with its
hyperparameters: what a scheduler changes), per-parameter state (`state[p]`), `step`, `zero_grad`,
`state_dict`/`load_state_dict`; and Candle's `backward_step(loss)`, `learning_rate`,
`set_learning_rate`.

Updates happen in place on the parameters' arrays and record no graph.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from .. import kernels
from ..autograd import enable_grad
from ..kernels.interface import DeviceArray
from ..tensor import Tensor


def check_lr(lr: Any) -> float:
    lr = float(lr)
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"learning rate must be a finite number >= 0, got {lr}")
    return lr


class Optimizer:
    """The parameters in groups (`param_groups`: dicts of 'params' and hyperparameters, the
    defaults filling what a group leaves out) and each parameter's state (`state[p]`, a dict made
    at its first update). A subclass writes `_update(p, grad, group, state)`."""

    def __init__(self, params: Iterable[Any], defaults: Dict[str, Any]):
        self.defaults = dict(defaults)
        self.param_groups: List[Dict[str, Any]] = []
        self.state: Dict[Tensor, Dict[str, Any]] = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, group: Dict[str, Any]) -> None:
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"optimizer: variable {getattr(p, 'name', None) or getattr(p, 'shape', p)} "
                                 "does not require a gradient")
            if any(p is q for g in self.param_groups for q in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        full = {**self.defaults, **group, "params": params}
        full["lr"] = check_lr(full["lr"])
        self.param_groups.append(full)

    @property
    def vars(self) -> List[Tensor]:
        """Every parameter, group after group (Candle's `vars`)."""
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def learning_rate(self) -> float:
        return self.param_groups[0]["lr"]

    def set_learning_rate(self, lr: float) -> None:
        for g in self.param_groups:
            g["lr"] = check_lr(lr)

    def __getattr__(self, name: str) -> Any:  # `opt.momentum`: the first group's hyperparameter
        groups = self.__dict__.get("param_groups")
        if groups and name in groups[0] and name != "params":
            return groups[0][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.vars:
            p.grad = None if set_to_none or p.grad is None else Tensor(np.zeros_like(p.grad.array))

    def backward_step(self, loss: Tensor) -> None:
        """Zero the gradients, backpropagate `loss`, update the variables (Candle's)."""
        self.zero_grad()
        loss.backward()
        self.step()

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One update of every parameter that has a gradient; `closure` (re-evaluating the loss,
        PyTorch's) runs first with grad enabled and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.array if isinstance(p.grad, Tensor) else np.asarray(p.grad)  # an array set by hand too
                if isinstance(p.array, DeviceArray):  # the update runs on the parameter's device
                    with kernels.running_on(p.array, type(self).__name__):
                        self._update(p, grad, group, self.state.setdefault(p, {}))
                else:
                    self._update(p, grad, group, self.state.setdefault(p, {}))
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ PyTorch's state dict
    def state_dict(self) -> Dict[str, Any]:
        """{'state': {index: {name: value}}, 'param_groups': [{hyperparameters, 'params': [indices]}]},
        parameters by their position across the groups, as PyTorch; arrays as Tensor copies."""
        index = {id(p): i for i, p in enumerate(self.vars)}
        state = {index[id(p)]: {k: Tensor(v.copy()) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(len(a["params"]) != len(b["params"])
                                                         for a, b in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameter groups or parameters in them")
        params = self.vars
        for saved, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            values = {k: np.array(getattr(v, "array", v)) if isinstance(v, (Tensor, np.ndarray)) else v for k, v in s.items()}
            for k, v in values.items():
                if isinstance(v, np.ndarray) and v.ndim and v.shape != p.shape:
                    raise ValueError(f"optimizer state {k} of parameter {i}: shape {list(v.shape)}, the parameter "
                                     f"has {list(p.shape)}")
            self.state[p] = {k: v.astype(p.dtype) if isinstance(v, np.ndarray) and v.ndim else v
                             for k, v in values.items()}

    # ------------------------------------------------------------ the trainer's checkpoints
    def checkpoint_state(self) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
        """A copy of what the next steps depend on besides the weights: arrays by name, and numbers
        as strings (for a checkpoint's metadata). `load_checkpoint_state` puts it back."""
        return {}, {}

    def load_checkpoint_state(self, arrays: Dict[str, np.ndarray], numbers: Dict[str, str]) -> None:
        """Restore `checkpoint_state()`; the arrays must have the variables' shapes and dtypes."""
        params = self.vars
        for name, arr in arrays.items():
            i = int(name.rsplit(".", 1)[1])
            if not 0 <= i < len(params) or arr.shape != params[i].shape or arr.dtype != params[i].dtype:
                raise ValueError(f"optimizer state {name}: {list(arr.shape)} {arr.dtype} does not fit the model")


def zeros_for(p: Tensor) -> Any:
    """Zeros of p's shape and dtype on p's device (state an update keeps beside p), row-major."""
    return np.zeros_like(p.array) if isinstance(p.array, DeviceArray) else np.zeros(p.shape, p.dtype)


def beside(p: Tensor, a: np.ndarray) -> Any:
    """A copy of a loaded state array on p's device."""
    return Tensor(np.array(a), device=p.device).array
