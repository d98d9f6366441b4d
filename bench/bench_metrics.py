"""Per-tag ROC-AUC and PR-AUC (mirjax.evaluation, vectorised numpy) vs sklearn's per-column loop, same data.

    python bench/bench_metrics.py [--samples 30000] [--tags 50] [--rounds 3]

Data: `samples` × `tags` float32 scores (uniform + 0.1 · label) and labels with prevalences drawn in [0.02, 0.5], as
in tests/test_evaluation_metrics.py::test_large_matches_sklearn. Each round times mirjax (`roc_auc_per_tag` then
`pr_auc_per_tag` over all tags) and sklearn (`roc_auc_score` and `average_precision_score` column by column), in
alternating order so both see the same load; reported are the median seconds and the median over rounds of sklearn's
time / mirjax's (> 1: mirjax faster). A last line gives the largest |difference| of the two.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from mirjax.evaluation import pr_auc_per_tag, roc_auc_per_tag  # noqa: E402


def data(samples: int, tags: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((samples, tags)) < rng.uniform(0.02, 0.5, size=tags)).astype(np.int64)
    y[:2] = [[0] * tags, [1] * tags]  # both classes in every column
    return y, rng.random((samples, tags)).astype(np.float32) + 0.1 * y


def ours(y, s):
    return roc_auc_per_tag(y, s), pr_auc_per_tag(y, s)


def sklearn(y, s):
    cols = range(y.shape[1])
    return (np.array([skm.roc_auc_score(y[:, t], s[:, t]) for t in cols]),
            np.array([skm.average_precision_score(y[:, t], s[:, t]) for t in cols]))


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=30_000)
    p.add_argument("--tags", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    y, s = data(args.samples, args.tags)
    times = {"mirjax": [], "sklearn": []}
    ratios = []
    for r in range(args.rounds):
        order = ("mirjax", "sklearn") if r % 2 == 0 else ("sklearn", "mirjax")
        got = {}
        for name in order:
            seconds, got[name] = timed(ours if name == "mirjax" else sklearn, y, s)
            times[name].append(seconds)
        ratios.append(times["sklearn"][-1] / times["mirjax"][-1])
    print(f"{args.samples} samples × {args.tags} tags, ROC-AUC + PR-AUC per tag, {args.rounds} rounds")
    for name in ("mirjax", "sklearn"):
        print(f"  {name:8s} {statistics.median(times[name]):8.3f} s (median)")
    print(f"  sklearn / mirjax: {statistics.median(ratios):.1f}× (median over rounds)")
    diff = max(np.abs(a - b).max() for a, b in zip(got["mirjax"], got["sklearn"]))
    print(f"  max |mirjax − sklearn| = {diff:.2e}")


if __name__ == "__main__":
    main()
