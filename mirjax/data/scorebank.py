"""`scorebank`: mirjax's built-in offline music corpus, as a TFDS builder.

music21's bundled scores (Bach chorales, Palestrina masses, Monteverdi madrigals, Essen folk songs,
O'Neill / Ryan Irish dance tunes, Aird's airs) are rendered to 16 kHz mono audio with pretty_midi
and tinysoundfont (pretty_midi's TimGM6mb.sf2), with seeded instruments, tempo and dynamics, and
tagged with what the rendering makes audible (see `mirjax.data.scorebank_render` for the recipe).

Each example: a `clip_seconds` clip (int16, peak -1 dBFS for loud clips, -13 dBFS for soft ones),
a multi-hot `tags` vector (names in `TAG_NAMES` and `info.metadata["tag_names"]`, categories in
`info.metadata["tag_categories"]`), single labels `style`, `key` (24 classes), `composer`, `meter` (duple / triple
/ compound, as the clip's meter tag), the clip's pulse tempo `bpm` (float: 30 × its rendered note-onset rate, the
quantity its tempo tag thresholds) and the `work_id`. Splits are assigned by work (a seeded hash of the work
id, stratified 80/10/10 within each style), so they never share a work and each holds every style.

Build (cached outside the repository, in `default_data_dir()`):

    mirjax data build scorebank/tiny|scorebank/default [--data_dir DIR]
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import scorebank_render as render
from mirjax.data.cached import CachedBuilder

TAG_NAMES = render.TAG_NAMES
TAG_CATEGORIES = dict(render.TAG_CATEGORIES)
CATEGORIES = render.CATEGORIES
STYLES = render.STYLES
KEYS = render.KEYS
COMPOSERS = render.COMPOSERS
METERS = render.METERS
SAMPLE_RATE = render.SAMPLE_RATE
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(eq=False)
class ScorebankConfig(tfds.core.BuilderConfig):
    """What a scorebank build varies: corpus mix, clip length, seed, parallelism.

    works_per_style / clips_per_work: ((style, n), ...). A work yields `clips_per_work` clips
    (different excerpts and seeded renderings), all in the work's split.
    num_workers: render processes; 0 means one per available CPU core.
    """
    clip_seconds: float = 10.0
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    works_per_style: tuple = ()
    clips_per_work: tuple = ()
    num_workers: int = 0

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


# Seconds per work on one core (parse + key + rendering its clips): Essen ~0.15, Irish/Scottish
# ~0.2, Bach ~0.3 (2 clips), Palestrina ~0.5 (3 clips), Monteverdi ~0.8 (4 clips). Long works give
# several excerpts to amortise their parse. The default mix renders ~2,900 clips from ~2,100 works
# in about 3 minutes on 2 cores.
_DEFAULT_WORKS = (
    ("chorale", 340), ("renaissance_polyphony", 160), ("madrigal", 48), ("folk_german", 300),
    ("folk_chinese", 300), ("reel", 240), ("jig", 220), ("hornpipe", 240), ("scottish_air", 240))
_DEFAULT_CLIPS = (
    ("chorale", 2), ("renaissance_polyphony", 3), ("madrigal", 4), ("folk_german", 1),
    ("folk_chinese", 1), ("reel", 1), ("jig", 1), ("hornpipe", 1), ("scottish_air", 1))

TINY = ScorebankConfig(
    name="tiny",
    description="5 works per style (3 train / 1 validation / 1 test), 1 clip each: 45 clips, "
                "for tests and smoke runs.",
    works_per_style=tuple((s, 5) for s in STYLES),
    clips_per_work=tuple((s, 1) for s in STYLES))

DEFAULT = ScorebankConfig(
    name="default",
    description="About 2,900 clips from about 2,100 works of 9 styles.",
    works_per_style=_DEFAULT_WORKS,
    clips_per_work=_DEFAULT_CLIPS)


class Int16Audio(tfds.features.Audio):
    """`tfds.features.Audio` that honours `encoding` for numpy input.

    TFDS 4.9's Audio returns arrays unencoded, so int16 clips would be stored as an int64 list
    (about 1 MB per 10-s clip, negative samples take 10 varint bytes); with Encoding.BYTES they are
    stored as 320 KB of raw little-endian int16 and decoded back to an int16 tensor.
    """

    def encode_example(self, audio_or_path_or_fobj):
        if isinstance(audio_or_path_or_fobj, (np.ndarray, list)):
            return tfds.features.Tensor.encode_example(self, np.asarray(audio_or_path_or_fobj))
        return super().encode_example(audio_or_path_or_fobj)


class Scorebank(CachedBuilder,
                # Only the canonical module registers the name: `python -m mirjax.data.scorebank`
                # runs this file a second time as __main__ (and spawned workers as __mp_main__).
                skip_registration=__name__ != "mirjax.data.scorebank"):
    """Music21 scores rendered to tagged audio clips (see module docstring)."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "Adds `meter` (ClassLabel: duple, triple, compound) and `bpm` (float32) per clip, "
                              "from the same renders; every 1.0.0 feature is unchanged."}
    BUILDER_CONFIGS = [DEFAULT, TINY]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "audio": Int16Audio(
                    shape=(cfg.clip_samples,), dtype=np.int16, sample_rate=cfg.sample_rate,
                    file_format=None, encoding=tfds.features.Encoding.BYTES,
                    doc="mono int16; peak -1 dBFS (loud) or -13 dBFS (soft)"),
                "tags": tfds.features.Tensor(shape=(len(TAG_NAMES),), dtype=np.uint8,
                                             doc="multi-hot over metadata['tag_names']"),
                "style": tfds.features.ClassLabel(names=list(STYLES)),
                "key": tfds.features.ClassLabel(names=list(KEYS)),
                "composer": tfds.features.ClassLabel(names=list(COMPOSERS)),
                "meter": tfds.features.ClassLabel(names=list(METERS)),
                "bpm": tfds.features.Scalar(dtype=np.float32,
                                            doc="pulse tempo: 30 × rendered note-onset rate (onsets/s)"),
                "work_id": tfds.features.Text(),
            }),
            supervised_keys=("audio", "tags"),
            homepage="https://web.mit.edu/music21/",
            metadata=tfds.core.MetadataDict(
                tag_names=list(TAG_NAMES),
                tag_categories=dict(TAG_CATEGORIES),
                categories=list(CATEGORIES),
                sample_rate=int(cfg.sample_rate),
                clip_seconds=float(cfg.clip_seconds),
                peak_dbfs=dict(render.DYNAMICS_PEAK_DBFS),
                seed=int(cfg.seed),
            ),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # everything is generated from packages already installed
        render.require_synthesizer()  # before the catalog is parsed: fail in a second, not after minutes
        cfg = self.builder_config
        t0 = time.time()
        catalog = render.build_catalog()
        works = render.select_works(catalog, dict(cfg.works_per_style), cfg.seed)
        jobs = render.plan_jobs(works, dict(cfg.clips_per_work), cfg.seed, cfg.clip_seconds,
                                cfg.sample_rate)
        results = render.render_jobs(jobs, num_workers=cfg.num_workers,
                                     desc=f"scorebank/{cfg.name} works", catalog=catalog,
                                     seed=cfg.seed)
        summary = build_summary(results, cfg.name, time.time() - t0)
        logging.info(summary["line"])
        print(summary["line"], file=sys.stderr)
        self.info.metadata["build_summary"] = summary
        by_split = {s: [] for s in SPLITS}
        for r in results:
            if not r["skipped"]:
                by_split[r["split"]].extend(r["clips"])
        return {s: self._generate_examples(by_split[s]) for s in SPLITS}

    def _generate_examples(self, clips: Sequence[dict]):
        for c in clips:
            yield f"{c['work_id']}@{c['clip_index']}", clip_to_example(c)


