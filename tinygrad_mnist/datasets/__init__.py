"""Datasets: `mnist.load()` gives the embedded MNIST."""
from . import mnist

__all__ = ["mnist"]
