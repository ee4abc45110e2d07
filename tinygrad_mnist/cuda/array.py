"""`CudaArray`: an array in the GPU's memory that answers the part of numpy's array interface
the engine's ops use (shape, dtype, `reshape`, `.T`, `astype`, operators with broadcasting,
`sum(axis=)`, indexing rows), each by a kernel of `cuda/kernels.py`. So an op written for numpy
arrays runs on the device unchanged where it uses only that part; anything else raises
`DeviceUnsupported`, and the op says which op it was and to call `.cpu()`.

A CudaArray is always row-major and contiguous: a transpose is a copy (a kernel), so every
kernel reads plain flat memory. Host ↔ device copies happen only in `to_device` and `get`
(`Tensor.to`, `.cpu()`, `.item()`): numpy reading a CudaArray raises rather than copy silently.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from numba import config

from ..kernels.interface import DeviceArray, DeviceUnsupported
from . import kernels as K


class Launch:
    """Launch sizes: `threads` per block and at most `blocks` blocks for the grid-stride kernels,
    `tile` for the tiled product (0: the plain one), `block` threads per row reduction. The
    simulator runs each thread as an OS thread, so it gets a few; a GPU gets many. Every launch
    and every copy goes on one stream (`stream`), so they run in the order they were issued and
    only a copy to the host waits for them."""

    def __init__(self, threads: int, blocks: int, tile: int, block: int):
        self.threads, self.blocks, self.tile, self.block = threads, blocks, tile, block
        self._stream = None

    @property
    def stream(self) -> Any:
        if self._stream is None:
            self._stream = _cuda().stream()
        return self._stream

    def grid(self, n: int) -> Tuple[int, int, Any]:
        """The launch of a grid-stride kernel over n elements: blocks, threads, the stream."""
        return max(1, min(self.blocks, -(-n // self.threads))), self.threads, self.stream


SIMULATED = bool(config.ENABLE_CUDASIM)
launch = Launch(8, 2, 0, 4) if SIMULATED else Launch(256, 4096, 16, 128)


def _cuda():
    from numba import cuda
    return cuda


class Pool:
    """The step's temporaries, kept for the next step: a buffer whose last array is gone is kept
    by its size and handed to the next allocation of that size. A training step allocates the
    same sizes every step, so from the third step on (the first step's gradients live into the
    second) it asks the driver for nothing (an
    allocation and a free can each wait for the GPU). Reuse is safe because the kernels and
    copies run on one stream, in order: a buffer's next user starts after its last one ended.
    At most `limit` bytes are kept; `clear()` gives them back."""

    def __init__(self, limit: int = 1 << 30):
        self.limit, self.kept, self.free = limit, 0, {}
        self.hits = self.misses = 0

    def take(self, nbytes: int) -> Any:
        kept = self.free.get(nbytes)
        if kept:
            self.hits, self.kept = self.hits + 1, self.kept - nbytes
            return kept.pop()
        self.misses += 1
        return _cuda().device_array(nbytes, np.uint8)

    def give(self, buf: Any) -> None:
        if self.kept + buf.size <= self.limit:
            self.free.setdefault(buf.size, []).append(buf)
            self.kept += buf.size

    def clear(self) -> None:
        self.free, self.kept = {}, 0


pool = Pool()


def empty(shape: tuple, dtype: Any) -> "CudaArray":
    """An uninitialised array, its memory from the pool."""
    shape, dtype = tuple(int(n) for n in shape), np.dtype(dtype)
    buf = pool.take(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    return CudaArray(buf.view(dtype).reshape(shape) if len(shape) != 1 else buf.view(dtype), buf=buf)


def full(shape: tuple, value: Any, dtype: Any) -> "CudaArray":
    out = empty(shape, dtype)
    if out.size:
        K.device_kernels()["fill"][launch.grid(out.size)](out.flat, out.dtype.type(value))
    return out


def to_device(a: Any) -> "CudaArray":
    """A host array's copy on the device (one transfer, on the stream)."""
    a = np.asarray(a)
    a = a if a.flags.c_contiguous else a.copy()  # (ascontiguousarray would make a 0-d array 1-d)
    out = empty(a.shape, a.dtype)
    if a.size:
        out.d.copy_to_device(a, stream=launch.stream)
    return out


