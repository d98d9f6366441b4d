"""A trained or pretrained model exported whole, front-end included: one pure function of audio windows
`audio (batch, window_samples) float32 -> scores (batch, outputs) float32` (the task's activation applied: sigmoid
probabilities for tags, softmax for classes, identity for regression), serialised as

* `OUT/model.stablehlo`: `jax.export`'s serialised StableHLO (weights embedded as constants); reload with
  `jax.export.deserialize(open(path, "rb").read()).call(audio)`, no mirjax needed;
* `OUT/saved_model/`: a TensorFlow SavedModel made by `jax.experimental.jax2tf` (the same StableHLO inside one
  `XlaCallModule` op), signature `serving_default`: `audio` float32 (batch, samples) -> {`scores`};
* `OUT/model_card.json`: the model card plus an `export` section describing input, output, batch and platforms.

The batch dimension is symbolic (any batch size) where the front-end and model allow it. The CPU front-ends map
over fixed groups of examples, which a symbolic batch cannot be cut into, so they are then run per example under
`vmap` (the same computation); if neither traces with a symbolic batch the export falls back to a fixed batch and
says so in the card and the returned summary. By default the artefact is lowered for the CPU and for the backend
JAX runs on (e.g. `cpu` and `cuda`), so it also serves from TensorFlow on a CPU.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.inference.model import LoadedModel

FORMATS = ("stablehlo", "savedmodel")
STABLEHLO_FILE, SAVED_MODEL_DIR, CARD_FILE = "model.stablehlo", "saved_model", "model_card.json"
SIGNATURE = "serving_default"
_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "softmax": lambda x: jax.nn.softmax(x, axis=-1),
    "identity": lambda x: x,
}
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
VERIFY_TOLERANCE = 1e-4  # max |exported - JAX| over the scores of the check batch


def scores_function(loaded: LoadedModel, per_example: bool = False) -> Callable[[jax.Array], jax.Array]:
    """`audio (batch, samples) -> scores (batch, outputs)`: front-end, model (eval mode) and activation, with the
    variables closed over. `per_example` runs the front-end on one window at a time under `vmap`."""
    activation = loaded.card.get("activation", "sigmoid")
    if activation not in _ACTIVATIONS:
        raise UserError(f"cannot export a model with activation {activation!r}; known: {', '.join(_ACTIVATIONS)}")
    act, frontend, model, variables = _ACTIVATIONS[activation], loaded.frontend, loaded.model, loaded.variables
    if per_example:
        def features(audio):
            return jax.vmap(lambda a: frontend(a[None])[0])(audio)
    else:
        features = frontend

    def scores(audio: jax.Array) -> jax.Array:
        logits = model.apply(variables, features(jnp.asarray(audio, jnp.float32)), train=False)
        return act(logits.astype(jnp.float32))

    return scores


def default_platforms() -> tuple[str, ...]:
    """The CPU (what TensorFlow serving and most users run) and the backend JAX runs on, if another."""
    backend = jax.default_backend()
    backend = "cuda" if backend == "gpu" else backend
    return ("cpu",) if backend == "cpu" or backend not in PLATFORMS else ("cpu", backend)


def export(loaded: LoadedModel, out: str, batch: int | None = None, formats: Sequence[str] = FORMATS,
           platforms: Sequence[str] | None = None, verify: bool = True) -> dict[str, Any]:
    """Export `loaded` (front-end, model, activation) into directory `out` in `formats` (see the module doc).

    `batch=None` makes the batch dimension symbolic (falling back to a fixed batch of 1 where the model cannot
    take one); `batch=N` fixes it to N. `platforms` (default `default_platforms()`) are the ones it is lowered for.
    `verify` runs each artefact on random audio against the JAX model itself. Returns a summary: `files`
    (format -> path, and `card`), `batch` ('b' for symbolic, or the fixed size), `symbolic_batch`, `note` (why
    the batch is fixed, if it fell back), `platforms`, `max_abs_diff` (format -> difference from JAX)."""
    formats = _check_formats(formats)
    if batch is not None and batch < 1:
        raise UserError(f"--batch must be at least 1, got {batch}")
    platforms = tuple(platforms) if platforms else default_platforms()
    bad = [p for p in platforms if p not in PLATFORMS]
    if bad:
        raise UserError(f"unknown platform(s) {', '.join(bad)}; choose from {', '.join(PLATFORMS)}")
    if loaded.card.get("input", {}).get("kind", "audio") != "audio":
        raise UserError(f"only models of audio inputs can be exported; this one takes {loaded.card['input']['kind']}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {out} exists and is not a directory")
    n = loaded.window_samples

    exported, fn, symbolic, note = _export_jax(loaded, n, batch, platforms)
    fixed = None if symbolic else int(exported.in_avals[0].shape[0])
    os.makedirs(out, exist_ok=True)
    files: dict[str, str] = {}
    diffs: dict[str, float] = {}
    check = _check_batch(n, fixed)
    reference = loaded.scores(np.asarray(jax.jit(lambda a: loaded.model.apply(
        loaded.variables, loaded.frontend(a), train=False))(check))) if verify else None

    if "stablehlo" in formats:
        files["stablehlo"] = os.path.join(out, STABLEHLO_FILE)
        with open(files["stablehlo"], "wb") as f:
            f.write(exported.serialize())
        if verify and jax.default_backend() in _jax_platforms(exported.platforms):
            diffs["stablehlo"] = _max_diff(jax.export.deserialize(exported.serialize()).call(check), reference)

    if "savedmodel" in formats:
        files["savedmodel"] = os.path.join(out, SAVED_MODEL_DIR)
        serve = _write_saved_model(fn, files["savedmodel"], n, fixed, platforms)
        if verify and "cpu" in platforms:
            diffs["savedmodel"] = _max_diff(serve(audio=check)["scores"].numpy(), reference)

    worst = {k: v for k, v in diffs.items() if not v <= VERIFY_TOLERANCE}
    if worst:
        raise RuntimeError(f"exported model differs from the JAX model by {worst} (tolerance {VERIFY_TOLERANCE})")

    summary = {"batch": "b" if symbolic else fixed, "symbolic_batch": symbolic, "note": note,
               "platforms": list(exported.platforms), "max_abs_diff": diffs}
    card = dict(loaded.card)
    card["export"] = _describe(loaded, exported, summary, files, out)
    files["card"] = os.path.join(out, CARD_FILE)
    with open(files["card"], "w") as f:
        json.dump(card, f, indent=2, default=_json_default)
        f.write("\n")
    summary["files"] = files
    return summary


# --- jax.export ------------------------------------------------------------------------------------

def _export_jax(loaded: LoadedModel, n: int, batch: int | None, platforms: Sequence[str]):
    """(Exported, the function exported, symbolic?, note): a symbolic batch tried whole-batch, then per example;
    else a fixed batch."""
    if batch is None:
        spec = jax.ShapeDtypeStruct(jax.export.symbolic_shape(f"b, {n}"), jnp.float32)
        reasons = []
        for per_example in (False, True):
            fn = scores_function(loaded, per_example)
            try:
                return jax.export.export(jax.jit(fn), platforms=platforms)(spec), fn, True, ""
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - any tracing failure under a symbolic batch: try the next way
                reasons.append(_first_line(e))
        batch = 1
        note = f"the model does not trace with a symbolic batch ({reasons[-1]}); exported with a fixed batch of 1"
    else:
        note = ""
    fn = scores_function(loaded)
    spec = jax.ShapeDtypeStruct((batch, n), jnp.float32)
    return jax.export.export(jax.jit(fn), platforms=platforms)(spec), fn, False, note


def _jax_platforms(platforms: Sequence[str]) -> set[str]:
    return {"gpu" if p in ("cuda", "rocm") else p for p in platforms} | set(platforms)


# --- TensorFlow SavedModel -------------------------------------------------------------------------

def _write_saved_model(fn: Callable, path: str, n: int, fixed: int | None, platforms: Sequence[str]):
    """`fn` through jax2tf (its StableHLO in one XlaCallModule op) as a SavedModel at `path`; returns the
    in-memory `tf.function` (signature `audio` -> {'scores'})."""
    try:
        import tensorflow as tf
        from jax.experimental import jax2tf
    except ImportError as e:
        raise UserError(f"a SavedModel needs TensorFlow and jax.experimental.jax2tf ({_first_line(e)}); "
                        "export with --formats stablehlo") from e
    if os.path.exists(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise UserError(f"{path} exists and is not a SavedModel; choose another --out")
        shutil.rmtree(path)  # a previous export's: replaced whole, no stale variables left behind
    converted = jax2tf.convert(fn, polymorphic_shapes=["(b, _)" if fixed is None else None], with_gradient=False,
                               native_serialization_platforms=tuple(platforms))

    @tf.function(input_signature=[tf.TensorSpec([fixed, n], tf.float32, name="audio")], autograph=False)
    def serve(audio):
        return {"scores": converted(audio)}

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, path, signatures={SIGNATURE: serve})
    return serve


# --- helpers ---------------------------------------------------------------------------------------

def _check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f.strip()]
    formats = tuple(f.strip().lower() for f in formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise UserError(f"unknown export format(s) {', '.join(bad) or '(none given)'}; choose from "
                        f"{', '.join(FORMATS)}")
    return formats


def _check_batch(n: int, fixed: int | None) -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.5, 0.5, (fixed or 2, n)).astype(np.float32)


def _max_diff(got, want: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)))


def _describe(loaded: LoadedModel, exported, summary: dict, files: dict[str, str], out: str) -> dict[str, Any]:
    b = summary["batch"] if not summary["symbolic_batch"] else "batch"
    return {
        "function": "scores = activation(model(frontend(audio)))",
        "input": {"name": "audio", "dtype": "float32", "shape": [b, loaded.window_samples],
                  "sample_rate": loaded.sample_rate, "seconds": loaded.window_samples / loaded.sample_rate,
                  "layout": "mono windows of the model's input length, samples in [-1, 1]"},
        "output": {"name": "scores", "dtype": "float32", "shape": [b, len(loaded.outputs)],
                   "activation": loaded.card.get("activation", "sigmoid"), "names": "outputs (in this order)"},
        "batch": "symbolic (any size >= 1)" if summary["symbolic_batch"] else summary["batch"],
        "note": summary["note"],
        "platforms": summary["platforms"],
        "files": {k: os.path.relpath(v, out) for k, v in files.items()},
        "saved_model_signature": SIGNATURE if "savedmodel" in files else None,
        "calling_convention_version": exported.calling_convention_version,
        "jax_version": jax.__version__,
        "max_abs_diff": summary["max_abs_diff"],
        "source": loaded.source,
    }


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
