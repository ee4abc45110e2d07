"""Three real programs, ported by renaming imports only: PyTorch's MNIST example (a CNN trained
with Adadelta and StepLR from a DataLoader), micrograd's demo (an MLP trained by hand with
`p.data -= lr * p.grad`) and tinygrad's MNIST example (batches drawn with `Tensor.randint`).
Each program's text is written once and run on this engine; where PyTorch has the same
spelling it also runs on PyTorch from the same weights, and the two must agree."""
import io
from contextlib import redirect_stdout

import numpy as np
import pytest

import tinygrad_mnist
from tinygrad_mnist.datasets import mnist

try:
    import torch
except ImportError:
    torch = None


@pytest.fixture(autouse=True)
def on_a_cpu_machine(no_cuda):
    """The programs ask `torch.cuda.is_available()`; here they run as on a machine without a GPU
    (the test process has numba's simulator loaded, far too slow for them)."""


def net_class(torch, nn, F):
    """PyTorch's examples/mnist/main.py, its text kept: the network, ..."""
    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output
    return Net


def loops(torch, F):
    """... the training and the test loop ..."""
    def train(model, device, train_loader, optimizer, epoch, dropout):
        model.train(dropout)
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % 4 == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item()))

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction='sum').item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        return test_loss, correct
    return train, test


def pytorch_example(torch, nn, F, optim, StepLR, steps=12, batch_size=32, seed=1, weights=None):
    """... and the main program (the data: MNIST's first images as tensors, since torchvision
    is no part of PyTorch; a few batches, one epoch)."""
    Net, (train, test) = net_class(torch, nn, F), loops(torch, F)
    torch.manual_seed(seed)
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    data = mnist.load()
    images = (data.train_images.numpy()[:steps * batch_size].reshape(-1, 1, 28, 28) / 255.0 - 0.1307) / 0.3081
    test_images = (data.test_images.numpy()[:200].reshape(-1, 1, 28, 28) / 255.0 - 0.1307) / 0.3081
    dataset1 = torch.utils.data.TensorDataset(torch.from_numpy(images.astype(np.float32)),
                                              torch.from_numpy(data.train_labels.numpy()[:len(images)].astype(np.int64)))
    dataset2 = torch.utils.data.TensorDataset(torch.from_numpy(test_images.astype(np.float32)),
                                              torch.from_numpy(data.test_labels.numpy()[:200].astype(np.int64)))
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=batch_size)
    test_loader = torch.utils.data.DataLoader(dataset2, batch_size=100)
    model = Net().to(device)
    if weights:
        model.load_state_dict(weights)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    before = test(model, device, test_loader)
    for epoch in range(1, 2):
        train(model, device, train_loader, optimizer, epoch, dropout=weights is None)
        after = test(model, device, test_loader)
        scheduler.step()
    return model, before, after, optimizer


def engine_modules():
    import tinygrad_mnist.nn as nn
    import tinygrad_mnist.nn.functional as F
    import tinygrad_mnist.optim as optim
    from tinygrad_mnist.optim.lr_scheduler import StepLR
    return tinygrad_mnist, nn, F, optim, StepLR


def test_pytorch_s_mnist_example_trains_unchanged(tmp_path):
    torch_, nn, F, optim, StepLR = engine_modules()
    with redirect_stdout(io.StringIO()) as printed:
        model, before, after, optimizer = pytorch_example(torch_, nn, F, optim, StepLR)
    assert "Train Epoch: 1 [0/384 (0%)]" in printed.getvalue()
    assert after[0] < before[0] and after[1] > 60, (before, after)  # 12 Adadelta steps: most of 200 right
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.7)
    print(model)  # PyTorch's text of the architecture
    assert repr(model).splitlines()[1] == "  (conv1): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))"
    torch_.save(model.state_dict(), tmp_path / "mnist_cnn.pt")
    again = torch_.load(tmp_path / "mnist_cnn.pt")
    assert list(again) == list(model.state_dict())
    model.load_state_dict(again)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_pytorch_s_mnist_example_agrees_with_pytorch_from_the_same_weights():
    """Dropout off (its masks are each library's own draws): the same weights, the same batches
    and Adadelta give the same test loss after 4 steps, to float32's precision."""
    import torch.nn as tnn
    import torch.nn.functional as TF
    from torch.optim.lr_scheduler import StepLR as TStepLR
    torch_, nn, F, optim, StepLR = engine_modules()
    with redirect_stdout(io.StringIO()):
        ours, before, after, _ = pytorch_example(torch_, nn, F, optim, StepLR, steps=4, weights={})
        weights = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
        mirrored = pytorch_example(torch_, nn, F, optim, StepLR, steps=4, weights=weights)
        theirs = pytorch_example(torch, tnn, TF, torch.optim, TStepLR, steps=4, weights=weights)
    assert mirrored[1][0] == pytest.approx(theirs[1][0], rel=1e-5)
    assert mirrored[2][0] == pytest.approx(theirs[2][0], rel=1e-4) and mirrored[2][1] == theirs[2][1]


def micrograd_demo(Tensor, nn, steps=50):
    """micrograd's demo.ipynb on moons-like data, its training loop kept: an MLP, the SVM
    max-margin loss with L2, `model.zero_grad()`, `p.data -= learning_rate * p.grad`."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, np.pi, 50)
    X = np.concatenate([np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)])
    y = np.concatenate([np.ones(50), -np.ones(50)])
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))

    def loss():
        inputs = [Tensor(xrow, dtype=np.float32) for xrow in X]
        scores = [model(x.unsqueeze(0)).squeeze() for x in inputs]
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p).sum() for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0).item() for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    for k in range(steps):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    return acc


def test_micrograd_s_demo_trains_with_p_data_updates():
    tinygrad_mnist.manual_seed(0)
    assert micrograd_demo(tinygrad_mnist.Tensor, tinygrad_mnist.nn) >= 0.9


def test_p_data_is_a_tensor_sharing_the_parameter_s_array():
    from tinygrad_mnist import Tensor
    p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (p * p).sum().backward()
    array = p.array
    p.data -= 0.5 * p.grad
    assert p.array is array and p.tolist() == [0.0, 0.0] and p.requires_grad and p.is_leaf
    view = p.data
    assert isinstance(view, Tensor) and not view.requires_grad and view.array is p.array
    p.data.fill_(3.0)
    p.grad.zero_()
    assert p.tolist() == [3.0, 3.0] and p.grad.tolist() == [0.0, 0.0]
    p.data = Tensor(np.array([5.0, 6.0]))
    assert p.tolist() == [5.0, 6.0]


def test_tinygrad_s_example_draws_batches_with_randint():
    """tinygrad's beautiful_mnist: `samples = Tensor.randint(BS, high=N)`, `X_train[samples]`,
    Adam; here on a linear model for speed."""
    from tinygrad_mnist import Tensor, nn, optim
    tinygrad_mnist.manual_seed(0)
    data = mnist.load()
    X_train, Y_train = data.train_images.float() / 255.0, data.train_labels.long()
    model = nn.Linear(784, 10)
    opt = optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(60):
        samples = Tensor.randint(128, high=X_train.shape[0])
        assert samples.dtype == np.int64 and int(samples.max()) < X_train.shape[0]
        opt.zero_grad()
        loss = tinygrad_mnist.cross_entropy(model(X_train[samples]), Y_train[samples])
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 3
