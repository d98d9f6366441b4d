"""Robust audio file I/O for dataset builders that read real, user-downloaded data.

Real corpora (MagnaTagATune, GTZAN, ...) contain a few broken files: empty mp3s, truncated
downloads, files full of NaNs. ``load_audio`` turns each of these into one ``AudioError`` naming
the file and the reason, and ``load_many`` collects them instead of raising, so that a builder can
skip and report them. Silent audio is valid data and is returned as is.

Arrays are float32; mono audio is ``(samples,)`` and multi-channel audio ``(channels, samples)``,
the librosa convention.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable

import numpy as np
import soundfile as sf

from mirjax.errors import UserError

__all__ = ["AudioError", "PAD_MODES", "check_file", "load_audio", "fix_length", "load_many"]

logger = logging.getLogger(__name__)

PAD_MODES = ("repeat", "zero", "reflect")


class AudioError(Exception):
    """A file that cannot be turned into audio. ``path`` and ``reason`` are kept as attributes."""

    def __init__(self, path, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _describe(exc: BaseException) -> str:
    # Some decoders (audioread) raise exceptions with empty messages; the type name still helps.
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _decode(path: str) -> tuple[np.ndarray, int]:
    """Decodes ``path`` to ``(channels, frames)`` float32 and its native sample rate."""
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
        return data.T, int(sr)
    except Exception as sf_exc:  # noqa: BLE001 - any decoder failure falls through to librosa.
        sf_reason = _describe(sf_exc)
    # libsndfile cannot read some containers (older builds: mp3; m4a/aac always): let librosa try
    # its audioread backends. Its "PySoundFile failed" warnings are noise here.
    try:
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, sr = librosa.load(path, sr=None, mono=False, dtype=np.float32)
    except Exception as lr_exc:  # noqa: BLE001
        raise AudioError(
            path, f"unreadable or corrupt audio (soundfile: {sf_reason}; librosa: {_describe(lr_exc)})"
        ) from None
    data = np.atleast_2d(np.asarray(data, dtype=np.float32))
    return data, int(sr)


def check_file(path: str) -> None:
    """AudioError unless `path` is a non-empty regular file."""
    if not os.path.exists(path):
        raise AudioError(path, "file not found")
    if not os.path.isfile(path):
        raise AudioError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError(path, "empty file (0 bytes)")


def load_audio(path, sample_rate: int, mono: bool = True) -> np.ndarray:
    """Loads an audio file as float32 at ``sample_rate`` Hz.

    Args:
      path: file path (str or PathLike).
      sample_rate: target rate in Hz; files at another rate are resampled with soxr (librosa).
      mono: average the channels to ``(samples,)``; else return ``(channels, samples)``.
    Raises:
      AudioError: missing file, unreadable/corrupt file, no samples, or only NaN/inf samples.
    NaN/inf samples in otherwise valid audio are set to 0 and their count is logged as a warning.
    """
    path = os.fspath(path)
    if sample_rate is None or sample_rate <= 0:
        raise UserError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    check_file(path)

    audio, native_sr = _decode(path)
    if audio.size == 0:
        raise AudioError(path, "contains no audio samples")

    finite = np.isfinite(audio)
    n_bad = int(audio.size - np.count_nonzero(finite))
    if n_bad == audio.size:
        raise AudioError(path, f"all {n_bad} samples are NaN or infinite")
    if n_bad:
        # A few bad samples in long real recordings should not cost the whole clip.
        logger.warning("%s: replaced %d NaN/inf samples (of %d) by 0", path, n_bad, audio.size)
        audio = np.where(finite, audio, np.float32(0.0))

    if mono:
        audio = audio.mean(axis=0)
    if native_sr != sample_rate:
        import librosa  # Lazy: only needed when rates differ, and slow to import.

        try:
            audio = librosa.resample(
                audio, orig_sr=native_sr, target_sr=sample_rate, res_type="soxr_hq", axis=-1
            )
        except Exception as exc:  # noqa: BLE001
            raise AudioError(path, f"resampling {native_sr} Hz -> {sample_rate} Hz failed ({_describe(exc)})") from None
        if audio.shape[-1] == 0:
            raise AudioError(path, f"no samples left after resampling {native_sr} Hz -> {sample_rate} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32)


def fix_length(audio: np.ndarray, num_samples: int, mode: str = "repeat") -> np.ndarray:
    """Pads or truncates the last (samples) axis to exactly ``num_samples``.

    Long clips keep their first ``num_samples``. Short clips are padded at the end by ``mode``:
    ``repeat`` (tile the clip, the default: keeps the music's statistics, unlike silence),
    ``zero`` (silence) or ``reflect`` (mirror about the last sample, repeatedly if needed).
    """
    if mode not in PAD_MODES:
        raise UserError(f"unknown pad mode {mode!r}; valid modes: {', '.join(PAD_MODES)}")
    if num_samples < 0:
        raise UserError(f"num_samples must be >= 0, got {num_samples}")
    audio = np.asarray(audio)
    n = audio.shape[-1]
    if n >= num_samples:
        return audio[..., :num_samples]
    pad = num_samples - n
    widths = [(0, 0)] * (audio.ndim - 1) + [(0, pad)]
    if mode == "zero":
        return np.pad(audio, widths, mode="constant")
    if n == 0:
        raise UserError(f"cannot {mode}-pad an empty clip; use mode='zero'")
    if mode == "repeat":
        return audio[..., np.arange(num_samples) % n]
    if n == 1:  # Reflection of a single sample is that sample.
        return np.pad(audio, widths, mode="edge")
    return np.pad(audio, widths, mode="reflect")


def load_many(
    paths: Iterable,
    sample_rate: int,
    mono: bool = True,
    num_samples: int | None = None,
    pad_mode: str = "repeat",
    progress: bool = True,
    desc: str = "loading audio",
) -> tuple[dict, list[tuple]]:
    """Loads many files, skipping bad ones instead of raising.

    Args:
      paths: file paths; they are the keys of the returned dict as given.
      sample_rate, mono: as in ``load_audio``.
      num_samples: if set, every clip goes through ``fix_length(..., num_samples, pad_mode)``.
      progress: show a tqdm bar (only when stderr is a terminal).
    Returns:
      ``(audio, skipped)``: ``{path: array}`` for the good files, in input order, and a list of
      ``(path, reason)`` for the files that could not be loaded.
    """
    from tqdm.auto import tqdm

    if pad_mode not in PAD_MODES:  # Fail on a bad argument now, not once per file.
        raise UserError(f"unknown pad mode {pad_mode!r}; valid modes: {', '.join(PAD_MODES)}")
    paths = list(paths)
    isatty = getattr(sys.stderr, "isatty", lambda: False)()
    loaded: dict = {}
    skipped: list[tuple] = []
    for path in tqdm(paths, desc=desc, unit="file", disable=not (progress and isatty)):
        try:
            audio = load_audio(path, sample_rate, mono=mono)
            if num_samples is not None:
                audio = fix_length(audio, num_samples, mode=pad_mode)
        except AudioError as exc:
            skipped.append((path, exc.reason))
            continue
        except Exception as exc:  # noqa: BLE001 - a single bad file must never stop a dataset build.
            skipped.append((path, _describe(exc)))
            continue
        loaded[path] = audio
    if skipped:
        logger.warning("skipped %d of %d audio files", len(skipped), len(paths))
    return loaded, skipped
