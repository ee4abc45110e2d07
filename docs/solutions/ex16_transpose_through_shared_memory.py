"""Exercise 16: a matrix transpose through shared-memory tiles, so that both the reads and the
writes of global memory go along rows (coalesced); in numba's CUDA simulator."""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
from numba import cuda, float32  # noqa: E402


def transpose_kernel(tile: int):
    """out = xᵀ: a block reads a tile of x row by row into shared memory, waits, and writes the
    tile's transpose row by row into out (its threads swap roles through the tile)."""
    @cuda.jit
    def transpose(x, out):
        buf = cuda.shared.array((tile, tile), float32)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row, col = cuda.blockIdx.y * tile + ty, cuda.blockIdx.x * tile + tx
        if row < x.shape[0] and col < x.shape[1]:
            buf[ty, tx] = x[row, col]
        cuda.syncthreads()  # the tile is whole before it is read across
        row, col = cuda.blockIdx.x * tile + ty, cuda.blockIdx.y * tile + tx
        if row < out.shape[0] and col < out.shape[1]:
            out[row, col] = buf[tx, ty]
    return transpose


def check(transpose_kernel=transpose_kernel) -> None:
    """The student's factory against numpy: tiles of 2 and 4, shapes that are not multiples."""
    rng = np.random.default_rng(16)
    for tile, shape in ((2, (3, 5)), (4, (7, 9)), (4, (8, 4))):
        x = rng.standard_normal(shape).astype(np.float32)
        out = cuda.to_device(np.zeros(shape[::-1], np.float32))
        grid = (-(-shape[1] // tile), -(-shape[0] // tile))
        transpose_kernel(tile)[grid, (tile, tile)](cuda.to_device(x), out)
        np.testing.assert_array_equal(out.copy_to_host(), x.T)


if __name__ == "__main__":
    check()
    print("ok")
