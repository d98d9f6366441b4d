"""Input pipeline vs train step throughput for a config, measured in one run on this machine.

    python bench/bench_pipeline.py [--config configs/default.py] [--steps 50]

The pipeline must keep up with the step: the ratio pipeline/step should be > 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/default.py")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()

    from mirjax.config import load_config
    from mirjax.data import pipeline
    from mirjax.training import setup, sharding
    from mirjax.training.optim import make_optimizer
    from mirjax.training.steps import make_train_step

    config = load_config(args.config)
    exp = setup.build_experiment(config)
    bs = config.train.batch_size

    # Pipeline alone: batches/s after the cache is warm (first epoch decodes, later ones hit the cache).
    it = exp.train_batches()
    spe = pipeline.steps_per_epoch(config.dataset, exp.info, bs)
    for _ in range(spe):  # one full epoch fills the cache
        next(it)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        batch = next(it)
    pipe_eps = args.steps * bs / (time.perf_counter() - t0)

    # Train step alone, on one fixed batch already on device.
    tx, schedule = make_optimizer(config.optim, config.train.num_steps)
    state = exp.init_state(tx)
    data_sharding, repl = sharding.batch_sharding(exp.mesh), sharding.replicated(exp.mesh)
    step = jax.jit(make_train_step(exp.model, exp.frontend, exp.task.loss(config.train.loss), schedule),
                   in_shardings=(repl, data_sharding), out_shardings=(repl, repl), donate_argnums=(0,))
    gbatch = sharding.to_global(batch, data_sharding)
    state, m = step(state, gbatch)
    jax.block_until_ready(m)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        state, m = step(state, gbatch)
    jax.block_until_ready(m)
    step_eps = args.steps * bs / (time.perf_counter() - t0)

    dev = f"{jax.device_count()}× {jax.devices()[0].platform} ({platform.processor() or platform.machine()}, " \
          f"{os.cpu_count()} cores)"
    print("| config | device | pipeline examples/s | train-step examples/s | pipeline / step |")
    print("|---|---|---|---|---|")
    print(f"| {args.config} (batch {bs}, {config.dataset.crop_seconds} s crops) | {dev} | {pipe_eps:.0f} | "
          f"{step_eps:.1f} | {pipe_eps / step_eps:.1f}× |")


if __name__ == "__main__":
    main()
