"""The thread count of the BLAS that numpy calls (OpenBLAS in numpy's wheels, MKL, BLIS, Accelerate).

Large float products go to BLAS (products.py), which has its own pool of threads,
one per core by default. `set_threads(n)` caps it at `n` so that `--threads n`
means n cores in all: BLAS's threads and the engine's pool never run at the same
time (a kernel waits for its BLAS call), and neither is allowed more than `n`.

threadpoolctl finds every BLAS the process has loaded (numpy's, and scipy's own if it brought
one), on Linux, macOS and Windows, and speaks each one's API. It is imported on the first
call, never with the package. Where no BLAS can be capped, the cap is not applied and
`threads()` says None.
"""
from __future__ import annotations

from typing import Optional


def _blas():
    """threadpoolctl's view of the loaded BLAS libraries (numpy's is loaded first, if it was not)."""
    import numpy  # noqa: F401  (loads numpy's BLAS)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def set_threads(n: int) -> bool:
    """Cap every loaded BLAS at `n` threads; False where none was found to cap."""
    found = _blas()
    if not found.lib_controllers:
        return False
    found.limit(limits=int(n))  # the object it returns would restore the old count when asked; it is not asked
    return True


def threads() -> Optional[int]:
    """The thread count of numpy's BLAS, or None where it cannot be asked."""
    info = _blas().info()
    return int(info[0]["num_threads"]) if info else None
