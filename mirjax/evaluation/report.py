"""Writes evaluation reports as strict JSON (``report.json`` in the workdir)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any

import numpy as np

__all__ = ["to_jsonable", "write_report"]


def to_jsonable(obj: Any) -> Any:
    """Converts numpy/JAX scalars and arrays, tuples and paths to plain JSON types.

    Non-finite floats (NaN, +-inf) become ``None`` because strict JSON has no literal for them;
    dict keys become strings.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        # JAX arrays expose __array__; tolist() yields Python scalars, then clean NaNs recursively.
        arr = np.asarray(obj)
        return to_jsonable(arr.tolist()) if arr.ndim else to_jsonable(arr.item())
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def write_report(workdir, report: dict, filename: str = "report.json") -> str:
    """Writes ``report`` to ``workdir/filename`` atomically and returns the path.

    The JSON is written to a temporary file in the same directory and moved into place with
    ``os.replace``, so a reader never sees a half-written report.
    """
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, filename)
    text = json.dumps(to_jsonable(report), indent=2, sort_keys=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=workdir, prefix=f".{filename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be shared.
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
