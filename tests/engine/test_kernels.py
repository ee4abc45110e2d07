"""Each numba kernel against its numpy twin.

This file also runs with NUMBA_DISABLE_JIT=1 (see test_kernels_without_jit),
where the same kernel code executes as plain Python; sizes shrink there.
"""
import os
import shutil
import signal
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_mnist.kernels import numba_kernels as nb
from tinygrad_mnist.kernels import pool, products
from tinygrad_mnist.kernels import numpy_kernels as ref

NOJIT = bool(numba.config.DISABLE_JIT)
TALL = 300 if NOJIT else 3000  # thousands of rows × 784 when compiled


def close(a, b, dtype):
    rtol, atol = (2e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, float(np.abs(b).max(initial=0))))


def arrange(a, b, layout):
    """The operands in a layout: nt makes b the transpose of a row-major [N, K] array (Linear's
    forward), tn makes a the transpose of a row-major [K, M] array (dW = Gᵀ @ X)."""
    if layout == "nt":
        b = np.ascontiguousarray(b.T).T
    if layout == "tn":
        a = np.ascontiguousarray(a.T).T
    return a, b


def operand(rng, shape, dtype):
    if dtype == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(dtype)


MATMUL_SHAPES = [(1, 1, 1), (2, 3, 4), (TALL, 784, 10), (7, 784, 100), (64, 64, 64), (65, 33, 40)]


@pytest.mark.parametrize("M,K,N", MATMUL_SHAPES)
@pytest.mark.parametrize("adtype,bdtype", [(np.float32, np.float32), (np.float64, np.float64),
                                           (np.uint8, np.float32), (np.uint8, np.float64),
                                           (np.float32, np.uint8)])
@pytest.mark.parametrize("layout", ["nn", "nt", "tn"])
def test_matmul(M, K, N, adtype, bdtype, layout, rng):
    a, b = arrange(operand(rng, (M, K), adtype), operand(rng, (K, N), bdtype), layout)
    dtype = np.result_type(adtype, bdtype)
    close(nb.matmul(a, b, 1 / 255), ref.matmul(a, b, 1 / 255), dtype)


@pytest.mark.parametrize("M,K,N", [(64, 64, 64), (65, 33, 40), (100, 10, 50)])
@pytest.mark.parametrize("layout", ["nn", "nt", "tn"])
def test_float_matmul_kernels_without_blas(M, K, N, layout, rng, monkeypatch):
    """Shapes that usually go to BLAS, through the hand-written kernels."""
    monkeypatch.setattr(products, "BLAS_MIN_DIM", 1 << 30)
    a, b = arrange(operand(rng, (M, K), np.float32), operand(rng, (K, N), np.float32), layout)
    close(nb.matmul(a, b), ref.matmul(a, b), np.float32)


def test_matmul_non_contiguous_views(rng):
    a = rng.standard_normal((20, 30)).astype(np.float32)[::2, 1::3]   # 10 × 10, strided
    b = rng.standard_normal((10, 14)).astype(np.float32)[:, ::2]      # 10 × 7
    close(nb.matmul(a, b), ref.matmul(a, b), np.float32)
    u = rng.integers(0, 256, (12, 40), dtype=np.uint8)[::3, ::4]
    close(nb.matmul(u, b), ref.matmul(u, b), np.float32)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.sampled_from(["nn", "nt", "tn"]),
       st.integers(0, 2**16))
def test_matmul_random_shapes(M, K, N, layout, seed):
    rng = np.random.default_rng(seed)
    a, b = arrange(operand(rng, (M, K), np.float64), operand(rng, (K, N), np.float64), layout)
    close(nb.matmul(a, b), ref.matmul(a, b), np.float64)


def test_parallel_and_serial_paths_agree(rng, monkeypatch):
    """The chunked (per-thread) path gives what one thread gives, up to rounding."""
    x = rng.integers(0, 256, (500, 784), dtype=np.uint8)
    w = rng.standard_normal((10, 784)).astype(np.float32)
    g = rng.standard_normal((500, 10)).astype(np.float32)
    t = rng.integers(0, 10, 500)
    results = {}
    for name, threshold in (("serial", 1 << 62), ("parallel", 1e-9)):
        monkeypatch.setattr(pool, "MIN_CHUNK_WORK", threshold)
        lp = nb.log_softmax(g)
        results[name] = [nb.matmul(x, w.T), nb.matmul(g.T, x), lp, nb.nll(lp, t),
                         nb.log_softmax_backward(g, lp), nb.nll_backward(1.0, t, lp)]
    for s, p in zip(results["serial"], results["parallel"]):
        close(p, s, np.float32)