def dropout_mask(shape: tuple, dtype: Any, p: float, seed: int, offset: int) -> "CudaArray":
    """1/(1−p) where a uniform draw is ≥ p, else 0: draws `offset`… of the stream `seed`."""
    out = empty(shape, dtype)
    if out.size:
        K.device_kernels()["dropout_mask"][launch.grid(out.size)](
            out.flat, np.float32(p), out.dtype.type(1.0 / (1.0 - p)), np.int64(seed), np.int64(offset))
    return out


def _padded(shape: tuple, strides: tuple) -> Tuple[tuple, tuple]:
    if len(shape) > 4:
        raise DeviceUnsupported(f"arrays of {len(shape)} dimensions (the CUDA kernels take up to 4)")
    pad = 4 - len(shape)
    return (1,) * pad + tuple(int(n) for n in shape), (0,) * pad + tuple(int(s) for s in strides)


def _strides(shape: tuple) -> tuple:
    """Row-major element strides."""
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


def _broadcast_strides(shape: tuple, to: tuple) -> tuple:
    own = (1,) * (len(to) - len(shape)) + tuple(shape)
    return tuple(0 if n == 1 and m != 1 else s for n, m, s in zip(own, to, _strides(own)))


class _Flags:
    c_contiguous = True
    writeable = True


_ARITH = ("add", "sub", "mul", "truediv", "maximum", "minimum")
_COMPARE = ("gt", "ge", "lt", "le", "eq", "ne")
_CODES = dict(zip(_ARITH + _COMPARE + ("pow",), range(13)))  # the binary kernel's op codes (cuda/kernels.py)
_UFUNCS = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "truediv",
           np.maximum: "maximum", np.minimum: "minimum", np.greater: "gt", np.greater_equal: "ge",
           np.less: "lt", np.less_equal: "le", np.equal: "eq", np.not_equal: "ne"}
_UNARY = {np.negative: K.NEG, np.exp: K.EXP, np.log: K.LOG, np.sqrt: K.SQRT, np.absolute: K.ABS, np.sign: K.SIGN,
          np.tanh: K.TANH}


