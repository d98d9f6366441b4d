"""Choi's preprocessing study (thesis Ch. 5) as commands, on scorebank by default.

    mirjax study preprocessing --out workdirs/preprocessing                  # every part
    mirjax study preprocessing --parts variance --out workdirs/preprocessing  # one part

Parts (each writes OUT/<part>.md, OUT/<part>.json and OUT/<part>.png; runs are shared between parts when their
settings coincide, so the base run is trained once):

  grid        {log-mel, linear mel} × {per-frequency standardisation, A-weighting, bypass} × {×1, ×10}
              (Figs. 5.4–5.5; per-sample standardisation on throughout, as in the thesis)
  sample_std  per-sample (excerpt-wise) standardisation on vs off, with log-mel + per-frequency
  data_size   log-mel vs log-STFT at 1/8, 1/4, 1/2 and all of the training split (Fig. 5.3)
  variance    15 runs that differ only in the weight-initialisation seed (Fig. 5.2): mean, std, largest
              deviation from the mean, and the resulting significance threshold (thesis: ≈ 0.005 AUC)

Settings start from `configs/choi_preprocessing.py` (or `--config`); `--steps` overrides its step count.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from mirjax.config import load_config
from mirjax.errors import UserError
from mirjax.studies import runner

log = logging.getLogger("mirjax")

PARTS = ("grid", "sample_std", "data_size", "variance")
WEIGHTINGS = ("per_frequency", "a_weighting", "none")
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
VARIANCE_SEEDS = 15


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of the study. The run name is derived from the fields that differ from the base, so identical
    settings requested by two parts share one run."""
    representation: str = "mel"  # mel | stft
    log: bool = True  # dB compression; False = linear power
    weighting: str = "per_frequency"  # per_frequency | a_weighting | none
    standardize: str = "sample"  # sample | none
    scale: float = 1.0
    fraction: float = 1.0
    init_seed: int = 0

    def name(self) -> str:
        base, parts = Setting(), []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v != getattr(base, f.name):
                parts.append(f"{f.name}={('log' if v else 'linear') if f.name == 'log' else v}")
        return "base" if not parts else ",".join(parts)

    def label(self) -> str:
        rep = ("log-" if self.log else "linear ") + ("mel" if self.representation == "mel" else "STFT")
        return f"{rep}, {self.weighting}, std={self.standardize}, ×{self.scale:g}"


def part_settings(part: str) -> list[Setting]:
    if part == "grid":
        return [Setting(log=lg, weighting=w, scale=s) for lg in (True, False) for s in (1.0, 10.0) for w in WEIGHTINGS]
    if part == "sample_std":
        return [Setting(), Setting(standardize="none")]
    if part == "data_size":
        return [Setting(representation=r, fraction=f) for r in ("mel", "stft") for f in FRACTIONS]
    if part == "variance":
        return [Setting(init_seed=i) for i in range(VARIANCE_SEEDS)]
    raise UserError(f"unknown part '{part}'; valid: {', '.join(PARTS)}")


