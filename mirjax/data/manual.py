"""Shared pieces of the TFDS builders that read a user's manually downloaded corpus.

`magnatagatune` and `msd_lastfm50` both: check the manual directory and its annotation files up front
(a missing one fails with ONE line naming the file and pointing at the instructions), decode the listed
audio files in a small thread pool (bounded memory, input order kept), skip and count missing or
unreadable files instead of failing, and record the skip counts in `info.metadata`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data.audio import AudioError, load_audio
from mirjax.data.cached import CachedBuilder
from mirjax.data.scorebank import Int16Audio

log = logging.getLogger("mirjax")

SPLITS = ("train", "validation", "test")
DOCS = "docs/datasets.md"
MAX_LISTED_SKIPS = 100  # per split, in info.metadata["skipped_files"]; the log has every one


class ManualDataError(FileNotFoundError):
    """The manual directory or one of its annotation files is missing or malformed (one-line message)."""


def instructions_hint(builder_name: str) -> str:
    return f"see {builder_name}'s MANUAL_DOWNLOAD_INSTRUCTIONS or {DOCS}"


def manual_dir(dl_manager, builder_name: str) -> str:
    """The manual directory of `dl_manager`, or a one-line ManualDataError if it is missing or empty.

    TFDS's own check raises a multi-line AssertionError carrying the whole instructions text; this one
    names the directory and points at the instructions instead.
    """
    path = getattr(dl_manager, "_manual_dir", None)
    if path is None:
        try:
            path = dl_manager.manual_dir
        except Exception:  # noqa: BLE001 - reported below as one line
            path = None
    path = os.fspath(path) if path is not None else None
    if not path or not os.path.isdir(path) or not os.listdir(path):
        raise ManualDataError(
            f"{builder_name}: manual directory {path or '(none given)'} does not exist or is empty; "
            f"pass DownloadConfig(manual_dir=...) / config.dataset.manual_dir and put the files there "
            f"({instructions_hint(builder_name)})")
    return path


def require_file(path: str, builder_name: str, what: str) -> str:
    """`path` if it is a file, else a one-line ManualDataError naming it."""
    if not os.path.isfile(path):
        raise ManualDataError(f"{builder_name}: {what} not found: expected {path} "
                              f"({instructions_hint(builder_name)})")
    return path


def load_npy(path: str, builder_name: str) -> np.ndarray:
    """np.load of a small split/label file. Falls back to pickle for object arrays (lists of str saved
    by old numpy); these are files the user downloaded on purpose, not untrusted input."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError:
        try:
            return np.load(path, allow_pickle=True, encoding="latin1")
        except Exception as exc:  # noqa: BLE001
            raise ManualDataError(f"{builder_name}: cannot read {path} as .npy ({type(exc).__name__}: "
                                  f"{exc}) ({instructions_hint(builder_name)})") from None
    except Exception as exc:  # noqa: BLE001
        raise ManualDataError(f"{builder_name}: cannot read {path} as .npy ({type(exc).__name__}: {exc}) "
                              f"({instructions_hint(builder_name)})") from None


def as_str(x) -> str:
    """A numpy/bytes string entry as str."""
    return x.decode("utf-8") if isinstance(x, (bytes, np.bytes_)) else str(x)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] → int16 (the pipeline divides by 32768); overs are clipped."""
    return np.clip(np.round(np.asarray(audio, np.float32) * 32768.0), -32768, 32767).astype(np.int16)


def decode_int16(path: str, sample_rate: int) -> np.ndarray:
    """Mono int16 audio of `path` at `sample_rate` Hz; raises AudioError (file not found, corrupt, …)."""
    return to_int16(load_audio(path, sample_rate, mono=True))


def resolve_workers(num_workers: int) -> int:
    """0 → one per available core."""
    if num_workers > 0:
        return num_workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def ordered_map(job: Callable, items: Sequence, num_workers: int) -> Iterator[tuple]:
    """Yields `(item, job(item))` in input order, with at most 2 × workers jobs in flight (bounded memory).
    `job` must not raise (it returns its error)."""
    workers = resolve_workers(num_workers)
    if workers == 1:
        for item in items:
            yield item, job(item)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: collections.deque = collections.deque()
        it = iter(items)
        for item in it:
            pending.append((item, pool.submit(job, item)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            item, fut = pending.popleft()
            for nxt in it:  # refill one slot before blocking on the oldest
                pending.append((nxt, pool.submit(job, nxt)))
                break
            yield item, fut.result()


def decode_in_order(items: Sequence, path_of: Callable, sample_rate: int,
                    num_workers: int) -> Iterator[tuple]:
    """Yields `(item, audio_or_None, reason_or_None)` for each item, in input order.

    Decoding runs in a thread pool (libsndfile, mpg123 and soxr release the GIL) with at most
    2 × workers files in flight, so memory stays bounded whatever the corpus size.
    """
    def job(item):
        try:
            return decode_int16(path_of(item), sample_rate), None
        except AudioError as exc:
            return None, exc.reason
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a build
            return None, f"{type(exc).__name__}: {exc}"

    for item, (audio, reason) in ordered_map(job, items, num_workers):
        yield item, audio, reason


class SkipLog:
    """Missing / unreadable audio per split: one warning line per file, a summary per split."""

    def __init__(self, builder_name: str, root: str):
        self.builder_name = builder_name
        self.root = root
        self.counts: dict = {}
        self.files: dict = {}
        self.listed: dict = {}
        self.kept: dict = {}

    def start(self, split: str, listed: int) -> None:
        self.counts[split] = {"missing": 0, "unreadable": 0}
        self.files[split] = []
        self.listed[split] = int(listed)
        self.kept[split] = 0

    def keep(self, split: str) -> None:
        self.kept[split] += 1

    def skip(self, split: str, path: str, reason: str) -> None:
        kind = "missing" if reason == "file not found" else "unreadable"
        self.counts[split][kind] += 1
        rel = os.path.relpath(path, self.root)
        if len(self.files[split]) < MAX_LISTED_SKIPS:
            self.files[split].append([rel, reason])
        log.warning("%s: skipped %s: %s", self.builder_name, path, reason)

    def summary_line(self, split: str) -> str:
        c = self.counts[split]
        return (f"{self.builder_name} {split}: kept {self.kept[split]:,} of {self.listed[split]:,} listed "
                f"clips; skipped {c['missing'] + c['unreadable']:,} (missing {c['missing']:,}, "
                f"unreadable {c['unreadable']:,})")

    def finish(self, split: str, metadata) -> None:
        """Logs the split's summary and stores its counts in `metadata` (saved with the dataset)."""
        line = self.summary_line(split)
        if sum(self.counts[split].values()):
            log.warning(line)
        else:
            log.info(line)
        metadata.setdefault("listed", {})[split] = self.listed[split]
        metadata.setdefault("skipped", {})[split] = dict(self.counts[split])
        metadata.setdefault("skipped_files", {})[split] = list(self.files[split])
        metadata.setdefault("summary", {})[split] = line


