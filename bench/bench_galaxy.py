"""Galaxy convnet throughput (Dieleman thesis, App. A): the jitted train step (augmentation warp, 16 viewpoints,
network, optimizer update; `--size full`: the thesis's 42M parameters and Nesterov SGD) and 60-view test-time
inference, in images per second.

    .venv/bin/python bench/bench_galaxy.py [--batch 16] [--tta-batch 2] [--repeats 3] [--variant best] [--size full]

Random 424×424×3 images; prints a markdown row per measurement with the device and the load average (other
processes on the machine skew the timing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from bench_frontend import cpu_name  # noqa: E402  (bench/ is on sys.path when a bench script runs)

from configs import dieleman_galaxy  # noqa: E402
from mirjax import config as config_lib  # noqa: E402
from mirjax.galaxy_plugin import mse_loss  # noqa: E402
from mirjax.models import create_model  # noqa: E402
from mirjax.training.optim import make_optimizer  # noqa: E402
from mirjax.training.state import count_params, create_train_state  # noqa: E402
from mirjax.training.steps import make_predict_step, make_train_step  # noqa: E402


def _time(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tta-batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--variant", default="best")
    ap.add_argument("--size", default="full",
                    help="configs/dieleman_galaxy.py SIZE: full (42M parameters, Nesterov SGD) | cpu (1.2M, Adam)")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    device = f"{jax.devices()[0].platform}: {cpu_name() if jax.devices()[0].platform == 'cpu' else jax.devices()[0]}"
    cfg = dieleman_galaxy.get_config(f"{args.variant},{args.size},1")
    kwargs = config_lib.section_kwargs(cfg.model)
    model = create_model("galaxy_convnet", 37, **kwargs)
    tx, schedule = make_optimizer(cfg.optim, cfg.train.num_steps)
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.random((args.batch, 424, 424, 3)), jnp.float32)
    labels = jnp.asarray(rng.random((args.batch, 37)), jnp.float32)
    state = jax.jit(lambda x: create_train_state(model, tx, x, 0))(images[:1])
    step = jax.jit(make_train_step(model, lambda x: x, mse_loss, schedule))
    holder = {"state": state}

    def train_once():
        holder["state"], m = step(holder["state"], {"input": images, "label": labels})
        return m["loss"]

    t_train = _time(train_once, args.repeats)
    tta = create_model("galaxy_convnet", 37, **{**kwargs, **dieleman_galaxy.tta_spec("60")})
    predict = jax.jit(make_predict_step(tta, lambda x: x))
    tta_images = images[:args.tta_batch]
    t_tta = _time(lambda: predict(holder["state"].variables(), tta_images), args.repeats)
    print(f"device: {device}; {count_params(state.params):,} parameters; load average {load0:.1f} → "
          f"{os.getloadavg()[0]:.1f}")
    print("| measurement | batch | seconds | images/s |")
    print("|---|---|---|---|")
    print(f"| train step ({args.variant}/{args.size}, augmentation + 16 viewpoints) | {args.batch} | {t_train:.3f} | "
          f"{args.batch / t_train:.1f} |")
    print(f"| 60-view inference ({args.variant}/{args.size}) | {args.tta_batch} | {t_tta:.3f} | "
          f"{args.tta_batch / t_tta:.2f} |")


if __name__ == "__main__":
    main()
