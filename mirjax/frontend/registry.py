"""Front-ends looked up by name: ``make_frontend("logmel", n_mels=128)`` → pure ``audio → features``.

A registered entry is a *factory*: its keyword arguments are the configuration, it validates them
once, and returns a pure function mapping float audio ``(batch, samples)`` (any leading dims) to
features ``(batch, frames, bins)``. ``make_frontend`` wraps it so that any leading dims work and, on
CPU only, the batch is processed a few clips at a time (same values, better cache use). The result has
no parameters and no state: jit it, vmap it, or call it at the start of a model's apply.

The audio front-ends take ``pad_mode`` for the centred frames at a clip's edges. Their default is ``"reflect"``,
with which every trained system and result in docs/ was made; ``"constant"`` (zeros) is librosa's default and that of
the plain functions (``mirjax.frontend.melspectrogram`` …).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mirjax import registry
from mirjax.errors import UserError
from mirjax.frontend.compression import amplitude_to_db, log1p_compress, log10_compress, power_to_db
from mirjax.frontend.mfcc import delta, mfcc
from mirjax.frontend.preprocess import (
    STANDARDIZATIONS,
    WEIGHTINGS,
    a_weighting_db,
    add_db_weights,
    apply_gain_db,
    fft_bin_frequencies,
    mel_bin_frequencies,
    per_frequency_standardize,
    per_sample_standardize,
)
from mirjax.frontend.spectral import melspectrogram, output_frames, spectrogram

Frontend = Callable[[jax.Array], jax.Array]
FRONTENDS: dict[str, Callable[..., Frontend]] = {}

COMPRESSIONS = ("db", "log1p", "log10", "none")


_WHOLE_BATCH: set[str] = set()  # front-ends whose input is not (…, samples) audio: called on the batch as it is


def register(name: str, per_example: bool = True) -> Callable[[Callable[..., Frontend]], Callable[..., Frontend]]:
    """Decorator: register a front-end factory ``factory(**config) -> (input -> features)`` under ``name``.

    ``per_example`` (audio front-ends): the result takes audio with any leading dims and, on CPU, runs a few clips
    at a time. Otherwise it is called on the batch as it is (e.g. images)."""

    def deco(factory: Callable[..., Frontend]) -> Callable[..., Frontend]:
        if name in FRONTENDS:
            raise ValueError(f"frontend {name!r} is already registered")
        FRONTENDS[name] = factory
        if not per_example:
            _WHOLE_BATCH.add(name)
        return factory

    return deco


def _factory(name: str) -> Callable[..., Frontend]:
    if name not in FRONTENDS:
        registry.load_plugins()  # a plug-in package may register it (e.g. mfcc_bow)
    if name not in FRONTENDS:
        raise UserError(f"unknown frontend {name!r}; valid: {', '.join(sorted(FRONTENDS))}")
    return FRONTENDS[name]


def _config(name: str, kwargs: dict) -> dict:
    """Defaults of ``name``'s factory overridden by ``kwargs``; unknown keys → ValueError."""
    params = inspect.signature(_factory(name)).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise UserError(f"unknown argument(s) {', '.join(unknown)} for frontend {name!r}; valid: {', '.join(params)}")
    cfg = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    cfg.update(kwargs)
    return cfg


def frontend_config(name: str, kwargs: dict) -> dict:
    """Every argument of front-end ``name`` (its defaults overridden by ``kwargs``; unknown keys → UserError)."""
    return _config(name, kwargs)


def accepts(name: str, key: str) -> bool:
    """Whether front-end `name` takes the argument `key`."""
    return key in inspect.signature(_factory(name)).parameters


def make_frontend(name: str, **kwargs) -> Frontend:
    """Build the registered front-end ``name`` with ``kwargs``; returns a pure, jittable ``input -> features``."""
    fn = _factory(name)(**_config(name, kwargs))
    return fn if name in _WHOLE_BATCH else _per_example_groups(fn)


def output_shape(name: str, num_samples: int, **kwargs) -> tuple[int, int]:
    """``(frames, bins)`` that front-end ``name`` produces for ``num_samples`` samples (shape-only trace)."""
    fn = make_frontend(name, **kwargs)
    out = jax.eval_shape(fn, jax.ShapeDtypeStruct((1, num_samples), jnp.float32))
    return tuple(out.shape[-2:])


def output_bins(name: str, **kwargs) -> int:
    """Number of feature bins (last axis) of front-end ``name`` with ``kwargs``; independent of clip length."""
    cfg = _config(name, kwargs)
    # Any length with enough frames for every front-end (deltas need 9+) gives the same bin count.
    n = 16 * max(int(cfg.get("n_fft", 2048)), int(cfg.get("hop_length", 512)))
    return output_shape(name, n, **kwargs)[1]


