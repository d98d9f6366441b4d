"""Scorebank rendering: music21 corpus scores -> pretty_midi -> tinysoundfont audio, with tags.

Plain functions (no TFDS) used by the `scorebank` builder in `mirjax.data.scorebank`:

* `build_catalog()` lists candidate works per style from music21's bundled corpus metadata
  (no score parsing, plus the ABC `R:` field for O'Neill's dance types).
* `select_works()` chooses works and assigns each to train/validation/test by a seeded hash of its
  id (stratified 80/10/10 per style), so that all clips of a work share one split.
* `plan_jobs()` gives every clip its render settings (tempo class, dynamics, lead instrument family)
  from balanced, seeded schedules, so every tag is common.
* `render_work(job)` (the multiprocessing worker) parses one work, analyses its key, and renders
  each planned clip: notes -> `pretty_midi.PrettyMIDI` (a GM program per part, the tempo and
  velocities of the plan) -> tinysoundfont at 16 kHz with pretty_midi's bundled TimGM6mb.sf2.

Tags describe what is audible in the rendered clip:

* style: collection / genre of the work (chorale, renaissance_polyphony, madrigal, folk_song with
  folk_german / folk_chinese, irish_dance with reel / jig / hornpipe, scottish_air);
* instrument: the GM family of every rendered part (ensembles mix 1-3 families);
* tempo: slow / medium / fast from the *rendered note-onset rate* (distinct onsets per second over
  the clip). The rendered tempo is chosen so that this rate lands in the class's range; the
  equivalent pulse tempo is `bpm = 30 * onset_rate` (one beat per two onsets), which keeps the tag
  audible whatever the score's note values;
* mode: major / minor of the work's key (music21 `analyze('key')`);
* meter: duple (2/x, 4/x) / triple (3/x) / compound (6/x, 9/x, 12/x) of the bars in the clip,
  made audible by metrical accents (velocity x (0.5 + 0.5 w), w = music21's accent weight: the
  downbeat 1, other beats 0.5, off-beats <= 0.25, i.e. 2.5-6 dB below the downbeat);
* dynamics: soft / loud. TinySoundFont maps velocity to gain only (no timbre change), so a peak
  normalisation would erase the tag: clips are peak-normalised to -1 dBFS (loud) or -13 dBFS (soft);
* texture: monophonic / polyphonic from the rendered notes (>= 2 simultaneous notes during at
  least 25 % of the clip). Polyphonic works are sometimes rendered as their top voice alone and
  monophonic tunes sometimes get a tonic-fifth drone, so texture is not a proxy for style.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.errors import UserError

SAMPLE_RATE = 16000

# --- vocabulary -----------------------------------------------------------------------------

STYLES = (
    "chorale",                # J.S. Bach four-part chorales
    "renaissance_polyphony",  # Palestrina mass movements
    "madrigal",               # Monteverdi madrigals (books 3-5)
    "folk_german",            # Essen folk songs, German collections
    "folk_chinese",           # Essen folk songs, Han Chinese collections
    "reel",                   # O'Neill 1850 + Ryan's Mammoth
    "jig",
    "hornpipe",
    "scottish_air",           # Aird's Selection of Scotch, English, Irish and Foreign Airs
)

# Tags of the "style" category implied by each style (group tags + the leaf tag).
STYLE_TAGS = {
    "chorale": ("chorale",),
    "renaissance_polyphony": ("renaissance_polyphony",),
    "madrigal": ("madrigal",),
    "folk_german": ("folk_song", "folk_german"),
    "folk_chinese": ("folk_song", "folk_chinese"),
    "reel": ("irish_dance", "reel"),
    "jig": ("irish_dance", "jig"),
    "hornpipe": ("irish_dance", "hornpipe"),
    "scottish_air": ("scottish_air",),
}

# GM programs per instrument family as (program, lowest, highest) MIDI pitch that the program
# plays well; a part is given a program whose range holds its median pitch, else it is moved by
# octaves into the nearest range.
INSTRUMENT_FAMILIES = {
    "piano": ((0, 21, 108), (1, 21, 108), (2, 21, 108)),
    "organ": ((16, 24, 96), (19, 24, 96), (20, 36, 96)),
    "strings": ((40, 55, 100), (41, 48, 88), (42, 36, 76), (48, 28, 100), (49, 28, 100)),
    "brass": ((56, 55, 84), (60, 41, 77), (57, 36, 72), (58, 24, 58), (61, 36, 84)),
    "reed": ((68, 58, 91), (71, 50, 91), (64, 56, 88), (65, 49, 81), (69, 52, 81),
             (70, 34, 72)),
    "flute": ((73, 60, 96), (72, 74, 108), (74, 60, 96), (75, 60, 96), (79, 60, 96)),
    "guitar": ((24, 40, 84), (25, 40, 84), (26, 40, 84), (27, 40, 84)),
    "plucked": ((46, 24, 103), (45, 36, 96), (105, 48, 84), (107, 48, 96)),
    "choir": ((52, 36, 84), (53, 36, 84)),
    "synth": ((80, 36, 96), (81, 36, 96), (87, 36, 96)),
    "mallet": ((12, 45, 96), (11, 53, 89), (13, 65, 108), (8, 60, 108)),
}
FAMILIES = tuple(INSTRUMENT_FAMILIES)
# Families that can hold a drone (sustained tone) under a monophonic tune.
DRONE_FAMILIES = ("organ", "strings", "reed", "choir", "synth", "brass")

# Tempo classes as ranges of rendered note-onset rate (distinct onsets per second). A clip is
# labelled by its *measured* rate with the thresholds between the ranges.
TEMPO_RANGES = {"slow": (1.5, 2.1), "medium": (2.7, 3.5), "fast": (4.3, 5.5)}
TEMPO_THRESHOLDS = (2.4, 3.9)
QPM_LIMITS = (24.0, 400.0)  # wide: Palestrina moves in half and whole notes

DYNAMICS_PEAK_DBFS = {"soft": -13.0, "loud": -1.0}
DYNAMICS_VELOCITY = {"soft": 56.0, "loud": 100.0}

TAG_CATEGORIES = {}
for _t in ("chorale", "renaissance_polyphony", "madrigal", "folk_song", "folk_german",
           "folk_chinese", "irish_dance", "reel", "jig", "hornpipe", "scottish_air"):
    TAG_CATEGORIES[_t] = "style"
for _t in FAMILIES:
    TAG_CATEGORIES[_t] = "instrument"
for _t in TEMPO_RANGES:
    TAG_CATEGORIES[_t] = "tempo"
for _t in ("major", "minor"):
    TAG_CATEGORIES[_t] = "mode"
for _t in ("duple", "triple", "compound"):
    TAG_CATEGORIES[_t] = "meter"
for _t in DYNAMICS_PEAK_DBFS:
    TAG_CATEGORIES[_t] = "dynamics"
for _t in ("monophonic", "polyphonic"):
    TAG_CATEGORIES[_t] = "texture"
del _t
TAG_NAMES = tuple(TAG_CATEGORIES)
CATEGORIES = ("style", "instrument", "tempo", "mode", "meter", "dynamics", "texture")

TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = tuple(f"{t} {m}" for m in ("major", "minor") for t in TONICS)
COMPOSERS = ("unknown", "J.S. Bach", "Palestrina", "Monteverdi")

# Render-variation probabilities.
P_SOLO_TOP_VOICE = 0.2   # polyphonic work rendered as its top voice alone
P_DRONE = 0.3            # monophonic tune rendered over a tonic-fifth drone
N_FAMILIES_PROBS = (0.45, 0.4, 0.15)  # 1, 2 or 3 instrument families in an ensemble
PREROLL_S = 1.0          # rendered before the clip so that notes sounding at its start are heard
MAX_START_TRIES = 4      # excerpt starts tried before a clip is given up as silent

SKIP_REASONS = ("parse", "score", "key", "meter", "silent")


# --- hashing / seeds ------------------------------------------------------------------------

def _hash_int(*parts) -> int:
    """Stable 64-bit integer from the string forms of `parts` (Python's hash() is salted)."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little")


def split_sizes(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> dict[str, int]:
    """Works per split for n works of one style: validation and test get >= 1 once n >= 3."""
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    return {"train": n - n_val - n_test, "validation": n_val, "test": n_test}


# --- catalog --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WorkRef:
    """One work of the music21 corpus: `path` relative to the corpus, `number` of a multi-tune file."""
    work_id: str
    path: str
    number: int | None
    style: str
    composer: str = "unknown"
    title: str = ""
    split: str = ""  # set by select_works
    meter_hint: int = -1  # meter_code of the metadata's first time signature (-1 unknown)


_GERMAN_ESSEN = ("altdeu", "ballad", "boehme", "dva", "erk", "fink", "kinder", "zuccal")
_DANCE_OF_RTYPE = {"reel": "reel", "jig": "jig", "double jig": "jig", "slip jig": "jig",
                   "slipjig": "jig", "hornpipe": "hornpipe"}
_RYAN_DANCE = (("Hornpipe", "hornpipe"), ("Slipjig", "jig"), ("Jig", "jig"), ("Reel", "reel"))


def corpus_dir() -> str:
    from music21 import common
    return str(common.getCorpusFilePath())


def _abc_field_by_tune(path: str, field: str) -> dict[int, str]:
    """{X: number -> first `field:` value} of a multi-tune ABC file."""
    out, cur = {}, None
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = re.match(r"^X:\s*(\d+)", line)
            if m:
                cur = int(m.group(1))
                continue
            if cur is not None and cur not in out and line.startswith(field + ":"):
                out[cur] = line[len(field) + 1:].strip()
    return out


def _norm_title(title: str) -> str:
    t = (title or "").lower().split("--")[0]
    t = re.sub(r"[^a-z]", "", t)
    return t[3:] if t.startswith("the") else t


def _composer(path: str, md_composer: str | None) -> str:
    col = path.split("/")[0]
    if col == "bach":
        return "J.S. Bach"
    if col == "palestrina":
        return "Palestrina"
    if col == "monteverdi":
        return "Monteverdi"
    return "unknown"


def build_catalog() -> dict[str, list[WorkRef]]:
    """Candidate works per style, sorted by work id. Reads metadata only (about 2 s)."""
    from music21 import corpus

    base = corpus_dir()
    rtypes: dict[str, dict[int, str]] = {}
    cands: dict[str, list[WorkRef]] = {s: [] for s in STYLES}
    dance_titles: set[str] = set()
    entries = []
    for e in corpus.corpora.CoreCorpus().metadataBundle[:]:  # slicing: one pass (indexing is O(n))
        if e.metadata is None:
            continue
        path = str(e.sourcePath)
        entries.append((path, e.number, e.metadata))
    entries.sort(key=lambda x: (x[0], x[1] or 0))
    for path, number, md in entries:
        col, fname = path.split("/", 1) if "/" in path else ("", path)
        style = None
        if col == "bach":
            if re.fullmatch(r"bwv\d+(\.\d+)?\.mxl", fname) and md.numberOfParts == 4:
                style = "chorale"
        elif col == "palestrina" and fname.endswith(".krn"):
            style = "renaissance_polyphony"
        elif col == "monteverdi" and fname.endswith(".mxl") and "_old" not in fname:
            style = "madrigal"
        elif col == "essenFolksong":
            if fname.startswith(("han1", "han2")):
                style = "folk_chinese"
            elif fname.startswith(_GERMAN_ESSEN):
                style = "folk_german"
        elif col == "oneills1850":
            if path not in rtypes:
                rtypes[path] = _abc_field_by_tune(os.path.join(base, path), "R")
            style = _DANCE_OF_RTYPE.get(rtypes[path].get(number, "").lower())
        elif col == "ryansMammoth":
            stem = fname.rsplit(".", 1)[0]
            style = next((s for suffix, s in _RYAN_DANCE if stem.endswith(suffix)), None)
        elif col == "airdsAirs":
            style = "scottish_air"
        if style is None:
            continue
        ts = str(md.timeSignatureFirst or "")
        hint = meter_code(int(ts.split("/")[0])) if re.fullmatch(r"\d+/\d+", ts) else -1
        if style in ("reel", "jig", "hornpipe"):
            # The dance types have their meter: reels and hornpipes duple, jigs compound (6/8, 9/8).
            if hint != (2 if style == "jig" else 0):
                continue
            # O'Neill and Ryan share tunes: keep one copy so a tune cannot sit in two splits.
            key = _norm_title(md.title or "")
            if key and key in dance_titles:
                continue
            dance_titles.add(key)
        work_id = path if number is None else f"{path}#{number}"
        cands[style].append(WorkRef(work_id, path, number, style, _composer(path, md.composer),
                                    str(md.title or ""), meter_hint=hint))
    for s in cands:
        cands[s].sort(key=lambda w: w.work_id)
    return cands


def _meter_round_robin(works: Sequence[WorkRef], n: int) -> list[WorkRef]:
    """First n works, taking duple / triple / compound in turn (from the metadata's time signature).

    Triple and compound meters are a minority of the corpus; alternating makes the meter tags less
    rare. Works whose metadata meter is unknown come last.
    """
    groups = [[w for w in works if w.meter_hint == c] for c in range(len(METERS))]
    out, i = [], 0
    while len(out) < n and any(i < len(g) for g in groups):
        out += [g[i] for g in groups if i < len(g)][:n - len(out)]
        i += 1
    out += [w for w in works if w.meter_hint < 0][:n - len(out)]
    return out


def style_order(catalog: Mapping[str, Sequence[WorkRef]], style: str, seed: int) -> list[WorkRef]:
    """All candidates of a style in selection order: a seeded hash order of their ids, alternating
    meters except for the dance types (whose meter is part of the type)."""
    ordered = sorted(catalog.get(style, ()), key=lambda w: _hash_int(seed, "order", w.work_id))
    if style in ("reel", "jig", "hornpipe"):
        return ordered
    return _meter_round_robin(ordered, len(ordered))


def select_works(catalog: Mapping[str, Sequence[WorkRef]], works_per_style: Mapping[str, int],
                 seed: int) -> list[WorkRef]:
    """`works_per_style[s]` works of each style, each with its split (train/validation/test).

    The first works of `style_order` are ranked by a second seeded hash and cut 80/10/10, so every
    split holds every style and all clips of a work share its split. Everything depends only on
    (seed, work ids).
    """
    chosen = []
    for style in STYLES:
        n = int(works_per_style.get(style, 0))
        if n <= 0:
            continue
        pool = style_order(catalog, style, seed)[:n]
        pool.sort(key=lambda w: _hash_int(seed, "split", w.work_id))
        sizes = split_sizes(len(pool))
        cuts = np.cumsum([0, sizes["train"], sizes["validation"], sizes["test"]])
        for name, lo, hi in zip(("train", "validation", "test"), cuts[:-1], cuts[1:]):
            chosen += [dataclasses.replace(w, split=name) for w in pool[lo:hi]]
    return sorted(chosen, key=lambda w: w.work_id)


# --- plans ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ClipPlan:
    clip_index: int
    seed: int
    tempo: str
    dynamics: str
    family: str  # lead family; an ensemble may add others


@dataclasses.dataclass(frozen=True)
class WorkJob:
    work: WorkRef
    clips: tuple[ClipPlan, ...]
    clip_seconds: float = 10.0
    sample_rate: int = SAMPLE_RATE


def _balanced(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n labels in [0, k), each used floor(n/k) or ceil(n/k) times, in random order."""
    return rng.permutation(np.arange(n) % k)


def plan_jobs(works: Sequence[WorkRef], clips_per_style: Mapping[str, int], seed: int,
              clip_seconds: float = 10.0, sample_rate: int = SAMPLE_RATE) -> list[WorkJob]:
    """One job per work; tempo, dynamics and lead family follow balanced seeded schedules."""
    slots = [(w, c) for w in works for c in range(max(1, int(clips_per_style.get(w.style, 1))))]
    rng = np.random.default_rng(_hash_int(seed, "plan", len(slots)))
    tempo_names, dyn_names = tuple(TEMPO_RANGES), tuple(DYNAMICS_PEAK_DBFS)
    tempo = _balanced(len(slots), len(tempo_names), rng)
    dyn = _balanced(len(slots), len(dyn_names), rng)
    fam = _balanced(len(slots), len(FAMILIES), rng)
    per_work: dict[str, list[ClipPlan]] = {}
    for i, (w, c) in enumerate(slots):
        per_work.setdefault(w.work_id, []).append(ClipPlan(
            clip_index=c, seed=_hash_int(seed, "clip", w.work_id, c), tempo=tempo_names[tempo[i]],
            dynamics=dyn_names[dyn[i]], family=FAMILIES[fam[i]]))
    return [WorkJob(w, tuple(per_work[w.work_id]), float(clip_seconds), int(sample_rate))
            for w in works]


# --- score -> notes -------------------------------------------------------------------------

@dataclasses.dataclass
class ScoreNotes:
    """Notes of a score in quarter lengths (ql).

    parts: per part, float array (n, 4) of [onset_ql, duration_ql, midi_pitch, accent_weight].
    bars: float array (m, 3) of [offset_ql, bar_ql, meter_code] of the first part's bars
      (meter_code 0 duple, 1 triple, 2 compound, -1 other).
    length_ql: end of the score.
    """
    parts: list[np.ndarray]
    bars: np.ndarray
    length_ql: float


METERS = ("duple", "triple", "compound")


def meter_code(numerator: int) -> int:
    if numerator in (2, 4):
        return 0
    if numerator == 3:
        return 1
    if numerator in (6, 9, 12):
        return 2
    return -1


def extract_notes(score) -> ScoreNotes:
    """Parts' notes with ties merged, accents from the time signature (pickups included).

    Repeats are not expanded: excerpts only need a stretch of continuous music, and skipping the
    expansion avoids the 'badly formed repeats' failures of music21's MIDI writer on ABC tunes.
    """
    from music21 import harmony, stream

    parts = list(score.parts) or [score]
    out_parts, bars = [], []
    for pi, part in enumerate(parts):
        rows, open_ties = [], {}
        ts = None
        measures = list(part.getElementsByClass(stream.Measure))
        if not measures:
            measures = [part]
        for m in measures:
            if isinstance(m, stream.Measure) and m.timeSignature is not None:
                ts = m.timeSignature
            moff = float(m.offset) if isinstance(m, stream.Measure) else 0.0
            pad = float(getattr(m, "paddingLeft", 0.0) or 0.0)
            if pi == 0 and ts is not None and isinstance(m, stream.Measure):
                bar_ql = float(ts.barDuration.quarterLength)
                bars.append((moff - pad, bar_ql, meter_code(int(ts.numerator))))
            elems = []
            for el in m:
                if isinstance(el, stream.Voice):
                    elems.extend((float(el.offset) + float(n.offset), n) for n in el.notes)
                elif getattr(el, "isNote", False) or getattr(el, "isChord", False):
                    elems.append((float(el.offset), el))
            for off, el in elems:
                if isinstance(el, harmony.ChordSymbol) or el.duration.isGrace:
                    continue
                dur = float(el.duration.quarterLength)
                if dur <= 0:
                    continue
                onset = moff + off
                weight = 0.5
                if ts is not None:
                    try:
                        weight = float(ts.getAccentWeight(off + pad, forcePositionMatch=True))
                    except Exception:  # unusual meters: fall back to a neutral accent
                        weight = 0.5
                members = el.notes if getattr(el, "isChord", False) else (el,)
                for n in members:
                    midi = int(n.pitch.midi)
                    tie = n.tie if n.tie is not None else getattr(el, "tie", None)
                    ttype = tie.type if tie is not None else None
                    j = open_ties.pop(midi, None)
                    # Merge only a contiguous same-pitch continuation: ABC slurs often come out of music21
                    # as "ties" between different pitches, which must both sound.
                    if ttype in ("continue", "stop") and j is not None and abs(
                        rows[j][0] + rows[j][1] - onset) < 1e-6:
                        rows[j][1] = onset + dur - rows[j][0]
                        if ttype == "continue":
                            open_ties[midi] = j
                        continue
                    rows.append([onset, dur, float(midi), weight])
                    if ttype == "start":
                        open_ties[midi] = len(rows) - 1
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        if len(arr):
            out_parts.append(arr[np.lexsort((arr[:, 2], arr[:, 0]))])
    if not out_parts:
        raise UserError("score has no notes")
    length = max(float(p[:, 0].max() + p[:, 1][p[:, 0].argmax()]) for p in out_parts)
    length = max(length, max(float((p[:, 0] + p[:, 1]).max()) for p in out_parts))
    bars_arr = np.asarray(bars, dtype=np.float64).reshape(-1, 3)
    if len(bars_arr):
        length = max(length, float(bars_arr[-1, 0] + bars_arr[-1, 1]))
    return ScoreNotes(out_parts, bars_arr, length)


def analyze_key(score) -> tuple[str, str]:
    """(key name in KEYS, mode) from music21's key analysis of the whole work."""
    k = score.analyze("key")
    mode = "minor" if k.mode == "minor" else "major"
    return f"{TONICS[k.tonic.pitchClass]} {mode}", mode


# --- synthesis ------------------------------------------------------------------------------

def require_synthesizer() -> None:
    """A one-line UserError unless tinysoundfont imports.

    It is not a dependency of the package: its metadata requires pyaudio (playback, never used here), which
    does not build without the portaudio headers, so `make` installs it with --no-deps. Without this check
    every render would fail inside the per-clip error handling and each work would be skipped as "silent".
    """
    try:
        import tinysoundfont  # noqa: F401
    except ImportError as e:
        raise UserError(f"scorebank: rendering needs tinysoundfont, which is not installed ({e}); install it "
                        f"with `pip install --no-deps tinysoundfont` (`make` does this)") from None


def soundfont_path() -> str:
    import pretty_midi
    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


@functools.lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    with open(soundfont_path(), "rb") as f:
        return f.read()


def synthesize(pm, n_samples: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 render of a `pretty_midi.PrettyMIDI` with tinysoundfont, `n_samples` long.

    Each instrument gets its own channel and program. A fresh synthesizer per call keeps renders
    independent of earlier ones (exactly reproducible).
    """
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    sfid = synth.sfload(_soundfont_bytes())
    channels = [c for c in range(16) if c != 9]
    events = []  # (sample, order, channel, key, velocity); note-offs before note-ons
    for i, inst in enumerate(pm.instruments):
        ch = channels[i % len(channels)]
        synth.program_select(ch, sfid, 0, int(inst.program))
        for n in inst.notes:
            s0 = int(round(n.start * sample_rate))
            s1 = int(round(n.end * sample_rate))
            if s0 >= n_samples or s1 <= s0:
                continue
            events.append((s0, 1, ch, int(n.pitch), int(n.velocity)))
            events.append((min(s1, n_samples), 0, ch, int(n.pitch), 0))
    events.sort()
    buf = np.zeros((n_samples, 2), dtype=np.float32)
    view = memoryview(buf.reshape(-1)).cast("B")
    frame_bytes = 2 * 4
    pos = 0
    for s, kind, ch, key, vel in events:
        if s > pos:
            synth.generate_simple(s - pos, buffer=view[pos * frame_bytes:s * frame_bytes])
            pos = s
        if kind:
            synth.noteon(ch, key, vel)
        else:
            synth.noteoff(ch, key)
    if pos < n_samples:
        synth.generate_simple(n_samples - pos, buffer=view[pos * frame_bytes:])
    return buf.mean(axis=1)


def silence_report(audio: np.ndarray, sample_rate: int, frame_s: float = 0.1,
                   rel_db: float = -60.0) -> tuple[float, float]:
    """(fraction of silent frames, longest silent run in seconds); silent = RMS below peak+rel_db."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return 1.0, len(audio) / sample_rate
    hop = max(1, int(frame_s * sample_rate))
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    silent = rms < peak * 10 ** (rel_db / 20)
    longest, run = 0, 0
    for v in silent:
        run = run + 1 if v else 0
        longest = max(longest, run)
    return float(silent.mean()), longest * frame_s


def is_silent(audio: np.ndarray, sample_rate: int) -> bool:
    frac, longest = silence_report(audio, sample_rate)
    return frac > 0.25 or longest > 1.5


def to_int16(audio: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Peak-normalise float audio to `peak_dbfs` and quantise to int16."""
    peak = float(np.max(np.abs(audio)))
    y = audio * (10 ** (peak_dbfs / 20) / peak)
    return np.clip(np.round(y * 32767.0), -32767, 32767).astype(np.int16)


# --- one clip -------------------------------------------------------------------------------

@dataclasses.dataclass
class Voice:
    notes: np.ndarray  # (n, 4) onset_ql, dur_ql, pitch, accent weight
    family: str
    program: int
    is_drone: bool = False


def _pick_program(family: str, median_pitch: float, rng: np.random.Generator) -> tuple[int, int]:
    """(program, octave shift in semitones) of `family` for a part of median pitch."""
    progs = INSTRUMENT_FAMILIES[family]
    fits = [p for p in progs if p[1] <= median_pitch <= p[2]]
    if fits:
        p = fits[rng.integers(len(fits))]
        return p[0], 0
    best = None
    for p in progs:
        for shift in (12, -12, 24, -24, 36, -36):
            if p[1] <= median_pitch + shift <= p[2]:
                if best is None or abs(shift) < abs(best[1]):
                    best = (p[0], shift)
                break
    return best if best is not None else (progs[0][0], 0)


def _drone_notes(sn: ScoreNotes, tonic_pc: int, lowest: float) -> np.ndarray:
    """Tonic and fifth below the tune, re-struck every bar."""
    root = 36 + ((tonic_pc - 36) % 12)
    while root + 7 < lowest - 4 and root + 12 <= 55:
        root += 12
    bars = sn.bars if len(sn.bars) else np.array([[0.0, 4.0, 0]])
    rows = []
    for off, bar_ql, _ in bars:
        off = max(off, 0.0)
        for p in (root, root + 7):
            rows.append([off, bar_ql, float(p), 1.0])
    return np.asarray(rows, dtype=np.float64)


def _tile(arr: np.ndarray, period: float, n: int, col: int = 0) -> np.ndarray:
    if n <= 1 or not len(arr):
        return arr
    reps = []
    for k in range(n):
        a = arr.copy()
        a[:, col] += k * period
        reps.append(a)
    return np.concatenate(reps)


def _texture(voices: Sequence[Voice], start: float, end: float) -> float:
    """Fraction of [start, end) ql with >= 2 notes sounding."""
    grid = np.linspace(start, end, 400, endpoint=False)
    count = np.zeros_like(grid)
    for v in voices:
        on, off = v.notes[:, 0], v.notes[:, 0] + v.notes[:, 1]
        m = (off > start) & (on < end)
        for a, b in zip(on[m], off[m]):
            count += (grid >= a) & (grid < b)
    return float(np.mean(count >= 2))


def render_clip(sn: ScoreNotes, key_name: str, plan: ClipPlan, n_clips: int,
                clip_seconds: float, sample_rate: int, attempt: int = 0):
    """Render one planned clip (try `attempt` of its seeded choices).

    Returns (float32 mono audio, the PrettyMIDI that was synthesised, info dict), or "meter" when
    the bars under the excerpt have no duple/triple/compound meter, or None when the render is
    silent. The PrettyMIDI's times start `PREROLL_S` before the clip.
    """
    import pretty_midi

    rng = np.random.default_rng([plan.seed, attempt])
    parts = sn.parts
    polyphonic_work = len(parts) > 1
    order = sorted(range(len(parts)), key=lambda i: -float(np.median(parts[i][:, 2])))
    if polyphonic_work and rng.random() < P_SOLO_TOP_VOICE:
        part_ids = [order[0]]
    else:
        part_ids = list(range(len(parts)))
    drone = (not polyphonic_work) and rng.random() < P_DRONE

    # Instrument families: the planned lead family plus up to two others for ensembles.
    n_voices = len(part_ids) + (1 if drone else 0)
    families = [plan.family]
    if n_voices > 1:
        if drone:
            if rng.random() < 0.7:
                families.append(DRONE_FAMILIES[rng.integers(len(DRONE_FAMILIES))])
        else:
            nf = 1 + int(rng.choice(len(N_FAMILIES_PROBS), p=N_FAMILIES_PROBS))
            others = [f for f in FAMILIES if f != plan.family]
            extra = rng.permutation(len(others))[:min(nf, n_voices) - 1]
            families += [others[i] for i in extra]
    families = list(dict.fromkeys(families))
    if drone:
        part_fams = [families[0]]
        drone_fam = families[-1]
    else:
        slots = list(families) + [families[rng.integers(len(families))]
                                  for _ in range(len(part_ids) - len(families))]
        part_fams = [slots[i] for i in rng.permutation(len(slots))][:len(part_ids)]

    voices = []
    for pid, fam in zip(part_ids, part_fams):
        notes = parts[pid]
        prog, shift = _pick_program(fam, float(np.median(notes[:, 2])), rng)
        notes = notes.copy()
        notes[:, 2] = np.clip(notes[:, 2] + shift, 12, 120)
        voices.append(Voice(notes, fam, prog))
    if drone:
        tonic_pc = TONICS.index(key_name.split()[0])
        dn = _drone_notes(sn, tonic_pc, float(voices[0].notes[:, 2].min()))
        prog, _ = _pick_program(drone_fam, float(np.median(dn[:, 2])), rng)
        voices.append(Voice(dn, drone_fam, prog, is_drone=True))

    # Loop the piece so that any start has enough music after it (folk tunes are short).
    period = sn.length_ql
    first_onsets = np.unique(np.concatenate([v.notes[:, 0] for v in voices if not v.is_drone]))
    first_onsets = first_onsets[first_onsets < period]
    seg = np.array_split(np.arange(len(first_onsets)), max(1, n_clips))[plan.clip_index % max(1, n_clips)]
    if not len(seg):
        seg = np.arange(len(first_onsets))
    start = float(first_onsets[seg[rng.integers(len(seg))]])
    max_window_ql = clip_seconds * QPM_LIMITS[1] / 60.0 + PREROLL_S * QPM_LIMITS[1] / 60.0
    n_tiles = int(np.ceil((start + max_window_ql) / period)) + 1
    for v in voices:
        v.notes = _tile(v.notes, period, n_tiles)
    bars = _tile(sn.bars, period, n_tiles) if len(sn.bars) else sn.bars
    onsets = np.unique(np.concatenate([v.notes[:, 0] for v in voices]))

    # Tempo: seconds per quarter so that the clip's onset rate hits the planned class.
    lo, hi = TEMPO_RANGES[plan.tempo]
    target = float(rng.uniform(lo, hi))
    spq_lim = (60.0 / QPM_LIMITS[1], 60.0 / QPM_LIMITS[0])
    density = len(first_onsets) / period
    spq = float(np.clip(density / target, *spq_lim))
    for _ in range(6):
        w = clip_seconds / spq
        cnt = np.count_nonzero((onsets >= start) & (onsets < start + w))
        spq = float(np.clip((cnt / w) / target, *spq_lim))
    w = clip_seconds / spq
    rate = np.count_nonzero((onsets >= start) & (onsets < start + w)) / clip_seconds
    tempo = "slow" if rate < TEMPO_THRESHOLDS[0] else ("medium" if rate < TEMPO_THRESHOLDS[1]
                                                       else "fast")

    # Meter of the bars under the clip (weighted by overlap).
    meter = None
    if len(bars):
        b0, b1 = bars[:, 0], bars[:, 0] + bars[:, 1]
        ov = np.clip(np.minimum(b1, start + w) - np.maximum(b0, start), 0, None)
        votes = np.zeros(3)
        for code, o in zip(bars[:, 2].astype(int), ov):
            if code >= 0:
                votes[code] += o
        if votes.sum() > 0.5 * ov.sum() and votes.sum() > 0:
            meter = METERS[int(np.argmax(votes))]
    if meter is None:
        return "meter"

    # Notes -> PrettyMIDI (seconds from the start of the pre-roll).
    pre_ql = PREROLL_S / spq
    base_vel = DYNAMICS_VELOCITY[plan.dynamics]
    pm = pretty_midi.PrettyMIDI(initial_tempo=60.0 / spq)
    for v in voices:
        name = v.family + ("-drone" if v.is_drone else "")
        inst = pretty_midi.Instrument(program=int(v.program), name=name)
        on = v.notes[:, 0]
        m = (on >= start - pre_ql) & (on < start + w)
        for o, d, p, acc in v.notes[m]:
            t0 = (o - start + pre_ql) * spq
            t1 = min((o + d - start + pre_ql) * spq - 0.01, PREROLL_S + clip_seconds)
            t1 = max(t1, t0 + 0.03)
            # Metrical accent from music21's accent weight; drones sit under the tune.
            vel = base_vel * (0.5 + 0.5 * acc) * (0.7 if v.is_drone else 1.0)
            vel = int(np.clip(round(vel * rng.uniform(0.95, 1.05)), 1, 127))
            inst.notes.append(pretty_midi.Note(vel, int(p), float(t0), float(t1)))
        pm.instruments.append(inst)

    pre_n = int(round(PREROLL_S * sample_rate))
    n = int(round(clip_seconds * sample_rate))
    audio = synthesize(pm, pre_n + n, sample_rate)[pre_n:]
    if not np.any(audio) or is_silent(audio, sample_rate):
        return None
    texture = "polyphonic" if _texture(voices, start, start + w) >= 0.25 else "monophonic"
    # Instrument tags only for parts that sound in the clip (a voice may rest throughout).
    heard = [v for v in voices
             if np.any((v.notes[:, 0] < start + w) & (v.notes[:, 0] + v.notes[:, 1] > start))]
    info = dict(qpm=60.0 / spq, onset_rate=rate, bpm=30.0 * rate, tempo=tempo, meter=meter,
                texture=texture, start_ql=start, families=tuple(sorted({v.family for v in heard})),
                programs=tuple(int(v.program) for v in heard), drone=drone,
                solo=polyphonic_work and len(part_ids) == 1)
    return audio, pm, info


# --- one work (the worker) ------------------------------------------------------------------

def parse_work(work: WorkRef):
    from music21 import corpus
    # forceSource: no pickle cache in music21's scratch dir (no side effects, same cost each run).
    return corpus.parse(work.path, number=work.number, forceSource=True)


def render_work(job: WorkJob) -> dict:
    """Parse, analyse and render all planned clips of one work.

    Returns {"work_id", "style", "split", "clips": [example dicts], "skipped": reason or None,
    "failed_clips": n, "fail_reasons"}. Each example has audio (int16, clip_seconds * sample_rate),
    tags (names), style, key, composer, work_id, clip_index, and render info (bpm, families …).
    """
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns freely about ABC / Humdrum details
        return _render_work(job)


def _render_work(job: WorkJob) -> dict:
    w = job.work
    out = {"work_id": w.work_id, "style": w.style, "split": w.split, "clips": [], "skipped": None,
           "failed_clips": 0, "fail_reasons": []}
    try:
        score = parse_work(w)
    except Exception:
        out["skipped"] = "parse"
        return out
    try:
        sn = extract_notes(score)
    except Exception:
        out["skipped"] = "score"
        return out
    try:
        key_name, mode = analyze_key(score)
    except Exception:
        out["skipped"] = "key"
        return out
    for plan in job.clips:
        res = None
        for attempt in range(MAX_START_TRIES):
            try:
                res = render_clip(sn, key_name, plan, len(job.clips), job.clip_seconds, job.sample_rate,
                                  attempt)
            except Exception:
                res = None
            if res is not None and res != "meter":
                break
        if res is None or res == "meter":
            out["failed_clips"] += 1
            out["fail_reasons"].append("meter" if res == "meter" else "silent")
            continue
        audio, _, info = res
        tags = (list(STYLE_TAGS[w.style]) + list(info["families"]) +
                [info["tempo"], mode, info["meter"], plan.dynamics, info["texture"]])
        out["clips"].append(dict(
            audio=to_int16(audio, DYNAMICS_PEAK_DBFS[plan.dynamics]), tags=tuple(tags),
            style=w.style, key=key_name, composer=w.composer, work_id=w.work_id,
            clip_index=plan.clip_index, info=info))
    if not out["clips"]:
        reasons = out["fail_reasons"]
        out["skipped"] = "meter" if reasons and all(r == "meter" for r in reasons) else "silent"
    return out


def multi_hot(tags: Sequence[str]) -> np.ndarray:
    v = np.zeros(len(TAG_NAMES), dtype=np.uint8)
    for t in tags:
        v[TAG_NAMES.index(t)] = 1
    return v


# --- many works -----------------------------------------------------------------------------

# Rough seconds per work (parse + analysis) used only to start the slow works first.
_STYLE_COST = {"madrigal": 0.8, "renaissance_polyphony": 0.5, "chorale": 0.25, "jig": 0.2,
               "reel": 0.2, "hornpipe": 0.2, "scottish_air": 0.15, "folk_german": 0.1,
               "folk_chinese": 0.1}


def default_num_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _run_jobs(jobs: Sequence[WorkJob], pool, bar) -> list[dict]:
    order = sorted(jobs, key=lambda j: -_STYLE_COST.get(j.work.style, 0.2) * (1 + len(j.clips) / 4))
    results = []
    it = map(render_work, order) if pool is None else pool.imap_unordered(render_work, order, 1)
    for r in it:
        results.append(r)
        bar.update()
    return results


def _replacement_job(old: WorkJob, new: WorkRef, seed: int) -> WorkJob:
    """A job for `new` in the split and with the clip plans (tempo, dynamics, family) of `old`."""
    new = dataclasses.replace(new, split=old.work.split)
    clips = tuple(dataclasses.replace(p, seed=_hash_int(seed, "clip", new.work_id, p.clip_index))
                  for p in old.clips)
    return WorkJob(new, clips, old.clip_seconds, old.sample_rate)


def render_jobs(jobs: Sequence[WorkJob], num_workers: int = 0, progress: bool = True,
                desc: str = "scorebank works", catalog: Mapping[str, Sequence[WorkRef]] | None = None,
                seed: int = 0, max_rounds: int = 3) -> list[dict]:
    """`render_work` over all jobs, in a "spawn" process pool when num_workers > 1.

    With a `catalog`, a skipped work is replaced by the next unused work of its style (in
    `style_order`), in the same split and with the same clip plans, for up to `max_rounds` rounds,
    so that the planned counts hold. Skipped works stay in the results (with their reason).
    Results are sorted by work id, so the output does not depend on scheduling.
    """
    import multiprocessing

    import tqdm

    require_synthesizer()
    num_workers = int(num_workers) or default_num_workers()
    bar = tqdm.tqdm(total=len(jobs), desc=desc, unit="work", disable=not progress, mininterval=1.0)
    pool = None
    if num_workers > 1 and len(jobs) > 1:
        # spawn: no fork of a parent that may hold TensorFlow / JAX threads.
        pool = multiprocessing.get_context("spawn").Pool(processes=min(num_workers, len(jobs)))
    try:
        results = _run_jobs(jobs, pool, bar)
        if catalog is not None:
            used = {j.work.work_id for j in jobs}
            by_id = {j.work.work_id: j for j in jobs}
            queues = {}
            for _ in range(max_rounds):
                failed = sorted((r for r in results if r["skipped"] and r["work_id"] in by_id
                                 and not r.get("replaced")), key=lambda r: r["work_id"])
                extra = []
                for r in failed:
                    old = by_id[r["work_id"]]
                    q = queues.setdefault(old.work.style, iter(style_order(catalog, old.work.style, seed)))
                    new = next((w for w in q if w.work_id not in used), None)
                    r["replaced"] = True
                    if new is not None:
                        used.add(new.work_id)
                        job = _replacement_job(old, new, seed)
                        by_id[new.work_id] = job
                        extra.append(job)
                if not extra:
                    break
                bar.total += len(extra)
                results += _run_jobs(extra, pool, bar)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        bar.close()
    return sorted(results, key=lambda r: r["work_id"])