def generate(split: str, entries: Sequence[dict], root: str, sample_rate: int, num_workers: int,
             skips: SkipLog, metadata, key: str, to_example: Callable[[dict, np.ndarray], dict]):
    """The `_generate_examples` body shared by the builders: decode `entries` (dicts with 'path' and
    `key`), skip bad files, and record the split's skip counts in `metadata` once it is exhausted."""
    skips.start(split, len(entries))
    for entry, audio, reason in decode_in_order(entries, lambda e: e["path"], sample_rate, num_workers):
        if audio is None:
            skips.skip(split, entry["path"], reason)
            continue
        skips.keep(split)
        yield entry[key], to_example(entry, audio)
    if entries and not skips.kept[split]:
        # Else TFDS fails with a traceback ("No examples were yielded") that hides the cause.
        path, reason = skips.files[split][0]
        raise ManualDataError(f"{skips.builder_name}: none of the {len(entries):,} {split} audio files could be "
                              f"read (e.g. {path}: {reason}) ({instructions_hint(skips.builder_name)})")
    # Runs when TFDS has consumed the whole split, before it writes dataset_info/metadata.json.
    skips.finish(split, metadata)


def require_some_audio(split: str, entries: Iterable[dict], builder_name: str, audio_root: str,
                       example: str) -> None:
    """A one-line error when none of a split's listed audio files exists (wrong folder), since TFDS
    cannot write an empty split and thousands of 'missing' warnings would hide the cause."""
    entries = list(entries)
    if entries and not any(os.path.exists(e["path"]) for e in entries):
        raise ManualDataError(
            f"{builder_name}: none of the {len(entries):,} {split} audio files exists under {audio_root} "
            f"(e.g. {example}) ({instructions_hint(builder_name)})")


# --- what `mirjax data build|info` prints -----------------------------------------------------------

def summary_lines(builder) -> list[str]:
    """A prepared builder's summary: each split's kept/skipped line from `info.metadata["summary"]` (or the one
    line of the whole dataset, e.g. taste_profile's), else each split's size."""
    summary = builder.info.metadata.get("summary", {}) if builder.info.metadata else {}
    if isinstance(summary, str):
        return [summary]
    return [summary.get(split) or f"{split}: {builder.info.splits[split].num_examples:,} clips"
            for split in builder.info.splits]


class ManualBuilder(CachedBuilder, skip_registration=True):
    """What every real-data builder shares: version 1.0.0 and the mirjax cache as the default data dir."""


def whole_clip_audio(sample_rate: int, doc: str):
    """Mono int16 audio of any length, stored as raw bytes (scorebank's `Int16Audio`)."""
    return Int16Audio(shape=(None,), dtype=np.int16, sample_rate=sample_rate, file_format=None,
                      encoding=tfds.features.Encoding.BYTES, doc=doc)


def tagging_features(sample_rate: int, num_tags: int, id_key: str, id_doc: str, audio_doc: str):
    """The features of a real tagging corpus: whole-clip mono int16 `audio`, multi-hot `tags`, a text id."""
    return tfds.features.FeaturesDict({
        "audio": whole_clip_audio(sample_rate, audio_doc),
        "tags": tfds.features.Tensor(shape=(num_tags,), dtype=np.uint8, doc="multi-hot over metadata['tag_names']"),
        id_key: tfds.features.Text(doc=id_doc),
    })
