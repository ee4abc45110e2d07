"""The thread count of the BLAS that numpy calls (OpenBLAS in numpy's wheels).

Large float products go to BLAS (products.py), which has its own pool of threads,
one per core by default. `set_threads(n)` caps it at `n` so that `--threads n`
means n cores in all: BLAS's threads and the engine's pool never run at the same
time (a kernel waits for its BLAS call), and neither is allowed more than `n`.

Found through the shared libraries the process has loaded (Linux's /proc/self/maps),
by OpenBLAS's own `openblas_set_num_threads`, spelled with the prefix and suffix
that numpy's build gives it. Nothing happens at import; where no OpenBLAS is found
(another BLAS, another system) the cap is not applied and `threads()` says None.
"""
from __future__ import annotations

import ctypes
import itertools
from typing import Optional

_PREFIXES, _SUFFIXES = ("scipy_", ""), ("64_", "", "_64")


def _openblas_call(name: str):
    """OpenBLAS's function `name` (e.g. 'set_num_threads'), or None."""
    import numpy  # noqa: F401  (loads numpy's BLAS, if it has not been loaded yet)
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line.split()[-1]})
    except OSError:  # not Linux
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, nothing runs
        except OSError:
            continue
        for prefix, suffix in itertools.product(_PREFIXES, _SUFFIXES):
            fn = getattr(lib, f"{prefix}openblas_{name}{suffix}", None)
            if fn is not None:
                return fn
    return None


def set_threads(n: int) -> bool:
    """Cap BLAS at `n` threads; False where no OpenBLAS was found to cap."""
    fn = _openblas_call("set_num_threads")
    if fn is None:
        return False
    fn.argtypes, fn.restype = [ctypes.c_int], None
    fn(int(n))
    return True


def threads() -> Optional[int]:
    """BLAS's current thread count, or None where it cannot be asked."""
    fn = _openblas_call("get_num_threads")
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return int(fn())
