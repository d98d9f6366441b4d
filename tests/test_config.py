"""Config validation: unknown keys and wrong types fail with one line naming the key; config files parse their
argument one way (`configs/common.py`) and load as modules of the `configs` package from any directory."""

import importlib
import os
import pathlib
import subprocess
import sys

import pytest

from mirjax.config import ConfigError, base_config, load_config, validate
from mirjax.training.optim import make_optimizer, parse_piecewise

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.py") if p.name not in ("__init__.py", "common.py"))

# Every config file with every argument form its docstring documents (None: no argument).
DOCUMENTED_ARGS = {
    "choi_auralisation.py": [None, "tiny", "default", "scorebank=tiny"],
    "choi_preprocessing.py": [None, "tiny", "scorebank=tiny"],
    "choi_label_noise.py": [None, "300,0.25", "seed=3", "1500,labels=clean", "scorebank=tiny"],
    "choi_transfer.py": [None, "tiny", "default", "scorebank=tiny"],
    "choi_structures.py": [None, "crnn,1M", "k2c2,0.1M,quick", "crnn,1M,msd", "k1c2,3M,mtt", "k2c1,0.25M,mtt_clean",
                           "k2c2,0.5M,scorebank", "crnn,setting=msd", "size=0.1M"],
    "default.py": [None, "tiny", "default", "scorebank=tiny"],
    "dieleman_kmeans.py": [None, "laplacian,1,500", "gaussian,2,1000,style", "multires,1,pca,nca,tiny",
                           "gaussian,4,200,mtt", "laplacian,1,500,gtzan", "gaussian,2,1000,scorebank=tiny"],
    "dieleman_raw.py": [None, "512,256", "1024,1024,tiny", "256", "512,scorebank=tiny"],
    "dieleman_recommend.py": [None, "cnn_mse", "cnn_wpe", "bow_linear", "bow_mlp,tiny", "cnn_wpe,scorebank=tiny"],
    "dieleman_spectrogram.py": [None, "tiny", "scorebank=tiny"],
    "dieleman_galaxy.py": [None, "best,cpu,60", "2dense,tiny", "8433,full", "relu", "big256,cpu,10x3x2",
                           "shareddense,tiny,1,galaxies/tiny", "maxnorm", "size=tiny"],
    "zhang_kcnn.py": [None, "quick", "tiny,scorebank_tiny", "paper,gtzan", "quick,ismir2004", "dataset=ismir2004"],
    "zhang_kcnn_train.py": [None, "ult", "k1,tiny", "scorebank=tiny"],
}


def test_every_config_file_has_its_documented_args_listed():
    assert sorted(DOCUMENTED_ARGS) == CONFIGS


@pytest.mark.parametrize("name,arg", [(n, a) for n, args in DOCUMENTED_ARGS.items() for a in args],
                         ids=lambda v: str(v))
def test_every_shipped_config_and_arg_validates(name, arg):
    config = load_config(f"configs/{name}" + (f":{arg}" if arg else ""))  # validates against the file's REFERENCE
    assert config.dataset.name


def test_arg_forms_set_what_they_say():
    assert load_config("configs/default.py:tiny").dataset.name == "scorebank/tiny"
    assert load_config("configs/default.py").dataset.name == "scorebank/default"
    c = load_config("configs/choi_structures.py:crnn,setting=msd")
    assert (c.model.name, c.model.size, c.dataset.name) == ("crnn", "1M", "msd_lastfm50/default")
    c = load_config("configs/dieleman_raw.py:512,scorebank=tiny")
    assert (c.model.filter_length, c.model.stride, c.dataset.name) == (512, 512, "scorebank/tiny")
    c = load_config("configs/dieleman_kmeans.py:multires,1,pca,nca,tiny")
    assert (c.features.representation, c.features.num_means, c.dataset.name) == ("multires", 0, "scorebank/tiny")
    c = load_config("configs/dieleman_recommend.py:bow_mlp,tiny")
    assert (c.model.name, tuple(c.model.hidden), c.dataset.name) == ("mlp", (1000,), "scorebank/tiny")


