"""`Tensor` is one unit with a declared contract (tinygrad_mnist/tensor/base.py): every `self.X` a
family of its methods uses is the family's own, or `TensorBase`'s (implemented there, provided by
the core, or declared there and made by another family). The op registry is made from the classes."""
import ast
import inspect

import pytest

from tinygrad_mnist import Tensor, functions
from tinygrad_mnist.autograd import Op
from tinygrad_mnist.tensor import base, create, elementwise, nn, reduce, shape

FAMILIES = {create: create.CreationMethods, elementwise: elementwise.ElementwiseMethods,
            shape: shape.ShapeMethods, reduce: reduce.ReductionMethods, nn: nn.NetworkMethods}


def used_on_self(source: str, class_name: str) -> set:
    """The attribute names the class's methods read or call on `self` (or `cls`)."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return {node.attr for node in ast.walk(cls) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")}


def declared() -> set:
    return set(vars(base.TensorBase)) | set(base.TensorBase.__annotations__)


def undeclared(source: str, family: type) -> set:
    return used_on_self(source, family.__name__) - set(vars(family)) - declared() - set(dir(object))


@pytest.mark.parametrize("module", FAMILIES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_family_uses_only_its_own_methods_and_the_contract(module):
    assert undeclared(inspect.getsource(module), FAMILIES[module]) == set()


def test_the_contract_check_can_fail():
    """A family that calls another's method without the base declaring it is caught."""
    source = inspect.getsource(reduce).replace("x = self._real()", "x = self.softmax(0)", 1)
    assert undeclared(source, reduce.ReductionMethods) == {"softmax"}


def test_what_the_base_declares_a_family_or_the_core_provides():
    """A method the base only declares is made by a family (Tensor's is not the stub), and every
    attribute it annotates is one a tensor holds."""
    stubs = [name for name, value in vars(base.TensorBase).items()
             if inspect.isfunction(value) and "NotImplementedError" in inspect.getsource(value)]
    assert stubs and all(getattr(Tensor, name) is not getattr(base.TensorBase, name) for name in stubs)
    t = Tensor([1.0], requires_grad=True)
    for name in base.TensorBase.__annotations__:
        assert name == "plain" or hasattr(t, name), name
    assert Tensor.plain is Tensor


def test_the_registry_is_made_from_the_classes():
    """Every Op a family module defines is in functions.OPS and importable from functions;
    every op that names a method gives Tensor that method, with the op's docstring."""
    for family in functions.FAMILIES:
        defined = {n for n, c in vars(family).items()
                   if inspect.isclass(c) and issubclass(c, Op) and c.__module__ == family.__name__}
        assert defined <= set(functions.OPS), defined - set(functions.OPS)
    assert all(getattr(functions, n) is op for n, op in functions.OPS.items())
    assert {"exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu"} <= set(functions.METHODS)
    for name, op in functions.METHODS.items():
        assert getattr(Tensor, name).__doc__ == op.__doc__
        assert type(getattr(Tensor([0.5]), name)()._ctx) is type(None)  # a constant: nothing recorded
