"""Where the package keeps what it can rebuild: the user's cache directory (standard library only,
so the trainer can look there before numpy and numba load)."""
from __future__ import annotations

import os
import sys


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
