"""Dieleman thesis Ch. 2 (Table 2.1) on the scorebank analogue of the MSD:

    mirjax study convdbn --out workdirs/convdbn             # the whole table
    mirjax study convdbn --quick --out workdirs/convdbn     # 2-core setting (see QUICK)

Steps, each cached under OUT (a rerun reuses finished pieces):
1. `features_<config>.npz`: 24-d beat features of scorebank clips (`features.py`);
2. `dbn.npz`: the convolutional DBN pre-trained on the training tracks, one pass (`dbn.py`);
3. `runs/<task>_<method>_<lr>.json`: naive Bayes, windowed logistic regression (thesis's 5 learning rates), and the
   conv-MLP with and without pre-training (thesis's 3 learning rates) recorded at 20 and 30 epochs;
4. `table.md` / `table.json`: test accuracy with the learning rate picked on validation, Table 2.1's layout.
"""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np

from mirjax.data.beat_features import CHROMA_DIMS, standardise_per_track
from mirjax.errors import UserError
from mirjax.studies.convdbn import baselines, dbn, features, finetune

log = logging.getLogger("mirjax")

FINETUNE_LRS = (0.05, 0.005, 0.0005)  # thesis §2.6
EPOCHS = (20, 30)
METHODS = ("naive_bayes", "logreg", "convnet_random", "convnet_dbn")
LABELS = {"naive_bayes": "naive Bayes", "logreg": "windowed logistic regression",
          "convnet_random": "conv. MLP without pre-training", "convnet_dbn": "conv. MLP with pre-training"}
TASK_LABELS = {"style": "style (genre)", "composer": "composer (artist)", "tonic": "key tonic (key)"}
# Thesis Table 2.1 (genre, artist, key) for the side-by-side.
THESIS = {30: {"naive_bayes": (10.02, 6.80, 73.74), "logreg": (25.90, 32.13, 86.53),
               "convnet_random": (29.52, 34.34, 83.84), "convnet_dbn": (29.12, 35.74, 83.84)},
          20: {"convnet_random": (24.90, 33.94, 83.84), "convnet_dbn": (27.31, 35.54, 84.51)}}
QUICK = {"max_train": 1200, "finetune_lrs": (0.05, 0.005), "logreg_lrs": (5e-3, 5e-4, 5e-5)}


def _net_input(tracks):
    """Chroma as is, timbre standardised per track (thesis §2.5.2)."""
    return [np.concatenate([t[:, :CHROMA_DIMS], standardise_per_track(t[:, CHROMA_DIMS:])], axis=1) for t in tracks]


