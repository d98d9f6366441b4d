"""The base experiment config and its validation.

Every experiment file in `configs/` starts from `base_config()` and changes values; it may not invent keys.
`validate(config)` is called at start-up so that a typo (`train.batchsize`) or a wrong type fails at once with
one line naming the key, instead of being silently ignored.
"""

from __future__ import annotations

import difflib
from typing import Any

import ml_collections

from mirjax.errors import UserError

# Sub-dicts whose keys are free-form (checked elsewhere): model/frontend kwargs are checked against the
# registered function's signature; `lr_schedule` is a {step: lr} dict; `label_noise` by the task that reads it
# (`weak_multilabel`, mirjax.data.weak_labels).
FREE_FORM = {"model", "frontend", "optim.lr_schedule", "dataset.label_noise"}


class ConfigError(UserError):
    """A config is malformed: the message is one line naming the key."""


def base_config() -> ml_collections.ConfigDict:
    """Every key an experiment may set, with its default."""
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.dataset = ml_collections.ConfigDict()
    c.dataset.name = "scorebank/default"  # a registered TFDS name[/config]
    c.dataset.data_dir = ""  # "" → $MIRJAX_DATA_DIR or ~/.cache/mirjax/tensorflow_datasets
    c.dataset.manual_dir = ""  # where a user put a real dataset's files (MagnaTagATune, GTZAN, …)
    c.dataset.input_key = "audio"  # feature holding the model's input
    c.dataset.input_kind = ""  # audio | image (mirjax.data.inputs); "" = from the feature's type
    c.dataset.label_key = "tags"  # feature holding the target
    # a registered task (mirjax.tasks): multilabel (sigmoid + BCE) | multiclass (softmax + CE) | regression (MSE on
    # the label feature) | factors (latent factors from `dataset.targets`, MSE or WPE; mirjax.recommendation)
    c.dataset.task = "multilabel"
    c.dataset.targets = ""  # task factors: a targets file (`mirjax recommend targets`)
    c.dataset.sample_rate = 16000
    c.dataset.crop_seconds = 3.0  # training crop length; eval uses evenly spaced crops of the same length
    c.dataset.pad_mode = "repeat"  # how clips shorter than a crop are padded: repeat | zero
    c.dataset.shuffle_buffer = 4096
    c.dataset.cache = True  # keep the decoded split in memory (fine for scorebank; off for big corpora)
    c.dataset.train_split = "train"
    c.dataset.eval_split = "validation"
    c.dataset.test_split = "test"
    c.dataset.train_fraction = 1.0  # use a fraction of the training split (data-size studies)
    c.dataset.label_noise = ml_collections.ConfigDict()  # weak-labelling simulation (task weak_multilabel)

    c.frontend = ml_collections.ConfigDict({"name": "logmel"})
    c.model = ml_collections.ConfigDict({"name": "compact_convnet"})

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "adam"  # adam | sgd | adamw
    c.optim.learning_rate = 1e-3
    c.optim.schedule = "constant"  # constant | piecewise | warmup_cosine
    c.optim.lr_schedule = ml_collections.ConfigDict()  # piecewise: {step: lr}, Dieleman-style
    c.optim.warmup_steps = 0
    c.optim.momentum = 0.9
    c.optim.nesterov = True
    c.optim.weight_decay = 0.0  # decoupled; on the parameters `decay` names
    c.optim.decay = "weights"  # weights (kernels, embeddings; not biases, norm parameters) | all
    c.optim.frozen = ""  # regex over parameter paths ("table_", "Dense_0/"): zero updates, no decay; "" = none
    c.optim.grad_clip_norm = 0.0  # 0 = off

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = 32  # global batch, split over all devices and processes
    c.train.num_steps = 1000
    c.train.log_every = 50
    c.train.eval_every = 500
    c.train.checkpoint_every = 500
    c.train.keep_checkpoints = 3
    c.train.loss = ""  # "" → the task's first (bce | ce | mse); factors may use wpe (Dieleman Eq. 4.5)
    c.train.best_metric = ""  # validation metric for keep-best and early stopping; "" → the task's own
    c.train.early_stopping_patience = 0  # evaluations without improvement before stopping; 0 = off
    c.train.eval_crops = 4  # crops per clip in the periodic validation
    c.train.progress = True
    c.train.init_seed = -1  # weight-initialisation seed; -1 → `seed` (Choi's variance study varies only this)
    # float32 | bfloat16: the dtype of the model's training forward/backward pass; parameters, optimizer state,
    # batch-norm statistics, front-end and loss stay float32 (mirjax.training.steps)
    c.train.compute_dtype = "float32"

    c.eval = ml_collections.ConfigDict()
    c.eval.checkpoint = "best"  # best | latest
    c.eval.split = "test"
    c.eval.num_crops = 8
    c.eval.averaging = "avg-probs"  # avg-probs | avg-logits | geometric
    c.eval.batch_size = 16  # clips per eval batch (each with num_crops crops)
    c.eval.plots = True
    return c


