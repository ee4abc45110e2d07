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