def test_a_job_gets_threads_by_its_size():
    """Each thread gets at least MIN_CHUNK_WORK of work: on 16 threads a 1 ms job uses 4, so
    no thread count splits a job into slivers that make it slower than a smaller count."""
    before = pool.get_num_threads()
    try:
        pool.set_num_threads(16)
        q = pool.MIN_CHUNK_WORK
        assert [pool.chunk_count(1000, w) for w in (0, q - 1, q * 2, q * 4, q * 100)] == [1, 1, 2, 4, 16]
        assert pool.chunk_count(3, q * 100) == 3  # never more chunks than rows
        pool.set_num_threads(2)
        assert [pool.chunk_count(1000, w) for w in (q, q * 2, q * 100)] == [1, 2, 2]
    finally:
        pool.set_num_threads(before)


def test_reductions_are_deterministic(rng):
    x = rng.integers(0, 256, (TALL * 4, 784), dtype=np.uint8)
    g = rng.standard_normal((TALL * 4, 10)).astype(np.float32)
    lp = nb.log_softmax(g)
    t = rng.integers(0, 10, TALL * 4)
    first = (nb.matmul(g.T, x), nb.nll(lp, t))
    for _ in range(3):
        again = (nb.matmul(g.T, x), nb.nll(lp, t))
        assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (TALL, 10), (17, 3)])
def test_log_softmax_and_backward(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = nb.log_softmax(x)
    close(y, ref.log_softmax(x), dtype)
    close(nb.log_softmax_backward(g, y), ref.log_softmax_backward(g, y), dtype)


def test_log_softmax_is_stable_and_keeps_nan():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1.0, np.nan, 2.0]], dtype=np.float32)
    for k in (nb, ref):
        y = k.log_softmax(x)
        assert np.isfinite(y[:2]).all()
        np.testing.assert_allclose(y[0], [0.0, -2e4, -1e4])
        np.testing.assert_allclose(y[1], np.log(1 / 3) * np.ones(3), rtol=1e-6)
        assert np.isnan(y[2]).all()


@pytest.mark.parametrize("tdtype", [np.uint8, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 5, TALL * 10])
def test_nll_and_gradients(n, dtype, tdtype, rng):
    lp = ref.log_softmax(rng.standard_normal((n, 10)).astype(dtype))
    t = rng.integers(0, 10, n).astype(tdtype)
    out = nb.nll(lp, t)
    assert out.shape == () and out.dtype == dtype
    close(out, ref.nll(lp, t), dtype)
    close(nb.nll_backward(0.5, t, lp), ref.nll_backward(0.5, t, lp), dtype)


def test_uint8_products_with_a_scale_equal_the_scaled_float_product(rng):
    """`matmul(x, w, 1/255)` on uint8 pixels is `(x/255) @ w` to float32 rounding (the scale a
    layer asks for, applied to each finished sum); without a scale, pixel values as numpy has them."""
    x = rng.integers(0, 256, (TALL, 784), dtype=np.uint8)
    w = rng.standard_normal((784, 10)).astype(np.float32)
    scaled = x.astype(np.float32) * np.float32(1 / 255)
    for k in (nb, ref):
        close(k.matmul(x, w, 1 / 255), scaled @ w, np.float32)
        close(k.matmul(x, w), x.astype(np.float32) @ w, np.float32)


def test_a_changed_array_gives_the_new_product(rng):
    """No kernel keeps anything about an array between calls: zeroing pixels in place (even
    through read-only flags toggled around it) changes the next product."""
    x = rng.integers(0, 256, (8192 if not NOJIT else 300, 784), dtype=np.uint8)
    x[rng.random(x.shape) < 0.8] = 0
    w = rng.standard_normal((784, 10)).astype(np.float32)
    for k in (nb, ref):
        x.setflags(write=False)
        assert np.abs(k.matmul(x, w, 1 / 255)).max() > 0
        x.setflags(write=True)
        x[...] = 0
        x.setflags(write=False)
        assert np.abs(k.matmul(x, w, 1 / 255)).max() == 0
        assert np.abs(k.matmul(rng.standard_normal((10, x.shape[0])).astype(np.float32), x)).max() == 0
        x.setflags(write=True)
        x[...] = rng.integers(0, 256, x.shape, dtype=np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_its_gradient(dtype, rng):
    x = rng.standard_normal((TALL, 100)).astype(dtype)
    x[0, :4] = [np.nan, 0.0, -0.0, np.inf]
    g = rng.standard_normal(x.shape).astype(dtype)
    g[1, 0], x[1, 0] = np.nan, -1.0  # a NaN gradient where relu is flat gives 0 (PyTorch's)
    g[1, 1], x[1, 1] = np.nan, 1.0  # and stays NaN where it passes
    y = nb.relu(x)
    np.testing.assert_array_equal(y, ref.relu(x))
    np.testing.assert_array_equal(nb.relu_backward(g, y), ref.relu_backward(g, y))
    assert ref.relu_backward(g, y)[1, 0] == 0 and np.isnan(ref.relu_backward(g, y)[1, 1])
    np.testing.assert_array_equal(nb.relu(x[:, ::2]), ref.relu(x[:, ::2]))  # other layouts: the twin


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argmax_rows(dtype, rng):
    x = rng.standard_normal((TALL, 10)).astype(dtype)
    x[0, 3] = x[0, 7] = 99        # a tie: the first wins
    x[1, 5] = np.nan              # a NaN wins
    x[2, 2] = x[2, 6] = np.nan    # the first NaN wins
    x[3] = -np.inf
    np.testing.assert_array_equal(nb.argmax(x, axis=1), ref.argmax(x, axis=1))
    np.testing.assert_array_equal(nb.argmax(x[:, ::2], axis=-1), ref.argmax(x[:, ::2], axis=-1))
    assert nb.argmax(x) == ref.argmax(x) and (nb.argmax(x, 0) == ref.argmax(x, 0)).all()


@pytest.mark.parametrize("size", [1, 7, 5000 if NOJIT else 1_100_000])
def test_adamw_update(size, rng):
    p0, g = rng.standard_normal(size).astype(np.float32), rng.standard_normal(size).astype(np.float32)
    m0, v0 = rng.standard_normal(size).astype(np.float32), rng.random(size).astype(np.float32)
    results = []
    for k in (nb, ref):
        p, m, v = p0.copy(), m0.copy(), v0.copy()
        k.adamw_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 0.01, 3)
        results.append((p, m, v))
    for a, b in zip(*results):
        close(a, b, np.float32)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kernels_work_in_a_forked_child(rng, monkeypatch):
    """A child forked after the thread pool started gets a pool of its own (not a hang)."""
    monkeypatch.setattr(pool, "MIN_CHUNK_WORK", 1e-9)
    g = rng.standard_normal((1000, 10)).astype(np.float32)
    expect = nb.log_softmax(g)  # starts the pool in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, report, leave without running pytest's teardown
        signal.alarm(30)  # a hang (the bug this guards against) ends the child, failing the test
        try:
            ok = np.array_equal(nb.log_softmax(g), expect)
            os.write(write, b"ok" if ok else b"different")
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        answer = f.read()
    os.waitpid(pid, 0)
    assert answer == b"ok"


