"""The thread count of the BLAS that numpy calls (OpenBLAS in numpy's wheels).

Large float products go to BLAS (products.py), which has its own pool of threads,
one per core by default. `set_threads(n)` caps it at `n` so that `--threads n`
means n cores in all: BLAS's threads and the engine's pool never run at the same
time (a kernel waits for its BLAS call), and neither is allowed more than `n`.

Found through the shared libraries the process has loaded (Linux's /proc/self/maps),
by OpenBLAS's own `openblas_set_num_threads`, spelled with the prefix and suffix
that numpy's build gives it; every OpenBLAS loaded is capped (scipy brings its own).
Nothing happens at import; where no OpenBLAS is found (another BLAS, another
system) the cap is not applied and `threads()` says None.
"""
from __future__ import annotations

import ctypes
import itertools
from typing import List, Optional

_PREFIXES, _SUFFIXES = ("scipy_", ""), ("64_", "", "_64")


def _openblas_calls(name: str) -> List:
    """OpenBLAS's function `name` (e.g. 'set_num_threads') in each OpenBLAS the process has
    loaded (numpy's first; scipy may bring one of its own), or an empty list."""
    import numpy  # noqa: F401  (loads numpy's BLAS, if it has not been loaded yet)
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line.split()[-1]},
                           key=lambda path: "numpy" not in path)
    except OSError:  # not Linux
        return []
    calls = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, nothing runs
        except OSError:
            continue
        for prefix, suffix in itertools.product(_PREFIXES, _SUFFIXES):
            fn = getattr(lib, f"{prefix}openblas_{name}{suffix}", None)
            if fn is not None:
                calls.append(fn)
                break
    return calls


def set_threads(n: int) -> bool:
    """Cap every loaded OpenBLAS at `n` threads; False where none was found to cap."""
    calls = _openblas_calls("set_num_threads")
    for fn in calls:
        fn.argtypes, fn.restype = [ctypes.c_int], None
        fn(int(n))
    return bool(calls)


def threads() -> Optional[int]:
    """The thread count of numpy's OpenBLAS, or None where it cannot be asked."""
    calls = _openblas_calls("get_num_threads")
    if not calls:
        return None
    calls[0].restype = ctypes.c_int
    return int(calls[0]())
