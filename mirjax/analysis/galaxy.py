"""Galaxy analyses (Dieleman thesis, App. A, §A.7–A.8) and the ensemble blends of §A.6.8.

* `agreement(p)`: a(p) = 1 − H(p)/log n per question (Eq. A.2–A.3) of a (…, n) distribution.
* `accuracy_vs_agreement`: for each question, the images where ≥ 50 % of the volunteers answered it, ranked by
  the agreement of the crowd's (or the model's) distribution, split into 10 equal bins; the accuracy of the
  model's argmax against the crowd's argmax per bin (Fig. A.7).
* `precision_recall`: per answer, on the same subsets (Table A.4); `None` precision where the model never chose
  the answer ("?" in the thesis).
* `plot_accuracy_vs_agreement`, `plot_first_layer_filters` (Fig. A.8).
* `blend`: the ensemble of saved per-model predictions — the uniform average over every prediction set (models ×
  test-time views) the thesis submitted, and softmax weights per model fitted on one split by L-BFGS and scored
  on another (tried in the competition and dropped: they overfitted).

`python -m mirjax.analysis.galaxy blend --fit validation --eval test WORKDIR…` blends the `predictions_SPLIT.npz`
files that `mirjax eval` saved in each workdir; `python -m mirjax.analysis.galaxy filters WORKDIR` plots Fig. A.8.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import numpy as np

from mirjax import config as config_lib, galaxy_tree
from mirjax.errors import UserError


def agreement(p: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """1 − H(p)/log n over the last axis (n answers); p is normalised first."""
    p = np.asarray(p, np.float64)
    p = p / np.maximum(p.sum(-1, keepdims=True), eps)
    n = p.shape[-1]
    h = -np.sum(np.where(p > 0, p * np.log(np.maximum(p, eps)), 0.0), axis=-1)
    return 1.0 - h / np.log(n)


def _answered(labels: np.ndarray, question: str, threshold: float) -> np.ndarray:
    """Images where at least `threshold` of the volunteers answered `question` (Q1 and Q6: everybody)."""
    s = galaxy_tree.SLICES[question]
    return labels[:, s].sum(1) >= threshold - 1e-6


def accuracy_vs_agreement(labels: np.ndarray, preds: np.ndarray, bins: int = 10, threshold: float = 0.5,
                          by: str = "crowd") -> dict[str, dict]:
    """{question: {"n", "agreement" (bin means), "accuracy" (per bin)}}; `by` = crowd | model ranks the images."""
    labels, preds = np.asarray(labels, np.float64), np.asarray(preds, np.float64)
    out = {}
    for q in galaxy_tree.QUESTIONS:
        keep = _answered(labels, q.name, threshold)
        s = galaxy_tree.SLICES[q.name]
        lab, pre = labels[keep][:, s], preds[keep][:, s]
        if len(lab) < bins:
            continue
        a = agreement(lab if by == "crowd" else pre)
        order = np.argsort(-a, kind="stable")  # most agreement first
        correct = (lab.argmax(1) == pre.argmax(1))[order]
        chunks = np.array_split(np.arange(len(order)), bins)
        out[q.name] = {"n": int(len(lab)), "agreement": [float(a[order][c].mean()) for c in chunks],
                       "accuracy": [float(correct[c].mean()) for c in chunks]}
    return out


def precision_recall(labels: np.ndarray, preds: np.ndarray, threshold: float = 0.5) -> dict[str, dict]:
    """{answer name: {"precision" (None if never predicted), "recall", "n"}} plus {question: {"n"}} (Table A.4)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    out: dict[str, dict] = {}
    for q in galaxy_tree.QUESTIONS:
        keep = _answered(labels, q.name, threshold)
        s = galaxy_tree.SLICES[q.name]
        truth, guess = labels[keep][:, s].argmax(1), preds[keep][:, s].argmax(1)
        out[q.name] = {"n": int(keep.sum())}
        for k in range(len(q.answers)):
            tp = int(np.sum((guess == k) & (truth == k)))
            predicted, actual = int(np.sum(guess == k)), int(np.sum(truth == k))
            out[galaxy_tree.ANSWER_NAMES[s.start + k]] = {
                "precision": tp / predicted if predicted else None,
                "recall": tp / actual if actual else None, "n": actual}
    return out


def rmse(labels: np.ndarray, preds: np.ndarray) -> float:
    """RMSE over all images × 37 answers (the competition's metric; the thesis's Eq. A.1 with the mean)."""
    return float(np.sqrt(np.mean((np.asarray(preds, np.float64) - np.asarray(labels, np.float64)) ** 2)))


