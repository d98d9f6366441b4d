"""`gtzan_genres`: GTZAN genre collection (Tzanetakis & Cook 2002), as a TFDS builder over a manual directory.

Registered as `gtzan_genres`, not `gtzan`: TFDS ships its own `gtzan` builder (a download-based one without
these split configurations), and two builders of one name cannot both be imported into a process.

1,000 clips of 30 s, 22,050 Hz mono, 100 per genre (blues classical country disco hiphop jazz metal pop
reggae rock), as `genres/<genre>/<genre>.000NN.wav` (older copies `.au`). Each example: the whole clip
as mono int16 at the config's sample rate (variable length; `mirjax.data.pipeline` crops/pads), its
`genre` (ClassLabel over GENRES, from the clip's folder) and `clip_id` (`blues.00000`).

Split configurations (all train / validation / test):
  fault_filtered (default): Kereliuk, Sturm & Larsen's fault-filtered split (coreyker/dnn-mgr, also
      minzwon/sota-music-tagging-models `split/gtzan/{train,valid,test}_filtered.txt`), 443 / 197 / 290
      clips; read from the user's copies of those three files.
  5fold_k (k = 0…4), 10fold_k (k = 0…9): stratified k-fold over the clips found, computed here:
      test = fold k; validation = 10 % of the rest, stratified; train = the remainder (see `fold_splits`).

Missing or unreadable files are skipped (one warning line each, a summary per split) and counted in
`info.metadata["skipped"]`. Build:

    mirjax data build gtzan_genres/fault_filtered --manual_dir DIR [--data_dir DIR]
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual
from mirjax.errors import UserError

log = logging.getLogger("mirjax")

NAME = "gtzan_genres"  # TFDS name; `gtzan` is TFDS's own builder
SPLITS = manual.SPLITS
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
AUDIO_EXTS = (".wav", ".au")  # preferred first when a clip exists in both
# Folders under the manual dir that may hold the genre folders, in order of preference; "" is the
# manual dir itself, "genres_original" the Kaggle copy's name.
AUDIO_DIRS = ("genres", "", "genres_original")
SPLIT_DIR = os.path.join("split", "gtzan")  # where the user copies the fault-filtered lists
FILTERED_FILES = {"train": "train_filtered.txt", "validation": "valid_filtered.txt",
                  "test": "test_filtered.txt"}
FILTERED_SIZES = {"train": 443, "validation": 197, "test": 290}
VALIDATION_FOLDS = 10  # validation = one tenth of the k-fold train part
SEED = 0


def find_audio_root(root: str) -> str:
    """The folder under `root` holding the genre folders (see AUDIO_DIRS), or a one-line error."""
    for sub in AUDIO_DIRS:
        cand = os.path.join(root, sub) if sub else root
        if any(os.path.isdir(os.path.join(cand, g)) for g in GENRES):
            return cand
    raise manual.ManualDataError(
        f"{NAME}: no genre folders ({', '.join(GENRES)}) under {root}, {os.path.join(root, 'genres')} "
        f"or {os.path.join(root, 'genres_original')} ({manual.instructions_hint(NAME)})")


def scan_clips(audio_root: str) -> list[dict]:
    """Every `<genre>/<clip>.wav|.au` under `audio_root`, sorted by (genre order, clip id).

    Unreadable files are listed too (and skipped at decoding), so the k-fold assignment does not
    depend on which files decode.
    """
    clips = []
    for g in GENRES:
        folder = os.path.join(audio_root, g)
        if not os.path.isdir(folder):
            log.warning("%s: genre folder %s is missing", NAME, folder)
            continue
        by_id: dict = {}
        for fn in os.listdir(folder):
            stem, ext = os.path.splitext(fn)
            # Hidden files include macOS "._blues.00000.wav" resource forks, which are not audio.
            if fn.startswith(".") or ext.lower() not in AUDIO_EXTS:
                continue
            rank = AUDIO_EXTS.index(ext.lower())
            if stem not in by_id or rank < by_id[stem][0]:
                by_id[stem] = (rank, fn)
        clips += [{"clip_id": stem, "genre": g, "path": os.path.join(folder, fn)}
                  for stem, (_, fn) in sorted(by_id.items())]
    return clips


def fold_splits(labels: Sequence[int], n_folds: int, fold: int) -> dict:
    """Indices of train / validation / test for fold `fold` of a stratified `n_folds`-fold split.

    test: fold `fold` of sklearn StratifiedKFold(n_folds, shuffle=True, random_state=0) over `labels`
    (in the given order). validation: fold 0 of StratifiedKFold(10, shuffle=True, random_state=0) over
    the remaining indices (in increasing order), i.e. a stratified 10 % of them (fewer folds, so a
    larger share, when no genre has 10 of them). train: the rest.
    """
    import warnings

    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < n_folds:
        raise UserError(f"fold must be in [0, {n_folds}), got {fold}")
    y = np.asarray(labels)
    with warnings.catch_warnings():
        # "The least populated class has only N members": only with tiny corpora; the folds stay valid.
        warnings.simplefilter("ignore", UserWarning)
        rest, test = list(StratifiedKFold(n_folds, shuffle=True, random_state=SEED).split(y, y))[fold]
        # sklearn refuses more folds than the largest class has members: only a partial copy of
        # the corpus (under 10 training clips per genre) gets a larger validation share.
        n_val = max(2, min(VALIDATION_FOLDS, int(np.bincount(y[rest]).max())))
        train_i, val_i = next(StratifiedKFold(n_val, shuffle=True, random_state=SEED)
                              .split(y[rest], y[rest]))
    return {"train": np.sort(rest[train_i]), "validation": np.sort(rest[val_i]), "test": np.sort(test)}


def read_filtered_list(path: str) -> list[tuple[str, str]]:
    """A fault-filtered list: one `<genre>/<genre>.000NN.wav` per line → [(genre, clip_id)]."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.strip().replace("\\", "/")
            if not s:
                continue
            parts = s.split("/")
            g, fn = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", s)
            stem, ext = os.path.splitext(fn)
            if g not in GENRES or ext.lower() not in AUDIO_EXTS or not stem:
                raise manual.ManualDataError(
                    f"{NAME}: {path} line {n}: expected \"<genre>/<genre>.000NN.wav\" with a genre of "
                    f"{', '.join(GENRES)}, got {s[:80]!r} ({manual.instructions_hint(NAME)})")
            out.append((g, stem))
    return out