@pytest.mark.parametrize("spec,message", [
    ("configs/choi_structures.py:k3c3,1M", r"^configs/choi_structures.py: unknown structure 'k3c3'; valid: k1c2"),
    ("configs/choi_structures.py:crnn,2M", r"unknown size '2M'"),
    ("configs/choi_structures.py:crnn,1M,gtzan", r"unknown setting 'gtzan'; valid: scorebank, quick, msd"),
    ("configs/choi_structures.py:crnn,1M,msd,extra", r"too many values in argument 'crnn,1M,msd,extra'"),
    ("configs/choi_structures.py:crnn,sise=1M", r"unknown key 'sise' in argument 'crnn,sise=1M'; valid: structure, "),
    ("configs/dieleman_raw.py:big", r"^configs/dieleman_raw.py: argument length='big' must be int"),
    ("configs/dieleman_raw.py:512,-1", r"LENGTH and STRIDE must be positive"),
    ("configs/dieleman_kmeans.py:gaussian,2,500,nope", r"unknown task 'nope'"),
    ("configs/dieleman_kmeans.py:fourier,2,500", r"unknown representation 'fourier'"),
    ("configs/dieleman_kmeans.py:gaussian,2,many", r"MEANS must be a positive count or 'pca', got 'many'"),
    ("configs/dieleman_recommend.py:cnn", r"unknown model 'cnn'"),
    ("configs/default.py:tiny,model=crnn", r"^configs/default.py: unknown key 'model'"),
    ("configs/nope.py:tiny", r"^config file configs/nope.py not found$"),
])
def test_bad_config_args_are_one_line_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config(spec)
    assert "\n" not in str(e.value)


@pytest.fixture(scope="module")
def common():
    load_config("configs/default.py")  # puts the repository root on sys.path, as for any config
    return importlib.import_module("configs.common")


def test_parse_arg_positionals_names_and_types(common):
    spec = dict(name="k2c2", size=1, rate=0.5, quick=False)
    a = common.parse_arg(None, **spec)
    assert a.to_dict() == spec
    assert common.parse_arg("", **spec).to_dict() == spec
    a = common.parse_arg("crnn,3", **spec)
    assert (a.name, a.size, a.rate, a.quick) == ("crnn", 3, 0.5, False)
    a = common.parse_arg("crnn,quick=true,rate=2", **spec)
    assert (a.name, a.size, a.rate, a.quick) == ("crnn", 1, 2.0, True)
    assert isinstance(a.rate, float) and isinstance(a.size, int)
    for text, value in (("1", True), ("0", False), ("True", True), ("false", False)):
        assert common.parse_arg(f"quick={text}", **spec).quick is value
    a = common.parse_arg(",7", **spec)  # an empty value keeps the default
    assert (a.name, a.size) == ("k2c2", 7)
    assert common.parse_arg("size = 4", **spec).size == 4


@pytest.mark.parametrize("arg,message", [
    ("a,1,0.5,true,extra", r"too many values in argument 'a,1,0.5,true,extra'; expected at most 4"),
    ("colour=red", r"unknown key 'colour' in argument 'colour=red'; valid: name, size, rate, quick"),
    ("a,size=two", r"argument size='two' must be int"),
    ("rate=fast", r"argument rate='fast' must be float"),
    ("quick=maybe", r"argument quick='maybe' must be a bool"),
    ("a,name=b", r"'name' is given twice"),
])
def test_parse_arg_errors_are_one_line(common, arg, message):
    with pytest.raises(ConfigError, match=message) as e:
        common.parse_arg(arg, name="k2c2", size=1, rate=0.5, quick=False)
    assert str(e.value).startswith("tests/test_config.py: ")  # names the calling config file


def test_choice_names_the_value_and_the_valid_ones(common):
    assert common.choice("colour", "red", ("red", "blue")) == "red"
    with pytest.raises(ConfigError, match=r"^tests/test_config.py: unknown colour 'green'; valid: red, blue$"):
        common.choice("colour", "green", ("red", "blue"))


