"""safetensors checkpoints: layout, round trip, strict loading, atomic saving."""
import json
import os
import re
import stat
import struct

import numpy as np
import pytest

from tinygrad_mnist.nn import CheckpointError, Conv2dConfig, VarBuilder, VarMap, checkpoint, conv2d, init, linear

LAYOUTS = {
    "linear": {"weight": [10, 784], "bias": [10]},
    "mlp": {"ln1.weight": [100, 784], "ln1.bias": [100], "ln2.weight": [10, 100], "ln2.bias": [10]},
    "cnn": {"c1.weight": [32, 1, 5, 5], "c1.bias": [32], "c2.weight": [64, 32, 5, 5], "c2.bias": [64],
            "fc1.weight": [1024, 1024], "fc1.bias": [1024], "fc2.weight": [10, 1024], "fc2.bias": [10]},
}


def _layers(kind, vb):
    """The stores of the three MNIST models, built from the engine's layers under Candle's names
    (the trainer's models, `app/models.py`, are checked against the same layouts in tests/app)."""
    if kind == "linear":
        linear(784, 10, vb)
    elif kind == "mlp":
        linear(784, 100, vb.pp("ln1")), linear(100, 10, vb.pp("ln2"))
    else:
        conv2d(1, 32, 5, Conv2dConfig(), vb.pp("c1")), conv2d(32, 64, 5, Conv2dConfig(), vb.pp("c2"))
        linear(1024, 1024, vb.pp("fc1")), linear(1024, 10, vb.pp("fc2"))


def build(kind, seed=0):
    init.seed(seed)
    vm = VarMap()
    _layers(kind, VarBuilder.from_varmap(vm))
    return vm


def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_checkpoint_layout_is_candles(kind, tmp_path):
    path = tmp_path / "m.safetensors"
    build(kind).save(str(path))
    h = header(path)
    assert {k: v["shape"] for k, v in h.items() if k != "__metadata__"} == LAYOUTS[kind]
    assert all(v["dtype"] == "F32" for k, v in h.items() if k != "__metadata__")


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_save_load_round_trip_is_bit_exact(kind, tmp_path):
    path = str(tmp_path / "m.safetensors")
    saved = build(kind, seed=1)
    saved.save(path, metadata={"model": kind, "epoch": 3, "learning_rate": 0.1})
    loaded = build(kind, seed=2)
    meta = loaded.load(path)
    assert meta == {"model": kind, "epoch": "3", "learning_rate": "0.1"}
    assert checkpoint.metadata(path) == meta  # the same, from the header alone
    for (n1, a), (n2, b) in zip(saved.named_vars(), loaded.named_vars()):
        assert n1 == n2 and a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())


def test_load_keeps_the_same_arrays(tmp_path):
    """Optimizers hold the variables' arrays: a load must write into them, not replace them."""
    path = str(tmp_path / "m.safetensors")
    build("linear", 1).save(path)
    vm = build("linear", 2)
    before = vm["weight"].array
    vm.load(path)
    assert vm["weight"].array is before


def test_non_contiguous_arrays_are_saved_correctly(tmp_path):
    path = str(tmp_path / "t.safetensors")
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T  # Fortran-ordered view
    checkpoint.save(path, {"a": a})
    np.testing.assert_array_equal(checkpoint.load(path)[0]["a"], a)


