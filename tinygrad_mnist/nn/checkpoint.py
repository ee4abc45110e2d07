"""Checkpoints' bytes: safetensors, serialised and parsed, and read safely.

A save serialises the tensors in memory (with sorted metadata, so the same weights give the
same bytes) and hands them to the package's one atomic writer (`files.atomic_write`: a
temporary file beside the target, fsync'ed, renamed over it in one step). A load reads only
tensors and string metadata (safetensors holds no code), bounded before it reads, and any
problem with the file is a `CheckpointError` that names it.
"""
from __future__ import annotations

import json
import os
import stat
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from .. import files
from ..devices import host


class CheckpointError(Exception):
    """A checkpoint could not be read, written or matched to the model."""


MAX_HEADER = 100 << 20  # a safetensors header of a few tensors is a few hundred bytes


def save_target(path: str) -> str:
    """The file a save to `path` writes (`files.save_target`), or a CheckpointError saying why
    it must not be written: before anything is trained, a device, a pipe or a directory is refused."""
    try:
        return files.save_target(path)
    except files.UnsafeTarget as err:
        raise CheckpointError(str(err)) from None


def _sorted_metadata(data: bytes) -> bytes:
    """safetensors writes its metadata map in hash order, which changes from run to run;
    re-emit the header with the metadata sorted, so the same weights give the same bytes."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None)
    if not meta:
        return data
    text = json.dumps({"__metadata__": dict(sorted(meta.items())), **header},
                      separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def save(path: str, tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, object]] = None) -> None:
    """Write `tensors` (arrays or Tensors, a `state_dict()`; and string metadata) to `path` as
    safetensors, atomically."""
    tensors = {k: host(getattr(v, "array", v)) for k, v in tensors.items()}
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(f"{path}: refusing to save: {name} holds NaN or infinite values")
    meta = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    # safetensors writes a non-contiguous array's buffer as if it were contiguous: copy first.
    data = _sorted_metadata(_st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=meta))
    try:
        files.atomic_write(path, data)
    except files.UnsafeTarget as err:
        raise CheckpointError(str(err)) from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot write checkpoint: {err.strerror or err}") from None


def _read(path: str, header_only: bool, max_bytes: Optional[int] = None) -> Tuple[bytes, dict]:
    """The file's bytes (only its header's, if asked) and its parsed header, or a CheckpointError.
    What is read is bounded before it is read: a regular file only (a pipe or a device could hang
    or never end), a header of at most MAX_HEADER bytes, a file of at most `max_bytes`."""
    if not path:
        raise CheckpointError("the checkpoint path is empty")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except OSError as err:  # a symlink loop, no permission
        raise CheckpointError(f"{path}: cannot read checkpoint: {err.strerror or err}") from None
    if not stat.S_ISREG(st.st_mode):
        hint = " (a process substitution? save it to a file first)" if stat.S_ISFIFO(st.st_mode) else ""
        raise CheckpointError(f"{path}: is {files.kind_of(st.st_mode)}, not a checkpoint file{hint}")
    size = st.st_size
    if max_bytes is not None and size > max_bytes:
        raise CheckpointError(f"{path}: {size} bytes, far more than this model's checkpoint ({max_bytes} at most)")
    try:
        with open(path, "rb") as f:
            data = f.read(8)
            header_len = struct.unpack("<Q", data)[0] if len(data) == 8 else 0
            if len(data) == 8 and header_len <= min(size - 8, MAX_HEADER):
                data += f.read(header_len) if header_only else f.read(size - 8)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read checkpoint: {err.strerror or err}") from None
    if size < 8:
        raise CheckpointError(f"{path}: not a safetensors file (only {size} bytes)")
    if header_len > min(size - 8, MAX_HEADER):
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (header of {header_len} "
                              f"bytes in a file of {size})")
    try:
        header = json.loads(data[8:8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        if not isinstance(header.get("__metadata__", {}), dict):
            raise ValueError("its metadata is not a map of names to strings")
    except (ValueError, RecursionError) as err:
        reason = "its header is nested too deeply" if isinstance(err, RecursionError) else err
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({reason})") from None
    return data, header


def _metadata(header: dict) -> Dict[str, str]:
    return {str(k): str(v) for k, v in (header.get("__metadata__") or {}).items()}


def metadata(path: str) -> Dict[str, str]:
    """The string metadata of the safetensors file at `path`, reading only its header."""
    return _metadata(_read(path, header_only=True)[1])


def load(path: str, max_bytes: Optional[int] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors and metadata of the safetensors file at `path` (refused unread if over `max_bytes`)."""
    data, header = _read(path, header_only=False, max_bytes=max_bytes)
    try:
        tensors = _st_load(data)
    except Exception as err:  # safetensors raises its own error type for every kind of damage
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from None
    return tensors, _metadata(header)


def save_state_dict(obj: Mapping[str, object], f: str, **unused: object) -> None:
    """PyTorch's `torch.save(model.state_dict(), path)`: a state dict (names to tensors or arrays)
    written as safetensors. Only tensors by name: safetensors holds no code, so anything else is
    refused here rather than pickled."""
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise TypeError(f"save: expected a state dict (str → tensor), got {type(obj).__name__}; this engine writes "
                        "safetensors, which hold tensors by name and nothing else")
    scalars = [k for k, v in obj.items() if np.ndim(getattr(v, "array", v)) == 0]  # safetensors stores them as [1]
    save(os.fspath(f), obj, {"state_dict_keys": json.dumps(list(obj)), "scalars": json.dumps(scalars)})


def load_state_dict(f: str, map_location: object = None, weights_only: object = True, **unused: object):
    """PyTorch's `torch.load(path)` for what `save_state_dict` wrote: an ordered dict of Tensors
    (`model.load_state_dict(load(path))`), on the CPU or on the device `map_location` names."""
    from collections import OrderedDict

    from ..devices import check
    from ..tensor import Tensor
    where = check(map_location) if map_location is not None and not callable(map_location) else None
    tensors, meta = load(os.fspath(f))
    try:
        order = [k for k in json.loads(meta.get("state_dict_keys", "[]")) if k in tensors]
    except ValueError:
        order = []
    order += sorted(k for k in tensors if k not in order)
    try:
        scalars = set(json.loads(meta.get("scalars", "[]")))
    except ValueError:
        scalars = set()
    return OrderedDict((k, Tensor(tensors[k].reshape(()) if k in scalars and tensors[k].size == 1 else tensors[k],
                                  device=where)) for k in order)
