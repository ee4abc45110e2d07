import os

# numba's CUDA simulator for tests/engine/test_cuda_kernels.py: read when numba.cuda is first
# imported, so set before anything imports it (the CPU kernels do not look at it)
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
