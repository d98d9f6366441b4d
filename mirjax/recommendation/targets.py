"""Regression targets for predicting usage from audio (Dieleman thesis §4.5): WMF factors of a listening
dataset, laid out per split of the audio dataset in the order the training pipeline reads its clips.

    mirjax recommend targets scorebank_listening/default --out FILE.npz

Reading of the thesis (Dieleman thesis §4.6.2 does not say it outright): WMF is fitted on **all** the usage data,
test songs included, so that the user factors x_u are fixed and the "upper bound" row scores the test songs
with their own WMF factors. The CNN and the baselines are trained on the train songs' factors y_i and predict
ŷ_i for the test songs from audio alone; every user's test songs are then ranked by x_uᵀ ŷ_i.

The factors are balanced after ALS (`wmf.balance_factors`: the same scores x_uᵀy_i, the smallest λ term, factor j
carrying the j-th singular value), so the item factors, the regression targets, are not left ~500× smaller than
the user factors by the tiny λ. The file holds, besides the user factors, for every split s of the audio dataset
(rows in the pipeline's read order, checked by count when training starts):

* `s/factors` (n, F): the MSE target y_i (Eq. 4.4);
* `s/wpe_gram`, `s/wpe_b`, `s/wpe_const`: the WPE objective (Eq. 4.5) of each item with the user factors fixed,
  as a quadratic: Σ_u c_ui (p_ui − x_uᵀŷ)² = ŷᵀA_iŷ − 2b_iᵀŷ + k_i with A_i = XᵀX + X_Iᵀ diag(c_I − 1) X_I,
  b_i = X_Iᵀ c_I, k_i = Σ_{u∈I} c_ui (I: the users who played i, p = 1 there). All three are divided by the
  number of users, so the loss is a mean over users. A_i is F × F per item: fine for the subset's 50 factors
  (the default simulation: 2,892 × 50 × 50 floats, 29 MB); `wpe=False` leaves them out for 400-factor
  corpora, where they would not fit;
* `s/keys`, `s/plays_indptr`, `s/plays_users`, `s/plays_counts`: the clip keys and the split's play counts
  as compressed columns (users of each clip), the ground truth of the ranking evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping

import numpy as np

from mirjax.data import default_data_dir, listening as listening_lib
from mirjax.errors import UserError
from mirjax.recommendation.metrics import random_baseline, ranking_metrics
from mirjax.recommendation.wmf import balance_factors, fit_wmf, surplus_confidence

log = logging.getLogger("mirjax")

SPLITS = ("train", "validation", "test")
PER_CLIP = ("factors", "wpe_gram", "wpe_b", "wpe_const")  # arrays with one row per clip


@dataclasses.dataclass(frozen=True)
class WMFParams:
    """WMF settings. The thesis gives none of α, ε, λ, the iterations or the initialisation (Dieleman §4.4); these
    are benanne/wmf's code defaults and demo values (α = 2, ε = 10⁻⁶, λ = 10⁻⁵, 20 iterations, N(0, 0.01²))."""
    num_factors: int = 50
    alpha: float = 2.0
    epsilon: float = 1e-6
    lambda_reg: float = 1e-5
    num_iterations: int = 20
    seed: int = 0
    solver: str = "exact"


