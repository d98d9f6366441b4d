"""`python -m mirjax.recommendation targets [options]`: fit WMF on a listening dataset and write the regression
targets that `train.py` reads (`dataset.task=regression`, `dataset.targets=FILE`); see
`mirjax.recommendation.targets` and docs/results.md (Dieleman Ch. 4)."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv=None) -> int:
    from mirjax.recommendation.targets import WMFParams

    d = WMFParams()
    ap = argparse.ArgumentParser(prog="python -m mirjax.recommendation", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("targets", help="WMF factors of a listening dataset → targets file")
    t.add_argument("--listening", default="scorebank_listening/default",
                   help="listening dataset (TFDS name/config), built first when missing")
    t.add_argument("--out", default="", help="targets file (default: recommendation/ next to the data dir)")
    t.add_argument("--data_dir", default="", help="TFDS data dir (default $MIRJAX_DATA_DIR or the mirjax cache)")
    t.add_argument("--factors", type=int, default=d.num_factors, help="latent factors (thesis: 50 subset, 400 full)")
    t.add_argument("--alpha", type=float, default=d.alpha)
    t.add_argument("--epsilon", type=float, default=d.epsilon)
    t.add_argument("--lambda_reg", type=float, default=d.lambda_reg)
    t.add_argument("--iterations", type=int, default=d.num_iterations)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--solver", default=d.solver, choices=("exact", "cg"))
    t.add_argument("--no_wpe", action="store_true", help="leave out the WPE quadratics (F×F per clip)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from mirjax.recommendation.targets import build_targets, default_path

    out = args.out or default_path(args.listening, args.data_dir or None)
    params = WMFParams(args.factors, args.alpha, args.epsilon, args.lambda_reg, args.iterations, args.seed,
                       args.solver)
    try:
        meta = build_targets(args.listening, out, params, data_dir=args.data_dir or None, wpe=not args.no_wpe)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{k} {v:,}" for k, v in meta["split_sizes"].items())
    print(f"targets of {meta['dataset']} from {meta['listening']}: {meta['num_users']:,} users × "
          f"{meta['num_items']:,} items, {meta['params']['num_factors']} factors, objective "
          f"{meta['objective'][-1]:.6g} after {len(meta['objective'])} iterations; clips {sizes}; "
          f"{meta['seconds']:.0f} s → {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