@dataclasses.dataclass(eq=False)
class GtzanConfig(tfds.core.BuilderConfig):
    """split_scheme: "fault_filtered", "5fold" or "10fold". fold: the k-fold test fold (ignored for
    fault_filtered). sample_rate: Hz of the stored audio. num_workers: decoding threads; 0 = one per core."""
    split_scheme: str = "fault_filtered"
    fold: int = 0
    sample_rate: int = 22050
    num_workers: int = 0

    @property
    def n_folds(self) -> int:
        return {"5fold": 5, "10fold": 10}.get(self.split_scheme, 0)


CONFIGS = [GtzanConfig(name="fault_filtered", split_scheme="fault_filtered",
                       description="Kereliuk/Sturm fault-filtered split (443 / 197 / 290), 22,050 Hz.")]
CONFIGS += [GtzanConfig(name=f"{k}fold_{i}", split_scheme=f"{k}fold", fold=i,
                        description=f"Stratified {k}-fold, test = fold {i}, validation = 10 % of the rest, "
                                    f"22,050 Hz.")
            for k in (5, 10) for i in range(k)]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put these in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...); default <data_dir>/downloads/manual):

  genres/<genre>/<genre>.000NN.wav   the marsyas release genres.tar.gz unpacked in the manual dir
                                     (`tar xzf genres.tar.gz`); `.au` files and genre folders directly
                                     in the manual dir (or in genres_original/) work too

For the default `fault_filtered` config also copy, from https://github.com/coreyker/dnn-mgr (folder
gtzan/) or https://github.com/minzwon/sota-music-tagging-models (folder split/gtzan/), the files

  {SPLIT_DIR}/train_filtered.txt, valid_filtered.txt, test_filtered.txt

(lines like blues/blues.00029.wav). The k-fold configs need no split files. Missing or unreadable
clips are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


