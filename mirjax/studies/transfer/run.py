"""`mirjax study transfer`: the whole of Choi thesis, Ch. 6 for one source network and a list of target tasks.

1. The source: `scorebank` trains (or reuses) `OUT/source_scorebank` with `configs/choi_transfer.py`; a pretrained
   name (`musicnn-msd`, …) loads that network; anything else is a trained workdir.
2. Features, once per (source, dataset), cached in `OUT/cache/` (npz): the five block features of the source and of
   its random-weights twin, and (per dataset, shared by all sources) the MFCC baseline and every label column.
3. Per task, per feature set — 31 strategies, the same 31 of the random network, MFCC, '12345'+MFCC — the SVM
   grid search; results cached per task in `OUT/results/<source>/<task>.json` (a rerun only redraws).
4. `OUT/transfer_<source>.csv` / `.md` (summary and per-strategy tables) and the figures
   `summary_<source>.png` (Fig. 6.2), `strategies_<source>_<task>.png` (Figs. 6.3–6.9) and
   `per_class_<source>_<task>.png` (Fig. 6.5: '5' against '12345').
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from mirjax.errors import UserError
from mirjax.evaluation import report as report_lib
from mirjax.inference import model as model_lib
from mirjax.studies.transfer import classifiers, features as F, plots, targets as T

log = logging.getLogger("mirjax")

CACHE_FORMAT = 1
CALIBRATION_CLIPS = 16  # clips whose statistics set the random network's batch norms
CALIBRATION_WINDOWS = 64  # at most this many of their windows (musicnn: 4 per 10-s clip)
RANDOM_SEED = 0
NESTED_MODES = ("summary", "all", "none")
BN_MODES = ("source", "target")
SCOREBANK_CONFIG = "configs/choi_transfer.py"


@dataclasses.dataclass
class Source:
    key: str  # names the cache and output files
    loaded: model_lib.LoadedModel
    layer_set: F.LayerSet
    fingerprint: str
    description: str
    test_auc: float | None = None
    bn: str = "source"  # the trained network's BN statistics: from its training, or (target) from the target clips


# --- the source -----------------------------------------------------------------------------------------------

def _config_difference(before: dict, now: dict, path: str = "") -> str:
    """The first setting that differs, over the keys the saved config has (keys added to the code later, at their
    defaults, and the progress bar and data location do not count); "" if none."""
    for key, old in before.items():
        where = f"{path}.{key}" if path else key
        if where in ("train.progress", "dataset.data_dir"):
            continue
        new = now.get(key) if isinstance(now, dict) else None
        if isinstance(old, dict) and isinstance(new, dict):
            d = _config_difference(old, new, where)
            if d:
                return d
        elif old != new:
            return f"{where}: {old!r} then, {new!r} now"
    return ""


def _train_scorebank_source(out: str, config_spec: str, data_dir: str) -> tuple[str, float | None]:
    """Train (or finish, or reuse) the scorebank source in OUT/source_scorebank; returns (workdir, test ROC-AUC)."""
    from mirjax.config import load_config
    from mirjax.training.checkpoint import Checkpoints
    from mirjax.training.evaluate import evaluate
    from mirjax.training.trainer import train_and_evaluate

    config = load_config(config_spec)
    if data_dir:
        config.dataset.data_dir = data_dir
    if not sys.stderr.isatty():
        config.train.progress = False
    workdir = os.path.join(out, "source_scorebank")
    saved = os.path.join(workdir, "config.json")
    if os.path.exists(saved):
        with open(saved) as f:
            diff = _config_difference(json.load(f), json.loads(config.to_json_best_effort()))
        if diff:
            raise UserError(f"{workdir} holds a source trained with another config ({diff}); use another --out")
    ckpts = Checkpoints(workdir) if os.path.isdir(workdir) else None
    done = ckpts is not None and (ckpts.latest_step() or 0) >= config.train.num_steps
    if ckpts is not None:
        ckpts.close()
    if not done:
        log.warning("training the scorebank source (%s) in %s", config_spec, workdir)
        t0 = time.perf_counter()
        train_and_evaluate(config, workdir)
        log.warning("source trained in %.0f s", time.perf_counter() - t0)
    report = os.path.join(workdir, "report.json")
    if not os.path.exists(report):
        evaluate(config, [workdir])
    auc = None
    if os.path.exists(report):
        with open(report) as f:
            auc = json.load(f).get("roc_auc_macro")
    return workdir, auc


def load_source(name: str, out: str, config_spec: str = "", scorebank: str = "default", data_dir: str = "",
                checkpoint: str = "best", bn: str = "source") -> Source:
    from mirjax import registry

    auc = None
    if name == "scorebank":
        workdir, auc = _train_scorebank_source(out, config_spec or f"{SCOREBANK_CONFIG}:{scorebank}", data_dir)
        loaded, key = model_lib.from_workdir(workdir, checkpoint), "scorebank"
    else:
        if name not in model_lib.PRETRAINED:
            registry.load_plugins()
        if name in model_lib.PRETRAINED:
            loaded, key = model_lib.from_pretrained(name), name
        elif os.path.isdir(name):
            loaded = model_lib.from_workdir(name, checkpoint)
            key = os.path.basename(os.path.normpath(name)) or "workdir"
            report = os.path.join(name, "report.json")
            if os.path.exists(report):
                with open(report) as f:
                    auc = json.load(f).get("roc_auc_macro")
        else:
            raise UserError(f"--source {name}: neither 'scorebank', a pretrained model "
                            f"({', '.join(sorted(model_lib.PRETRAINED))}) nor a workdir")
    layer_set = F.layer_set_of(loaded)
    fp = F.fingerprint(loaded.variables)
    if name not in ("scorebank",) and name not in model_lib.PRETRAINED:
        key = f"{key}-{fp[:6]}"
    if bn not in BN_MODES:
        raise UserError(f"--bn must be one of {', '.join(BN_MODES)}, got '{bn}'")
    description = loaded.source + ("; BN statistics of each target's calibration clips" if bn == "target" else "")
    return Source(plots.safe_name(key + ("-targetbn" if bn == "target" else "")), loaded, layer_set, fp,
                  description, auc, bn)


# --- features ---------------------------------------------------------------------------------------------------

def _batches(clips: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch = []
    for c in clips:
        batch.append(c)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load_npz(path: str, meta: dict) -> dict | None:
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as z:
        saved = json.loads(str(z["meta"]))
        if saved != meta:
            log.warning("%s was made with other settings; extracting again", path)
            return None
        return {k: z[k] for k in z.files if k != "meta"}


def _save_npz(path: str, meta: dict, arrays: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, meta=np.asarray(json.dumps(meta, sort_keys=True)), **arrays)
    os.replace(tmp, path)


def dataset_features(source: Source, builder, out: str, input_seconds: float = F.INPUT_SECONDS,
                     batch_size: int = 8) -> tuple[T.Dataset, dict]:
    """(labels of the dataset, {"trained": {block: (n, d)}, "random": {…}, "mfcc": (n, 120)}), from the cache or
    extracted in one pass over the clips."""
    ds, clips = T.load(builder)
    dkey = plots.safe_name(ds.name)
    dmeta = {"format": CACHE_FORMAT, "dataset": ds.name, "version": ds.version, "size": ds.size}
    smeta = {**dmeta, "source": source.key, "weights": source.fingerprint, "layers": source.layer_set.name,
             "input_seconds": input_seconds, "random_seed": RANDOM_SEED, "calibration_clips": CALIBRATION_CLIPS}
    if source.bn != "source":
        smeta["bn"] = source.bn
    dpath = os.path.join(out, "cache", "datasets", f"{dkey}.npz")
    spath = os.path.join(out, "cache", source.key, f"{dkey}.npz")
    dcache, scache = _load_npz(dpath, dmeta), _load_npz(spath, smeta)
    if dcache is not None and scache is not None:
        ds.columns = {k[4:]: v for k, v in dcache.items() if k.startswith("col:")}
        return ds, {"trained": {b: scache[f"trained:{b}"] for b in range(1, F.BLOCKS + 1)},
                    "random": {b: scache[f"random:{b}"] for b in range(1, F.BLOCKS + 1)}, "mfcc": dcache["mfcc"]}

    t0 = time.perf_counter()
    need_blocks = scache is None
    clips = iter(clips)
    head = list(itertools.islice(clips, CALIBRATION_CLIPS))  # also the random network's calibration clips
    blocks = {"trained": {b: [] for b in range(1, F.BLOCKS + 1)}, "random": {b: [] for b in range(1, F.BLOCKS + 1)}}
    extractors = {}
    if need_blocks:
        trained = F.BlockExtractor(source.loaded, source.layer_set, batch_size, input_seconds)
        cal = np.concatenate([trained.windows(F.resample(c, ds.sample_rate, trained.rate)) for c in head])
        cal = cal[np.linspace(0, len(cal) - 1, min(len(cal), CALIBRATION_WINDOWS)).astype(int)]
        rnd = F.random_model(source.loaded, cal, RANDOM_SEED)
        if source.bn == "target":
            trained = F.BlockExtractor(F.calibrate_batch_norm(source.loaded, cal), source.layer_set, batch_size,
                                       input_seconds)
        extractors = {"trained": trained, "random": F.BlockExtractor(rnd, source.layer_set, batch_size, input_seconds)}
    mfccs = []
    bar = tqdm(total=ds.size, desc=f"features {ds.name}", unit="clip", dynamic_ncols=True,
               mininterval=0.1 if sys.stderr.isatty() else 30.0)
    for batch in _batches(itertools.chain(head, clips), batch_size):
        if extractors:
            at_rate = [F.resample(c, ds.sample_rate, extractors["trained"].rate) for c in batch]
            for name, ex in extractors.items():
                for b, v in ex(at_rate).items():
                    blocks[name][b].append(v)
        if dcache is None:
            mfccs += [F.mfcc_vector(c, ds.sample_rate) for c in batch]
        bar.update(len(batch))
    bar.close()
    if dcache is None:
        dcache = {"mfcc": np.stack(mfccs), **{f"col:{k}": v for k, v in ds.columns.items()}}
        _save_npz(dpath, dmeta, dcache)
    ds.columns = {k[4:]: v for k, v in dcache.items() if k.startswith("col:")}
    if need_blocks:
        scache = {f"{name}:{b}": np.concatenate(v) for name, d in blocks.items() for b, v in d.items()}
        _save_npz(spath, smeta, scache)
    log.warning("%s: %s features of %d clips in %.0f s", ds.name,
                " and ".join(w for w, on in (("source", need_blocks), ("MFCC", bool(mfccs))) if on), ds.size,
                time.perf_counter() - t0)
    return ds, {"trained": {b: scache[f"trained:{b}"] for b in range(1, F.BLOCKS + 1)},
                "random": {b: scache[f"random:{b}"] for b in range(1, F.BLOCKS + 1)}, "mfcc": dcache["mfcc"]}


def feature_sets(feats: dict) -> dict[str, np.ndarray]:
    """Every feature set of one task: the 31 strategies, 'random:<strategy>' ×31, 'mfcc', '12345+mfcc'."""
    out = {s: F.strategy_matrix(feats["trained"], s) for s in F.strategies()}
    out.update({f"random:{s}": F.strategy_matrix(feats["random"], s) for s in F.strategies()})
    out["mfcc"] = feats["mfcc"]
    out["12345+mfcc"] = np.concatenate([out["12345"], feats["mfcc"]], axis=1)
    return out


def subsample(p: T.Problem, max_items: int, seed: int = classifiers.SEED) -> np.ndarray:
    """Indices of at most `max_items` items: whole groups (or items) in a seeded random order."""
    n = len(p.y)
    if not max_items or n <= max_items:
        return np.arange(n)
    units = p.groups if p.groups is not None else np.arange(n)
    uniq = np.unique(units)
    order = np.random.default_rng(seed).permutation(len(uniq))
    keep, count = set(), 0
    sizes = {u: c for u, c in zip(*np.unique(units, return_counts=True))}
    for i in order:
        if count >= max_items:
            break
        keep.add(uniq[i])
        count += sizes[uniq[i]]
    return np.flatnonzero(np.isin(units, list(keep)))


def restrict(p: T.Problem, idx: np.ndarray) -> T.Problem:
    return T.Problem(p.target, p.y[idx], None if p.groups is None else p.groups[idx],
                     None if p.folds is None else p.folds[idx], p.class_names)


# --- evaluation -------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Settings:
    grid: str = "full"
    folds: int = 10
    inner_folds: int = 5
    nested: str = "summary"
    max_items: int = 0
    max_iter: int = -1  # libsvm iterations per binary problem; -1 = until converged (the thesis)
    jobs: int = 1

    def fingerprint(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("jobs")
        d.pop("nested")  # which rows get a nested score; each row records its own
        return d


PER_CLASS = ("5", "12345")


def summary_keys(results: dict) -> list[str]:
    """The feature sets of the summary: best trained strategy, '12345', best random strategy, MFCC, '12345'+MFCC."""
    best_t = max(F.strategies(), key=lambda s: results.get(s, {}).get("cv", -math.inf))
    best_r = max(F.strategies(), key=lambda s: results.get(f"random:{s}", {}).get("cv", -math.inf))
    return list(dict.fromkeys([best_t, "12345", f"random:{best_r}", "random:12345", "mfcc", "12345+mfcc"]))


def evaluate_task(target: T.Target, p: T.Problem, sets: dict[str, np.ndarray], settings: Settings, path: str,
                  meta: dict, bar) -> dict:
    """Every feature set's scores for one task, resuming from (and saving to) `path` after each feature set."""
    saved = {}
    fp = {**settings.fingerprint(), **meta}
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("settings") != json.loads(json.dumps(fp)):
            log.warning("%s was made with other settings; evaluating again", path)
            saved = {}
    results = saved.get("results", {})
    grid = classifiers.get_grid(settings.grid)

    def save():
        report_lib.write_report(os.path.dirname(path), {"settings": fp, "results": results},
                                os.path.basename(path))

    for key, X in sets.items():
        bar.set_postfix_str(f"{target.name} {key}")
        if key not in results:
            results[key] = classifiers.evaluate(X, p, grid, settings.folds, per_class=key in PER_CLASS,
                                                n_jobs=settings.jobs, max_iter=settings.max_iter)
            save()
        bar.update(1)
    nested_keys = (list(sets) if settings.nested == "all" else
                   summary_keys(results) if settings.nested == "summary" else [])
    for key in nested_keys:
        if "nested" not in results[key]:
            bar.set_postfix_str(f"{target.name} {key} (nested)")
            results[key]["nested"], results[key]["nested_std"] = classifiers.nested_score(
                sets[key], p, grid, classifiers.outer_cv(p, settings.folds)[0], settings.inner_folds,
                settings.jobs, classifiers.SEED, settings.max_iter)
            save()
    return results


