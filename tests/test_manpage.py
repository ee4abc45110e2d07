"""The man pages: generated from the same parsers by argparse-manpage, listing every option."""
import argparse
import configparser
from pathlib import Path

import pytest
from argparse_manpage.manpage import Manpage

from tinygrad_mnist import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("make", [cli.train_parser, cli.evaluate_parser, cli.predict_parser])
def test_man_page_lists_every_option(make):
    parser = make()
    page = str(Manpage(parser, format="pretty"))
    assert page.startswith(".TH " + parser.prog.upper().replace("-", r"\-"))
    described = page.split(".SH OPTIONS", 1)[1]  # each option with its help text, not just the synopsis
    options = [s for action in parser._actions for s in action.option_strings
               if not isinstance(action, argparse._HelpAction)]  # -h/--help is implied by man(1)
    assert len(options) > 3
    for option in options:
        assert "\\fB" + option.replace("-", r"\-") in described, option


def test_setup_cfg_builds_a_page_per_parser():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    specs = [line for line in cfg["build_manpages"]["manpages"].splitlines() if line.strip()]
    assert {s.split(":")[0] for s in specs} == {"man/tinygrad-mnist-train.1", "man/tinygrad-mnist-evaluate.1",
                                               "man/tinygrad-mnist-predict.1"}
    for spec in specs:
        assert "pyfile=tinygrad_mnist/cli.py" in spec  # a file that imports only the standard library
        function = spec.split("function=")[1].split(":")[0]
        assert callable(getattr(cli, function))


def test_cli_module_imports_only_the_standard_library():
    """argparse-manpage loads it before numpy is installed; the entry points import the engine
    inside their functions, after `tune_process`."""
    imports = [ln.split()[1] for ln in (ROOT / "tinygrad_mnist" / "cli.py").read_text().splitlines()
               if ln.startswith(("import ", "from "))]
    assert set(imports) <= {"argparse", "ctypes", "math", "os", "sys"}


def test_the_man_pages_are_named_like_the_installed_commands():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pages = {line.split(":")[0].strip() for line in cfg["build_manpages"]["manpages"].splitlines() if line.strip()}
    scripts = {line.split("=")[0].strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines()
               if line.strip()}
    assert {p[len("man/"):-len(".1")] for p in pages} <= scripts
    for make in (cli.train_parser, cli.evaluate_parser, cli.predict_parser):
        assert make().prog in scripts
