"""Train-step throughput of Choi's four structures at matched parameter counts, measured in one run.

    python bench/bench_structures.py [--sizes 1M] [--setting msd] [--batch 8] [--steps 5]

Each structure's jitted train step (front-end included, as in training) runs on random audio of the setting's
crop length; the figure is examples/s after compilation, and the ratio is against k2c2 measured in the same run
(the thesis's speed ranking at equal size is k2c1 > k2c2 > k1c2 > CRNN, §4.3.2). `--setting msd` is the thesis's
input (12 kHz, 29.12 s → 96 × 1366); `quick` is the 3-s CPU setting of the structure study.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402


def step_throughput(config, batch: int, steps: int) -> tuple[float, int, tuple[int, int]]:
    """(examples/s, parameters, (frames, bins)) of the config's train step on random audio."""
    from mirjax import tasks
    from mirjax.config import section_kwargs
    from mirjax.data.pipeline import crop_samples
    from mirjax.frontend import make_frontend
    from mirjax.models import create_model
    from mirjax.training import sharding
    from mirjax.training.optim import make_optimizer
    from mirjax.training.state import count_params, create_train_state
    from mirjax.training.steps import make_train_step

    frontend = make_frontend(config.frontend.name, **section_kwargs(config.frontend))
    model = create_model(config.model.name, 50, **section_kwargs(config.model))
    tx, schedule = make_optimizer(config.optim, config.train.num_steps)
    mesh = sharding.make_mesh()
    samples = crop_samples(config.dataset)
    features = frontend(np.zeros((1, samples), np.float32))
    state = sharding.replicate(jax.jit(lambda: create_train_state(model, tx, features, 0))(), mesh)
    data, repl = sharding.batch_sharding(mesh), sharding.replicated(mesh)
    step = jax.jit(make_train_step(model, frontend, tasks.bce_loss, schedule), in_shardings=(repl, data),
                   out_shardings=(repl, repl), donate_argnums=(0,))
    rng = np.random.default_rng(0)
    b = sharding.to_global({"input": rng.uniform(-0.5, 0.5, (batch, samples)).astype(np.float32),
                            "label": (rng.random((batch, 50)) < 0.1).astype(np.uint8)}, data)
    state, m = step(state, b)  # compile
    jax.block_until_ready(m)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, m = step(state, b)
    jax.block_until_ready(m)
    return batch * steps / (time.perf_counter() - t0), count_params(state.params), tuple(features.shape[-2:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M", help="comma-separated Table 4-A sizes")
    ap.add_argument("--setting", default="msd", help="msd (thesis input) | quick | scorebank")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()

    from mirjax.config import load_config
    from mirjax.models.choi_structures import STRUCTURES

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {jax.devices()[0].platform} "
          f"× {jax.device_count()}; setting {args.setting}, batch {args.batch}, {args.steps} timed steps")
    print("| structure | size | parameters | input (frames × bins) | train examples/s | vs k2c2 "
          "| s per 2,500 examples |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        rows = {}
        for structure in STRUCTURES:
            config = load_config(f"configs/choi_structures.py:{structure},{size},{args.setting}")
            rows[structure] = step_throughput(config, args.batch, args.steps)
        ref = rows["k2c2"][0]
        for structure, (eps, n, shape) in rows.items():
            print(f"| {structure} | {size} | {n:,} | {shape[0]} × {shape[1]} | {eps:.2f} | {eps / ref:.2f}× | "
                  f"{2500 / eps:.0f} |", flush=True)


if __name__ == "__main__":
    main()
