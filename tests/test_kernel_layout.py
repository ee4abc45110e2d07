"""The kernel layer stays plain numba a reader can follow: every kernel has a numpy twin of the
same name and signature, no LLVM IR, no cache keyed by array identity, short functions."""
import ast
import inspect
import re
from pathlib import Path

from tinygrad_mnist.kernels import numba_kernels, numpy_kernels

KERNELS = Path(numba_kernels.__file__).parent
PACKAGE = KERNELS.parent


def test_every_numba_kernel_has_a_numpy_twin_of_the_same_signature():
    helpers = {"set_num_threads", "get_num_threads", "conv_out_size", "pool_out_size", "result_dtype"}
    for name in sorted(set(numba_kernels.__all__) - helpers):
        twin = getattr(numpy_kernels, name, None)
        assert twin is not None, f"{name} has no numpy twin"
        assert inspect.signature(getattr(numba_kernels, name)) == inspect.signature(twin), name


def test_no_llvm_ir_and_no_identity_caches():
    """No hand-written IR anywhere; no kernel remembers an array by its address or its flags
    (the graph code uses id() only to walk one graph, within one call)."""
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"\bllvmlite\b|numba\.extending|@intrinsic", path.read_text()), path.name
    for path in KERNELS.glob("*.py"):
        assert not re.search(r"\bid\(|weakref|\.flags\.writeable|setflags", path.read_text()), path.name


def test_kernel_functions_fit_on_a_screen():
    """Explicitly unrolled register blocks (`_nt_rows`) are the one exception, and say so."""
    for path in KERNELS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name != "_nt_rows":
                assert node.end_lineno - node.lineno < 40, f"{path.name}:{node.name}"