def test_linear_checkpoint_loads_into_torch_linear(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    path = str(tmp_path / "linear.safetensors")
    vm = build("linear")
    vm["weight"].array[...] = np.random.default_rng(0).standard_normal((10, 784))
    vm.save(path)
    layer = torch.nn.Linear(784, 10)
    layer.load_state_dict(load_file(path))
    x = np.random.default_rng(1).random((3, 784), dtype=np.float32)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(),
                               x @ vm["weight"].numpy().T + vm["bias"].numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- strict loading

@pytest.mark.parametrize("damage,fragment", [
    ("missing", "no such checkpoint file"), ("empty", "not a safetensors file (only 0 bytes)"),
    ("header_too_long", "not a safetensors file, or truncated"), ("not_json", "corrupt or truncated"),
])
def test_reading_only_the_metadata_reports_bad_files_too(damage, fragment, tmp_path):
    path = tmp_path / "m.safetensors"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "header_too_long":
        path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    elif damage == "not_json":
        path.write_bytes(struct.pack("<Q", 4) + b"{{{{")
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        checkpoint.metadata(str(path))


def _expect_load_error(vm, path, *fragments):
    before = {n: v.numpy().copy() for n, v in vm.named_vars()}
    with pytest.raises(CheckpointError) as err:
        vm.load(str(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message
    for n, v in vm.named_vars():  # all or nothing: nothing changed
        assert np.array_equal(v.numpy(), before[n])
    return message


def test_load_names_every_mismatch_and_changes_nothing(tmp_path):
    path = tmp_path / "odd.safetensors"
    checkpoint.save(str(path), {"weight": np.ones((10, 783), np.float32), "bias": np.ones(10, np.float64),
                                "extra": np.ones(1, np.float32)})
    _expect_load_error(build("linear"), path, "weight: shape [10, 783] in the file, [10, 784] in the model",
                       "bias: dtype float64 in the file, float32 in the model", "extra: in the file but not in the model")


def test_load_reports_missing_tensors(tmp_path):
    path = tmp_path / "linear.safetensors"
    build("linear").save(str(path))
    _expect_load_error(build("mlp"), path, "ln1.weight: missing from the file", "ln2.bias: missing from the file",
                       "weight: in the file but not in the model")


def test_load_rejects_non_finite_values(tmp_path):
    path = tmp_path / "nan.safetensors"
    with open(path, "wb") as f:  # written behind checkpoint.save's back, which refuses NaN
        from safetensors.numpy import save
        f.write(save({"weight": np.full((10, 784), np.nan, np.float32), "bias": np.zeros(10, np.float32)}))
    _expect_load_error(build("linear"), path, "weight: holds NaN or infinite values")


@pytest.mark.parametrize("damage,fragment", [
    ("missing", "no such checkpoint file"),
    ("empty", "not a safetensors file"),
    ("text", "not a safetensors file"),
    ("truncated", "truncated"),
    ("corrupt_header", "corrupt or truncated safetensors file"),
    ("directory", "is a directory"),
])
def test_bad_files_give_one_clear_error(damage, fragment, tmp_path):
    good = tmp_path / "good.safetensors"
    build("linear").save(str(good))
    data = good.read_bytes()
    path = tmp_path / "bad.safetensors"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "text":
        path.write_text("this is not a checkpoint, just some text that is long enough\n")
    elif damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "corrupt_header":
        (n,) = struct.unpack("<Q", data[:8])
        path.write_bytes(data[:8] + b"{" * n + data[8 + n:])
    elif damage == "directory":
        path.mkdir()
    _expect_load_error(build("linear"), path, fragment)


# ---------------------------------------------------------------- atomic saving

def test_failed_save_leaves_the_old_file_byte_identical(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    build("linear", 1).save(str(path))
    old = path.read_bytes()
    vm = build("linear", 2)
    vm["weight"].array[...] = 5.0

    def crash(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(CheckpointError, match="cannot write checkpoint: No space left on device"):
        vm.save(str(path))
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    build("linear", 1).save(str(path))
    old = path.read_bytes()

    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build("linear", 2).save(str(path))
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m.safetensors"]


def test_save_refuses_non_finite_values(tmp_path):
    path = tmp_path / "m.safetensors"
    vm = build("linear")
    vm["bias"].array[3] = np.inf
    with pytest.raises(CheckpointError, match="refusing to save: bias holds NaN or infinite values"):
        vm.save(str(path))
    assert not path.exists()


def test_saved_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        build("linear").save(str(tmp_path / "m.safetensors"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.safetensors").st_mode) == 0o640


def test_save_into_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        build("linear").save(str(tmp_path / "no" / "such" / "m.safetensors"))


def test_same_weights_and_metadata_give_the_same_bytes(tmp_path):
    """The metadata map is written sorted, not in hash order (checked across processes)."""
    import subprocess
    import sys
    code = ("import sys, numpy as np\n"
            "from tinygrad_mnist.nn import checkpoint\n"
            "meta = {k: k * 3 for k in 'qwertyuiopasdfgh'}\n"
            "checkpoint.save(sys.argv[1], {'b': np.ones(3, np.float32), 'a': np.zeros((2, 2))}, meta)\n")
    outputs = []
    for i in range(3):
        path = tmp_path / f"{i}.safetensors"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    tensors, meta = checkpoint.load(str(tmp_path / "0.safetensors"))
    assert meta == {k: k * 3 for k in "qwertyuiopasdfgh"} and tensors["a"].dtype == np.float64
