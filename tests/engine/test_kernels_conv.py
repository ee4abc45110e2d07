"""The convolution and pooling kernels against their numpy twins: patches and their adjoint, the
output's layout change, the single-channel convolution, max-pooling. Also run with
NUMBA_DISABLE_JIT=1 by test_kernels.py's test_kernels_without_jit."""
import numpy as np
import pytest

from test_kernels import NOJIT, close, operand
from tinygrad_mnist.kernels import numba_kernels as nb
from tinygrad_mnist.kernels import numpy_kernels as ref


CONV_CASES = [  # B, C, H, W, kernel (kh, kw), stride, padding, dilation, input dtype
    (1, 1, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1), np.float64), (2, 3, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1), np.float64),
    (3, 2, 9, 9, (3, 3), (2, 2), (2, 2), (1, 1), np.float32), (2, 3, 8, 9, (3, 2), (2, 1), (1, 0), (1, 1), np.float64),
    (2, 2, 9, 10, (3, 2), (1, 2), (2, 1), (2, 3), np.float64),                 # rectangular, dilated
    (2, 3, 7, 9, (3, 2), (1, 1), (0, 0), (1, 1), np.float64),                  # rectangular, the plain path
    (4 if NOJIT else 64, 1, 28, 28, (5, 5), (1, 1), (0, 0), (1, 1), np.uint8),  # Candle's conv1 on a batch of pixels
    (2 if NOJIT else 64, 32, 12, 12, (5, 5), (1, 1), (0, 0), (1, 1), np.float32),  # Candle's conv2
]


@pytest.mark.parametrize("B,C,H,W,k,stride,padding,dilation,dtype", CONV_CASES)
def test_im2col_col2im(B, C, H, W, k, stride, padding, dilation, dtype, rng):
    """The same patches, in the same (i, j, c) order, from NCHW and from a strided view; col2im,
    their adjoint, the same sums; both sets return C-contiguous arrays."""
    x = operand(rng, (B, C, H, W), dtype)
    out_dtype = np.float32 if dtype == np.uint8 else dtype
    geometry = (stride, padding, dilation)
    for layout in (x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):  # NCHW, channels-last
        cols = nb.im2col(layout, *k, *geometry, out_dtype)
        want = ref.im2col(x, *k, *geometry, out_dtype)
        np.testing.assert_array_equal(cols, want)
        assert cols.flags.c_contiguous and want.flags.c_contiguous
    g = rng.standard_normal(cols.shape).astype(out_dtype)
    got, want = nb.col2im(g, x.shape, *k, *geometry), ref.col2im(g, x.shape, *k, *geometry)
    close(got, want, out_dtype)
    assert got.flags.c_contiguous and want.flags.c_contiguous


def test_im2col_is_the_convolution_pytorch_defines(rng):
    """One patch row against the definition: y[o] = Σ_{c,i,j} x[c, oh·s − p + i·d, ow·s − p + j·d] · w[c,i,j]."""
    x = rng.standard_normal((1, 2, 7, 8))
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (3, 2), (2, 1), (1, 2), (2, 3)
    for k in (nb, ref):
        cols = k.im2col(x, kh, kw, (sh, sw), (ph, pw), (dh, dw), np.float64)
        OW = k.conv_out_size(8, kw, sw, pw, dw)
        for oh, ow in [(0, 0), (1, 2), (2, OW - 1)]:
            row = cols[oh * OW + ow].reshape(kh, kw, 2)
            for i in range(kh):
                for j in range(kw):
                    h, w = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                    expect = x[0, :, h, w] if 0 <= h < 7 and 0 <= w < 8 else np.zeros(2)
                    np.testing.assert_array_equal(row[i, j], expect)


POOL_CASES = [  # B, C, H, W, kernel, stride, padding, ceil_mode, dilation
    (1, 1, 2, 2, (2, 2), (2, 2), (0, 0), False, (1, 1)), (2, 3, 7, 6, (2, 2), (2, 2), (0, 0), False, (1, 1)),
    (2, 2, 7, 7, (3, 3), (1, 1), (0, 0), False, (1, 1)), (2, 2, 7, 8, (3, 2), (2, 1), (1, 1), False, (1, 1)),
    (2, 3, 7, 6, (3, 3), (2, 2), (1, 1), True, (1, 1)), (1, 2, 5, 5, (2, 2), (2, 2), (0, 0), True, (1, 1)),
    (2, 2, 9, 8, (2, 3), (1, 2), (0, 0), False, (3, 2)), (2, 2, 9, 9, (3, 3), (2, 2), (1, 1), True, (2, 3)),
    (4 if NOJIT else 64, 32, 24, 24, (2, 2), (2, 2), (0, 0), False, (1, 1)),
]


