import os
import sys

# numba's CUDA simulator for the CUDA tests (tests/engine/test_cuda_*.py): read when numba.cuda is
# first imported, so set before anything imports it (the CPU kernels do not look at it). With it,
# `cuda.is_available()` is True in this process; a test of a machine without a GPU asks for
# the `no_cuda` fixture.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np
import pytest

from tinygrad_mnist import kernels


@pytest.fixture(params=kernels.BACKENDS)
def backend(request):
    """Run the test once on each kernel set."""
    with kernels.use(request.param) as impl:
        yield impl


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def no_cuda(monkeypatch):
    """This process as on a machine without a GPU: `cuda.is_available()` is False and asking
    for the device raises (the simulator stays loaded, unused)."""
    import tinygrad_mnist.cuda as gpu
    monkeypatch.setattr(gpu, "_why", "no CUDA GPU or driver was found")


@pytest.fixture
def simulator_threads():
    """numba's CUDA simulator runs each CUDA thread as an OS thread: a short switch interval
    lets a block's threads take turns often (a barrier is reached sooner)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)
