"""The README's two commands in order, on a throwaway environment: `pip install .`, a training
run, then `pip install -e .`; and `pip uninstall` after a run leaves nothing behind.

The environment gets the package from pip (built in isolation, as a user's install is) and its
dependencies from the environment running the tests, through a .pth file: no download of numpy
or numba, and pip never touches the environment running the tests."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _environment(tmp_path: Path):
    prefix = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    python = prefix / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    import llvmlite
    import numba
    import numpy
    import safetensors
    deps = sorted({str(Path(m.__file__).parent.parent) for m in (numpy, numba, llvmlite, safetensors)})
    (site / "_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return python, site, env


def _pip(python, *args, env):
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args, "--quiet"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def _train(python, env, where):
    where.mkdir(exist_ok=True)
    proc = subprocess.run([str(python), "-m", "tinygrad_mnist.train", "--epochs", "1"], cwd=where,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Epoch:    1 Train Loss:  2.30259 Test Acc: 68.08%" in proc.stdout


@pytest.mark.slow
def test_install_train_then_editable_install_works_from_any_directory(tmp_path):
    """The reproduction: compiled kernels written inside site-packages survived the uninstall
    that `pip install -e` does, and the leftover folder shadowed the editable install."""
    python, site, env = _environment(tmp_path)
    _pip(python, "install", "--no-deps", str(ROOT), env=env)
    _train(python, env, tmp_path / "run1")
    assert not [p for p in (site / "tinygrad_mnist").rglob("*") if p.suffix in (".nbi", ".nbc")]
    _pip(python, "uninstall", "--yes", "tinygrad_mnist", env=env)
    assert not (site / "tinygrad_mnist").exists(), sorted(map(str, (site / "tinygrad_mnist").rglob("*")))[:5]
    _pip(python, "install", "--no-deps", str(ROOT), env=env)
    _train(python, env, tmp_path / "run2")
    _pip(python, "install", "--no-deps", "-e", str(ROOT), env=env)
    _train(python, env, tmp_path / "run3")
    probe = subprocess.run([str(python), "-c", "from tinygrad_mnist import Tensor; import tinygrad_mnist; "
                            "print(tinygrad_mnist.__file__)"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).parent == ROOT / "tinygrad_mnist"  # the checkout, not a leftover
    assert list((tmp_path / "cache" / "tinygrad_mnist").iterdir())  # where the kernels went