@pytest.mark.slow
@pytest.mark.skipif(NOJIT, reason="this is the test that starts the no-JIT run")
def test_kernels_without_jit():
    """The same tests with NUMBA_DISABLE_JIT=1: the kernels run as plain Python."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    here = os.path.dirname(__file__)
    conv, sparse = os.path.join(here, "test_kernels_conv.py"), os.path.join(here, "test_sparse.py")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, conv, sparse],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout


@pytest.mark.skipif(NOJIT, reason="nothing is cached without the JIT")
def test_unwritable_numba_cache_still_works(tmp_path):
    """No writable cache directory (a cache home under a file, no NUMBA_CACHE_DIR): the kernels
    compile without caching, warn once, and work."""
    code = ("import warnings, numpy as np\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    from tinygrad_mnist.kernels import numba_kernels as nb\n"
            "print(sum('cannot cache' in str(x.message) for x in w) > 0)\n"
            "print(nb.log_softmax(np.zeros((2, 2), np.float32))[0, 0])\n")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(blocked), HOME=str(blocked))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", str(np.float32(np.log(0.5)))]


def test_compiled_kernels_are_cached_in_the_users_cache_not_the_package(tmp_path):
    """numba's default would write next to the source (an installed package's folder, which
    pip uninstall then leaves behind); the kernels go to XDG_CACHE_HOME, keyed by version and
    source, and NUMBA_CACHE_DIR still wins."""
    from tinygrad_mnist import __version__
    code = "from tinygrad_mnist.kernels import products; print(products._nt_rows._cache._cache_path)"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    where = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(env, XDG_CACHE_HOME=str(tmp_path / "xdg"))).stdout.strip()
    assert where.startswith(str(tmp_path / "xdg" / "tinygrad_mnist" / __version__ / "products-"))
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=dict(env, NUMBA_CACHE_DIR=str(tmp_path / "mine"))).stdout.strip()
    assert chosen.startswith(str(tmp_path / "mine"))


def test_set_threads_caps_blas_too():
    """`--threads n` means n cores in all: the BLAS pool is capped with the kernels' pool."""
    from tinygrad_mnist import kernels
    from tinygrad_mnist.kernels import blas
    before, before_blas = kernels.get_threads(), blas.threads()
    if before_blas is None:
        pytest.skip("no OpenBLAS loaded: its thread count cannot be set here")
    try:
        kernels.set_threads(1)
        assert blas.threads() == 1
        a = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
        assert np.array_equal(kernels.impl.matmul(a, a), a @ a)  # BLAS still answers, on one thread
    finally:
        kernels.set_threads(before)
        blas.set_threads(before_blas)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_the_pool_is_sized_to_the_cores_the_process_may_use():
    """Under `taskset -c 0` the default pool has one thread, however many cores the host has."""
    code = "from tinygrad_mnist.kernels import numba_kernels as k; print(k.get_num_threads())"
    proc = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120) if shutil.which("taskset") else None
    if proc is None:
        pytest.skip("no taskset here")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
