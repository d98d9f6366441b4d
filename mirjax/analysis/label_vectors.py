"""Label vectors: what a trained tagger's output layer says about tag similarity (Choi's thesis §7.3, Eq. 7.1).

The output layer `W` of shape `(features, tags)` maps the last hidden representation to the tags' logits; its
column `w(i)` is the *label vector* of tag i. The label-vector similarity (LVS) is

    S = Wᵀ W                 (Eq. 7.1, plain dot products), or
    S = Ŵᵀ Ŵ                 with unit-norm columns (cosine; the thesis's reported values look like these)

and is compared with the tags' co-occurrence in the training labels (NCO, Eq. 3.1, made symmetric as
max(C(i, j), C(j, i))): both rank the T(T−1)/2 tag pairs, and we report the Pearson correlation of the two
rankings (the thesis finds 0.580), the overlap of the top-20 pairs (11 of 20), the two top-20 lists side by side
(Table 7-C) and the pairs ranked high by LVS but low by NCO (what the network "learned" beyond co-occurrence).

    mirjax analyze label-vectors --workdir DIR [--checkpoint best] [--similarity cosine|dot] [--top 20]
                                 [--split train] [--out DIR]

The workdir's `config.json` rebuilds the model and its dataset; the NCO comes from the training split's labels
as the model was trained on them (the simulated weak labels for the task `weak_multilabel`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.analysis.cooccurrence import nco_matrix, symmetric_nco
from mirjax.errors import UserError
from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report

__all__ = ["label_vector_similarity", "pair_ranking", "compare_rankings", "output_layer", "plot_rankings",
           "markdown_table", "analyse", "summary"]


def label_vector_similarity(weights, cosine: bool = True) -> np.ndarray:
    """S (tags, tags) of an output-layer kernel `weights` (features, tags): Wᵀ W, or with unit-norm columns."""
    w = np.asarray(weights, np.float64)
    if w.ndim != 2:
        raise UserError(f"an output-layer kernel must be (features, tags), got shape {w.shape}")
    if cosine:
        norms = np.linalg.norm(w, axis=0)
        w = w / np.where(norms > 0, norms, 1.0)
    return w.T @ w


def pair_ranking(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs i < j of a symmetric (tags, tags) matrix, most similar first: (i, j, value), NaN last."""
    iu, ju = np.triu_indices(sim.shape[0], 1)
    v = sim[iu, ju]
    order = np.lexsort((np.arange(len(v)), -np.nan_to_num(v, nan=-np.inf)))
    return iu[order], ju[order], v[order]


def _ranks(sim: np.ndarray) -> np.ndarray:
    """Rank (1 = most similar, ties in pair order) of every pair i < j, in `np.triu_indices` order."""
    iu, ju = np.triu_indices(sim.shape[0], 1)
    v = np.nan_to_num(sim[iu, ju], nan=-np.inf)
    order = np.lexsort((np.arange(len(v)), -v))
    ranks = np.empty(len(v), np.int64)
    ranks[order] = np.arange(1, len(v) + 1)
    return ranks


