"""WMF by ALS: mirjax (jitted JAX) vs the `implicit` library's CPU ALS on the same problem, in one run.

    python bench/bench_wmf.py [--users 20000] [--items 10000] [--density 0.01] [--factors 50] [--iters 10]
                              [--solvers exact,cg] [--threads 2]

Synthetic play counts with popularity skew (item popularity ∝ (rank + 20)^-0.9, log-normal user activity,
geometric counts), ~1 % dense, stand in for the thesis's 20,000-user × 9,330-song Taste Profile subset (§4.6.2).
Both libraries get the same surplus confidence S = α log(1 + r/ε) (α = 2, ε = 1e-6, benanne/wmf's demo values),
the same λ, factors and iterations, and the same start (item factors ~ N(0, 0.01²), user factors 0; users are
solved first in both). `implicit` stores the *whole* confidence on the nonzeros (its solver adds (c − 1) y yᵀ to
YᵀY and c·y to the right-hand side, see implicit/cpu/_als.pyx), so it is fed C = 1 + S with alpha=1.0;
tests/test_recommendation_wmf.py checks that one of its half-steps then equals ours. Its CG uses its default 3
steps, as ours.
Both final factor sets are scored by one objective function, mirjax.recommendation.wmf_objective (checked against
the dense Eq. 4.3 in the tests). Seconds per iteration exclude set-up and compilation (reported separately);
implicit runs with its BLAS pool at 1 thread, as it asks. One run on a shared machine: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def synthetic_counts(users: int, items: int, density: float, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    popularity = (np.arange(items) + 20.0) ** -0.9
    activity = rng.lognormal(0.0, 0.8, users)
    n = int(density * users * items * 1.08)  # a few percent of the draws are repeats and merge
    u = rng.choice(users, n, p=activity / activity.sum())
    i = rng.choice(items, n, p=popularity / popularity.sum())
    counts = rng.geometric(0.3, n).astype(np.float32)
    return sp.coo_matrix((counts, (u, i)), shape=(users, items)).tocsr()  # repeats summed


def time_mirjax(s, y0, args, solver):
    from mirjax.recommendation import factorize

    kw = dict(num_factors=args.factors, lambda_reg=args.lam, solver=solver, cg_steps=args.cg_steps,
              item_init=y0, compute_objective=False)
    t0 = time.perf_counter()
    factorize(s, num_iterations=1, **kw).user_factors.block_until_ready()  # compile (cached for the timed run)
    first = time.perf_counter() - t0
    stamps = []

    def tick(i, obj, x, y):
        y.block_until_ready()
        stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    res = factorize(s, num_iterations=args.iters, callback=tick, **kw)
    setup_and_first = stamps[0] - t0
    per_iter = (stamps[-1] - stamps[0]) / max(1, args.iters - 1)
    setup = setup_and_first - per_iter
    return res.user_factors, res.item_factors, per_iter, f"set-up {setup:.2f} s, first call incl. compile {first:.1f} s"


def time_implicit(s, y0, args, use_cg):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    conf = sp.csr_matrix((s.values + 1.0, (s.rows, s.cols)), shape=s.shape)  # c = 1 + s on the nonzeros
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=args.factors, regularization=args.lam, alpha=1.0, use_cg=use_cg,
                                        iterations=args.iters, calculate_training_loss=False,
                                        num_threads=args.threads, random_state=0)
        model.cg_steps = args.cg_steps
        model.item_factors = y0.copy()
        model.user_factors = np.zeros((s.shape[0], args.factors), np.float32)
        times = []
        model.fit(conf, show_progress=False, callback=lambda i, elapsed, loss: times.append(elapsed))
    return model.user_factors, model.item_factors, float(np.mean(times)), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--density", type=float, default=0.01)
    ap.add_argument("--factors", type=int, default=50)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--lam", type=float, default=1e-5, help="λ (benanne/wmf's default)")
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--epsilon", type=float, default=1e-6)
    ap.add_argument("--cg-steps", type=int, default=3)
    ap.add_argument("--solvers", default="exact,cg")
    ap.add_argument("--threads", type=int, default=2, help="implicit's num_threads")
    args = ap.parse_args()

    from mirjax.recommendation import surplus_confidence, wmf_objective

    counts = synthetic_counts(args.users, args.items, args.density)
    s = surplus_confidence(counts, args.alpha, args.epsilon)
    y0 = np.random.default_rng(1).normal(0.0, 0.01, (args.items, args.factors)).astype(np.float32)
    try:
        import implicit
        have_implicit = f"implicit {implicit.__version__}"
    except ImportError as e:
        have_implicit = None
        print(f"implicit is not installed ({e}); timing mirjax only. `pip install -e .[bench]` to compare.")

    load0 = os.getloadavg()[0]
    rows = []
    for solver in args.solvers.split(","):
        runs = [("mirjax", time_mirjax(s, y0, args, solver))]
        if have_implicit:
            runs.insert(0, ("implicit", time_implicit(s, y0, args, use_cg=solver == "cg")))
        for name, (x, y, per_iter, note) in runs:
            rows.append((solver, name, per_iter, wmf_objective(s, x, y, args.lam), note))
    load1 = os.getloadavg()[0]

    cpu = jax.devices()[0]
    print(f"# {os.cpu_count()} cores ({cpu.platform}), jax {jax.__version__}, {have_implicit or 'no implicit'}; "
          f"{args.users:,} users × {args.items:,} items, {s.nnz:,} nonzeros ({s.nnz / args.users / args.items:.2%}), "
          f"{args.factors} factors, λ = {args.lam:g}, α = {args.alpha:g}, ε = {args.epsilon:g}, "
          f"{args.iters} iterations, CG {args.cg_steps} steps; load average {load0:.2f} before, {load1:.2f} after")
    print("| solver | implementation | s / iteration | final objective (Eq. 4.3) | implicit time / mirjax time "
          "| objective / implicit's | notes |")
    print("|---|---|---|---|---|---|---|")
    for solver, name, per_iter, obj, note in rows:
        ref = next((r for r in rows if r[0] == solver and r[1] == "implicit"), None)
        speed = f"**{ref[2] / per_iter:.2f}×**" if ref and name == "mirjax" else ("1.00×" if ref else "–")
        ratio = f"{obj / ref[3]:.5f}" if ref else "–"
        print(f"| {solver} | {name} | {per_iter:.3f} | {obj:,.0f} | {speed} | {ratio} | {note} |")


if __name__ == "__main__":
    main()
