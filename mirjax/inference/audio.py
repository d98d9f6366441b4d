"""Audio files → fixed-length windows at a model's sample rate, in bounded memory.

Files that libsndfile reads (wav, flac, ogg, mp3 with recent builds, …) are streamed in blocks of
`block_seconds`, mixed to mono and resampled chunk by chunk (soxr's streaming resampler), so an hour of audio never
sits in memory at once. Other containers fall back to `mirjax.data.audio.load_audio` (whole file, librosa's
decoders). Every problem with a file is an `AudioError` naming it and the reason; callers skip the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import soundfile as sf
import soxr

from mirjax.data.audio import AudioError, check_file, load_audio

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".au", ".opus", ".wma")


def find_audio(paths: Iterable[str]) -> list[str]:
    """Files given, and audio files (by extension) under folders given, recursively, sorted within each folder.
    A path that does not exist is kept: it is reported as a bad file later, not silently dropped."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(AUDIO_EXTENSIONS)]
        else:
            found.append(path)
    return found


def window_starts(num_samples: int, window: int, hop: int) -> range:
    """Start offsets of the windows of a clip: from 0 every `hop` samples while a whole window fits; a clip
    shorter than one window gets one (zero-padded) window."""
    return range(0, max(num_samples - window, 0) + 1, hop)


def _blocks(path: str, sample_rate: int, block_seconds: float) -> Iterator[np.ndarray]:
    """Mono float32 blocks at `sample_rate`; raises AudioError for unreadable files."""
    check_file(path)
    try:
        f = sf.SoundFile(path)
    except Exception:  # noqa: BLE001 - a container libsndfile cannot open: librosa's decoders read it whole
        yield load_audio(path, sample_rate)
        return
    with f:
        native = int(f.samplerate)
        stream = soxr.ResampleStream(native, sample_rate, 1, dtype="float32") if native != sample_rate else None
        block = max(int(block_seconds * native), 1)
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as e:  # noqa: BLE001
                raise AudioError(path, f"corrupt audio after {f.tell() / native:.1f} s ({type(e).__name__}: {e})") \
                    from None
            last = len(data) < block
            mono = np.nan_to_num(data.mean(axis=1), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=last)
            if len(mono):
                yield mono
            if last:
                return


def windows(path: str, sample_rate: int, window: int, hop: int, min_samples: int = 1,
            block_seconds: float = 60.0) -> Iterator[np.ndarray]:
    """The `window`-sample windows (every `hop` samples) of the file at `path`, at `sample_rate`, as they are read.
    A file shorter than one window gives one zero-padded window if it has at least `min_samples` samples; shorter
    or empty files raise AudioError."""
    buf = np.zeros(0, np.float32)
    consumed = 0  # samples dropped from the front of `buf`
    next_start, total, emitted = 0, 0, 0
    for block in _blocks(path, sample_rate, block_seconds):
        buf = np.concatenate([buf, block])
        total += len(block)
        while next_start + window <= consumed + len(buf):
            a = next_start - consumed
            yield buf[a:a + window]
            emitted += 1
            next_start += hop
        drop = min(next_start - consumed, len(buf))
        buf, consumed = buf[drop:], consumed + drop
    if total == 0:
        raise AudioError(path, "contains no audio samples")
    if emitted == 0:
        if total < min_samples:
            raise AudioError(path, f"too short ({total / sample_rate:.2f} s; needs at least "
                                   f"{min_samples / sample_rate:.2f} s)")
        yield np.pad(buf[:window], (0, window - min(len(buf), window)))


def duration_seconds(path: str) -> float | None:
    try:
        return float(sf.info(path).duration)
    except Exception:  # noqa: BLE001 - unknown before decoding
        return None
