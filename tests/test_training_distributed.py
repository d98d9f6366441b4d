"""Multi-process training for real: the README's multi-host commands, run as two processes on this machine (two
forced CPU devices each, joined by `jax.distributed` over 127.0.0.1: a 4-device mesh), against one process with
four devices; and the launch settings (flags, MIRJAX_* variables, a coordinator alone)."""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from mirjax.cli.overrides import apply_overrides
from mirjax.config import load_config
from mirjax.errors import UserError
from mirjax.training import setup, sharding
from mirjax.training.checkpoint import Checkpoints
from mirjax.training.optim import make_optimizer

REPO = pathlib.Path(__file__).parent.parent
DEVICES_FLAG = "--xla_force_host_platform_device_count"
TIMEOUT_S = 300  # for the whole multi-process run; all its processes are killed when it runs out
# Fewer, shorter steps than configs/default.py:tiny, with validation and checkpoints on the way, and SGD: under Adam,
# the conv biases in front of batch norm (whose gradient is exactly zero: the norm removes any per-channel offset)
# take lr-sized steps driven by the rounding noise in that zero, which changes with the order of the gradient
# all-reduce: one process with 1 or with 4 devices already differ there by ~1e-3 after 4 steps. SGD leaves every
# parameter comparable at 1e-5; Adam's losses and figures still agree (docs/results.md).
OVERRIDES = {"dataset.crop_seconds": "1.0", "dataset.shuffle_buffer": "64", "train.num_steps": "4",
             "train.log_every": "1", "train.checkpoint_every": "2", "train.eval_every": "2", "train.eval_crops": "2",
             "train.progress": "False", "eval.split": "validation", "eval.checkpoint": "latest", "eval.num_crops": "2",
             "eval.batch_size": "4", "eval.plots": "False", "optim.name": "sgd", "optim.learning_rate": "0.1",
             "optim.warmup_steps": "2"}
ATOL = 1e-5


def _readme_commands() -> tuple[str, dict[str, list[list[str]]]]:
    """(the XLA_FLAGS value, {'train': [argv of process 0, 1, …], 'eval': […]}) of the README's multi-host block."""
    lines = [ln.strip() for ln in (REPO / "README.md").read_text().splitlines()]
    flags = [ln.split("=", 1)[1] for ln in lines if ln.startswith("export XLA_FLAGS=")]
    commands: dict[str, list[list[str]]] = {}
    for ln in lines:
        if ln.startswith("mirjax ") and "--process_id" in ln:
            argv = shlex.split(ln.rstrip("&"))
            commands.setdefault(argv[1], []).append(argv)
    assert len(flags) == 1 and set(commands) == {"train", "eval"}, "README: the multi-host block changed"
    return flags[0], commands


