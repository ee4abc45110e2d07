"""The op cases of tests/engine/test_torch_parity.py and tests/engine/test_higher_order.py: each a function written
once in the spelling PyTorch and this engine share, run on both (`lib` gives the few free
functions whose module differs: `lib.cat` is `torch.cat` or `tinygrad_mnist.cat`), and how
to make its inputs. A third element says why a case has no derivative to check against
central differences (indices, bools, or a rule at a kink or tie, then checked against PyTorch)."""
from types import SimpleNamespace

import numpy as np

from tinygrad_mnist import Tensor, cat, cross_entropy, nll, stack

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the gradchecks still run
    torch = None

ENGINE = SimpleNamespace(
    cat=cat, stack=stack, nll=nll, cross_entropy=cross_entropy, const=Tensor,
    conv2d=lambda x, w, b=None, **kw: x.conv2d(w, b, **kw), linear=lambda x, w, b=None, scale=1.0: x.linear(w, b, scale=scale),
    max_pool2d=lambda x, *a, **kw: x.max_pool2d(*a, **kw), minimum=lambda a, b: a.minimum(b), float64=np.float64,
    max_unpool2d=lambda x, i, *a, **kw: x.max_unpool2d(i, *a, **kw), avg_pool2d=lambda x, *a, **kw: x.avg_pool2d(*a, **kw),
    conv1d=lambda x, w, b=None, **kw: x.conv1d(w, b, **kw))
TORCH = SimpleNamespace(
    cat=lambda ts, dim=0: torch.cat(list(ts), dim), stack=lambda ts, dim=0: torch.stack(list(ts), dim),
    nll=TF.nll_loss, cross_entropy=TF.cross_entropy, const=torch.from_numpy,
    conv2d=TF.conv2d, linear=lambda x, w, b=None, scale=1.0: TF.linear(x * scale, w, b), max_pool2d=TF.max_pool2d, minimum=torch.minimum,
    float64=torch.float64, max_unpool2d=TF.max_unpool2d, avg_pool2d=TF.avg_pool2d, conv1d=TF.conv1d
) if torch is not None else None


def f(*shape, lo=-2.0, hi=2.0):
    """A float input that requires a gradient, uniform in [lo, hi)."""
    return lambda rng: (rng.uniform(lo, hi, shape), True)


def const(make_array):
    """An input that takes no gradient (targets, indices, probabilities)."""
    return lambda rng: (make_array(rng), False)


def ids(n, classes, shape=None, ignore=False):
    def make(rng):
        t = rng.integers(0, classes, shape or (n,))
        if ignore:
            t.flat[::3] = -100
        return t
    return const(make)


def probs(*shape):
    def make(rng):
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1, keepdims=True)
    return const(make)


def exact(values):
    """Chosen values that require a gradient: where a rule decides (a kink, a tie), not chance."""
    return lambda rng: (np.array(values, dtype=np.float64), True)


def distinct(*shape, shift=0.0):
    """Floats with no ties, so max/min and their indices are the same in every implementation
    (`shift` keeps two such inputs apart: 1/14 puts one between the other's values)."""
    return lambda rng: (rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 3.0 + shift, True)