def make_config(base_spec: str, s: Setting, steps: int | None = None):
    c = load_config(base_spec)
    fe = c.frontend
    if s.representation == "stft":
        for key in ("n_mels", "fmin", "fmax", "htk"):
            if key in fe:
                del fe[key]
        fe.name = "stft"
    elif s.representation != "mel":
        raise UserError(f"unknown representation '{s.representation}'")
    fe.compression = "db" if s.log else "none"
    fe.weighting, fe.standardize, fe.scale = s.weighting, s.standardize, float(s.scale)
    c.dataset.train_fraction = s.fraction
    c.train.init_seed = s.init_seed
    if steps:
        c.train.num_steps = steps
        c.train.eval_every = c.train.checkpoint_every = max(1, steps // 2)
    return c


def columns_of(s: Setting) -> dict[str, Any]:
    return {**dataclasses.asdict(s), "log": "log" if s.log else "linear", "setting": s.label()}


COLUMNS = [("setting", "setting", ""), ("fraction", "train fraction", "g"), ("init_seed", "init seed", ""),
           ("val_roc_auc_macro", "best val ROC-AUC", ".4f"), ("test_roc_auc", "test ROC-AUC", ".4f"),
           ("test_pr_auc", "test PR-AUC", ".4f")]


def summarise(part: str, rows: Sequence[dict[str, Any]], out: str) -> dict[str, Any]:
    """Part-specific summary numbers (also appended to the table) and the plot."""
    good = runner.ok(rows)
    extra: dict[str, Any] = {}
    if part == "variance" and good:
        auc = np.array([r["test_roc_auc"] for r in good])
        dev = np.abs(auc - auc.mean())
        extra = {"n": len(auc), "mean": float(auc.mean()), "std": float(auc.std(ddof=1)) if len(auc) > 1 else math.nan,
                 "max_abs_deviation": float(dev.max()), "range": float(auc.max() - auc.min()),
                 "significance_threshold": float(2 * dev.max())}
    if part == "grid" and good:
        by = {(r["log"], r["weighting"], r["scale"]): r["test_roc_auc"] for r in good}
        logs = [v for (lg, _, _), v in by.items() if lg == "log"]
        lins = [v for (lg, _, _), v in by.items() if lg == "linear"]
        pairs = [(by[("log", w, s)], by[("linear", w, s)]) for w in WEIGHTINGS for s in (1.0, 10.0)
                 if ("log", w, s) in by and ("linear", w, s) in by]
        extra = {"mean_log": float(np.mean(logs)) if logs else math.nan,
                 "mean_linear": float(np.mean(lins)) if lins else math.nan,
                 "log_beats_linear": f"{sum(a > b for a, b in pairs)}/{len(pairs)}",
                 "weighting_spread_log_x1": _spread([by.get(("log", w, 1.0)) for w in WEIGHTINGS]),
                 "scale_effect_mean": float(np.mean([by[(lg, w, 10.0)] - by[(lg, w, 1.0)] for lg in ("log", "linear")
                                                     for w in WEIGHTINGS if (lg, w, 10.0) in by and (lg, w, 1.0) in by]
                                                    or [math.nan]))}
    try:
        _plot(part, good, os.path.join(out, f"{part}.png"), extra)
    except Exception as e:
        log.warning("plotting %s failed: %s", part, e)
    return extra


def _spread(values) -> float:
    v = [x for x in values if x is not None]
    return float(max(v) - min(v)) if v else math.nan


def _plot(part: str, rows, path: str, extra: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if part == "grid":  # Fig. 5.5: groups 1, 1s, 2, 2s; one bar per weighting
        groups = [("log", 1.0, "1: log-mel"), ("log", 10.0, "1s: log-mel ×10"), ("linear", 1.0, "2: linear mel"),
                  ("linear", 10.0, "2s: linear mel ×10")]
        width = 0.26
        for j, w in enumerate(WEIGHTINGS):
            ys = [next((r["test_roc_auc"] for r in rows if (r["log"], r["scale"], r["weighting"]) == (g, s, w)),
                       np.nan) for g, s, _ in groups]
            ax.bar(np.arange(len(groups)) + (j - 1) * width, ys, width, label=w)
        ax.set_xticks(range(len(groups)), [g[2] for g in groups])
        vals = [r["test_roc_auc"] for r in rows]
        ax.set_ylim(min(vals) - 0.02, max(vals) + 0.01)
        ax.legend(title="frequency weighting", fontsize=8)
    elif part == "data_size":  # Fig. 5.3
        for rep, marker in (("mel", "o-"), ("stft", "s--")):
            pts = sorted((r["fraction"], r["test_roc_auc"]) for r in rows if r["representation"] == rep)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, label=f"log-{rep}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("fraction of the training split")
        ax.legend()
    elif part == "variance":  # Fig. 5.2
        pts = sorted((r["init_seed"], r["test_roc_auc"]) for r in rows)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o")
        if extra:
            ax.axhline(extra["mean"], color="k", lw=1, label=f"mean {extra['mean']:.4f}")
            for sign in (-1, 1):
                ax.axhline(extra["mean"] + sign * extra["max_abs_deviation"], color="k", lw=0.8, ls=":")
            ax.legend(title=f"max |dev| {extra['max_abs_deviation']:.4f}")
        ax.set_xlabel("initialisation seed")
    else:
        labels = [r["setting"] for r in rows]
        ax.barh(range(len(rows)), [r["test_roc_auc"] for r in rows])
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        vals = [r["test_roc_auc"] for r in rows]
        ax.set_xlim(min(vals) - 0.02, max(vals) + 0.01)
    if part != "sample_std":
        ax.set_ylabel("test ROC-AUC (macro)")
    else:
        ax.set_xlabel("test ROC-AUC (macro)")
    ax.set_title(f"preprocessing study: {part}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args) -> None:
    parts = tuple(args.parts.split(",")) if args.parts else PARTS
    for part in parts:
        part_settings(part)  # unknown part → error before any training
    for part in parts:
        settings = part_settings(part)
        runs = [runner.Run(s.name(), make_config(args.config or "configs/choi_preprocessing.py", s, args.steps),
                           columns_of(s)) for s in settings]
        rows = runner.execute(runs, args.out)
        extra = summarise(part, rows, args.out)
        table = runner.markdown_table(rows, COLUMNS)
        if extra:
            table += "\n" + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in extra.items()) + "\n"
        runner.write_outputs(args.out, part, rows, table, {"summary": extra})
        print(f"## {part}\n{table}")