def test_configs_import_as_a_package_from_the_repo_root():
    code = ("import configs.default, configs.dieleman_raw; print(configs.default.get_config('tiny').dataset.name, "
            "configs.dieleman_raw.get_config('512').model.stride)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["scorebank/tiny", "512"]


def test_load_config_by_absolute_path_from_another_directory(tmp_path):
    """With mirjax installed away from the repository (here: a link to the package, the layout of a non-editable
    install) and no PYTHONPATH to the repository, a config that imports `configs.common` still loads by absolute
    path from another working directory, also through a neighbour (dieleman_raw imports dieleman_spectrogram)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "mirjax").symlink_to(REPO / "mirjax", target_is_directory=True)
    code = (f"import mirjax; from mirjax.config import load_config; r = {str(REPO)!r}; "
            "assert not mirjax.__file__.startswith(r), mirjax.__file__; "
            "print(load_config(r + '/configs/default.py:tiny').dataset.name, "
            "load_config(r + '/configs/dieleman_raw.py:512,256,tiny').model.stride, "
            "load_config(r + '/configs/dieleman_kmeans.py:gaussian,2,1000').features.window, "
            "load_config(r + '/configs/choi_structures.py:crnn,0.1M').model.name)")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["scorebank/tiny", "256", "2", "crnn"]


def test_relative_paths_fall_back_to_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config("configs/choi_structures.py:crnn,0.1M").model.size == "0.1M"
    with pytest.raises(ConfigError, match=r"^config file configs/nope.py not found$"):
        load_config("configs/nope.py")


def test_unknown_key_is_named_with_a_suggestion():
    c = base_config()
    c.train.batchsize = 8
    with pytest.raises(ConfigError, match=r"unknown config key 'train.batchsize' \(did you mean 'train.batch_size'"):
        validate(c)


def test_wrong_type_is_named():
    import ml_collections
    c = base_config().to_dict()
    c["train"]["num_steps"] = "ten"  # a config file that builds its sections from plain dicts
    with pytest.raises(ConfigError, match=r"'train.num_steps' must be int, got str"):
        validate(ml_collections.ConfigDict(c))


def test_piecewise_schedule_follows_the_table():
    c = base_config().optim
    c.schedule = "piecewise"
    c.lr_schedule = {0: 0.1, 10: 0.01, 20: 0.001}
    _, sched = make_optimizer(c, 30)
    assert [float(sched(s)) for s in (0, 9, 10, 19, 20, 29)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert parse_piecewise("0:0.5,100:0.05") == {0: 0.5, 100: 0.05}
    with pytest.raises(ValueError, match="step 0"):
        parse_piecewise({10: 0.1})


def test_frozen_parameters_stay_and_decay_all_reaches_biases():
    import jax.numpy as jnp
    import optax

    from mirjax.errors import UserError
    from mirjax.training.optim import make_optimizer
    params = {"table_0": jnp.ones((3, 2)), "Dense_0": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}}
    grads = {"table_0": jnp.ones((3, 2)), "Dense_0": {"kernel": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}}
    c = base_config().optim
    c.update(dict(name="sgd", learning_rate=0.5, momentum=0.0, weight_decay=0.1, decay="all", frozen="table_"))
    tx, _ = make_optimizer(c, 10)
    updates, _ = tx.update(grads, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    assert float(jnp.abs(new["table_0"] - 1).max()) == 0.0  # frozen: neither the gradient nor the decay moves it
    assert float(new["Dense_0"]["bias"][0]) == pytest.approx(1 - 0.5 * 0.1)  # decay "all" includes biases
    c.decay, c.frozen = "weights", ""
    tx, _ = make_optimizer(c, 10)
    new = optax.apply_updates(params, tx.update(grads, tx.init(params), params)[0])
    assert float(new["table_0"][0, 0]) == pytest.approx(1 - 0.5 * (1 + 0.1))
    assert float(new["Dense_0"]["bias"][0]) == 1.0
    c.frozen = "tabel"
    tx, _ = make_optimizer(c, 10)
    with pytest.raises(UserError, match="matches no parameter; parameters: Dense_0/bias"):
        tx.init(params)


def test_weight_decay_skips_biases_and_norm_parameters():
    import jax.numpy as jnp

    from mirjax.training.optim import decay_mask
    params = {"Conv_0": {"kernel": jnp.ones((3, 3, 1, 4)), "bias": jnp.ones(4)},
              "BatchNorm_0": {"scale": jnp.ones(4), "bias": jnp.ones(4)}}
    mask = decay_mask(params)
    assert mask == {"Conv_0": {"kernel": True, "bias": False}, "BatchNorm_0": {"scale": False, "bias": False}}