def compare_rankings(lvs: np.ndarray, nco_sym: np.ndarray, tags: Sequence[str], top: int = 20,
                     low_rank_fraction: float = 0.05) -> dict:
    """Pearson correlation of the LVS and NCO pair rankings, the top-`top` lists, their overlap, and the pairs in
    LVS's top `top` whose NCO rank is below both NCO's top `top` and its top `low_rank_fraction` of all pairs
    (largest rank gap first; the thesis's examples rank 6th/9th/12th by LVS and 111th-232nd of 1,225 by NCO)."""
    tags = list(tags)
    r_lvs, r_nco = _ranks(lvs), _ranks(nco_sym)
    n_pairs = len(r_lvs)
    iu, ju = np.triu_indices(len(tags), 1)
    rho = float(np.corrcoef(r_lvs, r_nco)[0, 1]) if n_pairs > 1 else float("nan")

    def row(k):
        return {"pair": [tags[iu[k]], tags[ju[k]]], "lvs_rank": int(r_lvs[k]), "lvs": float(lvs[iu[k], ju[k]]),
                "nco_rank": int(r_nco[k]), "nco": float(nco_sym[iu[k], ju[k]])}

    top_lvs = [row(k) for k in np.argsort(r_lvs)[:top]]
    top_nco = [row(k) for k in np.argsort(r_nco)[:top]]
    common = {tuple(r["pair"]) for r in top_lvs} & {tuple(r["pair"]) for r in top_nco}
    new = [r for r in top_lvs if r["nco_rank"] > max(top, low_rank_fraction * n_pairs)]
    new.sort(key=lambda r: r["lvs_rank"] - r["nco_rank"])
    return {"n_pairs": n_pairs, "rank_pearson": rho, "top": top, "top_overlap": len(common),
            "top_lvs": top_lvs, "top_nco": top_nco, "high_lvs_low_nco": new,
            "negative_lvs_pairs": [[tags[iu[k]], tags[ju[k]], float(lvs[iu[k], ju[k]])]
                                   for k in range(n_pairs) if lvs[iu[k], ju[k]] < 0]}


def output_layer(params: Mapping, num_outputs: int) -> tuple[str, np.ndarray]:
    """(name, kernel (features, tags)) of the model's output layer: the last top-level module (in Flax's
    creation order, `Dense_0` < `Dense_1`) with a 2-D kernel of `num_outputs` columns."""
    def index(name):
        base, _, k = name.rpartition("_")
        return (int(k) if k.isdigit() else -1, base)

    found = [(n, p["kernel"]) for n, p in params.items()
             if isinstance(p, Mapping) and "kernel" in p and np.ndim(p["kernel"]) == 2
             and np.shape(p["kernel"])[1] == num_outputs]
    if not found:
        raise UserError(f"the model has no dense output layer with {num_outputs} outputs")
    name, kernel = max(found, key=lambda nk: index(nk[0]))
    return name, np.asarray(kernel)


