"""Every op keeps its arrays through save_for_backward, so the graph view shows what a step keeps
and backward can free it."""
import numpy as np

import test_torch_parity as parity
from tinygrad_mnist import Tensor
from tinygrad_mnist.autograd import topological_order


def _contexts(root):
    return [t._ctx for t in topological_order(root, every_parent=True) if t._ctx is not None]


def _keeps_an_array(value) -> bool:
    if isinstance(value, np.ndarray) or callable(value):
        return True
    return isinstance(value, (list, tuple, dict)) and any(
        _keeps_an_array(v) for v in (value.values() if isinstance(value, dict) else value))


def test_every_op_keeps_its_arrays_through_save_for_backward(backend):
    """Run every parity case and look at each context of its graph: an array (or a list of them,
    or a closure) kept on ctx beside save_for_backward is one the graph view would not show."""
    for case in sorted(parity.CASES):
        rng = np.random.default_rng(0)
        ours = parity.engine_tensors(parity.inputs(case, rng), np.float64)
        for out in parity.outputs(parity.CASES[case][0](parity.ENGINE, *ours)):
            for ctx in _contexts(out) if isinstance(out, Tensor) else []:
                kept = {k: v for k, v in vars(ctx).items()
                        if k not in ("fn", "parents", "needs_input_grad", "_saved") and _keeps_an_array(v)}
                assert not kept, f"{case}: {ctx.fn.__name__} keeps {sorted(kept)} on ctx"


def test_the_save_check_can_fail():
    class Leaky:
        pass
    ctx = Leaky()
    ctx.back = lambda y: y
    assert _keeps_an_array(ctx.back) and _keeps_an_array([np.zeros(1)])
