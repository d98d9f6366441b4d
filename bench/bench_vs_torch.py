"""Train step, front-end included: mirjax (jitted JAX) vs the same networks in PyTorch eager on CPU, in one run.

    python bench/bench_vs_torch.py [--rows a,b,c,d,wmf] [--rounds 3] [--steps 2] [--big-batch 8]
                                   [--compute-dtype float32] [--no-check]

Needs PyTorch (`pip install -e ".[bench]"`, see docs/benchmarks.md for what installs here). Rows:

  a    configs/default.py: log-mel (16 kHz, n_fft 1024, hop 512, 96 mels, dB) of 3-s crops → 94 × 96,
       Compact-convnet widths 16-32-32-64-64, mean+max global pool, 34 tags, batch 32
  b    the thesis's Compact-convnet on the same 3-s crops (`model.channels=32`, `model.global_pool=max`), batch 32
  c    Choi's k2c2 at Table 4-A's 1M widths on the thesis's input (12 kHz, n_fft 512, hop 256, 96 mels up to 6 kHz,
       29.12 s → 1366 × 96; `configs/choi_structures.py:k2c2,1M,msd`), 50 tags, batch `--big-batch`
  d    … and the CRNN at 1M on the same input (`…:crnn,1M,msd`)
  wmf  WMF by ALS with 3-step conjugate gradient vs `implicit`'s CG (bench/bench_wmf.py's problem)

A train step is, on both sides: log-mel of a raw-audio batch (the front-end has no parameters), forward in training
mode (batch statistics, dropout where the model has it), binary cross-entropy, backward, Adam. Both get the same
audio and labels. The PyTorch networks are written below from the mirjax modules (NCHW, `torch.stft`, the same mel
filterbank matrix); their parameter counts are asserted equal to mirjax's, and unless `--no-check` each row first
copies mirjax's initial weights into the PyTorch network and checks that the front-ends and the training-mode losses
agree. mirjax's step is the trainer's (`make_train_step`, jitted with the state donated); compilation and PyTorch's
first step are not timed.

Timing: every round runs mirjax, PyTorch with its default intra-op threads and PyTorch with one thread for `--steps`
steps each, rotating which goes first, then a 2048³ float32 matmul (jitted JAX). PyTorch's OpenMP threads lose much
more than XLA's pool when other jobs share the cores (on a loaded 2-core machine its 2-thread step was 3–7× slower
than its 1-thread step), so the reference in each round is the faster of its two settings. Reported: examples/s
(median over rounds and range), the per-round ratio mirjax / faster PyTorch (median and range), and mirjax's achieved
FLOP/s (XLA's cost analysis of the jitted step / step time) as a fraction of the matmul's FLOP/s. On a shared machine
the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

ROWS = {
    "a": ("default config (Compact-convnet 16-32-32-64-64, 3 s)", "configs/default.py", {}, 34),
    "b": ("thesis Compact-convnet (32 ch., max pool), 3 s", "configs/default.py",
          {"channels": 32, "global_pool": "max"}, 34),
    "c": ("k2c2 1M, 96 × 1366", "configs/choi_structures.py:k2c2,1M,msd", {}, 50),
    "d": ("CRNN 1M, 96 × 1366", "configs/choi_structures.py:crnn,1M,msd", {}, 50),
}


# ----------------------------------------------------------------------------------------------------------------
# mirjax side
# ----------------------------------------------------------------------------------------------------------------

def load_row_config(spec: str, model_overrides: dict, compute_dtype: str) -> ml_collections.ConfigDict:
    from mirjax.config import load_config

    c = load_config(spec)
    if model_overrides:
        c.model = ml_collections.ConfigDict({**c.model.to_dict(), **model_overrides})
    if "compute_dtype" in c.train:
        c.train.compute_dtype = compute_dtype
    elif compute_dtype != "float32":
        raise SystemExit("this mirjax has no train.compute_dtype")
    return c


class MirjaxRow:
    """The trainer's jitted train step for `config` on a fixed batch."""

    def __init__(self, config, batch: int, num_outputs: int):
        from mirjax import tasks
        from mirjax.config import section_kwargs
        from mirjax.data.inputs import crop_samples
        from mirjax.frontend import make_frontend
        from mirjax.models import create_model
        from mirjax.training import sharding
        from mirjax.training.optim import make_optimizer
        from mirjax.training.state import count_params, create_train_state
        from mirjax.training.steps import make_train_step

        self.config = config
        self.samples = crop_samples(config.dataset)
        self.frontend = make_frontend(config.frontend.name, **section_kwargs(config.frontend))
        self.model = create_model(config.model.name, num_outputs, **section_kwargs(config.model))
        tx, schedule = make_optimizer(config.optim, config.train.num_steps)
        mesh = sharding.make_mesh()
        features = self.frontend(np.zeros((1, self.samples), np.float32))
        self.features_shape = tuple(features.shape[-2:])
        self.state = sharding.replicate(jax.jit(lambda: create_train_state(self.model, tx, features, 0))(), mesh)
        self.num_params = count_params(self.state.params)
        self.initial_variables = jax.device_get(self.state.variables())
        data, repl = sharding.batch_sharding(mesh), sharding.replicated(mesh)
        kwargs = {}
        if "compute_dtype" in config.train:
            kwargs["compute_dtype"] = config.train.compute_dtype
        self._step_fn = step_fn = make_train_step(self.model, self.frontend, tasks.bce_loss, schedule, **kwargs)
        self.step = jax.jit(step_fn, in_shardings=(repl, data), out_shardings=(repl, repl), donate_argnums=(0,))
        self.batch_size = batch
        self._data = data
        self.flops = None

    def set_batch(self, audio: np.ndarray, labels: np.ndarray) -> None:
        from mirjax.training import sharding

        self.batch = sharding.to_global({"input": audio, "label": labels}, self._data)
        self.flops = self.step_flops()
        self.run(1)  # compile

    def step_flops(self) -> float:
        """XLA's cost analysis of the step. Loops are counted once by the analysis, so it is taken from the same
        step traced with the loops unrolled: the CPU front-end's groups of clips and the blocked kernel gradients
        of the conv layers (mirjax.models.layers), which do the same arithmetic as the plain convolution."""
        from mirjax.frontend import registry
        from mirjax.models import layers

        saved = registry._CPU_EXAMPLES_PER_STEP, layers.IM2COL_MIN_POSITIONS
        registry._CPU_EXAMPLES_PER_STEP, layers.IM2COL_MIN_POSITIONS = self.batch_size, 2**62
        try:
            lowered = jax.jit(self._step_fn).lower(self.state, self.batch)
        finally:
            registry._CPU_EXAMPLES_PER_STEP, layers.IM2COL_MIN_POSITIONS = saved
        cost = lowered.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost.get("flops", float("nan")))

    def run(self, steps: int) -> float:
        """Seconds for `steps` steps."""
        t0 = time.perf_counter()
        for _ in range(steps):
            self.state, metrics = self.step(self.state, self.batch)
        jax.block_until_ready(metrics)
        return time.perf_counter() - t0

    def loss_at_init(self, audio: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """(training-mode BCE with the initial weights and no dropout, front-end output) on `audio` (no update)."""
        from mirjax import tasks

        features = self.frontend(jnp.asarray(audio))
        model = self.model.clone(dropout=0.0) if getattr(self.model, "dropout", 0.0) else self.model
        logits, _ = model.apply(self.initial_variables, features, train=True, mutable=["batch_stats"],
                                     rngs={"dropout": jax.random.PRNGKey(0)})
        return float(tasks.bce_loss(logits, jnp.asarray(labels))), np.asarray(features)


# ----------------------------------------------------------------------------------------------------------------
# PyTorch side: the same front-end and networks, written from the mirjax modules
# ----------------------------------------------------------------------------------------------------------------

def torch_modules():
    import torch
    from torch import nn

    class LogMel(nn.Module):
        """mirjax's `logmel` front-end: centred STFT (reflect padding, periodic Hann), |X|², the same Slaney mel
        matrix, 10·log10(max(S, 1e-10)), floored at each clip's peak − top_db."""

        def __init__(self, fc):
            super().__init__()
            from mirjax.frontend.spectral import mel_filterbank

            self.n_fft, self.hop, self.top_db = fc.n_fft, fc.hop_length, fc.get("top_db", 80.0)
            fmax = fc.get("fmax", None)
            fb = mel_filterbank(fc.sample_rate, fc.n_fft, fc.n_mels, fc.get("fmin", 0.0), fmax, fc.get("htk", False))
            self.register_buffer("fb", torch.from_numpy(fb))
            self.register_buffer("window", torch.hann_window(fc.n_fft, periodic=True))
            assert fc.name == "logmel" and fc.get("compression", "db") == "db" and fc.get("power", 2.0) == 2.0
            assert fc.get("pad_mode", "reflect") == "reflect"

        def forward(self, audio):  # (batch, samples) → (batch, frames, n_mels)
            spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True, pad_mode="reflect",
                              return_complex=True)  # (batch, bins, frames)
            power = spec.real ** 2 + spec.imag ** 2
            mel = torch.matmul(power.transpose(1, 2), self.fb)
            db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
            peak = db.amax(dim=(1, 2), keepdim=True)
            return torch.maximum(db, peak - self.top_db)

    class InputNorm(nn.Module):
        """Per-mel-bin standardisation with batch statistics (mirjax `input_norm="frequency"`)."""

        def __init__(self, bins, momentum):
            super().__init__()
            self.bn = nn.BatchNorm1d(bins, affine=False, momentum=1 - momentum, eps=1e-5)

        def forward(self, x):  # (batch, frames, bins) → (batch, 1, bins, frames)
            return self.bn(x.transpose(1, 2)).unsqueeze(1)

    class ConvBlock(nn.Module):
        def __init__(self, cin, cout, pool, dropout, momentum):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
            self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=1 - momentum)
            self.pool, self.dropout = pool, nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        def forward(self, x):
            x = nn.functional.elu(self.bn(self.conv(x)))
            pool = (min(self.pool[0], x.shape[2]), min(self.pool[1], x.shape[3]))
            return self.dropout(nn.functional.max_pool2d(x, pool, pool))

    class ConvNet(nn.Module):
        """Compact-convnet / k2c2: input norm → conv blocks → global pool → dense."""

        def __init__(self, bins, widths, freq_pools, time_pools, global_pool, num_outputs, momentum):
            super().__init__()
            self.norm = InputNorm(bins, momentum)
            cins = (1,) + tuple(widths[:-1])
            self.blocks = nn.Sequential(*[ConvBlock(i, o, (fp, tp), 0.0, momentum)
                                          for i, o, fp, tp in zip(cins, widths, freq_pools, time_pools)])
            self.global_pool = global_pool
            self.dense = nn.Linear(widths[-1] * (2 if global_pool == "mean_max" else 1), num_outputs)

        def forward(self, x):
            x = self.blocks(self.norm(x))
            if self.global_pool == "mean_max":
                x = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
            else:
                x = x.amax(dim=(2, 3))
            return self.dense(x)

    class GRU(nn.Module):
        """Flax's GRUCell: r = σ(W_ir x + b_ir + W_hr h), z = σ(W_iz x + b_iz + W_hz h),
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h (its biases, so its parameter count)."""

        def __init__(self, cin, hidden):
            super().__init__()
            self.hidden = hidden
            self.inp = nn.Linear(cin, 3 * hidden)  # r, z, n
            self.rec = nn.Linear(hidden, 3 * hidden, bias=False)  # r, z, n
            self.b_hn = nn.Parameter(torch.zeros(hidden))

        def forward(self, x):  # (batch, steps, cin) → (all states (batch, steps, hidden), last state)
            gx = self.inp(x)
            h = x.new_zeros(x.shape[0], self.hidden)
            out = []
            for t in range(x.shape[1]):
                xr, xz, xn = gx[:, t].chunk(3, dim=1)
                hr, hz, hn = self.rec(h).chunk(3, dim=1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * (hn + self.b_hn))
                h = (1 - z) * n + z * h
                out.append(h)
            return torch.stack(out, dim=1), h

    class CRNN(nn.Module):
        def __init__(self, bins, widths, heads, freq_pools, time_pools, dropout, num_outputs, momentum):
            super().__init__()
            self.norm = InputNorm(bins, momentum)
            self.hop = math.prod(time_pools)
            cins = (1,) + tuple(widths[:-1])
            self.blocks = nn.Sequential(*[ConvBlock(i, o, (fp, tp), dropout, momentum)
                                          for i, o, fp, tp in zip(cins, widths, freq_pools, time_pools)])
            self.grus = nn.ModuleList([GRU(i, h) for i, h in zip((widths[-1],) + tuple(heads[:-1]), heads)])
            self.dense = nn.Linear(heads[-1], num_outputs)

        def forward(self, x):  # (batch, frames, bins)
            frames = x.shape[1]
            x = nn.functional.pad(self.norm(x), (0, -(-frames // self.hop) * self.hop - frames))  # time, after the norm
            x = self.blocks(x).amax(dim=2).transpose(1, 2)  # (batch, steps, channels)
            for gru in self.grus:
                x, last = gru(x)
            return self.dense(last)

    return LogMel, ConvNet, CRNN


def build_torch(config, mj: MirjaxRow, num_outputs: int):
    LogMel, ConvNet, CRNN = torch_modules()
    m = mj.model
    bins = mj.features_shape[1]
    momentum = m.bn_momentum
    if config.model.name == "crnn":
        widths, heads = m.resolved_widths("crnn")
        net = CRNN(bins, widths, heads, m.freq_pools, m.time_pools, m.dropout, num_outputs, momentum)
    else:
        assert m.dropout == 0 and m.input_norm == "frequency" and m.kernel_size == 3
        widths = m.widths()
        freq_pools = tuple(m.freq_pools) if m.freq_pools is not None else m.default_freq_pools(bins)
        net = ConvNet(bins, widths, freq_pools, m.time_pools, m.global_pool, num_outputs, momentum)
    return LogMel(config.frontend), net


def copy_weights(net, params) -> None:
    """mirjax's (flax) initial parameters into the PyTorch network (for the agreement check)."""
    import torch

    def t(a):
        return torch.from_numpy(np.array(a, np.float32))

    with torch.no_grad():
        blocks = sorted((k for k in params if k.startswith("ConvBlock_")), key=lambda k: int(k.split("_")[1]))
        for name, block in zip(blocks, net.blocks):
            p = params[name]
            block.conv.weight.copy_(t(p["Conv_0"]["kernel"]).permute(3, 2, 0, 1))
            block.conv.bias.copy_(t(p["Conv_0"]["bias"]))
            block.bn.weight.copy_(t(p["BatchNorm_0"]["scale"]))
            block.bn.bias.copy_(t(p["BatchNorm_0"]["bias"]))
        dense = params["Dense_0"]
        net.dense.weight.copy_(t(dense["kernel"]).T)
        net.dense.bias.copy_(t(dense["bias"]))
        for i, gru in enumerate(getattr(net, "grus", [])):
            cell = params[f"GRUCell_{i}"]
            gru.inp.weight.copy_(torch.cat([t(cell[g]["kernel"]).T for g in ("ir", "iz", "in")]))
            gru.inp.bias.copy_(torch.cat([t(cell[g]["bias"]) for g in ("ir", "iz", "in")]))
            gru.rec.weight.copy_(torch.cat([t(cell[g]["kernel"]).T for g in ("hr", "hz", "hn")]))
            gru.b_hn.copy_(t(cell["hn"]["bias"]))


class TorchRow:
    def __init__(self, frontend, net, audio: np.ndarray, labels: np.ndarray):
        import torch

        self.torch = torch
        self.frontend, self.net = frontend, net
        self.net.train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        self.audio, self.labels = torch.from_numpy(audio), torch.from_numpy(labels.astype(np.float32))
        self.num_params = sum(p.numel() for p in self.net.parameters())
        self.run(1)  # warm-up (allocator, oneDNN primitive caches)

    def step(self):
        with self.torch.no_grad():
            features = self.frontend(self.audio)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.net(features), self.labels)
        loss.backward()
        self.opt.step()
        return loss

    def run(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = self.step()
        float(loss.detach())
        return time.perf_counter() - t0

    def loss_at_init(self) -> tuple[float, np.ndarray]:
        with self.torch.no_grad():
            features = self.frontend(self.audio)
            return float(self.loss_fn(self.net(features), self.labels)), features.numpy()


# ----------------------------------------------------------------------------------------------------------------
# The reference matmul and the rows
# ----------------------------------------------------------------------------------------------------------------

_MATMUL = {}


def matmul_flops_per_s(n: int = 2048, dtype=jnp.float32) -> float:
    if dtype not in _MATMUL:
        rng = np.random.default_rng(0)
        a, b = (jnp.asarray(rng.standard_normal((n, n)), dtype) for _ in range(2))
        f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
        f(a, b).block_until_ready()
        _MATMUL[dtype] = (f, a, b)
    f, a, b = _MATMUL[dtype]
    best = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def fmt_range(values, spec=".1f") -> str:
    return f"{format(min(values), spec)}–{format(max(values), spec)}"


def run_row(key: str, args) -> dict:
    title, spec, overrides, num_outputs = ROWS[key]
    config = load_row_config(spec, overrides, args.compute_dtype)
    batch = config.train.batch_size if key in ("a", "b") else args.big_batch
    mj = MirjaxRow(config, batch, num_outputs)
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, (batch, mj.samples)).astype(np.float32)
    labels = (rng.random((batch, num_outputs)) < 0.1).astype(np.float32)
    frontend, net = build_torch(config, mj, num_outputs)
    check = ""
    if args.check:
        copy_weights(net, mj.initial_variables["params"])
        import torch

        n = min(batch, 4)

        net.train()
        for mod in net.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.eval()  # the check compares the networks without dropout
        with torch.no_grad():
            t_feat = frontend(torch.from_numpy(audio[:n]))
            torch.manual_seed(0)
            t_loss = float(torch.nn.functional.binary_cross_entropy_with_logits(
                net(t_feat), torch.from_numpy(labels[:n])))
        net.train()
        # The check ran the network in training mode: reset BN running statistics to their initial values.
        for mod in net.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.reset_running_stats()
        m_loss, m_feat = mj.loss_at_init(audio[:n], labels[:n])
        fe_diff = float(np.abs(m_feat - t_feat.numpy()).max())
        rel = abs(m_loss - t_loss) / abs(t_loss)
        check = f"front-end max |Δ| {fe_diff:.1e} dB, loss {m_loss:.5f} vs {t_loss:.5f} (relative {rel:.1e})"
        if getattr(mj.model, "dropout", 0.0):
            check += ", both without dropout"
        if rel > 1e-3 or fe_diff > 0.05:
            raise SystemExit(f"row {key}: mirjax and PyTorch disagree: {check}")
    tr = TorchRow(frontend, net, audio, labels)
    if tr.num_params != mj.num_params:
        raise SystemExit(f"row {key}: parameter counts differ: mirjax {mj.num_params:,}, PyTorch {tr.num_params:,}")
    mj.set_batch(audio, labels)

    import torch

    threads = torch.get_num_threads()
    settings = [threads] + ([1] if args.torch_one_thread and threads > 1 else [])
    eps_mj, eps_t, eps_t1, ratios, fractions, mm = [], [], [], [], [], []
    for r in range(args.rounds):
        runs = [("mirjax", None)] + [("torch", n) for n in settings]
        runs = runs[r % len(runs):] + runs[:r % len(runs)]  # rotate who goes first
        times = {}
        for name, n in runs:
            if name == "torch":
                torch.set_num_threads(n)
                times[n] = tr.run(args.steps) / args.steps
            else:
                times["mirjax"] = mj.run(args.steps) / args.steps
        torch.set_num_threads(threads)
        mm.append(matmul_flops_per_s())
        eps_mj.append(batch / times["mirjax"])
        eps_t.append(batch / times[threads])
        eps_t1.append(batch / times[1] if 1 in times and threads > 1 else eps_t[-1])
        best_torch = max(eps_t[-1], eps_t1[-1])
        ratios.append(eps_mj[-1] / best_torch)
        fractions.append(mj.flops / times["mirjax"] / mm[-1])
        print(f"  [{key}] round {r + 1}: mirjax {eps_mj[-1]:.2f} ex/s, PyTorch {eps_t[-1]:.2f} ex/s "
              f"({threads} threads), {eps_t1[-1]:.2f} (1 thread); ratio to the faster {ratios[-1]:.2f}, "
              f"matmul {mm[-1] / 1e9:.0f} GFLOP/s", file=sys.stderr, flush=True)
    return dict(key=key, title=title, batch=batch, params=mj.num_params, shape=mj.features_shape,
                eps_mj=eps_mj, eps_t=eps_t, eps_t1=eps_t1, ratios=ratios, fractions=fractions, gflop=mj.flops / 1e9,
                gflops=[mj.flops * e / batch / 1e9 for e in eps_mj], mm=mm, check=check)


ABLATIONS = {
    "mirjax": "mirjax as it is",
    "xla-kernel-grad": "XLA's own kernel gradients (no blocked im2col)",
    "xla-kernel-grad+flax-pool": "… and flax's `nn.max_pool` (XLA's select-and-scatter gradient)",
}


def _ablated(variant: str):
    """Context manager: mirjax.models.layers with the speed-ups of `variant` switched off (same results)."""
    import contextlib

    import flax.linen as nn

    from mirjax.models import layers

    @contextlib.contextmanager
    def patched():
        saved = layers.IM2COL_MIN_POSITIONS, layers.max_pool
        if variant != "mirjax":
            layers.IM2COL_MIN_POSITIONS = 2**62
        if variant.endswith("flax-pool"):
            layers.max_pool = lambda x, window: nn.max_pool(x, tuple(window), strides=tuple(window), padding="VALID")
        try:
            yield
        finally:
            layers.IM2COL_MIN_POSITIONS, layers.max_pool = saved

    return patched()


def run_ablation(key: str, args) -> dict:
    """mirjax's train step with each speed-up switched off in turn (traced under the patch), alternating rounds."""
    title, spec, overrides, num_outputs = ROWS[key]
    config = load_row_config(spec, overrides, args.compute_dtype)
    batch = config.train.batch_size if key in ("a", "b") else args.big_batch
    from mirjax.training import sharding

    runners = {}
    rng = np.random.default_rng(0)
    for variant in ABLATIONS:
        with _ablated(variant):
            mj = MirjaxRow(config, batch, num_outputs)
            if not runners:
                audio = rng.uniform(-0.5, 0.5, (batch, mj.samples)).astype(np.float32)
                labels = (rng.random((batch, num_outputs)) < 0.1).astype(np.float32)
            mj.batch = sharding.to_global({"input": audio, "label": labels}, mj._data)
            mj.run(1)  # trace and compile under the patch
        runners[variant] = mj
    eps = {v: [] for v in runners}
    for r in range(args.rounds):
        order = list(runners)[r % len(runners):] + list(runners)[:r % len(runners)]
        for v in order:
            eps[v].append(batch / (runners[v].run(args.steps) / args.steps))
        print(f"  [{key} ablation] round {r + 1}: " + ", ".join(f"{v} {eps[v][-1]:.2f}" for v in runners),
              file=sys.stderr, flush=True)
    return dict(key=key, title=title, batch=batch, eps=eps)


def run_wmf(args) -> dict:
    """mirjax's CG solver vs implicit's, bench/bench_wmf.py's problem, alternating rounds."""
    import bench_wmf  # noqa: E402  (same folder)

    from mirjax.recommendation import surplus_confidence, wmf_objective

    wargs = argparse.Namespace(users=args.wmf_users, items=args.wmf_items, density=0.01, factors=50,
                               iters=args.wmf_iters, lam=1e-5, alpha=2.0, epsilon=1e-6, cg_steps=3, threads=2)
    counts = bench_wmf.synthetic_counts(wargs.users, wargs.items, wargs.density)
    s = surplus_confidence(counts, wargs.alpha, wargs.epsilon)
    y0 = np.random.default_rng(1).normal(0.0, 0.01, (wargs.items, wargs.factors)).astype(np.float32)
    t_mj, t_im, ratios, objs = [], [], [], {}
    for r in range(args.rounds):
        order = ("mirjax", "implicit") if r % 2 == 0 else ("implicit", "mirjax")
        for name in order:
            if name == "mirjax":
                x, y, per_iter, _ = bench_wmf.time_mirjax(s, y0, wargs, "cg")
                t_mj.append(per_iter)
            else:
                x, y, per_iter, _ = bench_wmf.time_implicit(s, y0, wargs, use_cg=True)
                t_im.append(per_iter)
            objs[name] = wmf_objective(s, x, y, wargs.lam)
        ratios.append(t_im[-1] / t_mj[-1])
        print(f"  [wmf] round {r + 1}: mirjax {t_mj[-1]:.3f} s/iter, implicit {t_im[-1]:.3f} s/iter, "
              f"speed-up {ratios[-1]:.2f}", file=sys.stderr, flush=True)
    return dict(t_mj=t_mj, t_im=t_im, ratios=ratios, objs=objs, nnz=s.nnz, wargs=wargs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="a,b,c,d,wmf", help="comma-separated: a, b, c, d, wmf")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per framework and round")
    ap.add_argument("--big-batch", type=int, default=8, help="batch of rows c and d (the 29-s inputs)")
    ap.add_argument("--compute-dtype", default="float32", help="mirjax's train.compute_dtype")
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="skip the front-end / loss agreement check with copied weights")
    ap.add_argument("--threads", type=int, default=0, help="PyTorch intra-op threads (0: its default)")
    ap.add_argument("--no-torch-one-thread", dest="torch_one_thread", action="store_false",
                    help="do not also time PyTorch with one thread (by default the faster of the two is the reference)")
    ap.add_argument("--ablation", action="store_true",
                    help="instead of PyTorch, time mirjax with its conv-block speed-ups switched off in turn")
    ap.add_argument("--wmf-users", type=int, default=20_000)
    ap.add_argument("--wmf-items", type=int, default=10_000)
    ap.add_argument("--wmf-iters", type=int, default=6)
    args = ap.parse_args()
    # PyTorch imports triton (GPU kernels, unused by eager CPU) on the first optimizer step; triton 3.8's native module
    # segfaults when loaded after jaxlib and TensorFlow. Marking it missing makes PyTorch skip it.
    sys.modules.setdefault("triton", None)
    try:
        import torch
    except ImportError as e:
        raise SystemExit(f"PyTorch is not installed ({e}); see docs/benchmarks.md") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_frontend import cpu_name  # noqa: E402

    load0 = os.getloadavg()
    if args.ablation:
        ablations = [run_ablation(key, args) for key in args.rows.split(",") if key in ROWS]
        load1 = os.getloadavg()
        print(f"# {cpu_name()}, {os.cpu_count()} cores; jax {jax.__version__}; {args.rounds} rounds × {args.steps} "
              f"steps, alternating; load average {load0[0]:.1f} before, {load1[0]:.1f} after")
        print("| row | batch | " + " | ".join(ABLATIONS.values()) + " |")
        print("|---|---|" + "---|" * len(ABLATIONS))
        for a in ablations:
            base = a["eps"]["mirjax"]
            cells = []
            for v in ABLATIONS:
                rel = [b / e for b, e in zip(base, a["eps"][v])]
                cells.append(f"{statistics.median(a['eps'][v]):.2f} ex/s" +
                             ("" if v == "mirjax" else f" (mirjax {statistics.median(rel):.2f}× faster, "
                                                         f"{fmt_range(rel, '.2f')})"))
            print(f"| ({a['key']}) {a['title']} | {a['batch']} | " + " | ".join(cells) + " |")
        return
    results, wmf = [], None
    for key in args.rows.split(","):
        if key == "wmf":
            wmf = run_wmf(args)
        else:
            results.append(run_row(key, args))
    load1 = os.getloadavg()

    print(f"# {cpu_name()}, {os.cpu_count()} cores; jax {jax.__version__} "
          f"(XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); mirjax compute dtype {args.compute_dtype};"
          f" {args.rounds} rounds × {args.steps} steps; load average {load0[0]:.1f} before, {load1[0]:.1f} after")
    if results:
        print(f"| row | batch | parameters | input | mirjax ex/s | PyTorch ex/s ({torch.get_num_threads()} threads) | "
              "PyTorch ex/s (1 thread) | **mirjax / faster PyTorch** | GFLOP/step | mirjax GFLOP/s | "
              "of 2048³ f32 matmul |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in results:
            med = statistics.median
            print(f"| ({r['key']}) {r['title']} | {r['batch']} | {r['params']:,} | {r['shape'][0]} × {r['shape'][1]} | "
                  f"{med(r['eps_mj']):.2f} ({fmt_range(r['eps_mj'], '.2f')}) | "
                  f"{med(r['eps_t']):.2f} ({fmt_range(r['eps_t'], '.2f')}) | "
                  f"{med(r['eps_t1']):.2f} ({fmt_range(r['eps_t1'], '.2f')}) | "
                  f"**{med(r['ratios']):.2f}×** ({fmt_range(r['ratios'], '.2f')}) | {r['gflop']:.1f} | "
                  f"{med(r['gflops']):.1f} | {100 * med(r['fractions']):.1f} % "
                  f"(matmul {med(r['mm']) / 1e9:.0f} GFLOP/s) |")
        for r in results:
            if r["check"]:
                print(f"- ({r['key']}) check with copied initial weights: {r['check']}")
    if wmf:
        w = wmf["wargs"]
        print(f"\nWMF, CG 3 steps: {w.users:,} users × {w.items:,} items, {wmf['nnz']:,} nonzeros, "
              f"{w.factors} factors, {w.iters} iterations, implicit num_threads={w.threads}")
        print("| solver | implicit s/iter | mirjax s/iter | **implicit time / mirjax time** "
              "| objective mirjax / implicit |")
        print("|---|---|---|---|---|")
        med = statistics.median
        print(f"| CG | {med(wmf['t_im']):.3f} ({fmt_range(wmf['t_im'], '.3f')}) | "
              f"{med(wmf['t_mj']):.3f} ({fmt_range(wmf['t_mj'], '.3f')}) | "
              f"**{med(wmf['ratios']):.2f}×** ({fmt_range(wmf['ratios'], '.2f')}) | "
              f"{wmf['objs']['mirjax'] / wmf['objs']['implicit']:.5f} |")
    print(f"\n({platform.python_version()}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
