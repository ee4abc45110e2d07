"""Where numba keeps the compiled kernels: the user's cache directory, never the package's.

numba's own default (`cache=True`) writes next to the source, into the installed package's
`__pycache__`. `pip uninstall` does not remove those files, and the leftover
`site-packages/tinygrad_mnist/` then shadows a later editable install as a namespace package.
So each kernel gets a numba cache of its own whose locator puts it in
`$XDG_CACHE_HOME/tinygrad_mnist/<version>/<file>-<hash of the file>` (`~/.cache` when
XDG_CACHE_HOME is unset; the platform's cache folder on macOS and Windows): keyed by the
package version and the kernel source, shared by every install of the same code. numba
still checks each entry against the source's content hash. A `NUMBA_CACHE_DIR` the user set
wins, as in numba. Nothing changes for other numba users in the process.
"""
from __future__ import annotations

import hashlib
import os

from numba.core.caching import (CompileResultCacheImpl, FunctionCache, UserProvidedCacheLocator, _CacheLocator,
                                _SourceFileBackedLocatorMixin)

from .._version import VERSION
from ..files import cache_root


class UserCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """numba's locator interface: a kernel's cache folder under `cache_root()`."""

    def __init__(self, py_func, py_file: str):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        with open(py_file, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        name = os.path.splitext(os.path.basename(py_file))[0]
        self._cache_path = os.path.join(cache_root(), VERSION, f"{name}-{digest}")

    def get_cache_path(self) -> str:
        return self._cache_path


class _CacheImpl(CompileResultCacheImpl):
    _locator_classes = [UserProvidedCacheLocator, UserCacheLocator]  # NUMBA_CACHE_DIR first, as numba does


class KernelCache(FunctionCache):
    """numba's on-disk cache of one kernel, placed by `UserCacheLocator`. Raises RuntimeError (as
    numba does) when no folder can be written."""
    _impl_class = _CacheImpl