class CudaArray(DeviceArray):
    """A row-major array in the GPU's memory (a numba device array, `.d`). The array that
    allocated the memory holds its pool buffer (`buf`) and returns it when it goes; a view
    (a reshape, rows) holds that array (`owner`), so the memory outlives every view of it."""

    __slots__ = ("d", "buf", "owner")
    flags = _Flags()
    base = None
    __array_priority__ = 100  # numpy's operators defer to ours

    def __init__(self, d: Any, buf: Any = None, owner: Optional["CudaArray"] = None):
        self.d, self.buf, self.owner = d, buf, owner

    def __del__(self) -> None:
        if self.buf is not None and pool is not None:  # (None at interpreter exit)
            pool.give(self.buf)

    def _view(self, d: Any) -> "CudaArray":
        return CudaArray(d, owner=self if self.owner is None else self.owner)

    @classmethod
    def kernel_set(cls) -> Any:  # `cuda/ops.py` registers itself here when it loads (it imports this module)
        raise RuntimeError("the CUDA kernel set is not loaded: import tinygrad_mnist.cuda.ops")

    shape = property(lambda self: tuple(self.d.shape))
    dtype = property(lambda self: np.dtype(self.d.dtype))
    ndim = property(lambda self: len(self.d.shape))
    size = property(lambda self: int(np.prod(self.d.shape, dtype=np.int64)))
    itemsize = property(lambda self: self.dtype.itemsize)
    nbytes = property(lambda self: self.size * self.dtype.itemsize)
    T = property(lambda self: self.transpose())

    @property
    def flat(self) -> Any:
        """The same memory as a 1-D device array (what the grid-stride kernels loop over)."""
        return self.d.reshape(self.size) if self.ndim != 1 else self.d

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"CudaArray(shape={self.shape}, dtype={self.dtype})"  # no values: that would copy them

    # ------------------------------------------------------------ the only ways to the host
    def get(self) -> np.ndarray:
        """The values, copied to the host: waits for the stream (a synchronisation)."""
        if not self.size:
            return np.empty(self.shape, self.dtype)
        host = self.d.copy_to_host(stream=launch.stream)
        launch.stream.synchronize()
        return host

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise DeviceUnsupported("numpy reading a CUDA array (a silent copy to the host)")

    def __float__(self) -> float:
        raise DeviceUnsupported("reading a CUDA value on the host (use .item(), which synchronises)")

    __int__ = __bool__ = __index__ = __float__

    # ------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> "CudaArray":
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if -1 in shape:
            known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
            shape = tuple(self.size // known if n == -1 and known else (0 if n == -1 else n) for n in shape)
        if int(np.prod(shape, dtype=np.int64)) != self.size:
            raise ValueError(f"cannot reshape a CUDA array of size {self.size} into shape {shape}")
        if shape == self.shape:
            return self
        return self._view(self.flat.reshape(shape) if len(shape) != 1 else self.flat)

    def transpose(self, *axes: Any) -> "CudaArray":
        """The axes permuted (reversed without `axes`), as a row-major copy."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(a % self.ndim for a in axes) if axes else tuple(reversed(range(self.ndim)))
        if axes == tuple(range(self.ndim)):
            return self
        shape, st = tuple(self.shape[a] for a in axes), tuple(_strides(self.shape)[a] for a in axes)
        return self._copy_strided(shape, st)

    def _copy_strided(self, shape: tuple, strides: tuple) -> "CudaArray":
        out = empty(shape, self.dtype)
        if out.size:
            p_shape, p_st = _padded(shape, strides)
            K.device_kernels()["copy_strided"][launch.grid(out.size)](self.flat, out.flat, p_shape, p_st)
        return out

    def broadcast_to(self, shape: tuple) -> "CudaArray":
        return self._copy_strided(tuple(shape), _broadcast_strides(self.shape, tuple(shape)))

    def copy(self, order: str = "C") -> "CudaArray":
        return self.astype(self.dtype)

    def __setitem__(self, key: Any, value: Any) -> None:
        """`a[...] = values`, every element written: a number, a CUDA array (broadcast), or a host
        array (uploaded: one transfer, asked for by the assignment)."""
        if key is not Ellipsis:
            raise DeviceUnsupported(f"writing part of a CUDA array (a[{key!r}] = ...)")
        if isinstance(value, np.ndarray) and value.ndim:
            value = to_device(value)
        self.fill(value)

    def fill(self, value: Any) -> None:
        """Every element set to a number, or to another CUDA array's values (broadcast), in place."""
        if isinstance(value, CudaArray):
            src = value.astype(self.dtype, copy=False).broadcast_to(self.shape) if value.shape != self.shape \
                else value.astype(self.dtype, copy=False)
            if self.size:
                K.device_kernels()["cast"][launch.grid(self.size)](src.flat, self.flat)
            return
        if self.size:
            K.device_kernels()["fill"][launch.grid(self.size)](self.flat, self.dtype.type(_scalar(value)))

    def astype(self, dtype: Any, copy: bool = True) -> "CudaArray":
        dtype = np.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        out = empty(self.shape, dtype)
        if out.size:
            K.device_kernels()["cast"][launch.grid(out.size)](self.flat, out.flat)
        return out

    def __getitem__(self, key: Any) -> "CudaArray":
        """Rows (`a[i]`, `a[i:j]`: views), rows by an index array on the device (a gather), and
        `a[:, k]` of a dimension of one."""
        if isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None) and self.ndim >= 2:
            if isinstance(key[1], int) and self.shape[1] == 1 and key[1] in (0, -1):
                return self.reshape(self.shape[:1] + self.shape[2:])
            if isinstance(key[1], slice) and range(self.shape[1])[key[1]] == range(self.shape[1]):
                return self
        if isinstance(key, tuple) and key and all(k == slice(None) for k in key[1:]):
            key = key[0]  # x[i:j, :, :] is x[i:j]
        if isinstance(key, (int, np.integer)) and self.ndim == 1:  # an element, as a 0-d view (numba's
            i = range(self.shape[0])[key]                             # d[i] would copy it to the host)
            return self._view(self.d[i:i + 1]).reshape(())
        if isinstance(key, (int, np.integer)) or isinstance(key, slice) and key.step in (None, 1):
            return self._view(self.d[key])
        if isinstance(key, CudaArray) and key.ndim == 1 and key.dtype.kind in "iu":
            return self.take_rows(key)
        raise DeviceUnsupported(f"indexing a CUDA array with {type(key).__name__}")

    def take_rows(self, idx: "CudaArray") -> "CudaArray":
        rows = self.reshape(self.shape[0], -1) if self.ndim != 2 else self
        out = empty((idx.size, rows.shape[1]), self.dtype)
        if out.size:
            K.device_kernels()["take_rows"][launch.grid(out.size)](rows.d, idx.d, out.flat)
        return out.reshape((idx.size,) + self.shape[1:])

    # ------------------------------------------------------------ arithmetic
    def _binary(self, name: str, other: Any, swap: bool = False, out: Optional["CudaArray"] = None) -> "CudaArray":
        """self ∘ other (other ∘ self with swap) for another CUDA array, broadcast as numpy does,
        or a number (passed to the kernel by value: no copy to the device)."""
        if isinstance(other, CudaArray):
            a, b = (other, self) if swap else (self, other)
            shape, mode, kind = np.broadcast_shapes(a.shape, b.shape), 0, np.result_type(a.dtype, b.dtype)
            s = kind.type(0)
        else:
            s = _scalar(other)
            a = b = self
            shape, mode, kind = self.shape, 2 if swap else 1, np.result_type(self.dtype, s)
            s = kind.type(s)
        res = out if out is not None else empty(shape, bool if name in _COMPARE else kind)
        if res.size:
            p_shape, sa = _padded(shape, _broadcast_strides(a.shape, shape))
            sb = _padded(shape, _broadcast_strides(b.shape, shape))[1]
            K.device_kernels()["binary"][launch.grid(res.size)](a.flat, b.flat, s, res.flat, p_shape, sa, sb,
                                                                _CODES[name], mode)
        return res

    def _inplace(self, name: str, other: Any) -> "CudaArray":
        if isinstance(other, CudaArray) and np.broadcast_shapes(self.shape, other.shape) != self.shape:
            raise ValueError(f"non-broadcastable output operand with shape {self.shape}")
        return self._binary(name, other, out=self)

    def _unary(self, op: int) -> "CudaArray":
        out = empty(self.shape, self.dtype if self.dtype.kind == "f" or op in (K.NEG, K.ABS, K.SIGN) else np.float64)
        if out.size:
            K.device_kernels()["unary"][launch.grid(out.size)](self.flat, out.flat, op)
        return out

    def __neg__(self) -> "CudaArray":
        return self._unary(K.NEG)

    def __abs__(self) -> "CudaArray":
        return self._unary(K.ABS)

    def __pow__(self, p: Any) -> "CudaArray":
        if isinstance(p, CudaArray):
            raise DeviceUnsupported("x ** y for two CUDA arrays")
        return self * self if p == 2 else self._binary("pow", p)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy's ufuncs on a CUDA array (`np.exp(a)`, `np.float32(2) * a`) run on the device."""
        if method == "__call__" and not kwargs:
            if ufunc in _UNARY and len(inputs) == 1:
                return inputs[0]._unary(_UNARY[ufunc])
            if ufunc in _UFUNCS and len(inputs) == 2:
                a, b = inputs
                return a._binary(_UFUNCS[ufunc], b) if isinstance(a, CudaArray) else b._binary(_UFUNCS[ufunc], a, True)
        raise DeviceUnsupported(f"numpy.{ufunc.__name__} on a CUDA array")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """numpy's functions that have a device meaning; the rest raise (no silent copy)."""
        if func is np.broadcast_to:
            return args[0].broadcast_to(args[1] if len(args) > 1 else kwargs["shape"])
        if func in (np.zeros_like, np.ones_like) and len(args) == 1 and not kwargs:
            return full(args[0].shape, 0 if func is np.zeros_like else 1, args[0].dtype)
        if func is np.shape:
            return args[0].shape
        if func is np.ndim:
            return args[0].ndim
        raise DeviceUnsupported(f"numpy.{func.__name__} on a CUDA array")

    # ------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> "CudaArray":
        """Σ along `axis` (an int, a tuple, None for all), each output summed in index order."""
        axes = tuple(range(self.ndim)) if axis is None else tuple(
            a % max(self.ndim, 1) for a in (axis if isinstance(axis, tuple) else (axis,)))
        kept = [a for a in range(self.ndim) if a not in axes]
        n = int(np.prod([self.shape[a] for a in axes], dtype=np.int64))
        outputs = int(np.prod([self.shape[a] for a in kept], dtype=np.int64))
        if sorted(axes) == list(range(len(axes))):  # leading axes (a bias's gradient): no copy
            x, inner = self, outputs
        else:  # the summed axes moved last, each output's terms side by side
            x, inner = self.transpose(kept + sorted(axes)), 1
        kind = dtype or (self.dtype if self.dtype.kind == "f" else np.int64)
        out = empty((outputs,), kind)
        if out.size:
            K.device_kernels()["sum_axis"][launch.grid(out.size)](x.flat, out.d, n, inner)
        shape = tuple(1 if a in axes else n_ for a, n_ in enumerate(self.shape)) if keepdims else \
            tuple(self.shape[a] for a in kept)
        return out.reshape(shape)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "CudaArray":
        total = self.sum(axis, keepdims)
        return total * np.asarray(total.size / max(self.size, 1), total.dtype if total.dtype.kind == "f" else np.float64)

    def argmax(self, axis: Any = None) -> "CudaArray":
        rows = self.reshape(1, -1) if axis is None else self
        if rows.ndim != 2 or axis not in (None, 1, -1):
            raise DeviceUnsupported(f"argmax along axis {axis} of a {self.ndim}-d CUDA array")
        out = empty((rows.shape[0],), np.int64)
        K.device_kernels()["argmax_rows"][launch.grid(rows.shape[0])](rows.d, out.d)
        return out.reshape(()) if axis is None else out


