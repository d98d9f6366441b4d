"""`scorebank_listening`: simulated listening data (play counts) over a scorebank build, as a TFDS builder.

Dieleman's Ch. 4 learns latent factors of songs from users' play counts (WMF) and trains a CNN to predict
them from audio; the real data (the Echo Nest Taste Profile, `mirjax.data.taste_profile`) cannot be
downloaded here, so this builder simulates play counts over the scorebank clips, seeded, with a model in
which **content explains part of the usage and popularity the rest**:

* each clip i has tags g_i (scorebank's multi-hot tags) and a popularity pop_i, lognormal:
  log pop_i = popularity_sigma · (√ρ · z_content_i + √(1−ρ) · z_i), with z_i ~ N(0, 1) independent of
  the audio and z_content_i the standardised score w·g_i of a random tag weighting w ~ N(0, I) (ρ =
  popularity_content, the share of the log-popularity variance that the tags explain);
* each user u has a taste t_u ~ Dirichlet(taste_alpha · 1) over the tags (sparse for taste_alpha < 1: a
  few favourite tags) and an activity n_u = max(min_events, round(LogNormal(log median_events,
  activity_sigma))) listening events;
* each of a user's events picks clip i with probability p_ui ∝ pop_i · exp(taste_beta · t_u·g_i), so
  the events per clip are e_u ~ Multinomial(n_u, p_u);
* each event is heard 1 + Geometric(mean replays_mean) times (repeat listening), so the play count of
  (u, i) is e_ui + NegativeBinomial(e_ui, 1 / (1 + replays_mean)) (= e_ui when replays_mean = 0).

The content term is what a CNN can predict from audio; popularity (mostly independent of the audio) is
what it cannot, as in the thesis (§4.6.2: the gap to the WMF upper bound "is attributed mainly to
popularity").

Examples: one per (user, clip) with plays > 0: `user` (int, 0 … num_users−1), `clip_key` (the scorebank
example key `work_id@clip_index`), `item` (index into the sorted clip keys), `plays` (int) and `split`
(the clip's scorebank split, so the songs held out for the CNN are scorebank's test clips). The dataset
has one TFDS split, `plays`, stored in (user, item) order; every scorebank clip is an item, including
clips nobody played. The item
table is `items.tsv` in the dataset folder (`item`, `clip_key`, `split`, `style`, `popularity`), the
simulated tastes / activities / popularities are in `simulation.npz`, and `info.metadata` holds the
parameters, the seed and summary statistics (density, plays per user, Gini of item plays …).
`load_matrix` gives the users × items play-count matrix.

Build (cached outside the repository, in `default_data_dir()`; scorebank/<config> is built there first
when missing):

    mirjax data build scorebank_listening/tiny|default [--data_dir DIR]
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import default_data_dir, scorebank
from mirjax.data.cached import CachedBuilder
from mirjax.errors import UserError

log = logging.getLogger("mirjax")

NAME = "scorebank_listening"
# The one TFDS split of the listening builders ("all" is reserved: TFDS reads it as every split).
SPLIT = "plays"
CLIP_SPLITS = ("train", "validation", "test")
ITEMS_FILE = "items.tsv"
SIMULATION_FILE = "simulation.npz"
_USER_CHUNK = 1024  # users simulated at once (fixed: the random stream does not depend on it)


# --- shared by the listening builders (also `taste_profile`) ------------------------------------

def listening_features(clip_key_doc: str) -> tfds.features.FeaturesDict:
    """The features of a listening example: one (user, item) pair with its play count."""
    return tfds.features.FeaturesDict({
        "user": tfds.features.Scalar(dtype=np.int32, doc="user index, 0 … metadata['num_users'] - 1"),
        "clip_key": tfds.features.Text(doc=clip_key_doc),
        "item": tfds.features.Scalar(dtype=np.int32, doc=f"index of clip_key in the sorted item keys "
                                                          f"({ITEMS_FILE})"),
        "plays": tfds.features.Scalar(dtype=np.int32, doc="play count, > 0"),
        "split": tfds.features.ClassLabel(names=list(CLIP_SPLITS), doc="the item's split"),
    })


def gini(x) -> float:
    """Gini coefficient of non-negative values (0: all equal; → 1: one value holds everything)."""
    x = np.sort(np.asarray(x, np.float64).ravel())
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(np.sum((2.0 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


def summary_stats(users: np.ndarray, items: np.ndarray, plays: np.ndarray, num_users: int,
                  num_items: int) -> dict:
    """Statistics of a sparse play-count matrix given as (user, item, plays) triplets (no duplicates)."""
    plays = np.asarray(plays, np.int64)
    per_user = np.bincount(users, weights=plays, minlength=num_users)
    items_per_user = np.bincount(users, minlength=num_users)
    per_item = np.bincount(items, weights=plays, minlength=num_items)
    top = np.sort(per_item)[::-1][:max(1, int(np.ceil(0.1 * num_items)))]
    total = float(plays.sum())
    return {
        "num_users": int(num_users), "num_items": int(num_items), "num_pairs": int(plays.size),
        "total_plays": int(total),
        "density": float(plays.size / max(1, num_users * num_items)),
        "plays_per_user_mean": float(per_user.mean()) if num_users else 0.0,
        "plays_per_user_median": float(np.median(per_user)) if num_users else 0.0,
        "items_per_user_mean": float(items_per_user.mean()) if num_users else 0.0,
        "items_per_user_median": float(np.median(items_per_user)) if num_users else 0.0,
        "plays_per_pair_mean": float(total / max(1, plays.size)),
        "plays_per_pair_max": int(plays.max()) if plays.size else 0,
        "items_without_plays": int(np.sum(per_item == 0)),
        "gini_item_plays": gini(per_item),
        "top10pct_items_play_share": float(top.sum() / total) if total else 0.0,
    }


def summary_line(name: str, stats: Mapping, seconds: float | None = None) -> str:
    took = f"; built in {seconds:.1f} s" if seconds is not None else ""
    return (f"{name}: {stats['num_users']:,} users x {stats['num_items']:,} items, {stats['num_pairs']:,} "
            f"pairs (density {100 * stats['density']:.2f} %), {stats['total_plays']:,} plays; plays per user "
            f"mean {stats['plays_per_user_mean']:.1f} median {stats['plays_per_user_median']:.0f}; items per "
            f"user mean {stats['items_per_user_mean']:.1f}; Gini of item plays {stats['gini_item_plays']:.3f}, "
            f"top 10 % of items get {100 * stats['top10pct_items_play_share']:.1f} % of plays{took}")


def write_items(path: str, columns: Mapping[str, Sequence]) -> None:
    """A tab-separated item table with a header; the first column must be `item` = 0 … n−1."""
    names = list(columns)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            w.writerow(row)


def read_items(path: str) -> dict:
    """The item table written by `write_items`: {column: list of str}."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], rows[1:]
    return {name: [r[j] for r in body] for j, name in enumerate(header)}


