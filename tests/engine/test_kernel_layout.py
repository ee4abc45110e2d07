"""The kernel layer stays plain numba a reader can follow: every kernel has a numpy twin of the
same name and signature, no LLVM IR, no cache keyed by array identity, short functions."""
import ast
import inspect
import re
from pathlib import Path

import pytest

from tinygrad_mnist import kernels
from tinygrad_mnist.kernels import interface, numba_kernels, numpy_kernels

KERNELS = Path(numba_kernels.__file__).parent
PACKAGE = KERNELS.parent


def _parameters(fn, drop_self=False):
    """Names, kinds and defaults: what a caller relies on (annotations are a spelling)."""
    params = list(inspect.signature(fn).parameters.values())[1 if drop_self else 0:]
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("kernel_set", [numba_kernels, numpy_kernels], ids=["numba", "numpy"])
def test_each_kernel_set_implements_the_declared_interface(kernel_set):
    """Every kernel and thread control of `interface.KernelSet`, with its parameters; nothing
    public beyond it (a kernel the interface does not name would be one only one set has)."""
    assert isinstance(kernel_set, interface.KernelSet)
    for name in interface.KERNELS:
        declared = getattr(interface.KernelSet, name)
        assert _parameters(getattr(kernel_set, name)) == _parameters(declared, drop_self=True), name
    if hasattr(kernel_set, "__all__"):
        assert sorted(kernel_set.__all__) == sorted(interface.KERNELS)


def test_nothing_tells_the_kernel_sets_apart_by_name():
    """The engine asks the interface (threads, compiled or not), never which module it got."""
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"__name__\.endswith|\.nbi\b", path.read_text()), path.name
    with kernels.use("numpy"):
        assert kernels.is_compiled() and kernels.get_threads() == 1


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
