"""`python -m tinygrad_mnist`: what the package offers, and where to start."""
from ._version import VERSION

OFFERS = f"""tinygrad_mnist {VERSION}: a minimal reverse-mode autograd engine that trains MNIST on a CPU.

Programs:
  python -m tinygrad_mnist.train      train a classifier: the Candle tutorial's linear model by default,
                                      --model mlp or cnn (also installed as tinygrad-mnist-train)
  python -m tinygrad_mnist.evaluate   a checkpoint's test accuracy, confusion matrix and mistakes
                                      (also installed as tinygrad-mnist-evaluate)
  python -m tinygrad_mnist.predict    the digit in test images or your own images, with probabilities
                                      (also installed as tinygrad-mnist-predict)
  python -m tinygrad_mnist.plot       training curves from a --metrics-out file (needs matplotlib)
  python benchmarks/run.py            the engine against numpy and PyTorch (in a source checkout)

Library: from tinygrad_mnist import Tensor, nll, cross_entropy, no_grad, gradcheck
Each program takes --help. Learn how it works: README.md, docs/autodiff.md, docs/walkthrough.ipynb."""


def main() -> None:
    print(OFFERS)


if __name__ == "__main__":
    main()