def validate(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict | None = None) -> None:
    """Raise ConfigError naming the first unknown key or wrongly typed value."""
    _check(config, reference or base_config(), prefix="")


def _check(cfg: Any, ref: Any, prefix: str) -> None:
    for key in cfg.keys():
        path = f"{prefix}{key}"
        if path in FREE_FORM:
            continue
        if key not in ref:
            close = difflib.get_close_matches(str(key), [str(k) for k in ref.keys()], n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{path}'{hint}")
        value, default = cfg[key], ref[key]
        if isinstance(default, ml_collections.ConfigDict):
            if not isinstance(value, ml_collections.ConfigDict):
                raise ConfigError(f"config key '{path}' must be a section, got {type(value).__name__}")
            _check(value, default, prefix=path + ".")
        elif not _type_ok(value, default):
            raise ConfigError(
                f"config key '{path}' must be {type(default).__name__}, got {type(value).__name__} ({value!r})")


def _type_ok(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    return isinstance(value, type(default))


def section_kwargs(section: ml_collections.ConfigDict) -> dict[str, Any]:
    """A free-form section (model/frontend) as kwargs, without its `name`."""
    d = section.to_dict()
    d.pop("name", None)
    return d


def load_config(spec: str, reference: ml_collections.ConfigDict | None = None) -> ml_collections.ConfigDict:
    """`"configs/NAME.py[:ARG]"` → that file's `get_config(ARG)`, validated against `reference` (default: the
    file's `REFERENCE()` if it names one, else `base_config()`; what `--config` does, for studies and benchmarks
    that build many configs). A relative path is taken from the current directory, then from the repository
    root. A file in a package (a directory with `__init__.py`, like `configs/`) is imported as a module of that
    package, with the package's parent directory put on `sys.path`, so that it may import its neighbours
    (`from configs.common import parse_arg`) from any working directory."""
    import os

    path, _, arg = spec.partition(":")
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file {spec.partition(':')[0]} not found")
    module = _config_module(os.path.realpath(path))
    if not callable(getattr(module, "get_config", None)):
        raise ConfigError(f"config file {spec.partition(':')[0]} has no get_config(arg) function")
    config = module.get_config(arg or None)
    # A config file that is not a train.py experiment names its schema: `REFERENCE = feature_config`.
    validate(config, reference or getattr(module, "REFERENCE", base_config)())
    return config


def _config_module(path: str):
    """The module of the config file at (absolute) `path`: imported as `pkg.sub.name` when its directory is a
    package, else executed on its own."""
    import importlib
    import importlib.util
    import os
    import sys

    parts = [os.path.splitext(os.path.basename(path))[0]]
    root = os.path.dirname(path)
    while os.path.isfile(os.path.join(root, "__init__.py")):
        parts.insert(0, os.path.basename(root))
        root = os.path.dirname(root)
    if len(parts) == 1:
        mod_spec = importlib.util.spec_from_file_location(f"mirjax_config_{abs(hash(path))}", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return module
    top = sys.modules.get(parts[0])
    if top is not None and os.path.join(root, parts[0]) not in [os.path.realpath(p) for p in getattr(
            top, "__path__", [])]:
        raise ConfigError(f"config file {path}: another package named '{parts[0]}' is already imported "
                          f"(from {os.path.dirname(getattr(top, '__file__', None) or '?')})")
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(".".join(parts))
    if os.path.realpath(getattr(module, "__file__", "") or "") != path:
        raise ConfigError(f"config file {path}: importing '{'.'.join(parts)}' found {module.__file__} instead")
    return module