def plot_rankings(comparison: dict, lvs_ranks: Sequence[int], nco_ranks: Sequence[int], path, title: str = "") -> str:
    """Scatter of every pair's NCO rank against its LVS rank, the high-LVS/low-NCO pairs marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.add_subplot()
    ax.scatter(np.asarray(lvs_ranks), np.asarray(nco_ranks), s=4, color="0.6", label="all pairs")
    new = comparison["high_lvs_low_nco"]
    ax.scatter([r["lvs_rank"] for r in new], [r["nco_rank"] for r in new], s=18, color="tab:red",
               label="high LVS, low NCO")
    for r in new[:6]:
        ax.annotate(f"{r['pair'][0]}–{r['pair'][1]}", (r["lvs_rank"], r["nco_rank"]), fontsize=6,
                    xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("LVS rank (1 = most similar)")
    ax.set_ylabel("NCO rank")
    ax.legend(fontsize=7)
    ax.set_title(f"{title}rank Pearson {comparison['rank_pearson']:.3f}, top-{comparison['top']} overlap "
                 f"{comparison['top_overlap']}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def markdown_table(comparison: dict) -> str:
    """Table 7-C: the two top lists side by side (pairs common to both marked with *)."""
    common = {tuple(r["pair"]) for r in comparison["top_lvs"]} & {tuple(r["pair"]) for r in comparison["top_nco"]}
    lines = ["| # | by co-occurrence (NCO) | NCO | by label vectors (LVS) | LVS |", "|---|---|---|---|---|"]
    for k, (a, b) in enumerate(zip(comparison["top_nco"], comparison["top_lvs"]), start=1):
        pa, pb = tuple(a["pair"]), tuple(b["pair"])
        lines.append(f"| {k} | ({pa[0]}, {pa[1]}){' *' if pa in common else ''} | {a['nco']:.2f} | "
                     f"({pb[0]}, {pb[1]}){' *' if pb in common else ''} | {b['lvs']:.2f} |")
    return "\n".join(lines)


def analyse(workdir: str, out: str | None = None, checkpoint: str = "best", cosine: bool = True, top: int = 20,
            split: str = "") -> dict:
    """Restore `workdir`'s tagger, compare its LVS with the NCO of its training labels, write
    `label_vectors.json`, `label_vectors.md` and `label_vectors.png` in `out` (default WORKDIR/label_vectors)."""
    import ml_collections

    from mirjax.data import weak_labels
    from mirjax.training import setup
    from mirjax.training.optim import make_optimizer

    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"no config.json in {workdir} (not a training workdir?)")
    with open(path, encoding="utf-8") as f:
        config = ml_collections.ConfigDict(json.load(f))
    exp = setup.build_experiment(config)
    try:
        state, which, step = setup.restore_for_eval(exp, workdir, checkpoint)
    except FileNotFoundError as e:
        raise UserError(str(e).splitlines()[0]) from None
    tags = list(exp.info.label_names)
    layer, kernel = output_layer(state.params, len(tags))
    # The same seed's initial layer: a short training may leave the label vectors mostly random.
    initial = output_layer(exp.init_state(make_optimizer(config.optim, config.train.num_steps)[0]).params,
                           len(tags))[1]
    split = split or config.dataset.train_split
    labels = weak_labels.split_labels(config.dataset, split)
    nco = nco_matrix(labels)
    lvs = label_vector_similarity(kernel, cosine=cosine)
    iu = np.triu_indices(len(tags), 1)
    init_corr = float(np.corrcoef(lvs[iu], label_vector_similarity(initial, cosine=cosine)[iu])[0, 1])
    comp = compare_rankings(lvs, symmetric_nco(nco), tags, top=top)
    out = out or os.path.join(workdir, "label_vectors")
    plot = plot_rankings(comp, _ranks(lvs), _ranks(symmetric_nco(nco)), os.path.join(out, "label_vectors.png"),
                         title=f"{'cosine' if cosine else 'dot'} LVS vs NCO: ")
    os.makedirs(out, exist_ok=True)
    table = os.path.join(out, "label_vectors.md")
    with open(table, "w", encoding="utf-8") as f:
        f.write(markdown_table(comp) + "\n")
    result = {"workdir": os.path.abspath(workdir), "checkpoint": which, "step": step, "layer": layer,
              "kernel_shape": list(kernel.shape), "similarity": "cosine" if cosine else "dot",
              "relative_change_from_init": float(np.linalg.norm(kernel - initial) / np.linalg.norm(initial)),
              "lvs_correlation_with_init": init_corr,
              "nco_split": split, "nco_items": int(len(labels)), "tags": tags, **comp, "lvs": lvs,
              "plot": plot, "table": table}
    result["path"] = write_report(out, result, filename="label_vectors.json")
    return result


def summary(result: dict) -> str:
    new = ", ".join(f"({r['pair'][0]}, {r['pair'][1]}) LVS #{r['lvs_rank']} NCO #{r['nco_rank']}"
                    for r in result["high_lvs_low_nco"][:5]) or "none"
    return (f"label vectors of {result['layer']} {tuple(result['kernel_shape'])} ({result['similarity']}), "
            f"{result['n_pairs']} pairs, NCO from {result['nco_items']:,} {result['nco_split']} items: rank Pearson "
            f"{result['rank_pearson']:.3f}, top-{result['top']} overlap {result['top_overlap']}, "
            f"{len(result['negative_lvs_pairs'])} negative pairs; the layer moved "
            f"{result['relative_change_from_init']:.2f} (relative) from its initialisation, whose LVS correlates "
            f"{result['lvs_correlation_with_init']:.2f} with this one\nhigh LVS, low NCO: {new}\n"
            f"wrote {result['path']}, {result['table']} and {result['plot']}")
