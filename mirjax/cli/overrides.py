"""`--config.KEY=VALUE` overrides: the key path must exist (free-form sections, `model`, `frontend` and
`optim.lr_schedule`, take new keys) and the value is read as the type of the value it replaces."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from typing import Any

import ml_collections

from mirjax.config import FREE_FORM, ConfigError  # FREE_FORM: model, frontend, optim.lr_schedule

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def apply_overrides(config: ml_collections.ConfigDict, overrides: Iterable[tuple[str, str]]) -> None:
    """Sets each `(dotted key, text)` in `config` in place; raises ConfigError naming the key."""
    for key, text in overrides:
        apply_override(config, key, text)


def apply_override(config: ml_collections.ConfigDict, key: str, text: str) -> None:
    parts = key.split(".")
    node = config
    for i, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, ml_collections.ConfigDict) else None
        if not isinstance(child, ml_collections.ConfigDict):
            if child is not None:
                raise ConfigError(f"--config.{key}: '{'.'.join(parts[:i + 1])}' is a value, not a section")
            _unknown(config, key)
        node = child
    section, name = ".".join(parts[:-1]), parts[-1]
    if name in node:
        current = node[name]
        if isinstance(current, ml_collections.ConfigDict):
            raise ConfigError(f"--config.{key}: '{key}' is a section; set one of its keys, e.g. "
                              f"--config.{key}.{next(iter(current.keys()), 'KEY')}=…")
        value = parse_value(text, current, key)
    elif section in FREE_FORM:
        value = _literal(text)
    else:
        _unknown(config, key)
    with node.ignore_type(), node.unlocked():
        node[name] = value


def parse_value(text: str, current: Any, key: str) -> Any:
    """`text` read as the type of `current`: bool true/false, int, float, str as is, tuple/list by
    `ast.literal_eval` (bare words as comma-separated strings), None (or other) by literal_eval, else the text."""
    if isinstance(current, bool):
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ConfigError(f"config key '{key}' must be bool (true or false), got '{text}'")
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"config key '{key}' must be int, got '{text}'") from None
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"config key '{key}' must be float, got '{text}'") from None
    if isinstance(current, str):
        return text
    if isinstance(current, (tuple, list)):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = tuple(s.strip() for s in text.split(",")) if text.strip() else ()
        if not isinstance(value, (tuple, list)):
            value = (value,)
        return type(current)(value)
    return _literal(text)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _unknown(config: ml_collections.ConfigDict, key: str):
    close = difflib.get_close_matches(key, list(_paths(config)), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown config key '{key}' in --config.{key}{hint}")


def _paths(config: ml_collections.ConfigDict, prefix: str = "") -> Iterable[str]:
    for k, v in config.items():
        yield prefix + k
        if isinstance(v, ml_collections.ConfigDict):
            yield from _paths(v, prefix + k + ".")
