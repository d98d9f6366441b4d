"""Beat-aligned chroma + timbre (Dieleman thesis Ch. 2 §2.2.2): 24 values per beat.

The Million Song Dataset gives Echo Nest *segments* (roughly one per note onset), each with 12 chroma values in
[0, 1] (the strongest pitch class is 1) and 12 timbre coefficients (unbounded; the first is loudness-like), plus the
beat times. The thesis maps each segment to a beat and averages the segments of a beat. `beat_average` does that
for any timed sequence of feature vectors, so the same code aligns the MSD's segments (`mirjax.data.msd_echonest`)
and the audio frames of the offline analogue (`audio_beat_features`: librosa beat tracking, `chroma_stft` with the
same max-1 normalisation, and 12 MFCCs whose first one is loudness-like, as the Echo Nest timbre).

Shapes: `(segments, dims)` in, `(beats, dims)` out; times in seconds (or any one unit used throughout).
"""

from __future__ import annotations

import numpy as np

CHROMA_DIMS = 12
TIMBRE_DIMS = 12
BEAT_DIMS = CHROMA_DIMS + TIMBRE_DIMS


def beat_average(segment_starts: np.ndarray, features: np.ndarray, beat_starts: np.ndarray) -> np.ndarray:
    """Mean of the segments that start in each beat `[beat_starts[i], beat_starts[i+1])` (the last beat runs to the
    end); segments starting before the first beat belong to it. A beat in which no segment starts (inside one long
    segment) takes the segment that is sounding at its start: the last one that started before it.

    segment_starts: (segments,) sorted; features: (segments, dims); beat_starts: (beats,) sorted.
    Returns (beats, dims) float32. No segments → ValueError; no beats → (0, dims).
    """
    starts = np.asarray(segment_starts, np.float64).reshape(-1)
    feats = np.asarray(features, np.float64)
    beats = np.asarray(beat_starts, np.float64).reshape(-1)
    if feats.ndim != 2 or feats.shape[0] != starts.shape[0]:
        raise ValueError(f"features of shape {feats.shape} do not match {starts.shape[0]} segment start times")
    if starts.shape[0] == 0:
        raise ValueError("no segments to average")
    if beats.shape[0] == 0:
        return np.zeros((0, feats.shape[1]), np.float32)
    beat_of = np.clip(np.searchsorted(beats, starts, side="right") - 1, 0, None)
    sums = np.zeros((beats.shape[0], feats.shape[1]))
    np.add.at(sums, beat_of, feats)
    counts = np.bincount(beat_of, minlength=beats.shape[0]).astype(np.float64)
    # Beats without a segment start: the segment sounding at the beat's start.
    sounding = np.clip(np.searchsorted(starts, beats, side="right") - 1, 0, None)
    empty = counts == 0
    sums[empty] = feats[sounding[empty]]
    counts[empty] = 1.0
    return (sums / counts[:, None]).astype(np.float32)


def subdivide(beat_times: np.ndarray, subdivisions: int) -> np.ndarray:
    """Split every inter-beat interval into `subdivisions` equal steps (the last beat keeps the previous beat
    period). (beats,) → (beats × subdivisions,) sorted times."""
    beats = np.asarray(beat_times, np.float64).reshape(-1)
    if subdivisions <= 1 or beats.shape[0] < 2:
        return beats
    period = np.diff(beats)
    period = np.concatenate([period, period[-1:]])
    frac = np.arange(subdivisions) / subdivisions
    return (beats[:, None] + period[:, None] * frac[None, :]).reshape(-1)


def audio_beat_features(audio: np.ndarray, sample_rate: int, hop_length: int = 512, n_fft: int = 2048,
                        subdivisions: int = 1) -> np.ndarray:
    """The 24-d per-beat representation of a mono clip: `(steps, 24)` float32 = 12 chroma (`chroma_stft`, each
    frame's maximum 1, like the Echo Nest's) ‖ 12 timbre coefficients (MFCC 0-11; MFCC 0 is the loudness-like
    one), averaged over the frames of each beat. Beats from `librosa.beat.beat_track`; the stretch before the
    first beat is a step of its own, as in `librosa.util.sync`. `subdivisions` > 1 splits each beat into equal
    steps (used when clips are too short to hold enough whole beats). A clip where no beat is found is one step.
    """
    import librosa  # heavy import, only needed for the offline analogue

    y = np.asarray(audio, np.float32)
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2  # one STFT for all three
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=n_fft)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_fft=n_fft))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=TIMBRE_DIMS)
    frames = np.concatenate([chroma, mfcc], axis=0).T  # (frames, 24)
    onsets = librosa.onset.onset_strength(S=mel_db, sr=sample_rate)
    _, beat_frames = librosa.beat.beat_track(onset_envelope=onsets, sr=sample_rate, hop_length=hop_length)
    frame_times = librosa.frames_to_time(np.arange(frames.shape[0]), sr=sample_rate, hop_length=hop_length)
    beat_times = subdivide(librosa.frames_to_time(np.asarray(beat_frames), sr=sample_rate,
                                                  hop_length=hop_length), subdivisions)
    boundaries = np.unique(np.concatenate([[0.0], beat_times[beat_times > 0]]))
    return beat_average(frame_times, frames, boundaries)


def standardise_per_track(timbre: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Timbre normalised per track to zero mean and unit variance over its beats (thesis §2.5.2): (beats, d)."""
    t = np.asarray(timbre, np.float32)
    return (t - t.mean(axis=0, keepdims=True)) / (t.std(axis=0, keepdims=True) + eps)
