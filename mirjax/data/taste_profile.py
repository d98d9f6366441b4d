"""`taste_profile`: the Echo Nest Taste Profile Subset (play counts of MSD songs), as a TFDS builder over a
manual directory.

The data of Dieleman's Ch. 4 (van den Oord, Dieleman & Schrauwen 2013) and of the MSD Challenge:
`train_triplets.txt`, 48,373,586 lines `user_id \\t song_id \\t play_count` (1,019,318 users, 384,546
songs). Songs are joined to MSD tracks (whose 7digital previews are the audio) through
`taste_profile_song_to_tracks.txt` (`song_id \\t track_id [\\t track_id …]`) or, failing that, the MSD's
`unique_tracks.txt` (`track_id<SEP>song_id<SEP>artist<SEP>title`). The MSD's `sid_mismatches.txt` lists
song–track pairs known to be wrong (`ERROR: <SOxxxxxxxxxxxxxxxx TRxxxxxxxxxxxxxxxx> artist  -  title  !=
…`); those pairs are not used (unless `sid_matches_manually_accepted.txt`, lines `< ERROR: <SO… TR…> …`,
accepts them), and a song is kept with its first remaining track. Songs without a usable track have no
audio and are dropped, as in the thesis ("all songs with both usage data and audio").

Examples, as for `scorebank_listening` (so the WMF / CNN code is shared): one per (user, song) pair:
`user` (int, users sorted by id), `clip_key` (the MSD track id, TR…), `item` (index into the sorted track
ids), `plays` (int) and `split` (a seeded split of the songs: train / test, validation optional). One
TFDS split, `plays`, in (user, item) order. `items.tsv` (item, clip_key, split, song_id, listeners,
plays) and `users.txt` (line u: the user id of user u) are written into the dataset folder;
`mirjax.data.listening.load_matrix` reads the users × items matrix.

Configs:
  full: every song with a usable track and every user with a play of one (thesis: 382,410 songs,
      1M users; test 46,728 songs, the same share here).
  subset: the thesis's 9,330 most popular songs × 20,000 users, read as: the 9,330 songs with the most
      listeners (distinct users; ties by total plays, then song id), then the 20,000 users with the most
      of those songs (ties by plays, then user id); test = 1,881 songs, train = 7,449.

Malformed lines (not 3 tab-separated fields, or a play count that is not a positive integer) are
skipped and counted, never fatal; duplicated (user, song) lines are merged by summing. Build:

    mirjax data build taste_profile/subset|full --manual_dir DIR [--data_dir DIR]
"""

from __future__ import annotations

import array
import dataclasses
import logging
import os
import re
import sys
import time
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import listening, manual

log = logging.getLogger("mirjax")

NAME = "taste_profile"
SPLIT = listening.SPLIT
TRIPLETS = "train_triplets.txt"
SONG_TO_TRACKS = "taste_profile_song_to_tracks.txt"
UNIQUE_TRACKS = "unique_tracks.txt"
MISMATCHES = "sid_mismatches.txt"
ACCEPTED = "sid_matches_manually_accepted.txt"
USERS_FILE = "users.txt"
MAX_LISTED_BAD_LINES = 100  # in info.metadata["bad_lines_listed"]
MAX_LOGGED_BAD_LINES = 20   # one warning each; the summary line counts them all
_PAIR_RE = re.compile(r"<(SO[A-Z0-9]{16}) (TR[A-Z0-9]{16})>")


@dataclasses.dataclass(eq=False)
class TasteProfileConfig(tfds.core.BuilderConfig):
    """num_songs / num_users: keep the most popular songs / most active users (0 = all; see module doc).
    test_fraction / validation_fraction: shares of the kept songs in the test / validation split (a
    seeded permutation of the sorted track ids; rounded to whole songs). seed: of that permutation."""
    num_songs: int = 0
    num_users: int = 0
    test_fraction: float = 46_728 / 382_410
    validation_fraction: float = 0.0
    seed: int = 0


