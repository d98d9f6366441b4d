"""The `mirjax` command: every (sub)command's --help, the --config.KEY=VALUE overrides, and the one error path
(user errors as one `error:` line with exit 2, bugs with their traceback, --debug, divergence 3, Ctrl-C 130)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from mirjax import cli
from mirjax.cli.base import split_overrides
from mirjax.cli.overrides import apply_overrides
from mirjax.config import ConfigError, base_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "configs/default.py:tiny"


def _paths(commands=cli.COMMANDS, prefix=()):
    for c in commands:
        yield (*prefix, c.name)
        yield from _paths(c.subcommands, (*prefix, c.name))


@pytest.mark.parametrize("path", [(), *_paths()], ids=lambda p: " ".join(p) or "mirjax")
def test_help_of_every_command(path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([*path, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('mirjax', *path))}")
    if not path:
        for name in ("train", "eval", "data", "features", "study", "recommend", "analyze"):
            assert f"    {name}" in out


def test_study_help_keeps_each_study_options(capsys):
    for study, option in [("structures", "--sizes"), ("preprocessing", "--config"), ("raw_audio", "--parts"),
                          ("kmeans", "--variants"), ("recommendation", "--models")]:
        with pytest.raises(SystemExit):
            cli.main(["study", study, "--help"])
        out = capsys.readouterr().out
        assert option in out and "--out" in out


# --- overrides -------------------------------------------------------------------------------------

def test_overrides_are_read_as_the_type_of_the_value_they_replace():
    c = base_config()
    c.model.channels = (16, 32)
    c.model.dropout = None
    apply_overrides(c, [("train.num_steps", "7"), ("optim.learning_rate", "3e-4"), ("optim.nesterov", "false"),
                        ("train.progress", "True"), ("dataset.name", "scorebank/tiny"), ("model.channels", "8,8,16"),
                        ("model.dropout", "0.5"), ("model.new_key", "(1, 2)"), ("frontend.fmax", "none_as_text"),
                        ("optim.lr_schedule.100", "0.01"), ("eval.split", "123")])
    assert c.train.num_steps == 7 and isinstance(c.train.num_steps, int)
    assert c.optim.learning_rate == 3e-4 and c.optim.nesterov is False and c.train.progress is True
    assert c.dataset.name == "scorebank/tiny" and c.eval.split == "123"
    assert c.model.channels == (8, 8, 16) and c.model.dropout == 0.5 and c.model.new_key == (1, 2)
    assert c.frontend.fmax == "none_as_text" and c.optim.lr_schedule["100"] == 0.01
    with pytest.raises(ConfigError, match="must be float"):
        apply_overrides(c, [("optim.learning_rate", "fast")])


@pytest.mark.parametrize("key, value, message", [
    ("train.batchsize", "4", "unknown config key 'train.batchsize' in --config.train.batchsize "
                             "(did you mean 'train.batch_size'?)"),
    ("trian.num_steps", "4", "did you mean 'train.num_steps'?"),
    ("train.num_steps", "abc", "config key 'train.num_steps' must be int, got 'abc'"),
    ("optim.nesterov", "maybe", "must be bool (true or false)"),
    ("train", "3", "'train' is a section"),
    ("seed.x", "3", "'seed' is a value, not a section"),
])
def test_override_errors_name_the_key(key, value, message):
    with pytest.raises(ConfigError) as e:
        apply_overrides(base_config(), [(key, value)])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_both_override_spellings_are_split_off():
    rest, ov = split_overrides(["train", "--config", TINY, "--config.train.num_steps=3", "--workdir", "w",
                                "--config.optim.learning_rate", "0.1"])
    assert rest == ["train", "--config", TINY, "--workdir", "w"]
    assert ov == [("train.num_steps", "3"), ("optim.learning_rate", "0.1")]


# --- the one error path ----------------------------------------------------------------------------

def _one_error_line(capsys, *needles) -> str:
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return err


def _mtt_all_corrupt(root):
    """A MagnaTagATune manual dir whose every mp3 is garbage (one clip per folder, so every split lists some)."""
    tags = [f"tag{j}" for j in range(55)]
    rng = np.random.default_rng(0)
    os.makedirs(root)
    with open(os.path.join(root, "annotations_final.csv"), "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        w.writerow(["clip_id", *tags, "mp3_path"])
        for i, folder in enumerate("0123456789abcdef"):
            path = f"{folder}/artist-album-{i}.mp3"
            w.writerow([str(i), *(str(v) for v in rng.integers(0, 2, len(tags))), path])
            os.makedirs(os.path.join(root, folder))
            with open(os.path.join(root, path), "wb") as g:
                g.write(b"this is not an mp3 " * 64)


@pytest.mark.parametrize("case", ["unknown_key", "wrong_type", "missing_config", "missing_workdir",
                                  "missing_dataset", "unknown_dataset_config", "no_dataset", "usage",
                                  "overrides_not_taken", "corrupt_audio"])
def test_user_errors_are_one_line_and_exit_2(case, tmp_path, capsys):
    w = str(tmp_path / "w")
    argv, needles = {
        "unknown_key": (["train", "--config", TINY, "--workdir", w, "--config.train.batchsize=4"],
                        ["did you mean 'train.batch_size'"]),
        "wrong_type": (["train", "--config", TINY, "--workdir", w, "--config.train.num_steps", "many"],
                       ["'train.num_steps' must be int"]),
        "missing_config": (["train", "--config", str(tmp_path / "nope.py"), "--workdir", w], ["not found"]),
        "missing_workdir": (["eval", "--config", TINY, "--workdir", w], [f"workdir {w} does not exist"]),
        "missing_dataset": (["data", "info", "no_such_dataset"], ["unknown dataset 'no_such_dataset'", "scorebank"]),
        "unknown_dataset_config": (["data", "build", "scorebank/huge", "--data_dir", str(tmp_path)],
                                   ["no config 'huge'; configs: default, tiny"]),
        "no_dataset": (["data", "build"], ["name a dataset"]),
        "usage": (["train", "--config", TINY], ["--workdir", "mirjax train --help"]),
        "overrides_not_taken": (["analyze", "tags", "--workdir", w, "--config.x=1"], ["takes no --config.KEY"]),
        "corrupt_audio": (["data", "build", "magnatagatune/original", "--manual_dir", str(tmp_path / "m"),
                           "--data_dir", str(tmp_path / "tfds")],
                          ["magnatagatune: none of the", "train audio files could be read", "corrupt audio"]),
    }[case]
    if case == "corrupt_audio":
        _mtt_all_corrupt(str(tmp_path / "m"))
    assert cli.main(argv) == 2
    err = _one_error_line(capsys, *needles)
    if case != "corrupt_audio":  # (a build also draws progress bars on stderr)
        assert len(err.strip().splitlines()) == 1, err


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, capsys):
    for argv in (["--debug", "train"], ["train", "--debug"]):
        assert cli.main([*argv, "--config", str(tmp_path / "nope.py"), "--workdir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "ConfigError" in err
        assert err.strip().splitlines()[-1].startswith("error: config file") and err.count("\nerror:") == 1


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    import mirjax.config

    def broken(*args, **kwargs):
        raise KeyError("a bug, not a user error")

    monkeypatch.setattr(mirjax.config, "load_config", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["train", "--config", TINY, "--workdir", str(tmp_path)])


@pytest.mark.parametrize("exc, status, line", [("diverged", 3, "error: loss became nan at step 3"),
                                               (KeyboardInterrupt, 130, "interrupted")])
def test_divergence_exits_3_and_ctrl_c_130(exc, status, line, monkeypatch, tmp_path, capsys):
    from mirjax.training import trainer

    def train(config, workdir):
        raise trainer.TrainingDiverged("loss became nan at step 3") if exc == "diverged" else exc()

    monkeypatch.setattr(trainer, "train_and_evaluate", train)
    assert cli.main(["train", "--config", TINY, "--workdir", str(tmp_path)]) == status
    assert capsys.readouterr().err.strip().splitlines() == [line]


def test_overrides_reach_the_command(monkeypatch, tmp_path, capsys):
    from mirjax.training import trainer
    seen = {}

    def train(config, workdir):
        seen.update(config=config, workdir=workdir)
        return {"step": config.train.num_steps}

    monkeypatch.setattr(trainer, "train_and_evaluate", train)
    assert cli.main(["train", "--config", TINY, "--workdir", str(tmp_path), "--config.train.num_steps=5",
                     "--config.model.dropout", "0.25"]) == 0
    assert isinstance(seen["config"], ml_collections.ConfigDict) and seen["workdir"] == str(tmp_path)
    assert seen["config"].train.num_steps == 5 and seen["config"].model.dropout == 0.25
    assert capsys.readouterr().out.startswith(f"trained to step 5 in {tmp_path}")


def test_no_tensorflow_log_line_precedes_the_error(tmp_path):
    """In a fresh process that imports TensorFlow before failing (the user's environment sets no log level)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    r = subprocess.run([sys.executable, "-m", "mirjax", "eval", "--config", TINY, "--workdir", str(tmp_path / "x")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: workdir {tmp_path / 'x'} does not exist"], r.stderr
