"""Reading and writing safetensors checkpoints, safely.

A save never leaves a half-written file where a good one was: the bytes are
serialised in memory, written to a temporary file in the same directory,
fsync'ed, then renamed over the target in one step. A load reads only tensors
and string metadata (safetensors holds no code), and any problem with the file
is a `CheckpointError` that names it.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save


class CheckpointError(Exception):
    """A checkpoint could not be read, written or matched to the model."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str, data: bytes) -> None:
    """Replace `path` by `data` all at once: the old file survives any failure."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a normal file follows the umask
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


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
    """Write `tensors` (and string metadata) to `path` as safetensors, atomically."""
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(f"{path}: refusing to save: {name} holds NaN or infinite values")
    meta = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    # safetensors writes a non-contiguous array's buffer as if it were contiguous: copy first.
    data = _sorted_metadata(_st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=meta))
    try:
        atomic_write(path, data)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot write checkpoint: {err.strerror or err}") from None


def _read(path: str, header_only: bool) -> Tuple[bytes, dict]:
    """The file's bytes (only its header's, if asked) and its parsed header, or a CheckpointError."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(8)
            if len(data) == 8:
                (header_len,) = struct.unpack("<Q", data)
                data += f.read(header_len) if header_only and header_len <= size - 8 else f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read checkpoint: {err.strerror or err}") from None
    if size < 8:
        raise CheckpointError(f"{path}: not a safetensors file (only {size} bytes)")
    if header_len > size - 8:
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (header of {header_len} "
                              f"bytes in a file of {size})")
    try:
        header = json.loads(data[8:8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except ValueError as err:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from None
    return data, header


def _metadata(header: dict) -> Dict[str, str]:
    return {str(k): str(v) for k, v in (header.get("__metadata__") or {}).items()}


def metadata(path: str) -> Dict[str, str]:
    """The string metadata of the safetensors file at `path`, reading only its header."""
    return _metadata(_read(path, header_only=True)[1])


def load(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors and metadata of the safetensors file at `path`."""
    data, header = _read(path, header_only=False)
    try:
        tensors = _st_load(data)
    except Exception as err:  # safetensors raises its own error type for every kind of damage
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from None
    return tensors, _metadata(header)
