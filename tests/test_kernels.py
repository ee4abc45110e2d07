"""Each numba kernel against its numpy twin.

This file also runs with NUMBA_DISABLE_JIT=1 (see test_kernels_without_jit),
where the same kernel code executes as plain Python; sizes shrink there.
"""
import os
import signal
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_mnist.kernels import numba_kernels as nb
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
    monkeypatch.setattr(nb, "BLAS_MIN_DIM", 1 << 30)
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
    for name, threshold in (("serial", 1 << 62), ("parallel", 0)):
        monkeypatch.setattr(nb, "PARALLEL_MIN_WORK", threshold)
        lp = nb.log_softmax(g)
        results[name] = [nb.matmul(x, w.T), nb.matmul(g.T, x), lp, nb.nll(lp, t),
                         nb.log_softmax_backward(g, lp), nb.softmax_nll_backward(1.0, t, lp)]
    for s, p in zip(results["serial"], results["parallel"]):
        close(p, s, np.float32)


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
    close(nb.softmax_nll_backward(0.5, t, lp), ref.softmax_nll_backward(0.5, t, lp), dtype)


def pixels(rng, rows, cols=784, ink=0.2, writeable=False):
    """An MNIST-like uint8 array: mostly zeros; read-only like the dataset's images."""
    x = rng.integers(1, 256, (rows, cols), dtype=np.uint8)
    x[rng.random(x.shape) >= ink] = 0
    x.setflags(write=writeable)
    return x


@pytest.fixture
def small_sparse_threshold(monkeypatch):
    monkeypatch.setattr(nb, "SPARSE_MIN_ROWS", 64)


@pytest.mark.parametrize("N", [1, 10, 100])
def test_sparse_products_match_the_dense_twin(N, rng, small_sparse_threshold):
    x = pixels(rng, 300)
    w = rng.standard_normal((N, 784)).astype(np.float32)
    g = rng.standard_normal((300, N)).astype(np.float32)
    assert nb._sparse_view(x) is not None  # this array does go through the CSR index
    close(nb.matmul(x, w.T, 1 / 255), ref.matmul(x, w.T, 1 / 255), np.float32)      # X @ W.T
    close(nb.matmul(x, w.T.copy()), ref.matmul(x, w.T.copy()), np.float32)          # X @ B
    close(nb.matmul(g.T, x, 1 / 255), ref.matmul(g.T, x, 1 / 255), np.float32)      # G.T @ X
    close(nb.matmul(x.T, g), ref.matmul(x.T, g), np.float32)                        # X.T @ G
    close(nb.matmul(x, w.T.astype(np.float64)), ref.matmul(x, w.T.astype(np.float64)), np.float64)


def test_sparse_row_ranges_use_the_whole_arrays_index(rng, small_sparse_threshold):
    x = pixels(rng, 200)
    w = rng.standard_normal((10, 784)).astype(np.float32)
    part = x[50:120]  # a minibatch view, as narrow() gives
    csr, first_row, rowmap = nb._sparse_view(part)
    assert first_row == 50 and len(csr.indptr) == 201
    close(nb.matmul(part, w.T), ref.matmul(part, w.T), np.float32)
    g = rng.standard_normal((70, 10)).astype(np.float32)
    close(nb.matmul(g.T, part), ref.matmul(g.T, part), np.float32)


