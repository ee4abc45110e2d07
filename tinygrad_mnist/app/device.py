"""Where a program computes: `--device cpu|cuda|auto`, and the model and data moved there.

On CUDA the data set is uploaded once, the model's parameters are moved in place (the varmap
holds the same tensors, so checkpoints still save and load by name, copied to the host), and
the MLP reads dense pixels (the CSR kernels are the CPU's).
"""
from __future__ import annotations

from ..datasets import mnist
from ..devices import CPU, CUDA, cuda, device
from ..nn import Module
from .runner import CommandError


class DeviceError(CommandError):
    """A device the command line asked for that this machine does not have (exit status 1)."""


def resolve(choice: str) -> device:
    """`--device`: cpu, cuda (an error in one line where there is none), or auto (CUDA when there is one)."""
    if choice == "cpu":
        return CPU
    if cuda.is_available():
        return CUDA
    if choice == "auto":
        return CPU
    raise DeviceError(f"--device cuda: no CUDA device is available ({cuda.reason()}); use --device cpu or auto")


def place(model: Module, where: device) -> Module:
    """The model's parameters and buffers moved to `where`, in place."""
    if where != CPU:
        model.to(where)
        model.sparse_input = False  # dense pixels on the GPU
    return model


def upload(data: mnist.Dataset, where: device) -> mnist.Dataset:
    """The data set on `where` (one copy of each split), or itself on the CPU."""
    if where == CPU:
        return data
    return mnist.Dataset(data.train_images.to(where), data.train_labels.to(where), data.test_images.to(where),
                         data.test_labels.to(where), data.source)
