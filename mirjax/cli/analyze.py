"""`mirjax analyze filters` (first-layer filters of a raw-audio tagger, Dieleman Ch. 5) and `mirjax analyze tags`
(per-tag and tag-category analysis of evaluated workdirs, Choi Ch. 3-4)."""

from __future__ import annotations

import argparse

from mirjax.cli.base import Command, add_data_dir, add_out, add_workdir


def _filters_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "trained run of a dieleman_raw model")
    add_out(p, "output directory (default WORKDIR/filters)")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"))
    p.add_argument("--lowpass_hz", type=float, default=0.0,
                   help="smooth the pool-group waveforms for display (the thesis's Fig. 5.4 does); 0 = off")


def _filters(args: argparse.Namespace) -> int:
    from mirjax.analysis import filters
    print(filters.summary(filters.analyse(args.workdir, args.out or None, args.checkpoint, args.lowpass_hz)))
    return 0


def _tags_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "evaluated run (repeat for several models)", multiple=True)
    p.add_argument("--names", default="", help="comma-separated model names, one per workdir")
    add_out(p, "output directory (default: the first workdir)")
    p.add_argument("--popularity", choices=("test", "train"), default="test",
                   help="count positives in the evaluated split's labels (cheap) or the training split (TFDS)")
    p.add_argument("--metric", choices=("roc", "pr"), default="roc", help="per-tag ROC-AUC or PR-AUC")
    p.add_argument("--reference", default="", help="model the others are compared with (default: first)")
    p.add_argument("--diff", default="", help="A,B: models whose difference A-B is plotted (default: 2nd,1st)")
    add_data_dir(p)


def _tags(args: argparse.Namespace) -> int:
    from mirjax.analysis import tags
    print(tags.summary(tags.run(args)))
    return 0


ANALYZE = Command("analyze", "analyses of trained or evaluated runs", subcommands=(
    Command("filters", "plot the first-layer filters of a trained dieleman_raw model", _filters_args, _filters),
    Command("tags", "per-tag and tag-category analysis of evaluated runs", _tags_args, _tags),
))