CASES = {
    # elementwise and arithmetic, broadcasting both ways, reflected forms
    "add": (lambda lib, a, b: a + b, [f(3, 1), f(1, 4)]),
    "add_method": (lambda lib, a, b: a.add(b), [f(2, 3), f(3)]),
    "sub_reflected": (lambda lib, a: 1.5 - a, [f(2, 3)]),
    "add_reflected": (lambda lib, a: 2.5 + a, [f(3)]),
    "sub_method": (lambda lib, a, b: a.sub(b), [f(2, 3), f(2, 1)]),
    "mul": (lambda lib, a, b: a * b, [f(4, 1, 3), f(2, 3)]),
    "mul_method_scalar": (lambda lib, a: a.mul(3.0), [f(2, 2)]),
    "div": (lambda lib, a, b: a / b, [f(2, 3), f(3, lo=0.5)]),
    "div_method_reflected": (lambda lib, a: 2.0 / a.div(2.0), [f(3, lo=0.5)]),
    "neg": (lambda lib, a: a.neg() - a, [f(5)]),
    "pow_const": (lambda lib, a: a ** 3, [f(4)]),
    "pow_half": (lambda lib, a: a.pow(0.5), [f(4, lo=0.5)]),
    "pow_tensor": (lambda lib, a, b: a ** b, [f(3, 2, lo=0.5), f(2, lo=-1.0)]),
    "rpow": (lambda lib, a: 2 ** a, [f(3)]),
    "exp": (lambda lib, a: a.exp(), [f(3, 2)]),
    "log": (lambda lib, a: a.log(), [f(3, 2, lo=0.2)]),
    "log1p": (lambda lib, a: a.log1p(), [f(3, 2, lo=-0.8)]),
    "sin": (lambda lib, a: a.sin(), [f(3, 2, lo=-4, hi=4)]),
    "cos": (lambda lib, a: a.cos(), [f(3, 2, lo=-4, hi=4)]),
    "sqrt": (lambda lib, a: a.sqrt(), [f(3, 2, lo=0.2)]),
    "abs": (lambda lib, a: a.abs(), [f(3, 4)]),
    "sigmoid": (lambda lib, a: a.sigmoid(), [f(3, 4, lo=-6, hi=6)]),
    "tanh": (lambda lib, a: a.tanh(), [f(3, 4)]),
    "relu": (lambda lib, a: a.relu(), [f(3, 4)]),
    "clamp": (lambda lib, a: a.clamp(min=-0.5, max=0.7), [f(3, 4)]),
    "clamp_min": (lambda lib, a: a.clamp(min=0.1), [f(6)]),
    "clamp_at_the_bounds": (lambda lib, a: a.clamp(min=0.0, max=1.0), [exact([-1.0, 0.0, 0.5, 1.0, 2.0])],
                            "a kink at each bound: PyTorch's subgradient there (1) is checked against PyTorch"),
    # reductions, dim= and keepdim=, negative dims
    "sum_all": (lambda lib, a: a.sum(), [f(2, 3)]),
    "sum_dim": (lambda lib, a: a.sum(dim=1), [f(2, 3, 4)]),
    "sum_dims_keepdim": (lambda lib, a: a.sum(dim=(0, -1), keepdim=True), [f(2, 3, 4)]),
    "mean_dim": (lambda lib, a: a.mean(dim=-2, keepdim=True), [f(2, 3, 4)]),
    "mean_all": (lambda lib, a: a.mean(), [f(3, 3)]),
    "max_all": (lambda lib, a: a.max(), [distinct(3, 4)]),
    "max_dim_values": (lambda lib, a: a.max(1).values, [distinct(3, 4)]),
    "max_dim_keepdim": (lambda lib, a: a.max(dim=0, keepdim=True)[0], [distinct(3, 4)]),
    "max_dim_indices": (lambda lib, a: a.max(-1)[1], [distinct(3, 4)], "no gradient: indices or bools"),
    "max_all_ties": (lambda lib, a: a.max(), [exact([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])],
                     "tied maxima share the gradient evenly (PyTorch's rule), checked against PyTorch"),
    "max_dim_ties": (lambda lib, a: a.max(dim=1).values + a.min(axis=0).values.sum(), [exact([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])],
                     "max(dim) gives a tie's gradient to the index it returns (PyTorch's rule), checked against PyTorch"),
    "amax_ties": (lambda lib, a: a.amax(dim=1) * a.amin(dim=(0, 1), keepdim=True), [exact([[1.0, 3.0, 3.0], [0.0, 2.0, 0.0]])],
                  "amax/amin split a tie's gradient evenly (PyTorch's rule), checked against PyTorch"),
    "amax": (lambda lib, a: a.amax(dim=(0, 2)) + a.amin(-1).sum(), [distinct(2, 3, 4)]),
    "maximum": (lambda lib, a, b: a.maximum(b), [distinct(3, 4), distinct(4, shift=1 / 14)]),
    "minimum": (lambda lib, a, b: lib.minimum(a, b) * a, [distinct(2, 3), distinct(2, 1, shift=1 / 14)]),
    "maximum_ties": (lambda lib, a, b: a.maximum(b) + a.minimum(b) * a, [exact([1.0, 2.0, 3.0]), exact([1.0, 0.0, 3.0])],
                     "ties split the gradient evenly (PyTorch's rule), checked against PyTorch"),
    "prod_all": (lambda lib, a: a.prod(), [f(2, 3, lo=0.5)]),
    "prod_dim": (lambda lib, a: a.prod(1) + a.prod(dim=-1, keepdim=True).sum(), [f(2, 3, 4)]),
    "prod_zeros": (lambda lib, a: a.prod(dim=1), [exact([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, -2.0, 0.5]])]),
    "prod_zeros_all": (lambda lib, a: a.prod() + a[0].prod(), [exact([[0.0, 2.0], [3.0, -1.5]])]),
    "sum_dtype": (lambda lib, a: a.sum(dim=0, dtype=lib.float64) * 2, [f(3, 2)], "float64 output"),
    "var": (lambda lib, a: a.var(dim=1) + a.var(), [f(3, 4)]),
    "var_correction": (lambda lib, a: a.var(dim=(0, 1), correction=0, keepdim=True) * a, [f(2, 3, 2)]),
    "std": (lambda lib, a: a.std(dim=0, unbiased=False) + a.std(), [f(4, 3)]),
    "clone_contiguous": (lambda lib, a: a.clone().permute(1, 0).contiguous().view(-1) * 2, [f(2, 3)]),
    "min_all": (lambda lib, a: a.min(), [distinct(4, 2)]),
    "min_dim": (lambda lib, a: a.min(dim=1).values * 2, [distinct(4, 3)]),
    "argmax": (lambda lib, a: a.argmax(dim=1), [distinct(3, 4)], "no gradient: indices or bools"),
    "argmax_keepdim": (lambda lib, a: a.argmax(dim=0, keepdim=True), [distinct(3, 4)], "no gradient: indices or bools"),
    "softmax": (lambda lib, a: a.softmax(dim=1), [f(3, 5)]),
    "softmax_dim0": (lambda lib, a: a.softmax(dim=0), [f(3, 5)]),
    "log_softmax": (lambda lib, a: a.log_softmax(dim=-1), [f(2, 3, 5)]),
    "log_softmax_dim1_3d": (lambda lib, a: a.log_softmax(dim=1), [f(2, 3, 4)]),
    "log_softmax_dim0": (lambda lib, a: a.log_softmax(dim=0), [f(4, 5)]),
    # comparisons: bool tensors, no gradient
    "lt": (lambda lib, a, b: a < b, [f(3, 4), f(4)], "no gradient: indices or bools"),
    "le_gt_ge": (lambda lib, a: (a <= 0.5) == (a > -0.5), [f(3, 4)], "no gradient: indices or bools"),
    # a * (a != 0) jumps at the zeros it masks: differences across them are no derivative
    "ne_mask": (lambda lib, a: a * (a != 0), [lambda rng: (np.where(rng.random((3, 4)) < 0.5, 0.0,
                                                                    rng.uniform(-1, 1, (3, 4))), True)], "jumps"),
    "ge_scalar": (lambda lib, a: a >= 0, [f(5)], "no gradient: indices or bools"),
    # products
    "matmul": (lambda lib, a, b: a @ b, [f(3, 4), f(4, 2)]),
    "matmul_method": (lambda lib, a, b: a.matmul(b), [f(3, 4), f(4, 5)]),
    "matmul_vec_mat": (lambda lib, a, b: a @ b, [f(4), f(4, 3)]),
    "matmul_mat_vec": (lambda lib, a, b: a @ b, [f(3, 4), f(4)]),
    "matmul_vec_vec": (lambda lib, a, b: a @ b, [f(4), f(4)]),
    "matmul_batched": (lambda lib, a, b: a @ b, [f(2, 3, 4), f(4, 2)]),
    "matmul_batched_broadcast": (lambda lib, a, b: a @ b, [f(2, 1, 3, 4), f(3, 4, 2)]),
    "dot": (lambda lib, a, b: a.dot(b), [f(5), f(5)]),
    # shape
    "reshape": (lambda lib, a: a.reshape(3, 4) * a.reshape(3, 4), [f(2, 6)]),
    "view": (lambda lib, a: a.view(-1, 2), [f(2, 3, 2)]),
    "flatten": (lambda lib, a: a.flatten(1), [f(2, 3, 2)]),
    "flatten_range": (lambda lib, a: a.flatten(0, 1), [f(2, 3, 2)]),
    "transpose_swap": (lambda lib, a: a.transpose(0, 2), [f(2, 3, 4)]),
    "transpose_negative": (lambda lib, a: a.transpose(-1, -3), [f(2, 3, 4)]),
    "T": (lambda lib, a: a.T, [f(2, 3)]),
    "permute": (lambda lib, a: a.permute(2, 0, 1), [f(2, 3, 4)]),
    "permute_negative": (lambda lib, a: a.permute(-2, -1, 1, 0), [f(3, 4, 5, 6)]),
    "unsqueeze": (lambda lib, a: a.unsqueeze(1) * a.unsqueeze(-1), [f(3)]),
    "squeeze": (lambda lib, a: a.squeeze(), [f(1, 3, 1)]),
    "squeeze_dim": (lambda lib, a: a.squeeze(0), [f(1, 3, 1)]),
    "expand": (lambda lib, a: a.expand(2, 3, 4), [f(3, 1)]),
    "expand_keep": (lambda lib, a: a.expand(-1, 4), [f(3, 1)]),
    "cat": (lambda lib, a, b: lib.cat([a, b, a], dim=1), [f(2, 3), f(2, 1)]),
    "cat_negative_dim": (lambda lib, a, b: lib.cat([a, b], dim=-2), [f(2, 3), f(1, 3)]),
    "stack": (lambda lib, a, b: lib.stack([a, b], dim=1), [f(2, 3), f(2, 3)]),
    "float_double": (lambda lib, a: a.double().float() * 2, [f(3)], "float32 output"),
    "int_long": (lambda lib, a: (a * 3).int() + (a * 3).long(), [f(4)], "no gradient: indices or bools"),
    "type_as": (lambda lib, a, b: a.type_as(b) + b, [f(3), f(3)]),
    # indexing
    "slice": (lambda lib, a: a[1:3, ::2], [f(4, 5)]),
    "int_index": (lambda lib, a: a[1], [f(4, 3)]),
    "negative_index": (lambda lib, a: a[-1, -2], [f(4, 3)]),
    "narrow": (lambda lib, a: a.narrow(0, 1, 2), [f(4, 3)]),
    "array_index_pairs": (lambda lib, a: a[lib.const(np.array([0, 1, 1])), lib.const(np.array([2, 0, 2]))], [f(3, 4)]),
    "array_index_repeats": (lambda lib, a: a[lib.const(np.array([0, 2, 2, 1, 0]))], [f(3, 4)]),
    "split_advanced": (lambda lib, a: a[0, :, lib.const(np.array([2, 0, 2]))], [f(2, 3, 4)]),
    "narrowing_ellipsis": (lambda lib, a: a[..., 1], [f(2, 3, 4)]),
    "gather": (lambda lib, a, i: a.gather(1, lib.const(i)), [f(3, 4), const(lambda r: r.integers(0, 4, (3, 2)))]),
    # losses
    "nll": (lambda lib, a, t: lib.nll(a, lib.const(t)), [f(5, 4), ids(5, 4)]),
    "nll_sum": (lambda lib, a, t: lib.nll(a, lib.const(t), reduction="sum"), [f(5, 4), ids(5, 4)]),
    "nll_none": (lambda lib, a, t: lib.nll(a, lib.const(t), reduction="none"), [f(5, 4), ids(5, 4)]),
    "nll_ignore": (lambda lib, a, t: lib.nll(a, lib.const(t), ignore_index=-100), [f(6, 4), ids(6, 4, ignore=True)]),
    "nll_nd": (lambda lib, a, t: lib.nll(a, lib.const(t)), [f(2, 4, 3), ids(2, 4, (2, 3))]),
    "cross_entropy": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t)), [f(5, 4), ids(5, 4)]),
    "cross_entropy_sum": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t), reduction="sum"),
                          [f(5, 4), ids(5, 4)]),
    "cross_entropy_none_ignore": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t), reduction="none",
                                                                      ignore_index=-100),
                                  [f(6, 4), ids(6, 4, ignore=True)]),
    "cross_entropy_smoothing": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t), label_smoothing=0.2),
                                [f(5, 4), ids(5, 4)]),
    "cross_entropy_smoothing_ignore": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t), label_smoothing=0.1,
                                                                           ignore_index=-100),
                                       [f(6, 4), ids(6, 4, ignore=True)]),
    "cross_entropy_probs": (lambda lib, a, p: lib.cross_entropy(a, lib.const(p)), [f(5, 4), probs(5, 4)]),
    "cross_entropy_probs_smoothing_none": (lambda lib, a, p: lib.cross_entropy(a, lib.const(p), reduction="none",
                                                                               label_smoothing=0.3),
                                           [f(5, 4), probs(5, 4)]),
    "cross_entropy_nd": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t)), [f(2, 4, 3, 2), ids(2, 4, (2, 3, 2))]),
    "cross_entropy_one_sample": (lambda lib, a, t: lib.cross_entropy(a, lib.const(t)),
                                 [f(4), const(lambda r: np.array(2))]),
    # convolution and pooling
    "conv2d": (lambda lib, x, w, b: lib.conv2d(x, w, b), [f(2, 3, 5, 4), f(4, 3, 3, 2), f(4)]),
    "conv2d_one_channel": (lambda lib, x, w, b: lib.conv2d(x, w, b), [f(2, 1, 6, 5), f(3, 1, 3, 2), f(3)]),
    "conv2d_stride_padding": (lambda lib, x, w: lib.conv2d(x, w, stride=2, padding=1), [f(2, 2, 5, 5), f(3, 2, 3, 3)]),
    "conv2d_tuples": (lambda lib, x, w: lib.conv2d(x, w, stride=(2, 1), padding=(1, 2)), [f(1, 2, 6, 5), f(2, 2, 3, 2)]),
    "conv2d_dilation": (lambda lib, x, w: lib.conv2d(x, w, dilation=(2, 1), padding=1), [f(1, 2, 7, 6), f(2, 2, 3, 3)]),
    "conv2d_groups": (lambda lib, x, w, b: lib.conv2d(x, w, b, groups=2), [f(2, 4, 5, 5), f(6, 2, 3, 3), f(6)]),
    "max_pool2d": (lambda lib, x: lib.max_pool2d(x, 2), [distinct(2, 3, 4, 6)]),
    "max_pool2d_overlapping": (lambda lib, x: lib.max_pool2d(x, 3, stride=1), [distinct(1, 2, 5, 5)]),
    "max_pool2d_rect_padding": (lambda lib, x: lib.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1)),
                                [distinct(2, 2, 7, 6)]),
    "max_pool2d_ceil": (lambda lib, x: lib.max_pool2d(x, 2, ceil_mode=True), [distinct(1, 2, 5, 7)]),
    "max_pool2d_ceil_padding": (lambda lib, x: lib.max_pool2d(x, 3, 2, 1, ceil_mode=True), [distinct(1, 2, 6, 6)]),
    "max_pool2d_dilation": (lambda lib, x: lib.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)), [distinct(2, 2, 6, 7)]),
    "max_pool2d_dilation_padding_ceil": (lambda lib, x: lib.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True),
                                         [distinct(1, 2, 8, 9)]),
    "max_pool2d_indices": (lambda lib, x: lib.max_pool2d(x, 2, return_indices=True), [distinct(2, 2, 4, 6)],
                           "the indices take no gradient: the values' are checked by the case above"),
    "max_unpool2d": (lambda lib, x: lib.max_unpool2d(*lib.max_pool2d(x, 2, return_indices=True), 2) * x,
                     [distinct(2, 3, 4, 6)]),
    "max_unpool2d_output_size": (lambda lib, x: lib.max_unpool2d(*lib.max_pool2d(x, 2, return_indices=True), 2,
                                                                 output_size=(5, 7)), [distinct(1, 2, 5, 7)]),
    "avg_pool2d": (lambda lib, x: lib.avg_pool2d(x, 2), [f(2, 3, 4, 6)]),
    "avg_pool2d_overlapping_padding": (lambda lib, x: lib.avg_pool2d(x, 3, stride=2, padding=1), [f(2, 2, 7, 6)]),
    "avg_pool2d_no_pad_count": (lambda lib, x: lib.avg_pool2d(x, (3, 2), (2, 1), (1, 1), count_include_pad=False),
                                [f(1, 2, 6, 5)]),
    "avg_pool2d_ceil": (lambda lib, x: lib.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [f(1, 2, 6, 8)]),
    "avg_pool2d_ceil_no_pad_count": (lambda lib, x: lib.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False),
                                     [f(1, 2, 5, 7)]),
    "avg_pool2d_divisor": (lambda lib, x: lib.avg_pool2d(x, 2, divisor_override=3), [f(1, 3, 4, 4)]),
    "conv1d": (lambda lib, x, w, b: lib.conv1d(x, w, b), [f(2, 3, 7), f(4, 3, 3), f(4)]),
    "conv1d_stride_padding_dilation": (lambda lib, x, w: lib.conv1d(x, w, stride=2, padding=2, dilation=2),
                                       [f(2, 2, 9), f(3, 2, 3)]),
    "conv1d_groups": (lambda lib, x, w, b: lib.conv1d(x, w, b, groups=2).tanh(), [f(2, 4, 6), f(6, 2, 2), f(6)]),
    # Compositions whose gradient depends on the input through every argument of the ops a backward
    # applies (ReLUBackward, LogSoftmaxBackward, NLLBackward, MaxPoolBackward, ConvInputGrad,
    # ConvWeightGrad, ...): the second-order and JVP checks of test_higher_order.py reach them all.
    "composed_relu": (lambda lib, a: (a.relu() * a).tanh(), [f(3, 4)]),
    "composed_log_softmax": (lambda lib, a: a.log_softmax(dim=1) * a, [f(3, 5)]),
    "composed_nll": (lambda lib, a, t: lib.nll(a.log_softmax(dim=1), lib.const(t)) * a.sum(), [f(5, 4), ids(5, 4)]),
    "composed_nll_none": (lambda lib, a, t: lib.nll(a, lib.const(t), reduction="none").tanh(), [f(5, 4), ids(5, 4)]),
    "linear": (lambda lib, x, w, b: lib.linear(x, w, b), [f(5, 3), f(4, 3), f(4)]),
    "linear_scaled": (lambda lib, x, w: lib.linear(x, w, scale=1 / 255), [f(5, 4), f(3, 4)]),
    "linear_scaled_cross_entropy": (lambda lib, x, w, b, t: lib.cross_entropy(lib.linear(x, w, b, scale=0.5), lib.const(t)),
                                    [f(5, 6), f(4, 6), f(4), ids(5, 4)]),
    "composed_linear": (lambda lib, x, w, b: lib.linear(lib.linear(x, w, b).tanh(), w.T), [f(5, 3), f(4, 3), f(4)]),
    "composed_matmul": (lambda lib, a, b: ((a @ b).tanh() @ b.T).sigmoid(), [f(3, 4), f(4, 2)]),
    "composed_gather": (lambda lib, a, i: a.gather(1, lib.const(i)).tanh() * a[:, :2], [f(3, 4),
                        const(lambda r: r.integers(0, 4, (3, 2)))]),
    "composed_index": (lambda lib, a: a[lib.const(np.array([0, 2, 0]))].tanh() * a[0], [f(3, 4)]),
    "composed_max_pool2d": (lambda lib, x: lib.max_pool2d(x.tanh(), 2) * lib.max_pool2d(x, 2), [distinct(1, 2, 4, 4)]),
    "composed_conv2d": (lambda lib, x, w, b: lib.conv2d(x, w, b, stride=2, padding=1).tanh(),
                        [f(2, 3, 5, 4), f(4, 3, 3, 2), f(4)]),
    "composed_conv2d_one_channel": (lambda lib, x, w, b: lib.conv2d(x, w, b).tanh(), [f(2, 1, 6, 5), f(3, 1, 3, 2),
                                                                                          f(3)]),
    "composed_conv2d_groups": (lambda lib, x, w: lib.conv2d(x, w, groups=2).sigmoid(), [f(1, 4, 4, 4), f(4, 2, 2, 2)]),
    "composed_pow_tensor": (lambda lib, a, b: (a ** b).tanh(), [f(3, 2, lo=0.5), f(2, lo=-1.0)]),
    "composed_cat_stack": (lambda lib, a, b: lib.stack([lib.cat([a, b], dim=1).tanh(), lib.cat([b, a], dim=1)]) * 2,
                           [f(2, 3), f(2, 3)]),
}


NOT_DIFFERENTIABLE = {name: case[2] for name, case in CASES.items() if len(case) > 2}