class Gtzan(manual.ManualBuilder):
    """GTZAN genres from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "fault_filtered"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "audio": manual.whole_clip_audio(cfg.sample_rate, "mono int16, whole clip (about 30 s)"),
                "genre": tfds.features.ClassLabel(names=list(GENRES)),
                "clip_id": tfds.features.Text(doc="file name without extension, e.g. blues.00000"),
            }),
            supervised_keys=("audio", "genre"),
            homepage="http://marsyas.info/index.html",
            metadata=tfds.core.MetadataDict(
                genres=list(GENRES), sample_rate=int(cfg.sample_rate), split_scheme=cfg.split_scheme,
                n_folds=cfg.n_folds, fold=int(cfg.fold) if cfg.n_folds else None,
                expected_sizes=dict(FILTERED_SIZES) if cfg.split_scheme == "fault_filtered" else {}),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        root = manual.manual_dir(dl_manager, NAME)
        if cfg.split_scheme == "fault_filtered":
            # Split files first: a missing one is the likelier mistake, and cheap to report.
            lists = {s: read_filtered_list(manual.require_file(
                os.path.join(root, SPLIT_DIR, fn), NAME, f"fault-filtered split file {fn}"))
                for s, fn in FILTERED_FILES.items()}
            audio_root = find_audio_root(root)
            entries = {s: [self._listed_entry(audio_root, g, c) for g, c in lists[s]] for s in SPLITS}
            self._check_disjoint(entries)
        elif cfg.n_folds:
            audio_root = find_audio_root(root)
            clips = scan_clips(audio_root)
            labels = [GENRES.index(c["genre"]) for c in clips]
            # sklearn's own condition for a stratified split (the full release has 100 per genre).
            if not clips or np.bincount(labels).max() < cfg.n_folds:
                raise manual.ManualDataError(
                    f"{NAME}: found {len(clips)} clips under {audio_root}, too few for {cfg.n_folds} "
                    f"stratified folds (some genre needs {cfg.n_folds}) ({manual.instructions_hint(NAME)})")
            idx = fold_splits(labels, cfg.n_folds, cfg.fold)
            entries = {s: [clips[i] for i in idx[s]] for s in SPLITS}
        else:
            raise UserError(f"{NAME}: unknown split_scheme {cfg.split_scheme!r}; valid: fault_filtered, "
                             f"5fold, 10fold")
        self._skips = manual.SkipLog(NAME, root)
        for s in SPLITS:
            if not entries[s]:
                raise manual.ManualDataError(f"{NAME}: the {s} split lists no clips "
                                             f"({manual.instructions_hint(NAME)})")
            manual.require_some_audio(s, entries[s], NAME, audio_root, entries[s][0]["path"])
        return {s: self._generate_examples(s, entries[s]) for s in SPLITS}

    @staticmethod
    def _listed_entry(audio_root: str, genre: str, clip_id: str) -> dict:
        """The entry of a listed clip; its `.au` if only that exists (older copies of the release)."""
        paths = [os.path.join(audio_root, genre, clip_id + ext) for ext in AUDIO_EXTS]
        path = next((p for p in paths if os.path.exists(p)), paths[0])
        return {"clip_id": clip_id, "genre": genre, "path": path}

    @staticmethod
    def _check_disjoint(entries: dict) -> None:
        """A clip listed twice (within or across the split files) is a one-line error."""
        where: dict = {}
        for s in SPLITS:
            for e in entries[s]:
                if e["clip_id"] in where:
                    raise manual.ManualDataError(
                        f"{NAME}: {e['clip_id']} is listed twice (in {where[e['clip_id']]} and {s}); the "
                        f"three split files must come from the same release ({manual.instructions_hint(NAME)})")
                where[e["clip_id"]] = s

    def _generate_examples(self, split: str, entries: Sequence[dict]):
        cfg = self.builder_config
        yield from manual.generate(
            split, entries, self._skips.root, cfg.sample_rate, cfg.num_workers, self._skips,
            self.info.metadata, key="clip_id",
            to_example=lambda e, audio: {"audio": audio, "genre": e["genre"], "clip_id": e["clip_id"]})