@pytest.mark.parametrize("B,C,H,W,k,stride,padding,ceil,dilation", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_max_pool2d(B, C, H, W, k, stride, padding, ceil, dilation, dtype, layout, rng):
    """Same maxima, indices and gradients from NCHW input and from a channels-last view."""
    x = rng.standard_normal((B, C, H, W)).astype(dtype)
    x[0, 0, 0, :2] = 5.0  # a tie: the first maximum wins in both
    xs = x if layout == "nchw" else np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    out = tuple(ref.pool_out_size(n, d * (kk - 1) + 1, s, p, ceil)
                for n, kk, s, p, d in zip((H, W), k, stride, padding, dilation))
    y, idx = nb.max_pool2d(xs, k, stride, padding, out, dilation)
    y_ref, idx_ref = ref.max_pool2d(x, k, stride, padding, out, dilation)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    assert idx.min() >= 0 and idx.max() < H * W
    g = rng.standard_normal(y.shape).astype(dtype)
    close(nb.max_pool2d_backward(g, idx, x.shape), ref.max_pool2d_backward(g, idx_ref, x.shape), dtype)


@pytest.mark.parametrize("k,stride,padding", [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (0, 0)),
                                               ((2, 2), (2, 2), (1, 1))])
def test_max_pool2d_ties_and_nans_in_every_tap(k, stride, padding):
    """Values from {0, 1, 2} and NaNs in every window position: the first maximum of each window in
    row-major order, or its first NaN, on both sets (the 2×2 path, the inside path, the general one)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, (6, 3, 10, 12)).astype(np.float32)
    x[rng.random(x.shape) < 0.08] = np.nan
    out = tuple(ref.pool_out_size(n, kk, s, p, False) for n, kk, s, p in zip((10, 12), k, stride, padding))
    (y, idx), (y_ref, idx_ref) = nb.max_pool2d(x, k, stride, padding, out), ref.max_pool2d(x, k, stride, padding, out)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)


def test_max_pool2d_keeps_nan():
    x = np.zeros((1, 1, 2, 4), np.float32)
    x[0, 0, 1, 0] = np.nan
    for k in (nb, ref):
        y, _ = k.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 2))
        assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 0


@pytest.mark.parametrize("B,O,OH,OW", [(1, 1, 1, 1), (3, 5, 4, 2), (4 if NOJIT else 64, 32, 24, 24)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_output_layout_and_its_adjoint(B, O, OH, OW, dtype, rng):
    """rows_to_nchw adds the bias and transposes the product rows to NCHW; nchw_to_rows undoes
    the transpose and sums the gradient for the bias: the same values on both sets."""
    rows = rng.standard_normal((B * OH * OW, O)).astype(dtype)
    bias = rng.standard_normal(O).astype(dtype)
    for b in (bias, None):
        y = nb.rows_to_nchw(rows, b, (B, O, OH, OW))
        assert y.flags.c_contiguous and y.shape == (B, O, OH, OW)
        np.testing.assert_array_equal(y, ref.rows_to_nchw(rows, b, (B, O, OH, OW)))
    g = rng.standard_normal((B, O, OH, OW)).astype(dtype)
    (got, got_sum), (want, want_sum) = nb.nchw_to_rows(g), ref.nchw_to_rows(g)
    np.testing.assert_array_equal(got, want)
    close(got_sum, want_sum, dtype)
    np.testing.assert_array_equal(nb.nchw_to_rows(g[:, :, ::-1])[0], ref.nchw_to_rows(g[:, :, ::-1])[0])


@pytest.mark.parametrize("B,H,W,O,kh,kw,dtype", [
    (1, 5, 5, 1, 1, 1, np.float64), (3, 7, 6, 4, 3, 2, np.float64), (2, 9, 8, 5, 2, 4, np.float32),
    (4 if NOJIT else 64, 28, 28, 32, 5, 5, np.uint8),   # Candle's conv1 on a batch of pixels
    (2, 28, 28, 32, 5, 5, np.float32),
])
def test_conv_one_channel_is_the_patch_product(B, H, W, O, kh, kw, dtype, rng):
    """The single-channel convolution and its gradients: the same sums as im2col and a product,
    on both kernel sets."""
    x = rng.integers(0, 256, (B, H, W), dtype=np.uint8) if dtype == np.uint8 else rng.standard_normal((B, H, W))
    wdt = np.float32 if dtype == np.uint8 else dtype
    x = x.astype(dtype)
    w, bias = rng.standard_normal((O, kh, kw)).astype(wdt), rng.standard_normal(O).astype(wdt)
    OH, OW = H - kh + 1, W - kw + 1
    cols = ref.im2col(x[:, None], kh, kw, (1, 1), (0, 0), (1, 1), wdt)
    want = (cols @ w.reshape(O, -1).T + bias).reshape(B, OH, OW, O).transpose(0, 3, 1, 2)
    g = rng.standard_normal((B, O, OH, OW)).astype(wdt)
    want_dw = (g.transpose(0, 2, 3, 1).reshape(-1, O).T @ cols).reshape(O, kh, kw)
    for k in (nb, ref):
        y = k.conv_one_channel(x, w, bias)
        assert y.dtype == wdt and y.flags.c_contiguous and y.shape == (B, O, OH, OW)
        close(y, want, wdt)
        close(k.conv_one_channel(x, w, None), want - bias[:, None, None], wdt)
        dw, db = k.conv_one_channel_backward(g, x, kh, kw)
        close(dw, want_dw, wdt)
        close(db, g.sum(axis=(0, 2, 3)), wdt)
