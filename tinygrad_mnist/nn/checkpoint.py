"""Reading and writing safetensors checkpoints, safely.

A save never leaves a half-written file where a good one was: the bytes are
serialised in memory, written to a temporary file in the same directory,
fsync'ed, then renamed over the target in one step. A load reads only tensors
and string metadata (safetensors holds no code), and any problem with the file
is a `CheckpointError` that names it.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import signal
import stat
import struct
import tempfile
import threading
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from ..files import kind_of


class CheckpointError(Exception):
    """A checkpoint could not be read, written or matched to the model."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


MAX_HEADER = 100 << 20  # a safetensors header of a few tensors is a few hundred bytes


def save_target(path: str) -> str:
    """The file a save to `path` writes: `path` itself, or the file a symbolic link points to.
    Refuses, before anything is trained, a target that is not absent or a regular file (a
    device, a pipe, a directory), a name the file system cannot hold, and a parent that is
    not a directory."""
    if not path:
        raise CheckpointError("the checkpoint path is empty")
    if path.endswith(os.sep):
        raise CheckpointError(f"{path}: names a directory; give a file name")
    try:
        target = os.path.realpath(path, strict=False)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot resolve the path: {err.strerror or err}") from None
    directory, name = os.path.split(target)
    try:
        limit = os.pathconf(directory if os.path.isdir(directory) else "/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(name.encode()) > limit:
        raise CheckpointError(f"{path}: the file name is {len(name.encode())} bytes long; "
                              f"the file system allows {limit}")
    parent = os.path.dirname(target)
    while parent and not os.path.lexists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise CheckpointError(f"{path}: cannot save there: {parent} is a file, not a directory")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:  # a symlink loop, no permission
        raise CheckpointError(f"{path}: cannot save there: {err.strerror or err}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise CheckpointError(f"{path}: refusing to replace it: it is {kind_of(mode)}, not a checkpoint file")
    return target


HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held(deliver: bool = True) -> Iterator[List[int]]:
    """Ctrl-C and SIGTERM that arrive inside wait until it ends, then go, in order, to the handlers
    that were in place (with `deliver=False` they are only listed: the caller acts on them). Python runs signal handlers in the main thread
    whichever thread the system chose to receive the signal, so swapping the handlers holds them
    where blocking them in one thread (pthread_sigmask) would not: with numba's or BLAS's threads
    running, the signal goes to one of those. Outside the main thread, nothing is held."""
    caught: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in HELD}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in caught if deliver else ():
            signal.raise_signal(s)  # runs the handler before it returns


def _temp_prefix(name: str) -> str:
    """`.NAME.` for the temporary file beside NAME, shortened (with a digest of NAME, so two long
    names stay apart) where mkstemp's 8 characters and `.tmp` would pass 255 bytes."""
    room = 255 - len(".") - len(".") - 8 - len(".tmp")
    if len(name.encode()) <= room:
        return f".{name}."
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    short = name.encode()[:room - 9].decode(errors="ignore")
    return f".{short}~{digest}."


def _remove_stale_temps(directory: str, name: str) -> None:
    """Temporary files a killed save of this target left behind."""
    for stale in glob.glob(os.path.join(glob.escape(directory), f"{glob.escape(_temp_prefix(name))}*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(stale)


def atomic_write(path: str, data: bytes) -> None:
    """Replace `path` (a symbolic link's target) by `data` all at once: the old file survives any
    failure, a signal waits until the new file is in place, and no temporary file stays behind."""
    path = save_target(path)
    directory, name = os.path.split(path)
    with signals_held():
        _remove_stale_temps(directory, name)
        _write_and_replace(path, directory, name, data)


def _write_and_replace(path: str, directory: str, name: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(name), suffix=".tmp")
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
        raise CheckpointError(f"{path}: is {kind_of(st.st_mode)}, not a checkpoint file{hint}")
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