CONFIGS = [
    TasteProfileConfig(
        name="subset", num_songs=9_330, num_users=20_000, test_fraction=1_881 / 9_330,
        description="The thesis's subset: 9,330 most popular songs x 20,000 most active users among them; "
                    "1,881 test songs."),
    TasteProfileConfig(
        name="full", test_fraction=46_728 / 382_410,
        description="Every song with a usable track, every user (thesis: 382,410 songs x 1M users; 46,728 "
                    "test songs)."),
]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put these in the manual directory (--manual_dir, config.dataset.manual_dir, or
tfds.download.DownloadConfig(manual_dir=...); default <data_dir>/downloads/manual), from
http://millionsongdataset.com/tasteprofile/ and the MSD's additional files:

  {TRIPLETS}       required: train_triplets.txt.zip unzipped; lines
                           user_id<TAB>song_id<TAB>play_count
  {SONG_TO_TRACKS}   song_id<TAB>track_id[<TAB>track_id ...]  (the Taste Profile's own mapping), or
  {UNIQUE_TRACKS}          track_id<SEP>song_id<SEP>artist<SEP>title  (MSD additional file #1);
                           one of the two is required (the first is used when both are there)
  {MISMATCHES}       optional (recommended): ERROR: <song_id track_id> ... lines of known wrong matches
  {ACCEPTED}  optional: < ERROR: <song_id track_id> ... lines of mismatches that are fine after all

See {manual.DOCS}.
"""


# --- reading the files ------------------------------------------------------------------------

class LineLog:
    """Malformed lines of a text file: one warning for each of the first few, counts by reason, the
    first MAX_LISTED_BAD_LINES listed (line number, reason, text) for `info.metadata`."""

    def __init__(self, path: str):
        self.path = path
        self.counts: dict = {}
        self.listed: list = []

    def bad(self, lineno: int, reason: str, line: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        text = line.rstrip("\r\n")[:200]
        if len(self.listed) < MAX_LISTED_BAD_LINES:
            self.listed.append([lineno, reason, text])
        if sum(self.counts.values()) <= MAX_LOGGED_BAD_LINES:
            log.warning("%s: skipped %s line %d (%s): %r", NAME, os.path.basename(self.path), lineno, reason, text)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def read_pairs(path: str) -> set:
    """The (song_id, track_id) pairs of a sid_mismatches-style file (`<SO… TR…>` on each line)."""
    pairs = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _PAIR_RE.search(line)
            if m:
                pairs.add((m.group(1), m.group(2)))
    return pairs


def read_song_tracks(path: str) -> dict:
    """song_id → [track_id, …] in file order, from taste_profile_song_to_tracks.txt (tab-separated,
    song first) or unique_tracks.txt (`<SEP>`-separated, track first). Lines without a song id are
    ignored; a song listed without tracks maps to []."""
    tracks: dict = {}
    sep_format = os.path.basename(path) == UNIQUE_TRACKS
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if sep_format:
                parts = line.rstrip("\r\n").split("<SEP>")
                if len(parts) < 2 or not parts[1].startswith("SO") or not parts[0].startswith("TR"):
                    continue
                tracks.setdefault(parts[1].strip(), []).append(parts[0].strip())
            else:
                parts = [p.strip() for p in line.rstrip("\r\n").split("\t")]
                if not parts or not parts[0].startswith("SO"):
                    continue
                tracks.setdefault(parts[0], []).extend(t for t in parts[1:] if t.startswith("TR"))
    return tracks


def choose_tracks(song_tracks: dict, mismatched: set, accepted: set) -> tuple[dict, set]:
    """(song → its first track not in a known-wrong pair, songs whose tracks were all wrong).

    A track listed for two songs (which the MSD files should not have) goes to the smaller song id; the
    other song takes its next usable track, or is dropped."""
    wrong = mismatched - accepted
    chosen, all_wrong, owner = {}, set(), {}
    for song in sorted(song_tracks):
        tracks = song_tracks[song]
        good = [t for t in tracks if (song, t) not in wrong]
        if not good:
            if tracks:
                all_wrong.add(song)
            continue
        track = next((t for t in good if t not in owner), None)
        if track is None:
            continue
        owner[track] = song
        chosen[song] = track
    return chosen, all_wrong


def read_triplets(path: str, usable: dict, mismatched_songs: set, lines: LineLog) -> dict:
    """Streams the triplets file; keeps the lines whose song is in `usable`.

    Users and songs are integer-encoded on the fly (dicts of id → int, three int32 arrays), so the
    48M lines are never held as Python objects. Returns {"users", "songs", "plays" (np.int32),
    "user_ids", "song_ids" (lists of str, by code), "lines", "no_track", "mismatched"}.
    """
    user_ix: dict = {}
    song_ix: dict = {}
    users, songs, plays = array.array("i"), array.array("i"), array.array("i")
    n_lines = no_track = mismatched = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for n_lines, line in enumerate(f, 1):
            parts = line.split("\t")
            if len(parts) != 3:
                if line.strip():
                    lines.bad(n_lines, "wrong field count", line)
                continue
            user, song, count = parts
            user, song = user.strip(), song.strip()
            if not user or not song:
                lines.bad(n_lines, "empty id", line)
                continue
            try:
                c = int(count)
            except ValueError:
                lines.bad(n_lines, "non-integer count", line)
                continue
            if c <= 0 or c > 2**31 - 1:
                lines.bad(n_lines, "non-positive count", line)
                continue
            if song not in usable:
                if song in mismatched_songs:
                    mismatched += 1
                else:
                    no_track += 1
                continue
            u = user_ix.get(user)
            if u is None:
                u = user_ix[user] = len(user_ix)
            s = song_ix.get(song)
            if s is None:
                s = song_ix[song] = len(song_ix)
            users.append(u)
            songs.append(s)
            plays.append(c)
    as_np = (lambda a: np.frombuffer(a, dtype=np.int32).copy() if len(a) else np.zeros(0, np.int32))
    return {"users": as_np(users), "songs": as_np(songs), "plays": as_np(plays),
            "user_ids": list(user_ix), "song_ids": list(song_ix), "lines": n_lines,
            "no_track": no_track, "mismatched": mismatched}


def merge_duplicates(users: np.ndarray, songs: np.ndarray, plays: np.ndarray, n_songs: int):
    """Triplets sorted by (user, song) with repeated pairs summed; also returns how many were merged."""
    key = users.astype(np.int64) * max(1, n_songs) + songs
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.concatenate([[True], key[1:] != key[:-1]]) if key.size else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    summed = np.add.reduceat(plays[order].astype(np.int64), starts) if key.size else np.zeros(0, np.int64)
    return users[order][starts], songs[order][starts], np.minimum(summed, 2**31 - 1).astype(np.int32), \
        int(key.size - starts.size)


def _top(counts: np.ndarray, plays: np.ndarray, names: Sequence[str], n: int) -> np.ndarray:
    """Indices of the `n` largest counts (ties: more plays, then smaller name), among counts > 0."""
    cand = np.flatnonzero(counts > 0)
    order = np.lexsort((np.asarray(names, dtype=object)[cand].astype(str), -plays[cand], -counts[cand]))
    return cand[order[:n]] if n else cand[order]


def select(users, songs, plays, user_ids, song_ids, num_songs: int, num_users: int) -> np.ndarray:
    """Mask of the triplets kept by the config: the `num_songs` songs with the most listeners, then the
    `num_users` users with the most of those songs (0 = all)."""
    keep = np.ones(users.size, bool)
    if num_songs:
        listeners = np.bincount(songs, minlength=len(song_ids))
        song_plays = np.bincount(songs, weights=plays, minlength=len(song_ids))
        top = np.zeros(len(song_ids), bool)
        top[_top(listeners, song_plays, song_ids, num_songs)] = True
        keep &= top[songs]
    if num_users:
        n_songs = np.bincount(users[keep], minlength=len(user_ids))
        user_plays = np.bincount(users[keep], weights=plays[keep], minlength=len(user_ids))
        top = np.zeros(len(user_ids), bool)
        top[_top(n_songs, user_plays, user_ids, num_users)] = True
        keep &= top[users]
    return keep


def split_items(n_items: int, test_fraction: float, validation_fraction: float, seed: int) -> list[str]:
    """A seeded split of items 0 … n−1: round(n·test_fraction) test, round(n·validation_fraction)
    validation, the rest train."""
    perm = np.random.default_rng(seed).permutation(n_items)
    n_test = int(round(n_items * test_fraction))
    n_val = int(round(n_items * validation_fraction))
    out = np.full(n_items, "train", dtype=object)
    out[perm[:n_test]] = "test"
    out[perm[n_test:n_test + n_val]] = "validation"
    return list(out)


# --- the builder ------------------------------------------------------------------------------

class TasteProfile(manual.ManualBuilder):
    """Echo Nest Taste Profile play counts joined to MSD tracks (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "subset"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=listening.listening_features("MSD track id (TR…) of the song"),
            disable_shuffling=True,  # (user, item) order, as scorebank_listening
            homepage="http://millionsongdataset.com/tasteprofile/",
            metadata=tfds.core.MetadataDict(
                num_songs_requested=int(cfg.num_songs), num_users_requested=int(cfg.num_users),
                test_fraction=float(cfg.test_fraction), validation_fraction=float(cfg.validation_fraction),
                seed=int(cfg.seed), items_file=listening.ITEMS_FILE, users_file=USERS_FILE),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        t0 = time.time()
        root = manual.manual_dir(dl_manager, NAME)
        triplets = manual.require_file(os.path.join(root, TRIPLETS), NAME, f"play counts {TRIPLETS}")
        mapping = next((os.path.join(root, f) for f in (SONG_TO_TRACKS, UNIQUE_TRACKS)
                        if os.path.isfile(os.path.join(root, f))), None)
        if mapping is None:
            raise manual.ManualDataError(
                f"{NAME}: no song-to-track mapping in {root}: expected {SONG_TO_TRACKS} or {UNIQUE_TRACKS} "
                f"({manual.instructions_hint(NAME)})")
        song_tracks = read_song_tracks(mapping)
        mis_path, acc_path = os.path.join(root, MISMATCHES), os.path.join(root, ACCEPTED)
        mismatched = read_pairs(mis_path) if os.path.isfile(mis_path) else set()
        accepted = read_pairs(acc_path) if os.path.isfile(acc_path) else set()
        if not mismatched:
            log.warning("%s: no %s in %s: known wrong song-track matches are kept", NAME, MISMATCHES, root)
        usable, all_wrong = choose_tracks(song_tracks, mismatched, accepted)

        lines = LineLog(triplets)
        data = read_triplets(triplets, usable, all_wrong, lines)
        users, songs, plays, merged = merge_duplicates(data["users"], data["songs"], data["plays"],
                                                       len(data["song_ids"]))
        keep = select(users, songs, plays, data["user_ids"], data["song_ids"], cfg.num_songs, cfg.num_users)
        users, songs, plays = users[keep], songs[keep], plays[keep]
        if not users.size:
            raise manual.ManualDataError(f"{NAME}: no play counts left in {triplets} after dropping songs "
                                         f"without a usable track ({manual.instructions_hint(NAME)})")

        # Users sorted by id, items by track id.
        kept_users = np.unique(users)
        user_names = sorted((data["user_ids"][u], u) for u in kept_users)
        user_map = np.full(len(data["user_ids"]), -1, np.int64)
        user_map[[u for _, u in user_names]] = np.arange(len(user_names))
        kept_songs = np.unique(songs)
        item_names = sorted((usable[data["song_ids"][s]], s) for s in kept_songs)
        item_map = np.full(len(data["song_ids"]), -1, np.int64)
        item_map[[s for _, s in item_names]] = np.arange(len(item_names))
        u_ix, i_ix = user_map[users], item_map[songs]
        order = np.lexsort((i_ix, u_ix))
        u_ix, i_ix, plays = u_ix[order], i_ix[order], plays[order]
        n_users, n_items = len(user_names), len(item_names)
        splits = split_items(n_items, cfg.test_fraction, cfg.validation_fraction, cfg.seed)
        track_keys = [t for t, _ in item_names]

        stats = listening.summary_stats(u_ix, i_ix, plays, n_users, n_items)
        counts = {"lines": data["lines"], "bad_lines": lines.total, "triplets_kept": int(plays.size),
                  "triplets_without_track": data["no_track"], "triplets_mismatched": data["mismatched"],
                  "duplicates_merged": merged, "songs_in_mapping": len(song_tracks),
                  "songs_with_track": len(usable), "songs_all_tracks_mismatched": len(all_wrong),
                  "mismatched_pairs": len(mismatched), "accepted_pairs": len(accepted)}
        bad = ", ".join(f"{k} {v:,}" for k, v in sorted(lines.counts.items())) or "none"
        line = (f"{NAME}/{cfg.name}: read {data['lines']:,} lines of {TRIPLETS}; skipped {lines.total:,} "
                f"malformed ({bad}); dropped {data['no_track']:,} triplets of songs without a track and "
                f"{data['mismatched']:,} of songs whose tracks are all mismatched; merged {merged:,} duplicates; "
                f"kept {plays.size:,} pairs. " + listening.summary_line("", stats).lstrip(": ")
                + f"; {splits.count('test'):,} test songs; took {time.time() - t0:.0f} s to read")
        (log.warning if lines.total else log.info)(line)
        print(line, file=sys.stderr)
        meta = self.info.metadata
        meta.update(num_users=n_users, num_items=n_items, mapping_file=os.path.basename(mapping),
                    counts=counts, bad_lines=dict(lines.counts), bad_lines_listed=list(lines.listed),
                    stats=stats, summary=line,
                    split_sizes={s: splits.count(s) for s in listening.CLIP_SPLITS})
        os.makedirs(self.data_dir, exist_ok=True)
        song_of = [data["song_ids"][s] for _, s in item_names]
        listeners = np.bincount(i_ix, minlength=n_items)
        item_plays = np.bincount(i_ix, weights=plays, minlength=n_items).astype(np.int64)
        listening.write_items(os.path.join(self.data_dir, listening.ITEMS_FILE), {
            "item": range(n_items), "clip_key": track_keys, "split": splits, "song_id": song_of,
            "listeners": listeners.tolist(), "plays": item_plays.tolist()})
        with open(os.path.join(self.data_dir, USERS_FILE), "w", encoding="utf-8") as f:
            f.writelines(f"{name}\n" for name, _ in user_names)
        return {SPLIT: self._generate_examples(u_ix, i_ix, plays, track_keys, splits)}

    def _generate_examples(self, users: np.ndarray, items: np.ndarray, plays: np.ndarray,
                           keys: Sequence[str], splits: Sequence[str]):
        n_items = len(keys)
        for u, i, n in zip(users.tolist(), items.tolist(), plays.tolist()):
            yield u * n_items + i, {"user": u, "clip_key": keys[i], "item": i, "plays": n, "split": splits[i]}
