"""`train --graph`: the DOT graph of one training step of each model, as the trainer writes it."""
import re

from dotgraph import op_named, parse
from idxfiles import write_dataset
from tinygrad_mnist.app import train


def test_train_graph_option_writes_one_step_and_exits(tmp_path, capsys):
    data = write_dataset(tmp_path / "data", n_train=200, n_test=50)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--model", "mlp", "--graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("Wrote the graph of one training step (the first 64 training images, forward and backward) "
            f"to {path}") in out and "Epoch" not in out
    nodes, edges = parse(path.read_text())
    names = {label[0] for _, label in nodes.values()}
    assert {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"} <= names
    # the seed's chain: both layers, then log_softmax and nll; the first layer reads pixels as 0..1
    assert len(op_named(nodes, "Linear")) == 2 and op_named(nodes, "ReLU")
    assert op_named(nodes, "LogSoftmax") and op_named(nodes, "NLL")
    linear = sorted(label for _, (shape, label) in nodes.items() if label[0] == "Linear")
    assert [label[1] for label in linear] == ["input × 1/255",
                                               "saved [64, 100] float32 (25.0 KiB), [10, 100] float32 (3.9 KiB)"]
    assert [label[-1] for label in linear] == ["backward step 7", "backward step 3"]
    assert {"images", "labels"} <= names
    assert all("grad norm" in label[-2] and label[-1].endswith(": .grad")
               for _, label in nodes.values() if label[0].startswith("ln"))


def test_the_default_models_step_is_the_seeds_chain(tmp_path, capsys):
    """`train --graph` of the default model: images, weight, bias → Linear (pixels read as 0..1)
    → LogSoftmax → NLL with the labels; no fused op."""
    data = write_dataset(tmp_path / "data", n_train=200, n_test=50)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--graph", str(path)]) == 0
    nodes, edges = parse(path.read_text())
    ops = [label for shape, label in nodes.values() if shape == "ellipse"]
    assert ops == [["Linear", "input × 1/255", "saved [200, 784] uint8 (153.1 KiB), [10, 784] float32 (30.6 KiB)",
                    "backward step 3"],
                   ["LogSoftmax", "saved [200, 10] float32 (7.8 KiB)", "backward step 2"],
                   ["NLL", "saved [200, 10] float32 (7.8 KiB), [200] uint8 (200 B)", "backward step 1"]]
    boxes = {label[0]: label for shape, label in nodes.values() if shape == "box"}
    assert {"images", "labels", "weight", "bias", "loss"} <= set(boxes)
    assert boxes["weight"][-1].startswith("backward step") and boxes["weight"][-1].endswith(": .grad")
    assert len(edges) == 9
    text = path.read_text()  # the gradient that flowed back along each edge that carries one
    assert re.search(r'-> op0 \[label="grad \[10, 784\] norm [0-9.]+"\];', text)
    assert text.count("[label=\"grad ") == 4  # weight, bias, logits, log-probabilities


def test_the_cnn_graph_shows_the_patch_matrix_conv2_keeps(tmp_path):
    """Everything an op keeps goes through save_for_backward, so the graph can show it: conv2's
    patches, [64·8·8, 5·5·32] for a batch of 64, are the largest thing a CNN step keeps."""
    data = write_dataset(tmp_path / "data", n_train=64, n_test=10)
    path = tmp_path / "step.dot"
    assert train.main(["--local-mnist", data, "--model", "cnn", "--graph", str(path), "--quiet"]) == 0
    nodes, _ = parse(path.read_text())
    convs = [label for shape, label in nodes.values() if shape == "ellipse" and label[0] == "Conv2d"]
    assert [c[1] for c in convs] == ["saved [64, 1, 28, 28] float32 (196.0 KiB), [32, 1, 5, 5] float32 (3.1 KiB)",
                                     "saved [4096, 800] float32 (12.5 MiB), [64, 32, 5, 5] float32 (200.0 KiB)"]