def plot_accuracy_vs_agreement(curves: dict[str, dict], path: str, title: str = "") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (q, c) in enumerate(curves.items()):  # 11 questions, 10 default colours: dashed after the tenth
        ax.plot(np.arange(1, len(c["accuracy"]) + 1), c["accuracy"], marker="o", ms=3, ls="-" if i < 10 else "--",
                label=f"{q} (n={c['n']})")
    ax.set_xlabel("agreement bin (1 = highest)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(title or "Accuracy vs agreement (images where ≥ 50 % answered)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_first_layer_filters(kernel: np.ndarray, path: str) -> str:
    """(k, k, 3, F) first-layer kernels as RGB tiles, each scaled to its own range (Fig. A.8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kernel = np.asarray(kernel, np.float64)
    f = kernel.shape[-1]
    cols = int(np.ceil(np.sqrt(f)))
    rows = int(np.ceil(f / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < f:
            w = kernel[..., i]
            w = (w - w.min()) / max(w.max() - w.min(), 1e-12)
            ax.imshow(w if w.shape[-1] == 3 else w[..., 0], interpolation="nearest", cmap=None if w.shape[-1] == 3
                      else "gray")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- ensembles over saved predictions ---

def per_model_predictions(views: np.ndarray) -> np.ndarray:
    """(clips, models, views × 37) or (clips, models × views, 37) saved outputs → (models, clips, 37) means over
    each model's test-time views (one row of the npz per model as `mirjax eval` saves it)."""
    views = np.asarray(views, np.float64)
    if views.shape[-1] != galaxy_tree.NUM_ANSWERS:
        views = views.reshape(views.shape[0], views.shape[1], -1, galaxy_tree.NUM_ANSWERS)
        return views.mean(2).transpose(1, 0, 2)
    return views.mean(1)[None]


def fit_softmax_weights(preds: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(models, clips, 37) predictions → (models,) softmax weights minimising the blend's MSE (L-BFGS)."""
    from scipy import optimize

    preds, labels = np.asarray(preds, np.float64), np.asarray(labels, np.float64)

    def loss(theta):
        w = np.exp(theta - theta.max())
        w /= w.sum()
        blend = np.tensordot(w, preds, 1)
        err = blend - labels
        g_w = 2 * np.einsum("mca,ca->m", preds, err) / err.size
        return float(np.mean(err ** 2)), w * (g_w - np.dot(w, g_w))

    res = optimize.minimize(loss, np.zeros(len(preds)), jac=True, method="L-BFGS-B")
    w = np.exp(res.x - res.x.max())
    return w / w.sum()


def blend(workdirs: Sequence[str], fit_split: str = "validation", eval_split: str = "test") -> dict:
    """RMSE of each model, of the uniform blend and of the softmax-weighted blend (weights fitted on
    `fit_split`), on `eval_split`, from the `predictions_SPLIT.npz` of each workdir."""
    def load(split):
        preds, labels = [], None
        for w in workdirs:
            path = os.path.join(w, f"predictions_{split}.npz")
            if not os.path.exists(path):
                raise UserError(f"{path} not found; run `mirjax eval --config … --workdir {w} "
                                f"--config.eval.split={split}` first")
            z = np.load(path)
            preds.append(per_model_predictions(z["logits"])[0])
            if labels is not None and not np.array_equal(labels, z["labels"]):
                raise UserError(f"{path}: labels differ from the first workdir's; blend models of one dataset")
            labels = z["labels"]
        return np.stack(preds), np.asarray(labels, np.float64).reshape(preds[0].shape)

    fit_preds, fit_labels = load(fit_split)
    preds, labels = load(eval_split)
    weights = fit_softmax_weights(fit_preds, fit_labels)
    return {"split": eval_split, "fit_split": fit_split, "workdirs": [os.path.abspath(w) for w in workdirs],
            "per_model_rmse": [rmse(labels, p) for p in preds], "uniform_rmse": rmse(labels, preds.mean(0)),
            "softmax_weights": [float(x) for x in weights],
            "softmax_rmse": rmse(labels, np.tensordot(weights, preds, 1)),
            "softmax_rmse_on_fit_split": rmse(fit_labels, np.tensordot(weights, fit_preds, 1))}


def filters_from_workdir(workdir: str, out: str = "") -> str:
    """Fig. A.8 for a trained workdir: its first conv layer's kernels (best checkpoint) as `first_layer_filters.png`."""
    import ml_collections

    from mirjax.training import setup

    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise UserError(f"{path} not found; is {workdir} a training workdir?")
    with open(path) as f:
        saved = json.load(f)
    cfg = config_lib.base_config()  # keys added since the run keep their defaults
    for section, values in saved.items():
        if isinstance(values, dict) and section in cfg and section != "model":
            cfg[section].update({k: v for k, v in values.items() if k in cfg[section]})
        elif section in cfg and section != "model":
            cfg[section] = values
    cfg.model = ml_collections.ConfigDict({k: tuple(v) if isinstance(v, list) else v
                                           for k, v in saved.get("model", {}).items()})
    exp = setup.build_experiment(cfg)
    state, _, _ = setup.restore_for_eval(exp, workdir, "best")
    kernel = np.asarray(state.params["conv1"]["conv"]["kernel"])
    return plot_first_layer_filters(kernel, out or os.path.join(workdir, "first_layer_filters.png"))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mirjax.analysis.galaxy", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("blend", help="uniform and softmax-weighted blends of saved predictions")
    b.add_argument("workdirs", nargs="+")
    b.add_argument("--fit", default="validation")
    b.add_argument("--eval", default="test")
    b.add_argument("--out", default="")
    f = sub.add_parser("filters", help="plot a workdir's first-layer filters (Fig. A.8)")
    f.add_argument("workdir")
    f.add_argument("--out", default="")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "filters":
            print(filters_from_workdir(args.workdir, args.out))
            return 0
        result = blend(args.workdirs, args.fit, args.eval)
    except UserError as e:
        print(f"error: {e}")
        return 2
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
