"""The CUDA kernels (`tinygrad_mnist/cuda/kernels.py`, launched by the kernel set `cuda/ops.py`)
against their numpy twins, in numba's CUDA
simulator on small shapes (each simulated thread is an OS thread: small blocks, a short switch
interval), the same bits run to run, a barrier's loss caught, and every kernel compiled to PTX
(what the simulator accepts but a GPU would refuse)."""
import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the test extra brings it)")
if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("runs in numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1)",
                allow_module_level=True)

from tinygrad_mnist.cuda import array as ca  # noqa: E402
from tinygrad_mnist.cuda import kernels as kc  # noqa: E402
from tinygrad_mnist.cuda import ops  # noqa: E402
from tinygrad_mnist.kernels import numpy_kernels as ref  # noqa: E402

up = ca.to_device


pytestmark = pytest.mark.usefixtures("simulator_threads")


@pytest.fixture(params=[(4, 8), (0, 4)], ids=["tiled", "plain"])
def launch(request, monkeypatch):
    """Small launches (the simulator's threads are OS threads): the tiled product with 4 × 4
    tiles and rows by blocks of 8, or the plain product the simulator runs by default."""
    tile, block = request.param
    monkeypatch.setattr(ca, "launch", ca.Launch(16, 2, tile, block))
    monkeypatch.setattr(ops, "launch", ca.launch)
    return ca.launch


@pytest.mark.parametrize("dtype,scale", [(np.float32, 1.0), (np.uint8, 1 / 255)])
def test_matmul_against_numpy(launch, dtype, scale):
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 256, (9, 11)) if dtype == np.uint8 else rng.standard_normal((9, 11))).astype(dtype)
    b = rng.standard_normal((11, 6)).astype(np.float32)
    np.testing.assert_allclose(ops.matmul(up(a), up(b), scale).get(), ref.matmul(a, b, scale), rtol=1e-5, atol=1e-5)


def test_relu_and_sgd_against_numpy(launch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(37).astype(np.float32)
    g = rng.standard_normal(37).astype(np.float32)
    g[3], x[3] = np.nan, -1.0  # a NaN cotangent where relu is flat gives 0, as the CPU twins
    x[5] = np.nan  # and relu keeps a NaN input
    relu = ops.relu(up(x)).get()
    np.testing.assert_array_equal(relu, ref.relu(x))
    np.testing.assert_array_equal(ops.relu_backward(up(g), up(relu)).get(), ref.relu_backward(g, relu))
    p = up(x.copy())
    kc.flat_kernels()["sgd_update"][launch.grid(37)](p.d, up(np.nan_to_num(g)).d, np.float32(0.1))
    np.testing.assert_allclose(p.get(), x - np.float32(0.1) * np.nan_to_num(g), rtol=1e-6)


def test_softmax_and_the_loss_against_numpy(launch):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, 13)) * 4).astype(np.float32)
    y = ops.log_softmax(up(x)).get()
    np.testing.assert_allclose(y, ref.log_softmax(x), atol=2e-6)
    g = rng.standard_normal((6, 13)).astype(np.float32)
    np.testing.assert_allclose(ops.log_softmax_backward(up(g), up(y)).get(), ref.log_softmax_backward(g, y), atol=2e-6)
    t = rng.integers(0, 13, 6)
    np.testing.assert_allclose(ops.nll(up(y), up(t)).get(), ref.nll(y, t), rtol=1e-6)
    np.testing.assert_allclose(ops.nll_backward(0.5, up(t), up(y)).get(), ref.nll_backward(0.5, t, y), rtol=1e-6)
    np.testing.assert_allclose(ops.nll_backward(up(np.float32(0.5)).reshape(()), up(t), up(y)).get(),
                               ref.nll_backward(0.5, t, y), rtol=1e-6)  # the seed left on the device
    t[2] = 13  # a class out of range: NaN, not a read past the row
    assert np.isnan(ops.nll(up(y), up(t)).get())


def test_reductions_give_the_same_bits_every_run(launch):
    x = (np.random.default_rng(3).standard_normal((4, 50)) * 3).astype(np.float32)
    runs = [ops.log_softmax(up(x)).get() for _ in range(3)]
    sums = [up(x).sum(axis=0).get() for _ in range(3)]
    assert all(np.array_equal(runs[0], r) for r in runs) and all(np.array_equal(sums[0], s) for s in sums)


def test_a_lost_barrier_is_caught():
    """log_softmax without the barrier after each thread writes its partial maximum: threads of
    the tree read slots not yet written. Over 30 launches some give wrong values (or a log of a
    non-positive sum); the kernel as written never does."""
    source = textwrap.dedent(inspect.getsource(kc.log_softmax_kernel.__wrapped__))
    barrier = "        buf[t] = m\n        cuda.syncthreads()  # every thread's partial maximum is in place\n"
    assert barrier in source
    for text, expect_wrong in ((source, False), (source.replace(barrier, "        buf[t] = m\n"), True)):
        namespace = dict(vars(kc))
        exec(text, namespace)
        kernel = namespace["log_softmax_kernel"].__wrapped__(8)
        wrong, rng = 0, np.random.default_rng(4)
        for _ in range(30):
            x = (rng.standard_normal((4, 29)) * 5).astype(np.float32)
            out = kc.cuda.to_device(np.zeros_like(x))
            try:
                kernel[4, 8](kc.cuda.to_device(x), out)
                wrong += not np.allclose(out.copy_to_host(), ref.log_softmax(x), atol=1e-5)
            except ValueError:  # math.log of a sum that read unwritten slots
                wrong += 1
        assert (wrong > 0) == expect_wrong, wrong


def test_every_kernel_compiles_to_ptx():
    """In a process of its own, without the simulator: numba's real CUDA target and the NVVM of
    the CUDA wheels, no GPU or driver."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = "from tinygrad_mnist.cuda.kernels import compile_all; r = compile_all(); print(len(r), min(r.values()))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    count, shortest = map(int, run.stdout.split())
    assert count == len(kc.signatures()) and shortest > 1000
