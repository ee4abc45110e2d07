"""The CUDA kernels (`tinygrad_mnist/kernels/cuda.py`) against their numpy twins, in numba's CUDA
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

from tinygrad_mnist.kernels import cuda as kc  # noqa: E402
from tinygrad_mnist.kernels import numpy_kernels as ref  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def short_switches():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture(scope="module")
def k():
    return kc.CudaKernels(tile=4, block=8, threads=16)


def host(k, d):
    return k.to_host(d)


@pytest.mark.parametrize("dtype,scale", [(np.float32, 1.0), (np.uint8, 1 / 255)])
def test_matmul_tiles_against_numpy(k, dtype, scale):
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 256, (9, 11)) if dtype == np.uint8 else rng.standard_normal((9, 11))).astype(dtype)
    b = rng.standard_normal((11, 6)).astype(np.float32)
    out = host(k, k.matmul(k.to_device(a), k.to_device(b), scale))
    np.testing.assert_allclose(out, ref.matmul(a, b, scale), rtol=1e-5, atol=1e-5)


def test_rows_columns_and_elementwise_against_numpy(k):
    rng = np.random.default_rng(1)
    y, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    d = k.to_device(y)
    k.add_rows(d, k.to_device(b))
    np.testing.assert_allclose(host(k, d), y + b, rtol=1e-6)
    np.testing.assert_allclose(host(k, k.column_sums(k.to_device(y))), y.sum(axis=0), rtol=1e-5, atol=1e-6)
    x = rng.standard_normal(37).astype(np.float32)
    g = rng.standard_normal(37).astype(np.float32)
    g[3], x[3] = np.nan, -1.0  # a NaN cotangent where relu is flat gives 0, as the CPU twins
    x[5] = np.nan  # and relu keeps a NaN input
    relu = host(k, k.relu(k.to_device(x)))
    np.testing.assert_array_equal(relu, ref.relu(x))
    np.testing.assert_array_equal(host(k, k.relu_backward(k.to_device(g), k.to_device(relu))),
                                  ref.relu_backward(g, relu))
    p = k.to_device(x.copy())
    k.sgd_update(p, k.to_device(np.nan_to_num(g)), 0.1)
    np.testing.assert_allclose(host(k, p), x - np.float32(0.1) * np.nan_to_num(g), rtol=1e-6)
    idx = np.array([4, 0, 2, 2], np.int64)
    np.testing.assert_array_equal(host(k, k.gather_rows(k.to_device(y), k.to_device(idx))), y[idx])


def test_softmax_and_the_loss_against_numpy(k):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, 13)) * 4).astype(np.float32)
    y = host(k, k.log_softmax(k.to_device(x)))
    np.testing.assert_allclose(y, ref.log_softmax(x), atol=2e-6)
    g = rng.standard_normal((6, 13)).astype(np.float32)
    np.testing.assert_allclose(host(k, k.log_softmax_backward(k.to_device(g), k.to_device(y))),
                               ref.log_softmax_backward(g, y), atol=2e-6)
    t = rng.integers(0, 13, 6)
    np.testing.assert_allclose(host(k, k.nll(k.to_device(y), k.to_device(t)))[0], ref.nll(y, t), rtol=1e-6)
    np.testing.assert_allclose(host(k, k.nll_backward(1.0, k.to_device(t), y.shape, np.float32)),
                               ref.nll_backward(1.0, t, y), rtol=1e-6)


def test_reductions_give_the_same_bits_every_run(k):
    x = (np.random.default_rng(3).standard_normal((4, 50)) * 3).astype(np.float32)
    runs = [host(k, k.log_softmax(k.to_device(x))) for _ in range(3)]
    sums = [host(k, k.column_sums(k.to_device(x))) for _ in range(3)]
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
    code = "from tinygrad_mnist.kernels.cuda import compile_all; r = compile_all(); print(len(r), min(r.values()))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    count, shortest = map(int, run.stdout.split())
    assert count == len(kc.signatures()) and shortest > 1000
