"""Helpers shared by the config files: the `get_config(arg)` argument, parsed one way (big_vision style).

    arg = parse_arg(arg, structure="k2c2", size="1M", setting="scorebank")

`"crnn,0.1M"` fills the spec's keys in order (structure, size), `"size=0.1M,setting=quick"` sets them by name,
and both mix (`"crnn,setting=msd"`); an empty value keeps the default. Values are converted to the type of the
default: bool (true/false/1/0), int, float or str. An unknown key, too many values or a value that does not
convert raises `mirjax.config.ConfigError` with one line naming the config file and the argument.
`choice(name, value, valid)` checks a value against the allowed ones the same way, and `error(message)` makes
the ConfigError of a config's own check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import ml_collections

from mirjax.config import ConfigError

_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def parse_arg(arg: str | None, **spec: Any) -> ml_collections.ConfigDict:
    """`arg` ("a,b,key=value") over the defaults in `spec`, as a ConfigDict with the spec's keys."""
    where = _caller()
    keys = list(spec)
    values: dict[str, Any] = dict(spec)
    given: set[str] = set()
    position = 0
    for part in arg.split(",") if arg else ():
        part = part.strip()
        if "=" in part:
            key, _, raw = part.partition("=")
            key = key.strip()
            if key not in spec:
                raise ConfigError(f"{where}: unknown key '{key}' in argument '{arg}'; valid: {', '.join(keys)}")
        else:
            if position >= len(keys):
                raise ConfigError(f"{where}: too many values in argument '{arg}'; expected at most {len(keys)} "
                                  f"({','.join(k.upper() for k in keys)})")
            key, raw = keys[position], part
            position += 1
        if key in given:
            raise ConfigError(f"{where}: '{key}' is given twice in argument '{arg}'")
        given.add(key)
        if raw.strip() != "":
            values[key] = _convert(raw.strip(), spec[key], key, where)
    return ml_collections.ConfigDict(values)


def choice(name: str, value: Any, valid: Iterable[Any]) -> Any:
    """`value` if it is one of `valid`, else a one-line ConfigError naming the config file and the choices."""
    valid = tuple(valid)
    if value not in valid:
        raise ConfigError(f"{_caller()}: unknown {name} '{value}'; valid: {', '.join(str(v) for v in valid)}")
    return value


def error(message: str) -> ConfigError:
    """A ConfigError for a config file's own check, prefixed with that file: `raise error("MEANS must be …")`."""
    return ConfigError(f"{_caller()}: {message}")


def _convert(raw: str, default: Any, key: str, where: str) -> Any:
    if isinstance(default, bool):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{where}: argument {key}='{raw}' must be a bool (true/false/1/0)")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{where}: argument {key}='{raw}' must be {kind.__name__}") from None
    return raw


def _caller() -> str:
    """'configs/NAME.py' of the config file calling into this module (for error messages)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    path = frame.f_globals.get("__file__", "") if frame is not None else ""
    if not path:
        return "config argument"
    return f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}"