def as_builder(builder_or_name, data_dir: str | None):
    if isinstance(builder_or_name, tfds.core.DatasetBuilder):
        return builder_or_name
    return tfds.builder(builder_or_name, data_dir=data_dir or default_data_dir())


def _read_triplets(builder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, plays) of every example, in stored order. Parses the TFRecord shards in batches
    with `tf.io.parse_example` (TFDS stores the int scalars as int64 lists): about two orders of
    magnitude faster than decoding example by example, which matters for the full Taste Profile."""
    import tensorflow as tf

    names = ("user", "item", "plays")
    if builder.info.file_format is not None and builder.info.file_format.value != "tfrecord":
        ds = builder.as_dataset(split=SPLIT, shuffle_files=False,
                                read_config=tfds.ReadConfig(interleave_cycle_length=1))
        ds = ds.map(lambda ex: {k: ex[k] for k in names}).batch(1 << 16)
    else:
        files = [os.path.join(builder.data_dir, f) for f in builder.info.splits[SPLIT].filenames]
        spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in names}
        ds = tf.data.TFRecordDataset(files).batch(1 << 16).map(lambda x: tf.io.parse_example(x, spec))
    parts = list(tfds.as_numpy(ds.prefetch(2)))
    return tuple(np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64) for k in names)


def load_matrix(builder_or_name, data_dir: str | None = None):
    """The play counts of a listening dataset as `(matrix, item_keys, item_splits)`.

    builder_or_name: a prepared `scorebank_listening` / `taste_profile` builder or its name
        ("scorebank_listening/default", "taste_profile/subset"); a `scorebank_listening` that is not
        built yet is built (into `data_dir`, default `default_data_dir()`).
    Returns a `scipy.sparse.csr_matrix` of shape (num_users, num_items), int32 play counts (rows: users,
    columns: items in sorted clip-key order), the item keys (list of str) and their splits (np.ndarray
    of str: "train", "validation" or "test").
    """
    import scipy.sparse

    builder = as_builder(builder_or_name, data_dir)
    if not builder.is_prepared():
        if isinstance(builder, ScorebankListening):
            builder.download_and_prepare()
        else:
            raise FileNotFoundError(f"{builder.info.full_name} is not built in {builder.data_dir}; build it "
                                    f"first (see docs/datasets.md)")
    meta = builder.info.metadata
    items = read_items(os.path.join(builder.data_dir, meta.get("items_file", ITEMS_FILE)))
    num_users, num_items = int(meta["num_users"]), int(meta["num_items"])
    if len(items["clip_key"]) != num_items:
        raise UserError(f"{builder.info.full_name}: {ITEMS_FILE} lists {len(items['clip_key'])} items, "
                         f"metadata says {num_items}")
    users, item_ix, plays = _read_triplets(builder)
    matrix = scipy.sparse.csr_matrix((plays.astype(np.int32), (users.astype(np.int64), item_ix.astype(np.int64))),
                                     shape=(num_users, num_items))
    matrix.sum_duplicates()
    return matrix, list(items["clip_key"]), np.asarray(items["split"])


# --- scorebank clips --------------------------------------------------------------------------

def scorebank_clip_keys(sb_builder, split: str, work_ids: Sequence[str], styles: Sequence[str]) -> list[str]:
    """The example keys (`work_id@clip_index`) of a scorebank split, in the order in which
    `as_dataset(split, shuffle_files=False, read_config=ReadConfig(interleave_cycle_length=1))` yields
    its examples (their `work_id`s and style names given, in that order).

    scorebank stores no clip index, but TFDS writes a split's examples sorted by the md5 hash of their
    key salted with the split name (`tfds.core.hashing`, the basis of TFDS's deterministic order), and
    a work of style s has clips 0 … clips_per_work[s]−1. So the planned keys sorted by that hash, matched
    in order to the work ids read, give each example's key. A work missing some of its clips (the rare
    clip that failed to render) is matched greedily; the whole sequence must match or this raises.
    """
    from tensorflow_datasets.core import hashing

    per_style = dict(sb_builder.builder_config.clips_per_work)
    hasher = hashing.Hasher(split)
    style_of = {}
    for w, s in zip(work_ids, styles):
        style_of.setdefault(w, s)
    candidates = [f"{w}@{c}" for w, s in style_of.items() for c in range(int(per_style.get(s, 1)))]
    candidates.sort(key=hasher.hash_key)
    keys, j = [], 0
    for w in work_ids:
        while j < len(candidates) and candidates[j].rsplit("@", 1)[0] != w:
            j += 1
        if j == len(candidates):
            raise UserError(f"scorebank/{sb_builder.builder_config.name} {split}: cannot recover the example "
                             f"keys from the stored order (work {w}); was it written by another TFDS version?")
        keys.append(candidates[j])
        j += 1
    return keys


def read_split_clips(sb_builder, split: str) -> dict:
    """The clips of one scorebank split in the order the training pipeline reads them
    (`as_dataset(split, shuffle_files=False, read_config=ReadConfig(interleave_cycle_length=1))`):
    {"keys" (example keys), "tags" (clips × tags uint8), "style" (names)}. Audio is skipped."""
    import tensorflow as tf

    names = sb_builder.info.features["style"].names
    ds = sb_builder.as_dataset(split=split, shuffle_files=False,
                               decoders={"audio": tfds.decode.SkipDecoding()},
                               read_config=tfds.ReadConfig(interleave_cycle_length=1))
    ds = ds.map(lambda ex: (ex["tags"], ex["style"], ex["work_id"]),
                num_parallel_calls=tf.data.AUTOTUNE).batch(512)
    tags, styles, works = [], [], []
    for t, s, w in tfds.as_numpy(ds):
        tags.append(t)
        styles += [names[int(i)] for i in s]
        works += [x.decode("utf-8") for x in w]
    n_tags = len(sb_builder.info.metadata["tag_names"])
    return {"keys": scorebank_clip_keys(sb_builder, split, works, styles),
            "tags": np.concatenate(tags).astype(np.uint8) if tags else np.zeros((0, n_tags), np.uint8),
            "style": styles}


def read_scorebank_clips(sb_builder) -> dict:
    """Every clip of a prepared scorebank build, sorted by example key: {"keys", "tags" (clips × tags
    uint8), "style" (names), "split" (names)}. Reads the tags, style and work id only (audio skipped)."""
    rows = []
    for split in CLIP_SPLITS:
        clips = read_split_clips(sb_builder, split)
        rows += [(k, clips["tags"][i], clips["style"][i], split) for i, k in enumerate(clips["keys"])]
    rows.sort(key=lambda r: r[0])
    if len({r[0] for r in rows}) != len(rows):
        raise UserError(f"scorebank/{sb_builder.builder_config.name}: duplicate example keys")
    return {"keys": [r[0] for r in rows], "tags": np.stack([r[1] for r in rows]).astype(np.uint8),
            "style": [r[2] for r in rows], "split": [r[3] for r in rows]}


# --- the simulation ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SimulationParams:
    """Everything the simulation varies besides the clips (see the module docstring for the model).

    num_users: users simulated.
    taste_alpha: Dirichlet concentration of a user's taste over the tags (< 1: few favourite tags).
    taste_beta: strength of taste: a clip carrying all of a user's taste mass is exp(taste_beta) times
        likelier than an equally popular clip carrying none of it.
    median_events, activity_sigma, min_events: a user's number of listening events is
        max(min_events, round(LogNormal(log median_events, activity_sigma))).
    popularity_sigma: standard deviation of log popularity (the skew of item popularity).
    popularity_content: share (0 … 1) of the log-popularity variance explained by the tags.
    replays_mean: mean number of extra plays per event (geometric; 0 = one play per event), for the
        repeat listening of real play counts (the Taste Profile has about 2.9 plays per user–song pair).
    """
    num_users: int = 10_000
    taste_alpha: float = 0.1
    taste_beta: float = 5.0
    median_events: float = 50.0
    activity_sigma: float = 1.0
    min_events: int = 5
    popularity_sigma: float = 1.5
    popularity_content: float = 0.2
    replays_mean: float = 1.0

    def as_dict(self) -> dict:
        return {k: (int(v) if isinstance(v, (int, np.integer)) else float(v))
                for k, v in dataclasses.asdict(self).items()}


def simulate(clip_tags: np.ndarray, params: SimulationParams, seed: int) -> dict:
    """Simulated play counts over clips with multi-hot `clip_tags` (clips × tags).

    Returns {"users", "items", "plays"} (int32 triplets of the non-zero counts, sorted by user then item),
    "popularity" (clips, normalised to sum 1), "taste" (users × tags), "events" (users) and
    "log_sd_popularity" / "log_sd_taste" (the spread of the two terms of a user's log-probabilities
    over the clips: standard deviation of log pop_i, and the mean over users of that of β t_u·g_i).
    Deterministic for a seed.
    """
    g = np.asarray(clip_tags, np.float64)
    n_items, n_tags = g.shape
    p = params
    if not 0.0 <= p.popularity_content <= 1.0:
        raise UserError(f"popularity_content must be in [0, 1], got {p.popularity_content}")
    rng = np.random.default_rng(seed)
    # Popularity: partly explained by the tags (a random tag weighting), mostly independent of them.
    z_own = rng.standard_normal(n_items)
    content = g @ rng.standard_normal(n_tags)
    sd = content.std()
    z_content = (content - content.mean()) / sd if sd > 0 else np.zeros(n_items)
    log_pop = p.popularity_sigma * (np.sqrt(p.popularity_content) * z_content
                                    + np.sqrt(1.0 - p.popularity_content) * z_own)
    log_pop -= np.log(np.exp(log_pop - log_pop.max()).sum()) + log_pop.max()  # sum(pop) = 1
    # Users: a sparse taste over the tags and an activity level.
    taste = rng.dirichlet(np.full(n_tags, p.taste_alpha), size=p.num_users)
    taste = np.nan_to_num(taste, nan=1.0 / n_tags)  # numpy < 1.25 can return NaN rows for tiny alpha
    events = np.maximum(p.min_events, np.round(
        rng.lognormal(np.log(p.median_events), p.activity_sigma, size=p.num_users))).astype(np.int64)
    users, items, plays, taste_sd = [], [], [], []
    for start in range(0, p.num_users, _USER_CHUNK):
        t = taste[start:start + _USER_CHUNK]
        affinity = p.taste_beta * (t @ g.T)                      # users × clips
        taste_sd.append(affinity.std(axis=1))
        logits = log_pop[None, :] + affinity
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        counts = rng.multinomial(events[start:start + _USER_CHUNK], prob)
        u, i = np.nonzero(counts)                                # row-major: by user, then item
        n = counts[u, i]
        if p.replays_mean > 0:  # each event: 1 + Geometric plays, so n events give n + NegBin(n, q)
            n = n + rng.negative_binomial(n, 1.0 / (1.0 + p.replays_mean))
        users.append(u + start)
        items.append(i)
        plays.append(n)
    cat = (lambda xs: np.concatenate(xs).astype(np.int32) if xs else np.zeros(0, np.int32))
    return {"users": cat(users), "items": cat(items), "plays": cat(plays),
            "popularity": np.exp(log_pop), "taste": taste, "events": events,
            "log_sd_popularity": float(log_pop.std()),
            "log_sd_taste": float(np.concatenate(taste_sd).mean()) if taste_sd else 0.0}


def taste_lift(users: np.ndarray, items: np.ndarray, plays: np.ndarray, taste: np.ndarray,
               clip_tags: np.ndarray, popularity: np.ndarray) -> float:
    """Mean over users of (share of their plays on clips carrying their favourite tag) / (that tag's
    popularity-weighted share of the clips): ≈ 1 when tastes play no part, > 1 when they do."""
    g = np.asarray(clip_tags, bool)
    fav = np.argmax(taste, axis=1)
    base = (popularity[:, None] * g).sum(axis=0) / popularity.sum()      # per tag
    on_fav = g[items, fav[users]]
    total = np.bincount(users, weights=plays, minlength=len(taste))
    hit = np.bincount(users, weights=plays * on_fav, minlength=len(taste))
    ok = (total > 0) & (base[fav] > 0)
    return float(np.mean(hit[ok] / total[ok] / base[fav][ok])) if ok.any() else float("nan")


# --- the builder ------------------------------------------------------------------------------

@dataclasses.dataclass(eq=False)
class ListeningConfig(tfds.core.BuilderConfig):
    """scorebank_config: the scorebank build whose clips are the items (read from the same data dir).
    seed: of the simulation. params: SimulationParams."""
    scorebank_config: str = "default"
    seed: int = 0
    params: SimulationParams = SimulationParams()


TINY = ListeningConfig(
    name="tiny", scorebank_config="tiny", seed=0,
    params=SimulationParams(num_users=300, median_events=20.0),
    description="300 users over scorebank/tiny's 45 clips, for tests and smoke runs.")
DEFAULT = ListeningConfig(
    name="default", scorebank_config="default", seed=0, params=SimulationParams(),
    description="10,000 users over scorebank/default's ~2,900 clips (density about 2 %).")


class ScorebankListening(CachedBuilder):
    """Simulated play counts over scorebank clips (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = [DEFAULT, TINY]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=listening_features("scorebank example key, work_id@clip_index"),
            # Stored in key order (user, then item), not TFDS's hash order: a user's pairs are adjacent.
            disable_shuffling=True,
            homepage="https://web.mit.edu/music21/",
            metadata=tfds.core.MetadataDict(
                scorebank=f"scorebank/{cfg.scorebank_config}", seed=int(cfg.seed),
                params=cfg.params.as_dict(), items_file=ITEMS_FILE, simulation_file=SIMULATION_FILE),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated from a scorebank build

        cfg = self.builder_config
        t0 = time.time()
        root = os.fspath(self.data_dir_root)
        sb = scorebank.Scorebank(config=cfg.scorebank_config, data_dir=root)
        if not sb.is_prepared():
            log.info("%s/%s: building scorebank/%s first", NAME, cfg.name, cfg.scorebank_config)
            sb.download_and_prepare()
        clips = read_scorebank_clips(sb)
        sim = simulate(clips["tags"], cfg.params, cfg.seed)
        n_users, n_items = cfg.params.num_users, len(clips["keys"])
        stats = summary_stats(sim["users"], sim["items"], sim["plays"], n_users, n_items)
        stats["taste_lift"] = taste_lift(sim["users"], sim["items"], sim["plays"], sim["taste"],
                                         clips["tags"], sim["popularity"])
        stats["log_sd_popularity"] = sim["log_sd_popularity"]
        stats["log_sd_taste"] = sim["log_sd_taste"]
        stats["simulate_seconds"] = round(time.time() - t0, 1)
        line = summary_line(f"{NAME}/{cfg.name}", stats)
        log.info(line)
        print(line, file=sys.stderr)
        meta = self.info.metadata
        meta.update(num_users=n_users, num_items=n_items, item_keys=list(clips["keys"]),
                    tag_names=list(sb.info.metadata["tag_names"]), stats=stats, summary=line)
        # Written into the dataset folder (TFDS's temporary one, renamed when the build succeeds).
        os.makedirs(self.data_dir, exist_ok=True)
        write_items(os.path.join(self.data_dir, ITEMS_FILE), {
            "item": range(n_items), "clip_key": clips["keys"], "split": clips["split"],
            "style": clips["style"], "popularity": [f"{x:.6g}" for x in sim["popularity"]]})
        np.savez_compressed(os.path.join(self.data_dir, SIMULATION_FILE), taste=sim["taste"].astype(np.float32),
                            events=sim["events"], popularity=sim["popularity"], clip_tags=clips["tags"])
        return {SPLIT: self._generate_examples(sim, clips)}

    def _generate_examples(self, sim: dict, clips: dict):
        n_items = len(clips["keys"])
        keys, splits = clips["keys"], clips["split"]
        for u, i, n in zip(sim["users"].tolist(), sim["items"].tolist(), sim["plays"].tolist()):
            yield u * n_items + i, {"user": u, "clip_key": keys[i], "item": i, "plays": n, "split": splits[i]}
