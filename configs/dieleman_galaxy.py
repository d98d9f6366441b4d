"""The rotation-invariant galaxy convnet (Dieleman thesis, App. A): 16 viewpoints of one-warp augmented 69×69
crops, a shared 4-layer convnet with untied biases, two maxout layers, 37 constrained outputs; MSE, SGD with
Nesterov momentum 0.9, the {0: 0.04, 18M examples: 0.004, 23M: 0.0004} schedule and the warm-up of §A.6.7.

Arg: `[VARIANT[,SIZE[,TTA[,DATA]]]]` (keys by name too), e.g. `configs/dieleman_galaxy.py:best,cpu,60`.

* VARIANT (`best`): the thesis's network, or one of the ensemble's variants (§A.6.6, §A.6.8):
  `2dense` (only two dense layers), `8433` (filter sizes 8, 4, 3, 3), `relu` (4096 ReLU units instead of maxout),
  `big256` (256 filters in the top conv layer), `shareddense` (a 512-unit maxout layer shared by the viewpoints
  before the concatenation), `maxnorm` (dense weight columns limited to L2 norm 1).
* SIZE (`cpu`): `full` — the thesis's network and schedule, 25M examples (1,562,500 steps of 16), drops at 18M
  and 23M examples, for accelerators; `cpu` — scaled down for 2 CPU cores (about 10 minutes a model there): a
  quarter of the conv filters (8/16/32/32), an eighth of the dense units (256 maxout units; `relu`: 512), 200
  updates of 16 images (3,200 examples) with the drops at the same fractions (18/25, 23/25), an 800-example
  warm-up, one validation pass (on `validation[:500]`) at the end, and two deviations without which the network
  learns nothing in so short a run (it predicted the mean answers for every image, test RMSE equal to the
  constant predictor's): He initialisation (std sqrt(2 / fan_in)) instead of Table A.2's small constants, under
  which the image's effect on the outputs is ~1e-6 of the biases' at this width, and Adam (lr 1e-3 → 1e-4 → 1e-5)
  instead of Nesterov SGD at 0.04; `tiny` — a 4-filter network for 4 steps (tests; Table A.2's initialisation, Adam).
* TTA (`1`): test-time views in evaluation, 1 (the centre view) or 60 (10 rotations × {1/1.2, 1, 1.2} × flip),
  or ROTATIONS×SCALES×FLIPS such as `10x3x2`. Periodic validation during training uses the same views, so train
  with 1 and evaluate with 60. 60 views cost 60 single views; on a CPU evaluate a slice of the split,
  `--config.eval.split=test[:100]` (any TFDS slice).
* DATA (`galaxies/default`, `galaxies/tiny` for SIZE=tiny): any dataset with an `image` and 37 `answers`, e.g.
  `galaxy_zoo` (with `--config.dataset.manual_dir`; it has no test split, so evaluate on `validation`).
"""

import ml_collections

from configs.common import choice, error, parse_arg
from mirjax.config import base_config

VARIANTS = {
    "best": {},
    "2dense": {"num_dense": 1},
    "8433": {"kernel_sizes": (8, 4, 3, 3)},
    "relu": {"dense_activation": "relu", "dense_units": 4096},
    "big256": {"features": (32, 64, 128, 256)},
    "shareddense": {"shared_dense": 512},
    "maxnorm": {"max_norm": 1.0},
}
SIZES = ("full", "cpu", "tiny")
EXAMPLES_PER_UPDATE = 16
CPU_STEPS, CPU_LR = 200, 1e-3  # the `cpu` size: updates of 16 images, Adam's initial learning rate


def tta_spec(tta: str) -> dict:
    if tta in ("1", ""):
        return {"tta_rotations": 1, "tta_scales": (1.0,), "tta_flip": False}
    if tta == "60":
        tta = "10x3x2"
    try:
        rotations, scales, flips = (int(x) for x in tta.split("x"))
    except ValueError:
        raise error(f"TTA must be 1, 60 or ROTATIONSxSCALESxFLIPS (e.g. 10x3x2), got '{tta}'") from None
    if rotations < 1 or scales not in (1, 3) or flips not in (1, 2):
        raise error(f"TTA {tta}: needs ROTATIONS ≥ 1, SCALES 1 or 3, FLIPS 1 or 2")
    return {"tta_rotations": rotations, "tta_scales": (1 / 1.2, 1.0, 1.2) if scales == 3 else (1.0,),
            "tta_flip": flips == 2}