def clip_to_example(clip: Mapping) -> dict:
    """A rendered clip (from `render.render_work`) as a scorebank feature dict."""
    return {
        "audio": clip["audio"],
        "tags": render.multi_hot(clip["tags"]),
        "style": clip["style"],
        "key": clip["key"],
        "composer": clip["composer"],
        "meter": clip["info"]["meter"],
        "bpm": np.float32(clip["info"]["bpm"]),
        "work_id": clip["work_id"],
    }


def build_summary(results: Iterable[dict], config_name: str, seconds: float) -> dict:
    """Counts of a build: clips, works kept and skipped (by reason), clips dropped."""
    results = list(results)
    skipped = collections.Counter(r["skipped"] for r in results if r["skipped"])
    kept = [r for r in results if not r["skipped"]]
    n_clips = sum(len(r["clips"]) for r in kept)
    dropped = sum(r["failed_clips"] for r in kept)
    reasons = ", ".join(f"{k} {skipped[k]}" for k in render.SKIP_REASONS if skipped[k])
    skips = (f"skipped {sum(skipped.values())} works ({reasons}), replaced by the next works of "
             f"their style" if skipped else "skipped 0 works")
    line = (f"scorebank/{config_name}: {n_clips:,} clips from {len(kept):,} works; {skips}; "
            f"{dropped} further clips dropped; rendered in {seconds:.0f} s")
    return {"line": line, "clips": n_clips, "works": len(kept), "skipped_works": dict(skipped),
            "dropped_clips": dropped, "render_seconds": round(seconds, 1)}


# --- summary (`mirjax data build|info`) -------------------------------------------------------

def _tag_counts(builder, split: str) -> np.ndarray:
    ds = builder.as_dataset(split=split, decoders={"audio": tfds.decode.SkipDecoding()})
    ds = ds.map(lambda ex: ex["tags"]).batch(256)
    counts = np.zeros(len(TAG_NAMES), dtype=np.int64)
    for t in tfds.as_numpy(ds):
        counts += t.astype(np.int64).sum(axis=0)
    return counts


def summary_lines(builder) -> list[str]:
    """What `mirjax data build|info scorebank/…` prints: split sizes, each tag's count per split, the build
    summary."""
    info = builder.info
    lines = ["split sizes: " + ", ".join(f"{s} {info.splits[s].num_examples:,}" for s in SPLITS)]
    counts = {s: _tag_counts(builder, s) for s in SPLITS}
    total = sum(info.splits[s].num_examples for s in SPLITS)
    lines.append(f"{'tag':<24}{'category':<12}" + "".join(f"{s:>12}" for s in SPLITS) + f"{'% all':>8}")
    for i, t in enumerate(TAG_NAMES):
        n_all = sum(int(counts[s][i]) for s in SPLITS)
        lines.append(f"{t:<24}{TAG_CATEGORIES[t]:<12}" + "".join(f"{int(counts[s][i]):>12,}" for s in SPLITS)
                     + f"{100.0 * n_all / max(total, 1):>7.1f}%")
    summary = info.metadata.get("build_summary")
    if summary:
        lines.append(summary["line"])
    return lines
