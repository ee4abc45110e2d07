"""Exercise 15: row sums with a shared-memory tree, one block per row (numba's CUDA target, run
in its simulator: NUMBA_ENABLE_CUDASIM=1 before numba is imported)."""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
from numba import cuda, float32  # noqa: E402


def row_sums_kernel(block: int):
    """out[i] = Σ_j x[i, j]: each thread adds a strided share of the row, then a tree halves the
    live threads log2(block) times, a barrier after every level."""
    @cuda.jit
    def row_sums(x, out):
        buf = cuda.shared.array(block, float32)
        row, t = cuda.blockIdx.x, cuda.threadIdx.x
        acc = float32(0.0)
        for j in range(t, x.shape[1], block):
            acc += x[row, j]
        buf[t] = acc
        cuda.syncthreads()
        s = block // 2
        while s > 0:
            if t < s:
                buf[t] += buf[t + s]
            cuda.syncthreads()
            s //= 2
        if t == 0:
            out[row] = buf[0]
    return row_sums


def check(row_sums_kernel=row_sums_kernel) -> None:
    """The student's factory: blocks of 4 and 8 threads, rows shorter and longer than a block, the
    same bits on every launch."""
    rng = np.random.default_rng(15)
    for block, shape in ((4, (3, 3)), (8, (5, 29)), (8, (2, 64))):
        x = rng.standard_normal(shape).astype(np.float32)
        kernel = row_sums_kernel(block)
        results = []
        for _ in range(2):
            out = cuda.to_device(np.zeros(shape[0], np.float32))
            kernel[shape[0], block](cuda.to_device(x), out)
            results.append(out.copy_to_host())
        np.testing.assert_allclose(results[0], x.sum(axis=1), rtol=1e-5, atol=1e-6)
        assert np.array_equal(results[0], results[1]), "a reduction in a fixed order gives the same bits"


if __name__ == "__main__":
    check()
    print("ok")
