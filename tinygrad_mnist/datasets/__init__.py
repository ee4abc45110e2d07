"""Datasets: `mnist.load()` gives the embedded MNIST (`decoded` keeps its decoded copy)."""
import importlib
from typing import Any

__all__ = ["mnist", "decoded"]


def __getattr__(name: str) -> Any:
    """The submodules load on first use: the trainer imports `decoded` (standard library only)
    before numpy."""
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
