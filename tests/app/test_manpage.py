"""The man pages: generated from the same parsers by argparse-manpage, listing every option."""
import argparse
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from argparse_manpage.manpage import Manpage

from tinygrad_mnist.app import cli

ROOT = Path(__file__).resolve().parents[2]


PARSERS = [cli.train_parser, cli.evaluate_parser, cli.predict_parser, cli.plot_parser]


@pytest.mark.parametrize("make", PARSERS)
def test_man_page_lists_every_option(make):
    parser = make()
    page = str(Manpage(parser, format="pretty"))
    assert page.startswith(".TH " + parser.prog.upper().replace("-", r"\-"))
    described = page.split(".SH OPTIONS", 1)[1]  # each option with its help text, not just the synopsis
    options = [s for action in parser._actions for s in action.option_strings
               if not isinstance(action, argparse._HelpAction)]  # -h/--help is implied by man(1)
    assert len(options) >= 3
    for option in options:
        assert "\\fB" + option.replace("-", r"\-") in described, option


def test_setup_cfg_builds_a_page_per_parser():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    specs = [line for line in cfg["build_manpages"]["manpages"].splitlines() if line.strip()]
    assert {s.split(":")[0] for s in specs} == {"man/tinygrad-mnist-train.1", "man/tinygrad-mnist-evaluate.1",
                                               "man/tinygrad-mnist-predict.1", "man/tinygrad-mnist-plot.1"}
    for spec in specs:
        assert "pyfile=tinygrad_mnist/app/cli.py" in spec  # a file that imports only the standard library
        function = spec.split("function=")[1].split(":")[0]
        assert callable(getattr(cli, function))


def test_cli_module_imports_only_the_standard_library():
    """argparse-manpage loads it before numpy is installed; the entry points import the engine
    inside their functions, after `tune_process`."""
    imports = [ln.split()[1] for ln in (ROOT / "tinygrad_mnist" / "app" / "cli.py").read_text().splitlines()
               if ln.startswith(("import ", "from "))]
    assert set(imports) <= {"argparse", "ctypes", "math", "os", "sys", ".._version"}  # the version: one literal
    assert "except ImportError" in (ROOT / "tinygrad_mnist" / "app" / "cli.py").read_text()  # loaded alone, it still works


def test_the_man_pages_are_named_like_the_installed_commands():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pages = {line.split(":")[0].strip() for line in cfg["build_manpages"]["manpages"].splitlines() if line.strip()}
    scripts = {line.split("=")[0].strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines()
               if line.strip()}
    assert {p[len("man/"):-len(".1")] for p in pages} == scripts  # every installed command has its page
    for make in PARSERS:
        assert make().prog in scripts


PAGES = ("tinygrad-mnist-train.1", "tinygrad-mnist-evaluate.1", "tinygrad-mnist-predict.1", "tinygrad-mnist-plot.1")


@pytest.mark.slow
@pytest.mark.parametrize("editable", [True, False], ids=["pip install -e", "pip install"])
def test_both_kinds_of_install_leave_the_man_pages(editable, tmp_path):
    """`pip install -e .` (an editable wheel) and `pip install .` (a normal one), each into a
    fresh environment, both put the pages in its share/man/man1 (setuptools' editable wheel
    dropped them: tinygrad_mnist/_build.py). pip builds in an isolated environment, as a user's
    install does, so the test does not depend on this environment's setuptools."""
    prefix = tmp_path / "venv"  # a throwaway environment: pip must not touch the one running the tests
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    python = prefix / ("Scripts" if os.name == "nt" else "bin") / "python"
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
    done = subprocess.run(command + (["-e", str(ROOT)] if editable else [str(ROOT)]), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    mandir = prefix / "share" / "man" / "man1"
    assert sorted(p.name for p in mandir.glob("*.1")) == sorted(PAGES)
    assert "\\-\\-learning\\-rate" in (mandir / "tinygrad-mnist-train.1").read_text()


def test_man_finds_the_installed_page():
    """After the README's test command (an editable install), `man tinygrad-mnist-train` works:
    man(1) looks in ../share/man beside each directory on PATH, here the environment's bin."""
    bindir = Path(sys.executable).parent
    if not (bindir / "tinygrad-mnist-train").exists():
        pytest.skip(f"tinygrad_mnist's commands are not installed in {bindir}")
    mandir = bindir.parent / "share" / "man" / "man1"
    assert all((mandir / page).is_file() for page in PAGES), f"{mandir}: installed without the man pages"
    man = shutil.which("man")
    if man is None:
        pytest.skip("no man(1) on this machine; the pages are installed")
    env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
    env["PATH"] = f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    found = subprocess.run([man, "-w", "tinygrad-mnist-train"], env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve() == (mandir / "tinygrad-mnist-train.1").resolve()
