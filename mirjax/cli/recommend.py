"""`mirjax recommend targets` (WMF latent factors of a listening dataset → the regression targets file that
`mirjax train` reads) and `mirjax recommend codebook` (the bag-of-words codebook of the `mfcc_bow` front-end);
Dieleman thesis Ch. 4."""

from __future__ import annotations

import argparse

from mirjax.cli.base import Command, add_data_dir, add_out
from mirjax.cli.data import add_dataset, dataset_name

# option → WMFParams field; defaults (None) are WMFParams's, read at run time (its package imports JAX)
_WMF = {"factors": "num_factors", "alpha": "alpha", "epsilon": "epsilon", "lambda_reg": "lambda_reg",
        "iterations": "num_iterations", "seed": "seed", "solver": "solver"}


def _targets_args(p: argparse.ArgumentParser) -> None:
    add_dataset(p, default="scorebank_listening/default",
                what="listening dataset (built first when missing; default scorebank_listening/default)")
    add_out(p, "targets file to write (default: recommendation/ next to the data dir)", metavar="FILE")
    add_data_dir(p)
    p.add_argument("--factors", type=int, help="latent factors (default 50; thesis: 50 subset, 400 full)")
    p.add_argument("--alpha", type=float, help="confidence scale α (default 2)")
    p.add_argument("--epsilon", type=float, help="confidence ε (default 1e-6)")
    p.add_argument("--lambda_reg", type=float, help="L2 penalty λ (default 1e-5)")
    p.add_argument("--iterations", type=int, help="ALS iterations (default 20)")
    p.add_argument("--seed", type=int, help="initialisation seed (default 0)")
    p.add_argument("--solver", choices=("exact", "cg"), help="ALS solves (default exact)")
    p.add_argument("--no_wpe", action="store_true", help="leave out the WPE quadratics (F×F per clip)")


def _targets(args: argparse.Namespace) -> int:
    from mirjax.recommendation.targets import WMFParams, build_targets, default_path
    listening = dataset_name(args)
    out = args.out or default_path(listening, args.data_dir or None)
    params = WMFParams(**{field: getattr(args, opt) for opt, field in _WMF.items() if getattr(args, opt) is not None})
    meta = build_targets(listening, out, params, data_dir=args.data_dir or None, wpe=not args.no_wpe)
    sizes = ", ".join(f"{k} {v:,}" for k, v in meta["split_sizes"].items())
    print(f"targets of {meta['dataset']} from {meta['listening']}: {meta['num_users']:,} users × "
          f"{meta['num_items']:,} items, {meta['params']['num_factors']} factors, objective "
          f"{meta['objective'][-1]:.6g} after {len(meta['objective'])} iterations; clips {sizes}; "
          f"{meta['seconds']:.0f} s → {out}")
    return 0


def _codebook_args(p: argparse.ArgumentParser) -> None:
    add_dataset(p, default="scorebank/default", what="audio dataset (default scorebank/default)")
    p.add_argument("--split", default="train")
    p.add_argument("--words", type=int, default=4000, help="K-means dictionary size")
    add_out(p, "codebook .npz to write (default: recommendation/ next to the data dir, where "
               "configs/dieleman_recommend.py looks)", metavar="FILE")
    p.add_argument("--max_frames", type=int, default=200_000, help="frames sampled for K-means")
    p.add_argument("--variance", type=float, default=0.95, help="fraction of the variance PCA keeps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=20, help="Lloyd iterations")
    add_data_dir(p)


def _codebook(args: argparse.Namespace) -> int:
    from mirjax.recommendation import bow
    dataset = dataset_name(args)
    s = bow.fit_codebook(args.out or bow.default_path(dataset, args.data_dir or None), dataset=dataset,
                         split=args.split, num_words=args.words, max_frames=args.max_frames,
                         variance=args.variance, seed=args.seed, num_iters=args.iters,
                         data_dir=args.data_dir or None)
    print(bow.summary_line(s))
    return 0


RECOMMEND = Command("recommend", "content-based recommendation: WMF targets, bag-of-words codebook", subcommands=(
    Command("targets", "WMF factors of a listening dataset → targets file", _targets_args, _targets,
            description="Fit WMF by ALS on a listening dataset's play counts and write the regression targets "
                        "that `mirjax train` reads (dataset.task=regression, dataset.targets=FILE)."),
    Command("codebook", "fit the MFCC bag-of-words codebook of the mfcc_bow front-end", _codebook_args, _codebook,
            description="Fit the bag-of-words codebook (MFCC → K-means words → PCA) of the mfcc_bow front-end "
                        "(Dieleman thesis §4.5.1)."),
))
