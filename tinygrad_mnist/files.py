"""How the package names, checks and writes files: the user's cache directory, what a
non-regular file is in words, and the one atomic writer that checkpoints and the decoded MNIST
cache share.

Standard library only: the trainer looks into the cache before numpy and numba load, and
checkpoint tests load this module without the package.

A write never leaves a half-written file where a whole one was: the bytes go to a temporary
file in the same directory (`.NAME.PID.XXXXXXXX.tmp`), are fsync'ed where the caller promises
durability, and are renamed over the target in one step. Ctrl-C and SIGTERM wait for it. A
temporary file whose writer was killed is removed by the next write of the same target; one
whose writer still runs is left alone.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from typing import Iterator, List

NAME_MAX = 255        # bytes in a file name, on every common file system
STALE_TEMP = 600      # seconds after which a live process's unfinished temporary file counts as abandoned
HELD = (signal.SIGINT, signal.SIGTERM)


class UnsafeTarget(OSError):
    """A path the writer will not replace (a directory, a device, a pipe) or cannot name; the
    message is the whole one-line error."""


def cache_root() -> str:
    """The user's cache directory for this package: `$XDG_CACHE_HOME/tinygrad_mnist` (`~/.cache`
    when XDG_CACHE_HOME is unset), the platform's cache folder on macOS and Windows."""
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    elif os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "tinygrad_mnist")


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def save_target(path: str, what: str = "checkpoint", own: bool = False) -> str:
    """The file a write to `path` replaces: `path` itself, or the file a symbolic link points to.
    Refuses (`UnsafeTarget`) a target that is not absent or a regular file (a device, a pipe, a
    directory), a name the file system cannot hold, and a parent that is not a directory. `what`
    names the file in the messages. `own`: the path is the package's own (a cache entry), so
    whatever stands there is replaced (a directory still cannot be)."""
    if not path:
        raise UnsafeTarget(f"the {what} path is empty")
    if path.endswith(os.sep):
        raise UnsafeTarget(f"{path}: names a directory; give a file name")
    try:
        target = os.path.realpath(path, strict=False)
    except OSError as err:
        raise UnsafeTarget(f"{path}: cannot resolve the path: {err.strerror or err}") from None
    directory, name = os.path.split(target)
    try:
        limit = os.pathconf(directory if os.path.isdir(directory) else "/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = NAME_MAX
    if len(name.encode()) > limit:
        raise UnsafeTarget(f"{path}: the file name is {len(name.encode())} bytes long; "
                           f"the file system allows {limit}")
    parent = directory
    while parent and not os.path.lexists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise UnsafeTarget(f"{path}: cannot save there: {parent} is a file, not a directory")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:  # a symlink loop, no permission
        raise UnsafeTarget(f"{path}: cannot save there: {err.strerror or err}") from None
    if mode is not None and not stat.S_ISREG(mode) and not own:
        raise UnsafeTarget(f"{path}: refusing to replace it: it is {kind_of(mode)}, not a {what} file")
    return target


@contextlib.contextmanager
def signals_held(deliver: bool = True) -> Iterator[List[int]]:
    """Ctrl-C and SIGTERM that arrive inside wait until it ends, then go, in order, to the handlers
    that were in place (with `deliver=False` they are only listed: the caller acts on them).
    Python runs signal handlers in the main thread whichever thread the system chose to receive
    the signal, so swapping the handlers holds them where blocking them in one thread
    (pthread_sigmask) would not: with numba's or BLAS's threads running, the signal goes to one
    of those. Outside the main thread, nothing is held."""
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


def fitted(name: str, room: int) -> str:
    """`name` if it fits in `room` bytes, else its start and a digest of the whole (`START~1a2b3c4d`),
    so that two long names stay apart and the same name always gives the same short one."""
    if len(name.encode()) <= room:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name.encode()[:room - 9].decode(errors="ignore") + "~" + digest


def temp_prefix(name: str) -> str:
    """`.NAME.` for the temporary files beside NAME, shortened where the writer's pid, mkstemp's
    8 characters and `.tmp` would take the whole name past 255 bytes."""
    return f".{fitted(name, NAME_MAX - len('..') - len('4194304.') - 8 - len('.tmp'))}."


def abandoned(temp: str) -> bool:
    """Whether the temporary file `.NAME.PID.XXXXXXXX.tmp` was left by a writer that is gone
    (killed mid-write), or is older than STALE_TEMP seconds (its pid now names another process)."""
    pid = os.path.basename(temp).rsplit(".", 3)[-3]  # mkstemp's eight characters hold no dot
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):  # not our name, or a process we may not signal: keep to the age rule
        pass
    try:
        return time.time() - os.stat(temp).st_mtime > STALE_TEMP
    except OSError:
        return False


def remove_abandoned_temps(target: str) -> None:
    """Temporary files that killed writes of `target` left behind."""
    directory, name = os.path.split(target)
    for temp in glob.glob(os.path.join(glob.escape(directory), f"{glob.escape(temp_prefix(name))}*.tmp")):
        if abandoned(temp):
            with contextlib.suppress(OSError):
                os.unlink(temp)


def atomic_write(path: str, *chunks, durable: bool = True, what: str = "checkpoint", own: bool = False) -> str:
    """Replace `path` (a symbolic link's target) by the bytes of `chunks` (bytes or buffers) all at
    once: the old file survives any failure, a signal waits until the new file is in place, and
    no temporary file stays behind. `durable`: fsync the file and the rename (a checkpoint); a
    cache that checks itself on every read may skip it. `what` and `own` as for `save_target`.
    Returns the path written."""
    target = save_target(path, what, own)
    directory, name = os.path.split(target)
    with signals_held():
        remove_abandoned_temps(target)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f"{temp_prefix(name)}{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; a normal file follows the umask
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        if durable:
            _sync_directory(directory)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_directory(directory: str) -> None:
    """Make a rename in `directory` itself durable (where the system allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