# --- reports ----------------------------------------------------------------------------------------------------

def _fmt(v, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def summary_row(task: str, metric: str, results: dict) -> dict:
    best_t = max(F.strategies(), key=lambda s: results[s]["cv"])
    best_r = max(F.strategies(), key=lambda s: results[f"random:{s}"]["cv"])
    row = {"task": task, "metric": metric, "best_trained_name": best_t, "best_trained": results[best_t]["cv"],
           "best_trained_nested": results[best_t].get("nested"),
           "12345": results["12345"]["cv"], "12345_nested": results["12345"].get("nested"),
           "best_random_name": best_r, "best_random": results[f"random:{best_r}"]["cv"],
           "best_random_nested": results[f"random:{best_r}"].get("nested"),
           "random_12345": results["random:12345"]["cv"],
           "mfcc": results["mfcc"]["cv"], "mfcc_nested": results["mfcc"].get("nested"),
           "mfcc_concat": results["12345+mfcc"]["cv"], "mfcc_concat_nested": results["12345+mfcc"].get("nested"),
           "trained_beats_random": sum(results[s]["cv"] > results[f"random:{s}"]["cv"] for s in F.strategies()),
           "trained_beats_mfcc": sum(results[s]["cv"] > results["mfcc"]["cv"] for s in F.strategies())}
    return row


def summary_table(rows: Sequence[dict]) -> str:
    lines = ["| task | metric | best convnet feature | '12345' | best random convnet | random '12345' | "
             "'12345'+MFCC | MFCC | strategies > random twin | strategies > MFCC |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(v, nested):
        return _fmt(v) + (f" ({_fmt(nested)})" if nested is not None else "")

    for r in rows:
        lines.append(f"| {r['task']} | {r['metric']} | {cell(r['best_trained'], r['best_trained_nested'])} "
                     f"'{r['best_trained_name']}' | {cell(r['12345'], r['12345_nested'])} | "
                     f"{cell(r['best_random'], r['best_random_nested'])} '{r['best_random_name']}' | "
                     f"{_fmt(r['random_12345'])} | {cell(r['mfcc_concat'], r['mfcc_concat_nested'])} | "
                     f"{cell(r['mfcc'], r['mfcc_nested'])} | {r['trained_beats_random']}/31 | "
                     f"{r['trained_beats_mfcc']}/31 |")
    return "\n".join(lines) + "\n"


def strategy_table(per_task: dict[str, dict]) -> str:
    """Rows: the 31 strategies, MFCC, '12345'+MFCC; a column per task with 'trained (random)'; the best trained
    strategy of each task in bold; † marks the three strategies the thesis leaves out."""
    tasks = list(per_task)
    lines = ["| feature | dims | " + " | ".join(f"{t} trained (random)" for t in tasks) + " |",
             "|---|---|" + "---|" * len(tasks)]
    best = {t: max(F.strategies(), key=lambda s: per_task[t][s]["cv"]) for t in tasks}
    for s in F.strategies():
        cells = []
        for t in tasks:
            v = _fmt(per_task[t][s]["cv"])
            cells.append(f"{'**' + v + '**' if best[t] == s else v} ({_fmt(per_task[t][f'random:{s}']['cv'])})")
        dims = per_task[tasks[0]][s]["dims"] if tasks else ""
        lines.append(f"| {s}{'' if s in F.THESIS_STRATEGIES else '†'} | {dims} | " + " | ".join(cells) + " |")
    for key, name in (("mfcc", "MFCC"), ("12345+mfcc", "'12345'+MFCC")):
        dims = per_task[tasks[0]][key]["dims"] if tasks else ""
        lines.append(f"| {name} | {dims} | " + " | ".join(_fmt(per_task[t][key]["cv"]) for t in tasks) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: str, source: str, per_task: dict[str, dict], metrics: dict[str, str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "task", "metric", "feature", "network", "dims", "cv", "cv_std", "nested",
                    "nested_std", "params"])
        for task, results in per_task.items():
            for key, r in results.items():
                network = ("random" if key.startswith("random:") else "mfcc" if key == "mfcc" else
                           "trained+mfcc" if key == "12345+mfcc" else "trained")
                w.writerow([source, task, metrics[task], key.split(":")[-1], network, r["dims"],
                            f"{r['cv']:.4f}", f"{r['cv_std']:.4f}", _fmt(r.get("nested"), 4),
                            _fmt(r.get("nested_std"), 4), json.dumps(r["params"], sort_keys=True)])


def report(out: str, source: Source, per_task: dict[str, dict], problems: dict[str, T.Problem],
           settings: Settings, sizes: dict[str, int]) -> list[str]:
    metrics = {t: problems[t].target.metric for t in per_task}
    rows = [summary_row(t, metrics[t], per_task[t]) for t in per_task]
    written = []
    csv_path = os.path.join(out, f"transfer_{source.key}.csv")
    write_csv(csv_path, source.key, per_task, metrics)
    written.append(csv_path)
    head = (f"Source: {source.description} ({source.layer_set.name} blocks"
            + (f"; source test ROC-AUC {source.test_auc:.3f}" if source.test_auc is not None else "") + "). "
            f"Scores: best grid point's mean over {settings.folds} folds ({settings.grid} grid of "
            f"{classifiers.grid_size(classifiers.get_grid(settings.grid))} points); in brackets the nested-CV score "
            f"({settings.inner_folds} inner folds)"
            + (f"; libsvm capped at {settings.max_iter:,} iterations per binary problem" if settings.max_iter > 0
               else "") + ". Items per task: "
            + ", ".join(f"{t} {n}" for t, n in sizes.items()) + ".\n")
    md = ["# Transfer study (Choi thesis, Ch. 6)", "", head, "## Summary (cf. Fig. 6.2)", "", summary_table(rows),
          "## Every strategy (cf. Figs. 6.3–6.9)", "", strategy_table(per_task)]
    md_path = os.path.join(out, f"transfer_{source.key}.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    written.append(md_path)
    report_lib.write_report(out, {"source": source.description, "source_key": source.key,
                                  "source_test_auc": source.test_auc, "settings": dataclasses.asdict(settings),
                                  "summary": rows, "results": per_task}, f"transfer_{source.key}.json")
    written.append(plots.summary(rows, plots.out_path(out, "summary", source.key),
                                 f"Transfer from {source.key}: best convnet feature vs MFCC vs random (cf. Fig. 6.2)",
                                 settings.folds))
    for t, results in per_task.items():
        written.append(plots.per_strategy(t, metrics[t], results, plots.out_path(out, "strategies", source.key, t),
                                          f"{t}: convnet features of {source.key} (blue), random network (grey), "
                                          f"MFCC (cf. Fig. 6.3)"))
        p = problems[t]
        if p.target.kind == T.CLASSIFICATION and all("per_class" in results[k] for k in PER_CLASS):
            names = p.class_names or [str(i) for i in range(len(results["5"]["per_class"]))]
            written.append(plots.per_class(names, results["5"]["per_class"], results["12345"]["per_class"],
                                           ("'5'", "'12345'"), plots.out_path(out, "per_class", source.key, t),
                                           f"{t}: per-class accuracy of '5' and '12345' (cf. Fig. 6.5)"))
    return written


# --- the command --------------------------------------------------------------------------------------------------

def main(args) -> None:
    t0 = time.perf_counter()
    tasks = T.parse_tasks(args.tasks)
    if args.nested not in NESTED_MODES:
        raise UserError(f"--nested must be one of {', '.join(NESTED_MODES)}, got '{args.nested}'")
    classifiers.get_grid(args.grid)
    settings = Settings(args.grid, args.folds, args.inner_folds, args.nested, args.max_items, args.max_iter,
                        args.jobs)
    if settings.folds < 2 or settings.inner_folds < 2:
        raise UserError("--folds and --inner-folds must be at least 2")
    # Every dataset first: a missing one fails in a line before any minute is spent.
    datasets = {}
    for t in tasks:
        name = T.dataset_name(t, args.scorebank)
        if name not in datasets:
            datasets[name] = T.prepared_builder(name, args.data_dir, args.manual_dir, t.manual)
    os.makedirs(args.out, exist_ok=True)
    source = load_source(args.source, args.out, args.config, args.scorebank, args.data_dir, args.checkpoint,
                         getattr(args, "bn", "source"))
    log.warning("source %s: %s (%s blocks, weights %s)", source.key, source.description, source.layer_set.name,
                source.fingerprint)
    feats, problems, sizes, indices = {}, {}, {}, {}
    for t in tasks:
        name = T.dataset_name(t, args.scorebank)
        if name not in feats:
            feats[name] = dataset_features(source, datasets[name], args.out, args.seconds)
        ds, f = feats[name]
        p = T.problem(t, ds)
        idx = subsample(p, settings.max_items)
        problems[t.name] = restrict(p, idx)
        sizes[t.name], indices[t.name] = len(idx), idx
    n_sets = 2 * len(F.strategies()) + 2
    # Off a terminal (a background run's log) the bar still prints, every 30 s.
    bar = tqdm(total=len(tasks) * n_sets, desc="transfer (task, feature)", unit="set", dynamic_ncols=True,
               mininterval=0.1 if sys.stderr.isatty() else 30.0)
    per_task = {}
    for t in tasks:
        name = T.dataset_name(t, args.scorebank)
        ds, f = feats[name]
        idx = indices[t.name]
        sets = {k: v[idx] for k, v in feature_sets(f).items()}
        meta = {"dataset": ds.name, "version": ds.version, "weights": source.fingerprint, "items": int(len(idx))}
        path = os.path.join(args.out, "results", source.key, f"{t.name}.json")
        per_task[t.name] = evaluate_task(t, problems[t.name], sets, settings, path, meta, bar)
    bar.close()
    written = report(args.out, source, per_task, problems, settings, sizes)
    log.warning("transfer study done in %.0f s: %s", time.perf_counter() - t0, ", ".join(written[:2]))