def _drop(argv: list[str], *flags: str) -> list[str]:
    """`argv` without the given flags and their values."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in flags:
            skip = True
        else:
            out.append(a)
    return out


def _local(argv: list[str], workdir: pathlib.Path, data_dir: str, port: int | None = None) -> list[str]:
    """A README command as the test runs it: this Python, its own workdir and free port, the shorter config."""
    argv = _drop(argv, "--workdir", "--coordinator") + ["--workdir", str(workdir)]
    if port is not None:
        argv += ["--coordinator", f"127.0.0.1:{port}"]
    overrides = {**OVERRIDES, "dataset.data_dir": data_dir}
    return [sys.executable, "-m", *argv, *(f"--config.{k}={v}" for k, v in overrides.items())]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_together(commands: list[list[str]], envs: list[dict[str, str]], logs: pathlib.Path, deadline: float
                  ) -> list[str]:
    """Run the commands at once; their outputs, once all exited 0. A failure, or the deadline, kills all of them
    (each runs in its own process group), so that no process is left waiting for a peer."""
    logs.mkdir(parents=True, exist_ok=True)
    paths = [logs / f"{time.monotonic_ns()}_{i}.log" for i in range(len(commands))]
    procs = []
    try:
        for cmd, env, path in zip(commands, envs, paths):
            with open(path, "w") as out:
                procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    texts = [path.read_text() for path in paths]
    # The process that failed first in the message; those killed for it (or for the deadline) after it.
    for p, cmd, text in sorted(zip(procs, commands, texts), key=lambda x: x[0].returncode < 0):
        assert p.returncode == 0, (f"{' '.join(cmd[2:])} exited {p.returncode}"
                                   f"{' (killed: timeout or a failed peer)' if p.returncode < 0 else ''}:\n"
                                   f"{text[-3000:]}")
    return texts


def _metrics(workdir: pathlib.Path) -> dict[tuple[int, str], float]:
    rows = [json.loads(ln) for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {(r["step"], k): v for r in rows for k, v in r.items() if k.startswith(("train/loss", "train/grad", "val/"))}


def _max_diff(a, b) -> float:
    la, lb = jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b))
    assert len(la) == len(lb) and la
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(la, lb))


@pytest.mark.slow
def test_two_processes_train_and_evaluate_as_one_process_with_four_devices(tiny_data_dir, tmp_path):
    xla_flags, cmds = _readme_commands()
    n_proc = len(cmds["train"])
    n_dev = n_proc * int(xla_flags.split(f"{DEVICES_FLAG}=", 1)[1])
    steps = int(OVERRIDES["train.num_steps"])
    mp, one, logs = tmp_path / "processes", tmp_path / "one", tmp_path / "logs"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    mp_env, one_env = {**env, "XLA_FLAGS": xla_flags}, {**env, "XLA_FLAGS": f"{DEVICES_FLAG}={n_dev}"}
    deadline = time.monotonic() + TIMEOUT_S

    # Training: the README's processes and, alongside, the same command in one process with all the devices.
    port = _free_port()
    reference = _local(_drop(cmds["train"][0], "--coordinator", "--num_processes", "--process_id"), one,
                       tiny_data_dir)
    outs = _run_together([_local(c, mp, tiny_data_dir, port) for c in cmds["train"]] + [reference],
                         [mp_env] * n_proc + [one_env], logs, deadline)
    for out in outs:
        assert f"on {n_dev} device(s)" in out and f"trained to step {steps} in " in out
    # Evaluation: the README's processes; process 0 writes the report.
    port = _free_port()
    evals = _run_together([_local(c, mp, tiny_data_dir, port) for c in cmds["eval"]], [mp_env] * n_proc, logs,
                          deadline)
    assert "report: " in evals[0] and "report: " not in evals[1]
    report = json.loads((mp / "report.json").read_text())

    # Same losses, gradient norms and validation figures at every step (≤ 1e-5).
    got, want = _metrics(mp), _metrics(one)
    assert got.keys() == want.keys() and (steps, "val/roc_auc_macro") in want and (steps, "train/loss") in want
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=0, abs=ATOL), k

    # The processes' checkpoints restore in this single process (one device) and hold the reference's state.
    config = load_config("configs/default.py:tiny")
    apply_overrides(config, [*OVERRIDES.items(), ("dataset.data_dir", tiny_data_dir)])
    exp = setup.build_experiment(config)
    init = exp.init_state(make_optimizer(config.optim, steps)[0])
    restored = []
    for workdir in (mp, one):
        ckpts = Checkpoints(str(workdir))
        restored.append(ckpts.restore(init, "latest"))
        ckpts.close()
    trained = lambda s: (s.step, s.params, s.batch_stats, s.opt_state)
    assert int(restored[0].step) == int(restored[1].step) == steps
    assert _max_diff(trained(restored[0]), trained(restored[1])) <= ATOL
    assert _max_diff(restored[1].params, init.params) > 100 * ATOL  # training moved them: the check can fail

    # Their evaluation (latest checkpoint, validation split, the crops of training's validation) gives the figures
    # of the single process's last validation.
    assert report["num_clips"] == exp.info.split_sizes["validation"] and report["summary_keys"]
    for k in report["summary_keys"]:
        assert report[k] == pytest.approx(want[(steps, f"val/{k}")], rel=0, abs=ATOL), k


# --- launch settings ---

LAUNCH_VARS = (sharding.ENV_COORDINATOR, sharding.ENV_NUM_PROCESSES, sharding.ENV_PROCESS_ID,
               "JAX_COORDINATOR_ADDRESS", "MIRJAX_DISTRIBUTED")


@pytest.fixture
def launches(monkeypatch):
    """The arguments each `jax.distributed.initialize` call got (the call itself is skipped), with no launch
    variable set to begin with."""
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    return calls


def test_launch_from_flags_then_mirjax_variables_then_jax_detection(launches, monkeypatch):
    assert not sharding.maybe_initialize_distributed() and not launches  # nothing set: one process
    monkeypatch.setenv(sharding.ENV_COORDINATOR, "host0:1234")
    monkeypatch.setenv(sharding.ENV_NUM_PROCESSES, "4")
    monkeypatch.setenv(sharding.ENV_PROCESS_ID, "3")
    assert sharding.maybe_initialize_distributed()
    assert sharding.maybe_initialize_distributed("host1:99", 2, 0)  # flags win over the variables
    assert launches == [dict(coordinator_address="host0:1234", num_processes=4, process_id=3),
                        dict(coordinator_address="host1:99", num_processes=2, process_id=0)]
    for name in LAUNCH_VARS[:3]:
        monkeypatch.delenv(name)
    for name, value in (("JAX_COORDINATOR_ADDRESS", "host0:1234"), ("MIRJAX_DISTRIBUTED", "1")):
        launches.clear()
        monkeypatch.setenv(name, value)
        assert sharding.maybe_initialize_distributed()  # the rest is JAX's to detect (SLURM, Open MPI, TPU)
        assert launches == [dict(coordinator_address=None, num_processes=None, process_id=None)]
        monkeypatch.delenv(name)
    monkeypatch.setenv(sharding.ENV_PROCESS_ID, "first")
    with pytest.raises(UserError, match=r"^MIRJAX_PROCESS_ID='first' is not an integer$"):
        sharding.maybe_initialize_distributed()


def test_a_coordinator_alone_is_a_one_line_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    r = subprocess.run([sys.executable, "-m", "mirjax", "train", "--config", "configs/default.py:tiny",
                        "--workdir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={**env, "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{_free_port()}", "JAX_PLATFORMS": "cpu",
                            "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == [
        "error: multi-process launch: Number of processes must be defined; give --coordinator HOST:PORT "
        "--num_processes N --process_id I (or MIRJAX_COORDINATOR, MIRJAX_NUM_PROCESSES, MIRJAX_PROCESS_ID), or "
        "start under a launcher JAX detects (SLURM, Open MPI, Cloud TPU)"]
