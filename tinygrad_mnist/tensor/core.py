"""`Tensor`: a numpy array that remembers the op that made it.

The methods only translate Python syntax (PyTorch's spelling, with numpy's
where it differs in name only) into `Op.apply` calls; what each op
computes and how it differentiates is in `functions/`, how gradients flow is
in `autograd.py`, and the losses are in `losses.py`. This file holds the core:
construction, what a tensor holds and says about itself, and its place in the graph
(`backward`, `requires_grad_`, `retain_grad`, `detach`). The methods come by family
(`create.py`, `elementwise.py`, `shape.py`, `reduce.py`, `nn.py`), under the contract and the
dtype and argument rules of `base.py`.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .. import autograd
from .. import functions as F
from .. import devices
from ..kernels.interface import DeviceArray
from ..sparse import is_csr
from .base import TensorBase, as_array, is_float, norm_dim
from .create import CreationMethods
from .elementwise import ElementwiseMethods
from .nn import NetworkMethods
from .reduce import MinMax, ReductionMethods
from .shape import ShapeMethods, cat, stack

__all__ = ["Tensor", "cat", "stack", "MinMax"]


class Tensor(CreationMethods, ElementwiseMethods, ShapeMethods, ReductionMethods, NetworkMethods):
    """An n-dimensional array with reverse-mode autodiff.

    `requires_grad=True` marks a leaf whose `.grad` is filled by `backward()`: after
    `loss.backward()`, `w.grad` is a tensor of `w`'s shape holding d loss / d w, summed over
    every backward pass since it was last cleared (as in PyTorch). With
    `backward(create_graph=True)` it is itself a graph, and can be differentiated again.
    numpy reads a tensor as its array (`np.asarray(t)`), but its ufuncs refuse one, so that
    `np.float32(2) * t` is the tensor's own product.
    """

    __slots__ = ("array", "requires_grad", "grad", "_ctx", "name", "_tangent", "retains_grad", "_hooks", "__weakref__")
    __array_ufunc__ = None  # numpy's operators defer to ours: `np.float32(2) * t` is Tensor.__rmul__

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if isinstance(self.array, DeviceArray):
            self.array.__array__()  # raises: numpy reading a GPU's values would copy them unseen
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None):
        self.array = data.array if isinstance(data, TensorBase) else data if is_csr(data) else as_array(data, dtype)
        where = None if device is None else devices.check(device)  # PyTorch's `tensor(..., device=)`
        if where is not None and where != self.device:
            self.array = _moved(self.array, where)
        if requires_grad and not is_float(self.array.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.array.dtype}")
        self.requires_grad = requires_grad
        self.grad: Optional[Tensor] = None
        self._ctx: Optional[autograd.Context] = None
        self.name: Optional[str] = None  # set by a VarMap for its variables
        self._tangent: Optional[np.ndarray] = None  # forward mode's (forward_ad.py)
        self.retains_grad = False  # a non-leaf that keeps its .grad (retain_grad())
        self._hooks: Optional[dict] = None  # gradient hooks (autograd.add_hook), None while there are none

    @property
    def data(self) -> "Tensor":
        """PyTorch's `.data`: the values as a tensor outside the graph that shares this tensor's
        array, so `p.data -= lr * p.grad` and `p.data.zero_()` change p in place, unrecorded.
        The engine itself reads the numpy array, `.array` (`.numpy()` too)."""
        return Tensor(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        """`p.data = values`: p holds these values from now on (their array, not a copy)."""
        self.array = value.array if isinstance(value, TensorBase) else as_array(value)

    # ------------------------------------------------------------ introspection
    def size(self, dim: Optional[int] = None) -> Union[tuple, int]:
        """The shape (PyTorch's `size()`), or the length of one dimension; `numel()` counts elements."""
        return self.array.shape if dim is None else self.array.shape[norm_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.array)

    def numpy(self) -> np.ndarray:
        if isinstance(self.array, DeviceArray):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")
        return self.array

    def tolist(self) -> Any:
        return self._host().tolist()

    def _host(self) -> np.ndarray:
        """The values on the host: the array itself, or a device's copied back (a synchronisation)."""
        return self.array.get() if isinstance(self.array, DeviceArray) else self.array

    def item(self) -> Union[int, float, bool]:
        """The one element as a Python number (from a device: copied back, which waits for it)."""
        if self.array.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self._host().item()

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of {self.array.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def any(self) -> "Tensor":
        return Tensor(np.asarray(self.array.any()))

    def all(self) -> "Tensor":
        return Tensor(np.asarray(self.array.all()))

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.array)

    def clone(self) -> "Tensor":
        """A copy that stays in the graph (the gradient passes through unchanged)."""
        return F.Clone.apply(self)

    def contiguous(self) -> "Tensor":
        """This tensor if its elements lie in row-major order, else a recorded copy that does
        (what `view` needs after `permute` or a strided slice)."""
        return self if self.array.flags.c_contiguous else self.clone()

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> "Tensor":
        """|self − other| ≤ atol + rtol · |other|, elementwise, as a bool tensor (PyTorch's defaults)."""
        return Tensor(np.isclose(self.array, as_array(getattr(other, "array", other)), rtol, atol, equal_nan))

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).array.all())

    # ------------------------------------------------------------ device, dtype and in-place fills
    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
           copy: bool = False) -> "Tensor":
        """PyTorch's `to`: a device (`"cpu"`, a `device`), a dtype, both, or another tensor's. The
        same tensor when nothing changes; a dtype change is a recorded cast where a gradient flows."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif devices.is_device_name(a):
                device = a
            else:
                dtype = a
        out = self if dtype is None or np.dtype(dtype) == self.dtype else (
            self._to(np.dtype(dtype)) if is_float(np.dtype(dtype)) else self._cast_int(np.dtype(dtype)))
        where = None if device is None else devices.check(device)
        if where is not None and where != out.device:  # a copy to the other device
            return F.ToDevice.apply(out, device=where, home=out.device) if out.requires_grad else \
                Tensor(_moved(out.array, where))
        return out.clone() if copy and out is self else out

    def nelement(self) -> int:
        return self.array.size

    def element_size(self) -> int:
        return self.array.itemsize

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad, device=self.device)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad, device=self.device)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return Tensor(np.array(getattr(data, "array", data), dtype=dtype or self.dtype), requires_grad=requires_grad,
                      device=self.device)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device: Any = None) -> "Tensor":
        return self.to("cuda" if device is None else device)

    def copy_(self, src: Any) -> "Tensor":
        """Copy `src`'s values into this tensor's array, in place (broadcast; cast to its dtype)."""
        return self.fill_(src)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        """Fill in place with normal samples from the engine's generator (an initialiser's)."""
        from ..generator import rng
        return self.fill_(rng().normal(mean, std, self.shape))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        from ..generator import rng
        return self.fill_(rng().uniform(a, b, self.shape))

    def zero_(self) -> "Tensor":
        """Fill with zeros in place (a gradient, a buffer; a leaf that requires grad under no_grad)."""
        return self.fill_(0)

    def fill_(self, value: Any) -> "Tensor":
        if autograd.is_grad_enabled() and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation: "
                               "fill it under no_grad()")
        value = getattr(value, "array", value)
        if isinstance(value, DeviceArray) and not isinstance(self.array, DeviceArray):
            value = value.get()  # copy_ from the GPU: a copy back
        if isinstance(self.array, DeviceArray):
            if isinstance(value, np.ndarray) and value.ndim:
                value = _moved(value, devices.CUDA)  # copy_ from the host: one upload
            self.array.fill(value)
        else:
            self.array[...] = value
        return self

    def _repr_html_(self) -> str:
        """How a notebook shows a tensor: its values, and where it came from in the graph."""
        import html
        origin = (f"made by <b>{self._ctx.fn.__name__}</b>" if self._ctx is not None else
                  "a leaf that requires grad" if self.requires_grad else "a constant")
        grad = "" if self.grad is None else f"<br>.grad: <pre>{html.escape(np.array2string(self.grad.array, threshold=20))}</pre>"
        name = f"<b>{html.escape(self.name)}</b> " if self.name else ""
        return (f"<div>{name}Tensor {list(self.shape)} {self.dtype}, {origin}"
                f"<pre>{html.escape(np.array2string(self.array, threshold=20))}</pre>{grad}</div>")

    def __repr__(self) -> str:
        body = np.array2string(self._host(), separator=", ", prefix="Tensor(", threshold=20)  # printing waits
        extra = ", device='cuda:0'" if isinstance(self.array, DeviceArray) else ""
        extra += f", grad_fn={self._ctx.fn.__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ------------------------------------------------------------ autodiff
    @property
    def is_leaf(self) -> bool:
        """Made by no recorded op: a tensor built by hand (requiring grad or not) or under no_grad."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Optional[autograd.Context]:
        """The recorded op that made this tensor (its `name()` is the op's), None for a leaf."""
        return self._ctx

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark (or unmark) a leaf as wanting a gradient, in place; returns the tensor."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a tensor made by an op: use .detach() to cut it "
                               "from the graph")
        if requires_grad and not is_float(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad or self._ctx is not None
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in `.grad` on the next backward passes (a leaf keeps its own)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require a gradient")
        if self._ctx is not None:
            self.retains_grad = True

    def register_hook(self, hook) -> autograd.RemovableHandle:
        """`hook(grad)` runs each time the gradient with respect to this tensor is complete (summed
        over its uses), before it is passed on or added to a leaf's `.grad`; a tensor it returns
        replaces the gradient. Returns a handle whose `remove()` takes it off (PyTorch's)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return autograd.add_hook(self, "grad", hook)

    def register_post_accumulate_grad_hook(self, hook) -> autograd.RemovableHandle:
        """`hook(leaf)` runs after backward has added to this leaf's `.grad` (it is final for the
        pass); it must return None. Data-parallel training starts a bucket's all-reduce from it."""
        if self._ctx is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return autograd.add_hook(self, "post", hook)

    def backward(self, gradient: Any = None, retain_graph: Optional[bool] = None, create_graph: bool = False,
                 trace: Any = None) -> None:
        """Accumulate d self / d leaf into every leaf's `.grad`: a tensor of the leaf's shape,
        added to on every call (clear it with `leaf.grad = None`, as optimizers do).

        Without `gradient` the tensor must hold one element (a loss): the seed is 1.
        What each op saved is freed as the pass goes, so a second backward through the same
        graph raises unless this one had `retain_graph=True` (PyTorch's rule). With
        `create_graph=True` the pass is recorded too: `.grad` is a graph (retain_graph then
        defaults to True). `trace=True` prints each step (`tinygrad_mnist/trace.py`); a stream
        or a `BackwardTrace` may be given instead.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require a gradient "
                               "(no input had requires_grad=True, or it was made under no_grad())")
        seed = autograd.seed(self, gradient, create_graph, "backward() without a gradient needs a one-element "
                             "tensor, got shape {shape}; reduce it to a loss or pass gradient=")
        if seed.shape != self.shape:
            raise ValueError(f"backward(): gradient of shape {seed.shape} for a tensor of shape {self.shape}")
        from ..trace import for_call
        autograd.backward([self], [seed], retain_graph=create_graph if retain_graph is None else retain_graph,
                          create_graph=create_graph, trace=for_call(trace))


Tensor.plain = Tensor  # what ops make from a Tensor, and from its subclasses (nn.Parameter)


def _moved(array: Any, where: devices.device) -> Any:
    """`array`'s values on the device `where` (one transfer, either way)."""
    if where.type == "cuda":
        from ..cuda.ops import to_device
        return to_device(array)
    return array.get()