def _cached(path: str, fn):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    t0 = time.time()
    result = fn()
    result["seconds"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
    log.info("convdbn: %s: %s", os.path.basename(path), result)
    return result


def _dbn(out: str, tracks, settings: dbn.DBNSettings) -> dict:
    path = os.path.join(out, "dbn.npz")
    if not os.path.exists(path):
        t0 = time.time()
        params, errors = dbn.pretrain(tracks, settings)
        flat = {f"{layer}/{k}": np.asarray(v) for layer, p in params.items() for k, v in p.items()}
        np.savez(path + ".tmp.npz", passes=settings.passes, **flat,
                 **{f"{layer}/errors": np.asarray(e) for layer, e in errors.items()})
        os.replace(path + ".tmp.npz", path)
        log.info("convdbn: DBN pre-trained in %.0f s; reconstruction error first/last batch: %s", time.time() - t0,
                 {k: (round(e[0], 4), round(e[-1], 4)) for k, e in errors.items()})
    z = np.load(path)
    if "passes" in z and int(z["passes"]) != settings.passes:
        raise UserError(f"{path} was pre-trained with --dbn_passes {int(z['passes'])}, not {settings.passes}; "
                        f"use another --out")
    return {layer: {k: z[f"{layer}/{k}"] for k in ("W", "b", "c")} for layer in dbn.LAYERS}


def select(runs: dict, epochs: int) -> tuple:
    """(test, validation, lr, training NLL or None) of the run with the best validation accuracy at `epochs`
    (ties: the first listed rate)."""
    lr, best = max(runs.items(), key=lambda kv: kv[1][str(epochs)]["validation"])
    r = best[str(epochs)]
    return r["test"], r["validation"], lr, r.get("train_loss")


def main(args) -> int:
    out = args.out
    os.makedirs(out, exist_ok=True)
    quick = bool(getattr(args, "quick", False))
    max_train = args.max_train if getattr(args, "max_train", 0) else (QUICK["max_train"] if quick else 0)
    ft_lrs = QUICK["finetune_lrs"] if quick else FINETUNE_LRS
    lr_lrs = QUICK["logreg_lrs"] if quick else baselines.LR_GRID
    tasks = [t for t in (args.tasks.split(",") if getattr(args, "tasks", "") else features.TASKS) if t]
    unknown = sorted(set(tasks) - set(features.TASKS))
    if unknown:
        raise UserError(f"--tasks: unknown task '{unknown[0]}'; valid: {', '.join(features.TASKS)}")
    t_start = time.time()
    path = features.extract(os.path.join(out, f"features_{args.scorebank}.npz"), args.scorebank,
                            subdivisions=args.subdivisions, max_train=max_train, data_dir=args.data_dir or None)
    stored = int(np.load(path)["subdivisions"])
    if stored != args.subdivisions:
        raise UserError(f"{path} holds features with --subdivisions {stored}, not {args.subdivisions}; "
                        f"use another --out")
    data = features.load(path)
    settings = dbn.DBNSettings(passes=getattr(args, "dbn_passes", 1) or 1)
    net_tracks = {s: _net_input(d["tracks"]) for s, d in data.items()}
    dbn_params = _dbn(out, net_tracks["train"], settings)
    model = finetune.make_model(2, settings.features, settings.width, settings.pool)
    min_steps = model.min_steps()
    length = max(max(len(t) for t in ts) for ts in net_tracks.values())
    padded = {s: dict(zip(("x", "mask"), finetune.pad_tracks(ts, min_steps, length))) for s, ts in net_tracks.items()}
    win = baselines.prepare(data)
    table = {task: _task(out, task, data, padded, win, dbn_params, settings, ft_lrs, lr_lrs) for task in tasks}
    with open(os.path.join(out, "table.json"), "w") as f:
        json.dump(table, f, indent=1)
    md = render_table(table, tasks, data)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(md)
    print(md)
    log.info("convdbn: study done in %.0f s", time.time() - t_start)
    return 0


def _task(out, task, data, padded, win, dbn_params, settings, ft_lrs, lr_lrs) -> dict:
    """Every method's runs on one task (cached in OUT/runs) → {method: {epochs: (test, validation, lr)}}."""
    n_classes = int(max(int(np.max(data[s][task])) for s in data)) + 1
    tdata = {s: {**padded[s], task: np.asarray(data[s][task])} for s in data}
    runs_dir = os.path.join(out, "runs")
    nb = _cached(os.path.join(runs_dir, f"{task}_naive_bayes.json"),
                 lambda: {"30": baselines.naive_bayes(win, data, task)})
    lr = {str(r): _cached(os.path.join(runs_dir, f"{task}_logreg_{r:g}.json"),
                          lambda r=r: {"30": baselines.logistic_regression(win, data, task, r)}) for r in lr_lrs}
    model = finetune.make_model(n_classes, settings.features, settings.width, settings.pool)
    variables = model.init(jax.random.PRNGKey(0), padded["train"]["x"][:1], mask=padded["train"]["mask"][:1])
    inits = {"convnet_dbn": dbn.with_dbn_weights(variables, dbn_params),
             "convnet_random": dbn.with_matched_random_weights(variables, dbn_params, seed=1)}

    def run(method, rate):
        results = finetune.finetune(model, inits[method], tdata, task, rate, EPOCHS)
        return {str(k): v for k, v in results.items()}

    conv = {m: {str(r): _cached(os.path.join(runs_dir, f"{task}_{m}_{r:g}.json"), lambda m=m, r=r: run(m, r))
                for r in ft_lrs} for m in inits}
    return {"naive_bayes": {"30": (nb["30"]["test"], nb["30"]["validation"], "-", None)},
            "logreg": {"30": select(lr, 30)},
            **{m: {str(e): select(conv[m], e) for e in EPOCHS} for m in inits}}


def render_table(table: dict, tasks, data) -> str:
    sizes = ", ".join(f"{s} {len(d['tracks'])}" for s, d in data.items())
    head = "| epochs | model | " + " | ".join(TASK_LABELS[t] for t in tasks) + " |"
    lines = [f"Test accuracy (%) of whole clips; (learning rate picked on validation); [final training NLL of the "
             f"conv. MLP]; clips: {sizes}.",
             "", head, "|" + "---|" * (len(tasks) + 2)]
    for epochs, methods in ((30, METHODS), (20, METHODS[2:])):
        for m in methods:
            cells = []
            for t in tasks:
                test, _, lr, loss = table[t][m][str(epochs)]
                cells.append(f"{100 * test:.2f}" + ("" if lr == "-" else f" ({float(lr):g})")
                             + ("" if loss is None else f" [{loss:.3f}]"))
            lines.append(f"| {epochs} | {LABELS[m]} | " + " | ".join(cells) + " |")
    prior = [100 * float(np.mean(data["test"][t] == np.bincount(data["train"][t]).argmax())) for t in tasks]
    lines.append("| – | most frequent training class | " + " | ".join(f"{a:.2f}" for a in prior) + " |")
    return "\n".join(lines) + "\n"
