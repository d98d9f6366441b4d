"""Imports go one way (config and registries → frontend, data, models, evaluation → tasks → training, features →
recommendation, analysis → studies → cli): import-linter's contract in pyproject.toml, run as a test so that an
upward import or an import circle between packages fails make test."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).parent.parent


def test_import_linter_layers_contract_holds():
    lint = pathlib.Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert re.search(r"one-way layers KEPT", r.stdout), r.stdout[-2000:]


def test_the_core_does_not_import_the_packages_above_it():
    pattern = re.compile(r"^\s*(from|import)\s+mirjax\.(recommendation|features|analysis|studies|cli)\b")
    core = ("frontend", "data", "models", "training", "evaluation")
    offenders = [f"{path.relative_to(REPO)}:{i}" for pkg in core for path in (REPO / "mirjax" / pkg).rglob("*.py")
                 for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.match(line)]
    assert not offenders, offenders


def test_ruff_is_clean():
    """The style rules of pyproject.toml ([tool.ruff]: line length 120, pyflakes, isort, pyupgrade, bugbear)."""
    ruff = pathlib.Path(sys.executable).parent / "ruff"
    r = subprocess.run([str(ruff), "check", "--no-cache", "mirjax", "tests", "configs", "bench", "train.py", "eval.py"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-4000:]
