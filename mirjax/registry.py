"""Plug-in discovery for the name registries (tasks, front-ends, models, input kinds).

A package that adds names to a registry (a task, a front-end, …) does so when it is imported. Registries sit below
the packages that extend them, so they cannot import them; instead, before a lookup gives up on an unknown name it
calls `load_plugins()`, which imports every module named in the `mirjax.plugins` entry-point group (pyproject.toml)
and the built-in plug-ins below, once. A third-party package adds its own systems the same way, by declaring an
entry point in that group.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging

log = logging.getLogger("mirjax")

# Built-in plug-ins, also when mirjax runs from a source tree that was never pip-installed (no entry points).
BUILTIN_PLUGINS = ("mirjax.recommendation.plugin", "mirjax.galaxy_plugin", "mirjax.analysis.weak_task",
                   "mirjax.features.words")
GROUP = "mirjax.plugins"

_loaded = False


def plugin_modules() -> list[str]:
    names = list(BUILTIN_PLUGINS)
    for ep in importlib.metadata.entry_points(group=GROUP):
        if ep.module not in names:
            names.append(ep.module)
    return names


def load_plugins() -> None:
    """Import every plug-in module once (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in plugin_modules():
        importlib.import_module(name)
