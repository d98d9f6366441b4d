"""Dieleman's raw-audio vs spectrogram study (thesis Ch. 5, Tables 5.1–5.3), on scorebank by default.

    mirjax study raw_audio --out workdirs/raw_audio                  # 16 runs × 2,500 steps: 41 min on 2 cores
    mirjax study raw_audio --quick --out workdirs/raw_audio_quick    # 500 steps: 2-core sanity
    mirjax study raw_audio --parts table52 --out workdirs/raw_audio  # one table
    mirjax study raw_audio --dataset magnatagatune/clean --out workdirs/raw_audio_mtat  # the thesis's data, once
                                                                     # built (mirjax/data/magnatagatune.py)

Parts (each writes OUT/<part>.md, OUT/<part>.json and OUT/<part>.png, our test ROC-AUC beside the thesis's):

  table51  for each (length, stride) of LENGTHS_STRIDES (Table 5.1): a spectrogram run
           (configs/dieleman_spectrogram.py with frontend n_fft = length, hop_length = stride) and a raw-audio run
           (configs/dieleman_raw.py:LENGTH,STRIDE)
  table52  raw 1024/1024 with the strided layer's nonlinearity relu | log_square | log_rect
  table53  raw 1024/1024 with feature pooling none | l2 ×2 | l2 ×4 | max ×2 | max ×4

A setting requested by two tables (raw 1024/1024, ReLU, no pooling is in all three) is one run, trained once.
The spectrogram runs use the raw model's 'SAME' pooling border (Dieleman thesis §5.4.1 does not state it): at a
1024-sample hop a 3-s crop has 47 frames, which 'VALID' pooling would reduce to nothing, and with the same border
mode each pair of Table 5.1 differs only in its input. `--steps N` replaces the configs' 2,500 steps and scales
their learning-rate drop (step 2,000 of 2,500) to the same fraction of N; validation and checkpoints come five
times per run either way. The first-layer filters of any raw run can then be drawn with
`mirjax analyze filters --workdir OUT/runs/raw_512_512` (Figs. 5.2–5.4).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import ml_collections

from mirjax.config import load_config, validate
from mirjax.errors import UserError
from mirjax.models.dieleman import NONLINEARITIES  # Table 5.2's, in the thesis's order
from mirjax.studies import runner

log = logging.getLogger("mirjax")

PARTS = ("table51", "table52", "table53")
POOLINGS = (("none", 1), ("l2", 2), ("l2", 4), ("max", 2), ("max", 4))
QUICK_STEPS = 500


# Thesis test AUCs on MagnaTagATune (Dieleman thesis §5.4, Tables 5.1–5.3).
THESIS_TABLE51 = {(1024, 1024): (0.8690, 0.8366), (1024, 512): (0.8726, 0.8365), (512, 512): (0.8793, 0.8386),
                  (512, 256): (0.8793, 0.8408), (256, 256): (0.8815, 0.8487)}  # (spectrograms, raw audio)
LENGTHS_STRIDES = tuple(THESIS_TABLE51)  # Table 5.1's (filter length, stride) pairs, in the thesis's order
THESIS_TABLE52 = {"relu": 0.8366, "log_square": 0.7508, "log_rect": 0.7487}
THESIS_TABLE53 = {("none", 1): 0.8366, ("l2", 2): 0.8387, ("l2", 4): 0.8387, ("max", 2): 0.8183,
                  ("max", 4): 0.8280}
FORMULAS = {"relu": "max(0, x)", "log_square": "log(1 + C·x²)", "log_rect": "log(1 + C·max(x, 0))"}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One run of the study; equal settings requested by two tables have the same name, hence one run."""
    input: str  # spectrogram | raw
    length: int = 1024  # STFT window or strided-conv filter length, samples
    stride: int = 1024  # STFT hop or strided-conv stride, samples
    nonlinearity: str = "relu"  # raw only (Table 5.2)
    pool: str = "none"  # raw only (Table 5.3): none | l2 | max
    pool_size: int = 1

    def name(self) -> str:
        if self.input == "spectrogram":
            return f"spec_{self.length}_{self.stride}"
        name = f"raw_{self.length}_{self.stride}"
        if self.nonlinearity != "relu":
            name += f"_{self.nonlinearity}"
        if self.pool != "none":
            name += f"_{self.pool}pool{self.pool_size}"
        return name

    def columns(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def part_settings(part: str) -> list[Setting]:
    if part == "table51":
        return [Setting(kind, length, stride) for length, stride in LENGTHS_STRIDES for kind in ("spectrogram", "raw")]
    if part == "table52":
        return [Setting("raw", nonlinearity=n) for n in NONLINEARITIES]
    if part == "table53":
        return [Setting("raw", pool=p, pool_size=k) for p, k in POOLINGS]
    raise UserError(f"unknown part '{part}'; valid: {', '.join(PARTS)}")


def make_config(s: Setting, dataset: str = "scorebank/default", steps: int | None = None,
                data_dir: str = "") -> ml_collections.ConfigDict:
    if s.input == "spectrogram":
        c = load_config("configs/dieleman_spectrogram.py")
        c.frontend.n_fft, c.frontend.hop_length = s.length, s.stride
        c.model.pool_padding = "SAME"
    elif s.input == "raw":
        c = load_config(f"configs/dieleman_raw.py:{s.length},{s.stride}")
        c.model.nonlinearity = s.nonlinearity
        c.model.feature_pool, c.model.feature_pool_size = s.pool, s.pool_size
    else:
        raise UserError(f"unknown input '{s.input}'; valid: spectrogram, raw")
    c.dataset.name = dataset
    if data_dir:
        c.dataset.data_dir = data_dir
    if steps:
        base = c.train.num_steps
        c.optim.lr_schedule = ml_collections.ConfigDict(
            {str(round(int(k) * steps / base)): v for k, v in c.optim.lr_schedule.to_dict().items()})
        c.train.num_steps = steps
        c.train.eval_every = c.train.checkpoint_every = max(1, steps // 5)
        c.train.log_every = max(1, min(c.train.log_every, steps // 10))
    validate(c)
    return c


def make_runs(parts: Sequence[str], dataset: str = "scorebank/default", steps: int | None = None,
              data_dir: str = "") -> list[runner.Run]:
    """The distinct runs of `parts`, in table order, each once."""
    seen: dict[str, runner.Run] = {}
    for part in parts:
        for s in part_settings(part):
            if s.name() not in seen:
                seen[s.name()] = runner.Run(s.name(), make_config(s, dataset, steps, data_dir), s.columns())
    return list(seen.values())


def _cell(row: dict[str, Any] | None, key: str = "test_roc_auc", fmt: str = ".4f") -> str:
    if row is None:
        return "not run"
    if "error" in row:
        return "failed"
    v = row.get(key)
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _auc(row: dict[str, Any] | None) -> float:
    v = None if row is None or "error" in row else row.get("test_roc_auc")
    return math.nan if v is None else float(v)


def tabulate(part: str, rows: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The part's markdown table (thesis AUC beside ours), its rows as plain data, and a summary of whether the
    thesis's ordering holds. Runs missing from `rows` are shown as 'not run'."""
    by = {r["run"]: r for r in rows}
    table_rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    if part == "table51":
        lines = ["| length | stride | thesis AUC (spectrograms) | our AUC (spectrograms) | thesis AUC (raw audio) "
                 "| our AUC (raw audio) |", "|---|---|---|---|---|---|"]
        for length, stride in LENGTHS_STRIDES:
            spec = by.get(Setting("spectrogram", length, stride).name())
            raw = by.get(Setting("raw", length, stride).name())
            t_spec, t_raw = THESIS_TABLE51[(length, stride)]
            lines.append(f"| {length} | {stride} | {t_spec:.4f} | {_cell(spec)} | {t_raw:.4f} | {_cell(raw)} |")
            table_rows.append({"length": length, "stride": stride, "thesis_spectrogram": t_spec, "thesis_raw": t_raw,
                               "spectrogram": _auc(spec), "raw": _auc(raw)})
        pairs = [(r["spectrogram"], r["raw"]) for r in table_rows if not math.isnan(r["spectrogram"] + r["raw"])]
        summary["spectrogram_beats_raw"] = f"{sum(a > b for a, b in pairs)}/{len(pairs)}"
        for kind in ("spectrogram", "raw"):
            auc = {(r["length"], r["stride"]): r[kind] for r in table_rows}
            # "shorter windows help": 1024/1024 → 512/512 → 256/256 (length = stride)
            diag = [auc[(n, n)] for n in (1024, 512, 256)]
            if not any(math.isnan(v) for v in diag):
                summary[f"{kind}_256_minus_1024"] = diag[2] - diag[0]
    elif part == "table52":
        lines = ["| nonlinearity | f(x) | parameters | thesis AUC | our AUC |", "|---|---|---|---|---|"]
        for n in NONLINEARITIES:
            r = by.get(Setting("raw", nonlinearity=n).name())
            lines.append(f"| {n} | {FORMULAS[n]} | {_cell(r, 'params', ',')} | {THESIS_TABLE52[n]:.4f} | {_cell(r)} |")
            table_rows.append({"nonlinearity": n, "thesis": THESIS_TABLE52[n], "ours": _auc(r)})
        ours = {r["nonlinearity"]: r["ours"] for r in table_rows}
        if not any(math.isnan(v) for v in ours.values()):
            summary["relu_beats_both_logs"] = ours["relu"] > max(ours["log_square"], ours["log_rect"])
    elif part == "table53":
        lines = ["| pooling | pool size | parameters | thesis AUC | our AUC |", "|---|---|---|---|---|"]
        for p, k in POOLINGS:
            r = by.get(Setting("raw", pool=p, pool_size=k).name())
            label = {"none": "no pooling", "l2": "L2 pooling", "max": "max-pooling"}[p]
            lines.append(f"| {label} | {k} | {_cell(r, 'params', ',')} | {THESIS_TABLE53[(p, k)]:.4f} | {_cell(r)} |")
            table_rows.append({"pool": p, "pool_size": k, "thesis": THESIS_TABLE53[(p, k)], "ours": _auc(r)})
        ours = {(r["pool"], r["pool_size"]): r["ours"] for r in table_rows}
        l2 = [ours[("l2", k)] for k in (2, 4) if not math.isnan(ours[("l2", k)])]
        mx = [ours[("max", k)] for k in (2, 4) if not math.isnan(ours[("max", k)])]
        if not math.isnan(ours[("none", 1)]):
            if l2:
                summary["l2_minus_none_max_abs"] = max(abs(v - ours[("none", 1)]) for v in l2)
            if mx:
                summary["max_below_none"] = f"{sum(v < ours[('none', 1)] for v in mx)}/{len(mx)}"
        if l2 and mx:
            summary["max_below_l2"] = f"{sum(v < min(l2) for v in mx)}/{len(mx)}"
    else:
        raise UserError(f"unknown part '{part}'; valid: {', '.join(PARTS)}")
    table = "\n".join(lines) + "\n"
    if summary:
        table += "\n" + ", ".join(f"{k} {v:+.4f}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in summary.items()) + "\n"
    return table, table_rows, summary


def report(part: str, rows: Sequence[dict[str, Any]], out: str, title: str = "") -> str:
    """Write OUT/<part>.md, .json (the runs' rows, the table's rows, the summary) and .png; returns the table."""
    table, table_rows, summary = tabulate(part, rows)
    names = {s.name() for s in part_settings(part)}
    part_rows = [r for r in rows if r.get("run") in names]
    try:
        _plot(part, table_rows, os.path.join(out, f"{part}.png"), title)
    except Exception as e:  # a plot must never cost the table
        log.warning("plotting %s failed: %s", part, e)
    runner.write_outputs(out, part, part_rows, table, {"table": table_rows, "summary": summary})
    return table


def _plot(part: str, table_rows: Sequence[dict[str, Any]], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    if part == "table51":
        labels = [f"{r['length']}/{r['stride']}" for r in table_rows]
        x = np.arange(len(labels))
        for ax, prefix, head in ((axes[0], "", f"ours ({title})" if title else "ours"),
                                 (axes[1], "thesis_", "thesis (MagnaTagATune)")):
            for kind, marker in (("spectrogram", "o-"), ("raw", "s--")):
                ax.plot(x, [r[prefix + kind] for r in table_rows], marker, label=kind)
            ax.set_xticks(x, labels)
            ax.set_xlabel("window length / stride (samples)")
            ax.set_title(head)
    else:
        key = "nonlinearity" if part == "table52" else None
        labels = [r[key] if key else ("none" if r["pool"] == "none" else f"{r['pool']} ×{r['pool_size']}")
                  for r in table_rows]
        x = np.arange(len(labels))
        for ax, field, head in ((axes[0], "ours", f"ours ({title})" if title else "ours"),
                                (axes[1], "thesis", "thesis (MagnaTagATune)")):
            ys = np.array([r[field] for r in table_rows], dtype=float)
            ax.bar(x, ys, color="tab:orange" if field == "ours" else "tab:gray")
            ax.set_xticks(x, labels)
            finite = ys[np.isfinite(ys)]
            if finite.size:
                ax.set_ylim(finite.min() - 0.03, finite.max() + 0.02)
            ax.set_xlabel("nonlinearity" if key else "feature pooling")
            ax.set_title(head)
    axes[0].set_ylabel("test ROC-AUC (macro)")
    for ax in axes:
        ax.grid(alpha=0.3)
    if part == "table51":
        axes[0].legend(fontsize=8)
    fig.suptitle({"table51": "Table 5.1: spectrograms vs raw audio", "table52": "Table 5.2: strided-layer nonlinearity",
                  "table53": "Table 5.3: feature pooling (raw 1024/1024)"}[part], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args) -> None:
    parts = tuple(p for p in args.parts.split(",") if p) if args.parts else PARTS
    for part in parts:
        part_settings(part)  # unknown part → error before any training
    steps = args.steps or (QUICK_STEPS if args.quick else None)
    runs = make_runs(parts, args.dataset, steps, args.data_dir)
    log.warning("%d distinct runs for %s on %s, %s steps each", len(runs), ", ".join(parts), args.dataset,
                steps or runs[0].config.train.num_steps)
    rows = runner.execute(runs, args.out)
    title = f"{args.dataset}, {steps or runs[0].config.train.num_steps} steps"
    for part in parts:
        table = report(part, rows, args.out, title)
        print(f"## {part}\n{table}")
    print("wrote", *(os.path.join(args.out, f"{p}.{ext}") for p in parts for ext in ("md", "png")))