@pytest.mark.parametrize("N", [10, 17, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grads", [(False, True, True), (False, False, True), (False, False, False)])
def test_fused_linear_cross_entropy_matches_the_twin(N, dtype, grads, rng, small_sparse_threshold):
    """One pass over the CSR rows (logits, softmax, loss, dW, db) against the composed twin;
    a row range of the whole array, as a minibatch view is."""
    x = pixels(rng, 400)[100:350]
    w = (rng.standard_normal((N, 784)) * 0.05).astype(dtype)
    b = rng.standard_normal(N).astype(dtype)
    t = rng.integers(0, N, 250).astype(np.uint8)
    assert nb._sparse_view(x) is not None
    got = nb.linear_cross_entropy(x, w, b, t, 1 / 255, grads)
    want = ref.linear_cross_entropy(x, w, b, t, 1 / 255, grads)
    close(got[0], want[0], dtype)
    for g, r, asked in zip(got[1:], want[1:], grads):
        assert (g is None) == (r is None) == (not asked)
        if asked:
            close(g, r, dtype)


def test_fused_linear_cross_entropy_without_bias_and_on_dense_input(rng, small_sparse_threshold):
    x = pixels(rng, 100)
    w = rng.standard_normal((10, 784)).astype(np.float32) * 0.05
    t = rng.integers(0, 10, 100)
    for xs in (x, x.copy()):  # through the index, and (writable) through the composed kernels
        got = nb.linear_cross_entropy(xs, w, None, t, 1 / 255, (False, True, False))
        want = ref.linear_cross_entropy(xs, w, None, t, 1 / 255, (False, True, False))
        close(got[0], want[0], np.float32)
        close(got[2], want[2], np.float32)
        assert got[3] is None


def test_fused_linear_cross_entropy_lets_nan_through(rng, small_sparse_threshold):
    x = pixels(rng, 100)
    w = np.zeros((10, 784), np.float32)
    w[3, :] = np.nan
    loss, _, dw, db = nb.linear_cross_entropy(x, w, np.zeros(10, np.float32), np.zeros(100, np.int64), 1.0,
                                              (False, True, True))
    assert np.isnan(loss) and np.isnan(dw).any()


def test_exp_lanes_is_exp_to_float32_rounding():
    """The vector exp of the fused kernel: about 1 ulp over the whole float32 range, and the
    edges (under/overflow, inf, NaN) as np.exp has them."""
    from tinygrad_mnist.kernels.simd import LANES, exp_lanes

    @numba.njit
    def run(x, out):
        for c in range(0, len(x), LANES):
            exp_lanes(x, c, out, c)

    edges = [np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.7228, -87.33, -87.34, -100.0, 100.0, 1e-8]
    x = np.concatenate([np.linspace(-87.3, 88.7, 16 * 4000), edges, np.zeros(4)]).astype(np.float32)
    got = np.empty_like(x)
    run(x, got)
    want = np.exp(x.astype(np.float64))
    over, under, nan = x > 88.72283, x < -87.33654, np.isnan(x)  # beyond float32; subnormal results
    inside = ~(over | under | nan)
    np.testing.assert_allclose(got[inside], want[inside], rtol=2.5e-7)
    assert (got[over] == np.inf).all() and (got[under] == 0).all() and under.sum() == 3
    assert np.isnan(got[np.isnan(x)]).all()


def test_gathered_rows_keep_the_index(rng, small_sparse_threshold):
    """A shuffled minibatch (take_rows) is multiplied through the CSR rows it came from,
    forward, backward and fused; a batch of a batch too; a writable array takes no index."""
    x = pixels(rng, 300)
    w = rng.standard_normal((100, 784)).astype(np.float32) * 0.05
    idx = rng.permutation(300)[:64]
    idx[3] = -5  # numpy's negative ids count from the end
    batch = nb.take_rows(x, idx)
    np.testing.assert_array_equal(batch, x[idx])
    sx = nb._sparse_view(batch)
    assert sx is not None and not batch.flags.writeable and sx.rowmap[3] == 295
    g = rng.standard_normal((64, 100)).astype(np.float32)
    close(nb.matmul(batch, w.T, 1 / 255), ref.matmul(batch, w.T, 1 / 255), np.float32)
    close(nb.matmul(g.T, batch, 1 / 255), ref.matmul(g.T, batch, 1 / 255), np.float32)
    t = rng.integers(0, 10, 64)
    got = nb.linear_cross_entropy(batch, w[:10], None, t, 1 / 255, (False, True, False))
    want = ref.linear_cross_entropy(batch, w[:10], None, t, 1 / 255, (False, True, False))
    close(got[0], want[0], np.float32)
    close(got[2], want[2], np.float32)
    inner = nb.take_rows(batch, np.array([5, 0, 5]))
    np.testing.assert_array_equal(nb._sparse_view(inner).rowmap, sx.rowmap[[5, 0, 5]])
    close(nb.matmul(inner, w.T), ref.matmul(inner, w.T), np.float32)
    assert nb.take_rows(x.copy(), idx).flags.writeable  # no index behind a writable array


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_its_gradient(dtype, rng):
    x = rng.standard_normal((TALL, 100)).astype(dtype)
    x[0, :4] = [np.nan, 0.0, -0.0, np.inf]
    g = rng.standard_normal(x.shape).astype(dtype)
    g[1, 0], x[1, 0] = np.nan, -1.0  # a NaN gradient stays NaN even where relu is flat
    y = nb.relu(x)
    np.testing.assert_array_equal(y, ref.relu(x))
    np.testing.assert_array_equal(nb.relu_backward(g, y), ref.relu_backward(g, y))
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


def test_prepare_builds_the_index_ahead(rng, small_sparse_threshold):
    x = pixels(rng, 100)
    assert ref.prepare(x) is None
    nb.prepare(x)
    assert nb._csr_cache[id(x)][1] is not None


def test_csr_index(rng):
    x = pixels(rng, 50, cols=30, writeable=True)
    csr = nb.build_csr(x)
    dense = np.zeros_like(x)
    for i in range(50):
        for p in range(csr.indptr[i], csr.indptr[i + 1]):
            dense[i, csr.indices[p]] = csr.values[p]
    np.testing.assert_array_equal(dense, x)
    assert csr.indptr[-1] == np.count_nonzero(x)


def test_when_the_sparse_path_is_not_taken(rng, small_sparse_threshold):
    assert nb._sparse_view(pixels(rng, 100, writeable=True)) is None     # could change under an index
    assert nb._sparse_view(pixels(rng, 10)) is None                      # too small to pay off
    dense = pixels(rng, 100, ink=0.9)
    assert nb._sparse_view(dense) is None                                # too dense: marked, dense path
    w = rng.standard_normal((10, 784)).astype(np.float32)
    close(nb.matmul(dense, w.T), ref.matmul(dense, w.T), np.float32)


def test_sparse_index_is_dropped_with_its_array(rng, small_sparse_threshold):
    x = pixels(rng, 100)
    nb._sparse_view(x)
    key = id(x)
    assert key in nb._csr_cache
    del x
    import gc
    gc.collect()
    assert key not in nb._csr_cache


CONV_CASES = [  # B, C, H, W, kernel, stride, padding, input dtype
    (1, 1, 5, 5, 1, 1, 0, np.float64), (2, 3, 7, 6, 3, 1, 1, np.float64), (3, 2, 9, 9, 3, 2, 2, np.float32),
    (4 if NOJIT else 64, 1, 28, 28, 5, 1, 0, np.uint8),            # Candle's conv1 on a batch of pixels
    (2 if NOJIT else 64, 32, 12, 12, 5, 1, 0, np.float32),         # Candle's conv2
]


@pytest.mark.parametrize("B,C,H,W,k,stride,padding,dtype", CONV_CASES)
def test_im2col_col2im(B, C, H, W, k, stride, padding, dtype, rng):
    """Each set may order a patch's columns its own way; with its own flatten_filters the
    convolution (im2col @ filtersᵀ) and its adjoint (col2im of G @ filters) are the same."""
    x = operand(rng, (B, C, H, W), dtype)
    out_dtype = np.float32 if dtype == np.uint8 else dtype
    w = rng.standard_normal((3, C, k, k)).astype(out_dtype)
    for layout in (x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):  # NCHW, channels-last
        cols = nb.im2col(layout, k, k, stride, padding, out_dtype, 1 / 255)
        want = ref.im2col(x, k, k, stride, padding, out_dtype, 1 / 255)
        assert cols.shape == want.shape
        close(cols @ nb.flatten_filters(w).T, want @ ref.flatten_filters(w).T, out_dtype)
    g = rng.standard_normal((cols.shape[0], 3)).astype(out_dtype)
    close(nb.col2im(g @ nb.flatten_filters(w), x.shape, k, k, stride, padding),
          ref.col2im(g @ ref.flatten_filters(w), x.shape, k, k, stride, padding), out_dtype)
    for kernels in (nb, ref):
        np.testing.assert_array_equal(kernels.unflatten_filters(kernels.flatten_filters(w), w.shape), w)


@pytest.mark.parametrize("B,C,H,W,k,stride", [(1, 1, 2, 2, 2, 2), (2, 3, 7, 6, 2, 2), (2, 2, 7, 7, 3, 1),
                                              (4 if NOJIT else 64, 32, 24, 24, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_max_pool2d(B, C, H, W, k, stride, dtype, layout, rng):
    """Same maxima, indices and gradients from NCHW input and from Conv2d's channels-last layout."""
    x = rng.standard_normal((B, C, H, W)).astype(dtype)
    x[0, 0, 0, :2] = 5.0  # a tie: the first maximum wins in both
    xs = x if layout == "nchw" else np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y, idx = nb.max_pool2d(xs, k, stride)
    y_ref, idx_ref = ref.max_pool2d(x, k, stride)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    g = rng.standard_normal(y.shape).astype(dtype)
    close(nb.max_pool2d_backward(g, idx, x.shape), ref.max_pool2d_backward(g, idx_ref, x.shape), dtype)


def test_max_pool2d_keeps_nan():
    x = np.zeros((1, 1, 2, 4), np.float32)
    x[0, 0, 1, 0] = np.nan
    for k in (nb, ref):
        y, _ = k.max_pool2d(x, 2, 2)
        assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 0


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
    monkeypatch.setattr(nb, "PARALLEL_MIN_WORK", 0)
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


@pytest.mark.skipif(NOJIT, reason="this is the test that starts the no-JIT run")
def test_kernels_without_jit():
    """The same tests with NUMBA_DISABLE_JIT=1: the kernels run as plain Python."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout


@pytest.mark.skipif(NOJIT, reason="nothing is cached without the JIT")
def test_unwritable_numba_cache_still_works():
    """No writable cache directory (numba finds no cache locator): the kernels
    compile without caching, warn once, and work."""
    code = ("import warnings, numpy as np\n"
            "import numba.core.caching as caching\n"
            "caching.CacheImpl._locator_classes = []  # what numba sees when no directory is writable\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    from tinygrad_mnist.kernels import numba_kernels as nb\n"
            "print(sum('cannot cache' in str(x.message) for x in w) > 0)\n"
            "print(nb.log_softmax(np.zeros((2, 2), np.float32))[0, 0])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", str(np.float32(np.log(0.5)))]