# Examples per step when a front-end runs on CPU. One 10-s clip's frames are ~1.3 MB, so four fit in
# cache; mapping over groups of four instead of transforming a whole batch at once was ~2x faster on a
# 2-core CPU (bench/bench_frontend.py). Accelerators get the whole batch in one step.
_CPU_EXAMPLES_PER_STEP = 4


def _per_example_groups(fn: Frontend) -> Frontend:
    """Wrap ``fn: (n, samples) -> (n, frames, bins)`` to accept any leading dims and, on CPU, run in groups."""

    def wrapped(audio: jax.Array) -> jax.Array:
        audio = jnp.asarray(audio, dtype=jnp.float32)
        flat = audio.reshape((-1, audio.shape[-1]))
        out = jax.lax.platform_dependent(
            flat,
            cpu=lambda a: jax.lax.map(fn, a, batch_size=_CPU_EXAMPLES_PER_STEP),
            default=fn,
        )
        return out.reshape(audio.shape[:-1] + out.shape[-2:])

    return wrapped


def _check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise UserError(f"{what} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _compressor(compression: str, power: float, top_db: float | None, log_c: float) -> Callable[[jax.Array], jax.Array]:
    """Log compression for a spectrogram that is ``|X| ** power``."""
    _check_choice("compression", compression, COMPRESSIONS)
    if compression == "db":
        if power == 2.0:
            return functools.partial(power_to_db, top_db=top_db)
        if power == 1.0:
            return functools.partial(amplitude_to_db, top_db=top_db)
        raise UserError(f"compression='db' needs power 1.0 (magnitude) or 2.0 (power); got power={power}")
    if compression == "log1p":
        return functools.partial(log1p_compress, C=log_c)
    if compression == "log10":
        return functools.partial(log10_compress, C=log_c)
    return lambda S: S


def _identity(x: jax.Array) -> jax.Array:
    return x


def _preprocessors(
    weighting: str,
    standardize: str,
    scale: float,
    compression: str,
    power: float,
    bin_frequencies: Callable[[], np.ndarray],
) -> tuple[Callable[[jax.Array], jax.Array], Callable[[jax.Array], jax.Array]]:
    """``(pre, post)`` around the log compression: ``features = post(compress(pre(|X| ** power)))``.

    Choi's thesis Ch. 5 chain, in this order after the compression: frequency ``weighting`` →
    ``standardize`` → ×``scale``. A-weighting with ``compression="db"`` adds the dB curve after the dB
    conversion (so ``top_db`` floors the unweighted spectrum: ``librosa.perceptual_weighting``); with
    any other compression it is the linear gain ``10**(power·A/20)`` on ``|X| ** power`` *before* the
    compression ("none": the linear-domain weighting; "log1p"/"log10": ``log(1 + C·gain·S)``, since
    ``log(1 + C·S)`` has no additive dB form). ``bin_frequencies()`` (Hz per bin) is only called for
    A-weighting. Defaults ("none", "none", 1.0) are the identity, adding no ops to the graph.
    """
    _check_choice("weighting", weighting, WEIGHTINGS)
    _check_choice("standardize", standardize, STANDARDIZATIONS)
    try:
        factor = float(scale)
    except (TypeError, ValueError):
        factor = float("nan")  # reported below, with the option's name
    if not 0.0 < factor < float("inf"):
        raise UserError(f"scale must be a positive finite number; got {scale!r}")

    pre, steps = _identity, []
    if weighting == "a_weighting":
        weights = a_weighting_db(bin_frequencies())
        if compression == "db":
            steps.append(functools.partial(add_db_weights, weights_db=weights))
        else:
            pre = functools.partial(apply_gain_db, weights_db=weights, power=power)
    elif weighting == "per_frequency":
        steps.append(per_frequency_standardize)
    if standardize == "sample":
        steps.append(per_sample_standardize)
    if factor != 1.0:
        steps.append(lambda x: x * factor)

    def post(x: jax.Array) -> jax.Array:
        for step in steps:
            x = step(x)
        return x

    return pre, post


@register("logmel")
def logmel(
    sample_rate: int = 16000,
    n_fft: int = 512,
    hop_length: int = 256,
    n_mels: int = 96,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    power: float = 2.0,
    compression: str = "db",
    top_db: float | None = 80.0,
    log_c: float = 1e4,
    weighting: str = "none",
    standardize: str = "none",
    scale: float = 1.0,
    pad_mode: str = "reflect",
) -> Frontend:
    """Log-compressed mel spectrogram: ``(batch, samples)`` → ``(batch, frames, n_mels)``.

    Then, per clip (Choi's thesis Ch. 5 preprocessing): ``weighting`` ∈ {"none", "a_weighting" (at the
    mel triangles' centre frequencies), "per_frequency" (each bin standardised over time)}, then
    ``standardize`` ∈ {"none", "sample" (mean 0 / std 1 over the whole clip)}, then ×``scale``.
    See ``_preprocessors`` and ``mirjax.frontend.preprocess``.
    """
    compress = _compressor(compression, power, top_db, log_c)
    mel_fmax = float(sample_rate) / 2 if fmax is None else fmax
    pre, post = _preprocessors(weighting, standardize, scale, compression, power,
                               lambda: mel_bin_frequencies(n_mels, fmin, mel_fmax, htk))

    def fn(audio: jax.Array) -> jax.Array:
        S = melspectrogram(audio, sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                           fmin=fmin, fmax=fmax, power=power, htk=htk, pad_mode=pad_mode)
        return post(compress(pre(S)))

    return fn


@register("stft")
def log_stft(
    sample_rate: int = 16000,
    n_fft: int = 512,
    hop_length: int = 256,
    power: float = 2.0,
    compression: str = "db",
    top_db: float | None = 80.0,
    log_c: float = 1e4,
    weighting: str = "none",
    standardize: str = "none",
    scale: float = 1.0,
    pad_mode: str = "reflect",
) -> Frontend:
    """Log-compressed linear-frequency spectrogram: ``(batch, samples)`` → ``(batch, frames, n_fft//2+1)``.

    ``weighting`` / ``standardize`` / ``scale`` as for ``logmel`` (A-weighting at the FFT bin
    frequencies ``k · sample_rate / n_fft``; the DC bin gets the −80 dB floor). ``sample_rate`` is only
    used by A-weighting; it is accepted either way so a config can switch between front-ends unchanged.
    """
    compress = _compressor(compression, power, top_db, log_c)
    pre, post = _preprocessors(weighting, standardize, scale, compression, power,
                               lambda: fft_bin_frequencies(sample_rate, n_fft))

    def fn(audio: jax.Array) -> jax.Array:
        return post(compress(pre(spectrogram(audio, n_fft=n_fft, hop_length=hop_length, power=power,
                                                   pad_mode=pad_mode))))

    return fn


@register("waveform")
def waveform(sample_rate: int = 16000) -> Frontend:
    """Raw audio as a one-channel sequence, `(batch, samples)` → `(batch, samples, 1)`, for models that learn their
    own front-end (Dieleman thesis Ch. 5: "the raw audio is not preprocessed in any way").

    ``sample_rate`` is accepted (and unused) so a config can switch between front-ends unchanged."""
    del sample_rate
    return lambda audio: audio[..., None]


@register("identity", per_example=False)
def identity() -> Frontend:
    """The input as it is, as float32: for inputs that need no time–frequency transform (images:
    ``(batch, height, width, channels)``)."""
    return lambda x: jnp.asarray(x, jnp.float32)


@register("mfcc")
def mfcc_frontend(
    sample_rate: int = 16000,
    n_fft: int = 512,
    hop_length: int = 256,
    n_mels: int = 40,
    n_mfcc: int = 13,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    top_db: float | None = 80.0,
    lifter: float = 0.0,
    deltas: bool = True,
    delta_width: int = 9,
    pad_mode: str = "reflect",
) -> Frontend:
    """MFCC (DCT-II ortho of dB mel) ``(batch, samples)`` → ``(batch, frames, n_mfcc)``, or
    ``(batch, frames, 3 * n_mfcc)`` with Δ and ΔΔ appended when ``deltas`` (needs ≥ ``delta_width`` frames)."""
    if n_mfcc > n_mels:
        raise UserError(f"n_mfcc={n_mfcc} > n_mels={n_mels}")

    def fn(audio: jax.Array) -> jax.Array:
        M = mfcc(audio, sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                 fmin=fmin, fmax=fmax, htk=htk, top_db=top_db, lifter=lifter, pad_mode=pad_mode)
        if not deltas:
            return M
        return jnp.concatenate([M, delta(M, delta_width, 1), delta(M, delta_width, 2)], axis=-1)

    return fn


__all__ = [
    "FRONTENDS", "COMPRESSIONS", "STANDARDIZATIONS", "WEIGHTINGS", "register", "make_frontend", "output_frames",
    "output_shape", "output_bins", "frontend_config",
]
