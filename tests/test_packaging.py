"""Packaging: pyproject.toml's metadata and platform markers, the installed versions against its lower bounds,
and the one-line error when scorebank's synthesizer (installed outside the dependencies) is missing."""

from __future__ import annotations

import inspect
import pathlib
import re
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from mirjax.errors import UserError

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEPENDENCIES = [Requirement(r) for r in PROJECT["dependencies"]]


def test_metadata_names_the_command_plugins_and_licence():
    assert PROJECT["requires-python"] == ">=3.11"
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["scripts"] == {"mirjax": "mirjax.cli:main"}
    # The installed entry points and the source-tree fallback (registry.BUILTIN_PLUGINS) name the same plug-ins.
    from mirjax.registry import BUILTIN_PLUGINS
    plugins = PROJECT["entry-points"]["mirjax.plugins"]
    assert sorted(plugins.values()) == sorted(BUILTIN_PLUGINS)
    assert plugins["recommendation"] == "mirjax.recommendation.plugin" and plugins["galaxy"] == "mirjax.galaxy_plugin"
    assert "tensorboard" in {r.name for r in DEPENDENCIES}  # the README's `tensorboard --logdir workdirs`


@pytest.mark.parametrize("sys_platform, machine, expected", [
    ("linux", "x86_64", "tensorflow-cpu"), ("win32", "AMD64", "tensorflow-cpu"),
    ("darwin", "arm64", "tensorflow"), ("darwin", "x86_64", "tensorflow"), ("linux", "aarch64", "tensorflow"),
])
def test_exactly_one_tensorflow_per_platform(sys_platform, machine, expected):
    env = {"sys_platform": sys_platform, "platform_machine": machine}
    chosen = [r.name for r in DEPENDENCIES if r.name in ("tensorflow", "tensorflow-cpu") and r.marker.evaluate(env)]
    assert chosen == [expected]


def test_installed_versions_meet_the_lower_bounds():
    """Every dependency that applies here is installed at a version its specifier allows."""
    bad = []
    for r in DEPENDENCIES:
        if r.marker is not None and not r.marker.evaluate():
            continue
        version = metadata.version(r.name)
        if not r.specifier.contains(version, prereleases=True):
            bad.append(f"{r.name} {version} (wants {r.specifier})")
    assert not bad, bad


def test_the_apis_behind_the_lower_bounds_exist():
    """The reasons given in pyproject.toml for the jax, optax and orbax-checkpoint floors."""
    import jax
    import optax
    import orbax.checkpoint as ocp

    assert "axis_types" in inspect.signature(jax.make_mesh).parameters
    assert jax.sharding.AxisType.Auto is not None
    assert callable(optax.tree.norm)
    assert hasattr(ocp.checkpoint_managers.preservation_policy, "LatestN")
    assert "preservation_policy" in inspect.signature(ocp.CheckpointManagerOptions).parameters
    best_n = inspect.signature(ocp.checkpoint_managers.preservation_policy.BestN).parameters
    assert "keep_checkpoints_without_metrics" in best_n and best_n["reverse"].default is False


def test_makefile_installs_tinysoundfont_without_its_dependencies():
    assert re.search(r"pip install .*--no-deps .*tinysoundfont", (ROOT / "Makefile").read_text())
    assert "tinysoundfont" not in {r.name for r in DEPENDENCIES}


def test_missing_tinysoundfont_stops_the_scorebank_build_with_one_line(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    import mirjax.data  # noqa: F401  (registers scorebank)
    from mirjax.data import scorebank_render

    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # `import tinysoundfont` now raises ImportError
    with pytest.raises(UserError) as err:
        scorebank_render.require_synthesizer()
    message = str(err.value)
    assert "\n" not in message and "pip install --no-deps tinysoundfont" in message
    with pytest.raises(UserError, match="pip install --no-deps tinysoundfont"):
        tfds.builder("scorebank/tiny", data_dir=str(tmp_path)).download_and_prepare()
    with pytest.raises(UserError, match="tinysoundfont"):
        scorebank_render.render_jobs([], progress=False)
