"""Exercise 13: checkpoint every other layer of an MLP, and measure what it keeps and costs."""
import time
import tracemalloc

import numpy as np

import tinygrad_mnist
from tinygrad_mnist import Tensor, checkpoint, nn
from tinygrad_mnist.autograd import topological_order


def mlp(width=512, depth=6):
    tinygrad_mnist.manual_seed(0)
    sizes = [784] + [width] * depth
    return [nn.Sequential(nn.Linear(a, b), nn.ReLU()) for a, b in zip(sizes, sizes[1:])] + [nn.Linear(width, 10)]


def plain_forward(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def checkpointed_forward(layers, x):
    """Layers 0, 2, 4, ... each inside its own checkpoint; the others recorded as usual."""
    for i, layer in enumerate(layers):
        x = checkpoint(layer, x) if i % 2 == 0 else layer(x)
    return x


def measure(forward, layers, x, y):
    """(bytes traced between the forward and the backward pass, step seconds, the gradients)."""
    for p in (p for layer in layers for p in layer.parameters()):
        p.grad = None
    tracemalloc.start()
    start = time.perf_counter()
    loss = tinygrad_mnist.cross_entropy(forward(layers, x), y)
    kept = tracemalloc.get_traced_memory()[0]
    loss.backward()
    seconds = time.perf_counter() - start
    tracemalloc.stop()
    return kept, seconds, [p.grad.numpy().copy() for layer in layers for p in layer.parameters()]


def check(checkpointed_forward=checkpointed_forward) -> None:
    layers = mlp()
    rng = np.random.default_rng(13)
    x, y = Tensor(rng.random((256, 784), dtype=np.float32)), Tensor(rng.integers(0, 10, 256))
    measure(plain_forward, layers, x, y), measure(checkpointed_forward, layers, x, y)  # warm: kernels load
    plain = measure(plain_forward, layers, x, y)
    ours = measure(checkpointed_forward, layers, x, y)
    for a, b in zip(plain[2], ours[2]):  # the same gradients: recomputation changes nothing
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    graph = topological_order(tinygrad_mnist.cross_entropy(checkpointed_forward(layers, x), y))
    recomputed = sum(1 for n in graph if n._ctx is not None and n._ctx.fn.__name__ == "RecomputeBackward")
    assert recomputed == (len(layers) + 1) // 2, f"{recomputed} checkpoints: every other layer has one"
    # every other layer keeps its output only, not its Linear's output and its ReLU's: about a quarter less
    assert ours[0] < 0.85 * plain[0], f"kept {ours[0]} bytes against {plain[0]}: not every other layer's"
    print(f"kept between the passes: {plain[0] / 2**20:.1f} MiB plain, {ours[0] / 2**20:.1f} MiB checkpointed; "
          f"step {1e3 * plain[1]:.0f} ms against {1e3 * ours[1]:.0f} ms")