def _scalar(other: Any) -> Any:
    """A Python or numpy number, or a 0-d host array (a constant lifted by `Tensor`: PyTorch lets
    a 0-d CPU tensor meet a CUDA one); any other host array is on the wrong device."""
    if isinstance(other, (bool, int, float, np.generic)):
        return other
    if isinstance(other, np.ndarray) and other.ndim == 0:
        return other[()]
    raise DeviceUnsupported(f"an operation between a CUDA array and a {type(other).__name__} on the CPU "
                            "(expected all tensors to be on the same device)")


def _make_operators() -> None:
    for name in _ARITH:
        if name in ("maximum", "minimum"):
            continue
        setattr(CudaArray, f"__{name}__", lambda self, o, _n=name: self._binary(_n, o))
        setattr(CudaArray, f"__r{name}__", lambda self, o, _n=name: self._binary(_n, o, swap=True))
        setattr(CudaArray, f"__i{name}__", lambda self, o, _n=name: self._inplace(_n, o))
    for name in _COMPARE:
        setattr(CudaArray, f"__{name}__", lambda self, o, _n=name: self._binary(_n, o))
    CudaArray.__hash__ = object.__hash__


_make_operators()
DeviceArray.in_use = True  # arrays may now be on the GPU: the graph starts looking (autograd.Op.apply)