def get_config(arg: str | None = None):
    arg = parse_arg(arg, variant="best", size="cpu", tta="1", data="")
    variant = choice("VARIANT", arg.variant, VARIANTS)
    size = choice("SIZE", arg.size, SIZES)
    c = base_config()
    c.dataset.name = arg.data or ("galaxies/tiny" if size == "tiny" else "galaxies/default")
    c.dataset.input_key = "image"
    c.dataset.input_kind = "image"
    c.dataset.label_key = "answers"
    c.dataset.task = "galaxy"
    c.dataset.cache = size == "tiny"  # decoded 424×424×3 float images: 2 MB each
    # decoded images are shuffled (2 MB each); TFDS already shuffled the records when it wrote them
    c.dataset.shuffle_buffer = 64 if size == "tiny" else 256
    c.eval.split = "validation" if (arg.data or "").startswith("galaxy_zoo") else "test"
    c.frontend = ml_collections.ConfigDict({"name": "identity"})
    c.model = ml_collections.ConfigDict({"name": "galaxy_convnet", **VARIANTS[variant], **tta_spec(arg.tta)})

    c.optim.name = "sgd"
    c.optim.momentum = 0.9
    c.optim.nesterov = True
    c.optim.weight_decay = 0.0
    c.optim.schedule = "piecewise"
    c.train.batch_size = EXAMPLES_PER_UPDATE
    if size == "full":  # the thesis's schedule, in updates of 16 examples
        c.train.num_steps = 25_000_000 // EXAMPLES_PER_UPDATE
        drops = (18_000_000 // EXAMPLES_PER_UPDATE, 23_000_000 // EXAMPLES_PER_UPDATE)
        c.train.eval_every = c.train.checkpoint_every = 10_000_000 // EXAMPLES_PER_UPDATE // 16
        c.train.log_every = 625  # one of the thesis's 10,000-example chunks
    else:
        c.train.num_steps = CPU_STEPS if size == "cpu" else 4
        # the same shape: drops at 18/25 and 23/25 of training
        drops = (c.train.num_steps * 18 // 25, c.train.num_steps * 23 // 25)
        c.train.eval_every = c.train.checkpoint_every = CPU_STEPS if size == "cpu" else 4
        c.train.log_every = 25 if size == "cpu" else 2
        if size == "cpu":  # a quarter of the conv filters, an eighth of the dense units, He initialisation, Adam
            c.model.features = tuple(f // 4 for f in c.model.get("features", (32, 64, 128, 128)))
            c.model.dense_units = c.model.get("dense_units", 2048) // 8
            if c.model.get("shared_dense"):
                c.model.shared_dense //= 8
            c.model.conv_std, c.model.dense_std = (0.0,), (0.0,)  # 0 = He: N(0, 2 / fan_in)
            c.model.warmup_examples = 800  # the first 50 steps
            c.dataset.eval_split = "validation[:500]"  # the one validation pass, at the end
    lr = 0.04 if size == "full" else CPU_LR
    c.optim.lr_schedule = {0: lr, drops[0]: lr / 10, drops[1]: lr / 100}
    if size != "full":
        c.optim.name = "adam"
    c.train.eval_crops = 1
    c.eval.num_crops = 1  # test-time views are the model's (TTA above); the image input has one view
    c.eval.batch_size = 16 if c.model.tta_rotations == 1 else 2
    if size == "tiny":
        c.train.batch_size = 8
        c.model.features = (4, 4, 4, 4)
        c.model.dense_units = 16
        c.model.warmup_examples = 16  # two steps clipped, then constrained
        if c.model.get("shared_dense"):
            c.model.shared_dense = 8
        if c.model.get("dense_activation") == "relu":
            c.model.dense_units = 32
        c.train.progress = False
    if c.train.batch_size <= 0:
        raise error("batch size must be positive")
    return c