def wpe_quadratics(user_factors: np.ndarray, plays_csc, alpha: float, epsilon: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A (items, F, F), b (items, F), k (items,)) of every column of a users × items play matrix (CSC),
    each divided by the number of users (see the module docstring)."""
    import scipy.sparse


    x = np.asarray(user_factors, np.float64)
    n_users, n_items = plays_csc.shape
    it = surplus_confidence(plays_csc, alpha, epsilon)  # c − 1 on the nonzeros
    surplus = scipy.sparse.csc_matrix((it.values.astype(np.float64), (it.rows, it.cols)), shape=it.shape)
    surplus.sort_indices()
    xtx = x.T @ x
    gram = np.empty((n_items, x.shape[1], x.shape[1]), np.float32)
    b = np.empty((n_items, x.shape[1]), np.float32)
    k = np.empty(n_items, np.float32)
    for i in range(n_items):
        lo, hi = surplus.indptr[i], surplus.indptr[i + 1]
        xi, si = x[surplus.indices[lo:hi]], surplus.data[lo:hi]
        gram[i] = (xtx + xi.T @ (si[:, None] * xi)) / n_users
        b[i] = xi.T @ (1.0 + si) / n_users
        k[i] = np.sum(1.0 + si) / n_users
    return gram, b, k


def build_targets(listening: str = "scorebank_listening/default", out: str = "", params: WMFParams = WMFParams(),
                  data_dir: str | None = None, wpe: bool = True, progress: bool = True) -> dict:
    """Fit WMF on the play counts of `listening`, write the targets file `out` (see module docstring) and
    return a summary (objective per iteration, seconds, the audio dataset it belongs to)."""
    import scipy.sparse
    import tensorflow_datasets as tfds
    from tqdm.auto import tqdm


    if not out:
        raise UserError("targets: give an output file (--out FILE.npz)")
    if os.path.exists(out):
        meta = load_targets(out).meta
        if meta.get("listening") == listening and meta.get("params") == dataclasses.asdict(params):
            log.info("targets %s exist with these settings; kept", out)
            return meta
        raise FileExistsError(f"{out} holds targets of {meta.get('listening')} with other WMF settings; "
                              "remove it or choose another --out")
    t0 = time.time()
    data_dir = data_dir or default_data_dir()
    lb = listening_lib.as_builder(listening, data_dir)
    plays, item_keys, _ = listening_lib.load_matrix(lb, data_dir)
    audio_name = lb.info.metadata.get("scorebank")
    if not audio_name:
        raise UserError(f"{listening} names no audio dataset (metadata 'scorebank'); targets need the clips")
    bar = tqdm(total=params.num_iterations, desc="WMF (ALS)", unit="it", disable=not progress)
    result = fit_wmf(plays, params.num_factors, params.alpha, params.epsilon, lambda_reg=params.lambda_reg,
                     num_iterations=params.num_iterations, seed=params.seed, solver=params.solver,
                     callback=lambda i, obj, x, y: (bar.update(1), bar.set_postfix(objective=f"{obj:.4g}")))
    bar.close()
    x, y = balance_factors(result.user_factors, result.item_factors)
    column = {k: j for j, k in enumerate(item_keys)}
    sb = tfds.builder(audio_name, data_dir=data_dir)
    arrays: dict[str, np.ndarray] = {"user_factors": x}
    plays_csc = scipy.sparse.csc_matrix(plays)
    sizes = {}
    for split in SPLITS:
        keys = listening_lib.read_split_clips(sb, split)["keys"]
        missing = [k for k in keys if k not in column]
        if missing:
            raise UserError(f"{audio_name} {split}: clip {missing[0]} has no column in {listening} "
                             f"({len(missing)} missing); rebuild the listening data")
        cols = np.asarray([column[k] for k in keys], np.int64)
        sub = plays_csc[:, cols].tocsc()
        sub.sort_indices()
        arrays[f"{split}/keys"] = np.asarray(keys)
        arrays[f"{split}/factors"] = y[cols]
        arrays[f"{split}/plays_indptr"] = sub.indptr.astype(np.int64)
        arrays[f"{split}/plays_users"] = sub.indices.astype(np.int32)
        arrays[f"{split}/plays_counts"] = sub.data.astype(np.int32)
        if wpe:
            gram, b, k = wpe_quadratics(x, sub, params.alpha, params.epsilon)
            arrays.update({f"{split}/wpe_gram": gram, f"{split}/wpe_b": b, f"{split}/wpe_const": k})
        sizes[split] = len(keys)
    meta = {"listening": listening, "dataset": audio_name, "params": dataclasses.asdict(params),
            "num_users": int(x.shape[0]), "num_items": int(y.shape[0]), "split_sizes": sizes, "wpe": wpe,
            "objective": [float(v) for v in result.objective], "seconds": round(time.time() - t0, 1)}
    arrays["meta"] = np.asarray(json.dumps(meta))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return meta


@dataclasses.dataclass
class Targets:
    meta: dict
    user_factors: np.ndarray
    splits: dict[str, dict[str, np.ndarray]]

    @property
    def num_factors(self) -> int:
        return int(self.user_factors.shape[1])

    def split(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.splits:
            raise UserError(f"targets of {self.meta.get('dataset')} have no split '{name}'; "
                             f"splits: {', '.join(self.splits)}")
        return self.splits[name]

    def per_clip(self, name: str) -> dict[str, np.ndarray]:
        """The per-clip arrays of a split (factors, and the WPE quadratics when built)."""
        return {k: v for k, v in self.split(name).items() if k in PER_CLIP}

    def relevance(self, name: str):
        """users × clips of the split, sparse, 1 where the user played the clip (the ranking ground truth)."""
        import scipy.sparse

        s = self.split(name)
        n = len(s["plays_indptr"]) - 1
        m = scipy.sparse.csc_matrix((np.ones(len(s["plays_users"]), np.float32), s["plays_users"],
                                     s["plays_indptr"]), shape=(self.user_factors.shape[0], n))
        return m.tocsr()


_CACHE: dict[tuple[str, float], Targets] = {}


def load_targets(path: str) -> Targets:
    """Read a targets file (cached per path and modification time)."""
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"targets file {path} not found; make it with "
                                "`mirjax recommend targets NAME --out FILE`")
    key = (os.path.abspath(path), os.path.getmtime(path))
    if key not in _CACHE:
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
            meta = json.loads(str(data.pop("meta")))
        except (ValueError, KeyError, OSError) as e:
            raise UserError(f"{path} is not a mirjax targets file ({e})") from None
        splits: dict[str, dict[str, np.ndarray]] = {}
        for k, v in data.items():
            if "/" in k:
                split, name = k.split("/", 1)
                splits.setdefault(split, {})[name] = v
        _CACHE.clear()
        _CACHE[key] = Targets(meta, data["user_factors"], splits)
    return _CACHE[key]


def ranking_rows(targets: Targets, split: str, predictions: Mapping[str, np.ndarray], k: int = 500,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Table 4.3's rows on `split`: random, each named prediction (clips × F, in read order), and the upper bound
    (the split's own WMF factors)."""

    relevant = targets.relevance(split)

    def row(m) -> dict[str, float]:  # named by the requested k (AP@k is plain AP when a split has fewer clips)
        return {f"map@{k}": m.map_at_k, "auc": m.auc, "users": int(np.sum(~np.isnan(m.user_auc)))}

    rows = {"random": row(random_baseline(relevant, seed=seed, k=k))}
    for name, pred in predictions.items():
        rows[name] = row(ranking_metrics(targets.user_factors, pred, relevant, k=k))
    rows["upper bound (WMF)"] = row(ranking_metrics(targets.user_factors, targets.split(split)["factors"], relevant,
                                                    k=k))
    return rows


def default_path(listening: str, data_dir: str | None = None) -> str:
    """Where `targets` writes by default: `recommendation/<listening>.npz` next to the TFDS data dir
    (outside the repository)."""

    root = os.path.dirname(os.path.abspath(os.path.expanduser(data_dir or default_data_dir())))
    return os.path.join(root, "recommendation", listening.replace("/", "_") + "_targets.npz")
