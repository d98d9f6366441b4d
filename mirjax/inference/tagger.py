"""Tag and embed audio files with a trained or pretrained model.

    tagger = Tagger.from_workdir("workdirs/default")          # or Tagger.from_pretrained(NAME)
    result = tagger.tag(["song.mp3", "folder/"], overlap=0.5)
    result.files[0].top(5), result.files[0].taggram, result.skipped
    emb = tagger.embed(["folder/"], layers=["ConvBlock_0", …])

Each file is cut into windows of the model's input length (`overlap` of a window between neighbours); the windows
of many files are batched together through one jitted, mesh-sharded step. A file that cannot be read, is empty or
is shorter than `min_seconds` is skipped and listed with the reason; the run goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from mirjax.data.audio import AudioError
from mirjax.errors import UserError
from mirjax.inference import audio as audio_lib, model as model_lib

log = logging.getLogger("mirjax")


@dataclasses.dataclass
class FileResult:
    path: str
    taggram: np.ndarray  # (windows, outputs) scores
    layers: dict[str, np.ndarray]  # name -> (windows, dims)

    @property
    def scores(self) -> np.ndarray:
        """The file's score per output: the mean over its windows."""
        return self.taggram.mean(axis=0)

    def top(self, names: Sequence[str], n: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.scores, kind="stable")[:n]
        return [(names[i], float(self.scores[i])) for i in order]


@dataclasses.dataclass
class Result:
    outputs: list[str]
    window_seconds: float
    hop_seconds: float
    files: list[FileResult]
    skipped: list[tuple[str, str]]  # (path, reason)
    source: str


class Tagger:
    def __init__(self, loaded: model_lib.LoadedModel, batch_size: int = 32):
        self.loaded, self.batch_size = loaded, batch_size
        self._runners: dict[tuple[str, ...], model_lib.WindowRunner] = {}  # one compiled step per set of layers

    def _runner(self, layers: Sequence[str]) -> model_lib.WindowRunner:
        key = tuple(layers)
        if key not in self._runners:
            self._runners[key] = model_lib.WindowRunner(self.loaded, self.batch_size, key)
        return self._runners[key]

    @classmethod
    def from_workdir(cls, workdir: str, checkpoint: str = "best", batch_size: int = 32) -> Tagger:
        return cls(model_lib.from_workdir(workdir, checkpoint), batch_size)

    @classmethod
    def from_pretrained(cls, name: str, batch_size: int = 32) -> Tagger:
        return cls(model_lib.from_pretrained(name), batch_size)

    @property
    def outputs(self) -> list[str]:
        return self.loaded.outputs

    def tag(self, paths: Sequence[str], overlap: float = 0.0, min_seconds: float = 0.5, progress: bool = True,
            layers: Sequence[str] = ()) -> Result:
        """Taggrams (and, with `layers`, per-window layer outputs) of every audio file under `paths`."""
        if not 0.0 <= overlap < 1.0:
            raise UserError(f"overlap must be in [0, 1), got {overlap}")
        files = audio_lib.find_audio(paths)
        if not files:
            raise UserError(f"no audio files in {', '.join(paths)}")
        window = self.loaded.window_samples
        hop = max(1, int(round(window * (1.0 - overlap))))
        runner = self._runner(layers)
        sr = self.loaded.sample_rate
        per_file: dict[int, list[tuple[np.ndarray, dict]]] = {}
        skipped: dict[int, str] = {}
        pending: list[tuple[int, np.ndarray]] = []
        in_flight: list[tuple[list[int], Callable]] = []  # one dispatched batch: decoding overlaps the step

        def collect() -> None:
            for owners, fetch in in_flight:
                outputs, layer_out = fetch()
                scores = self.loaded.scores(outputs)
                for row, i in enumerate(owners):
                    if i not in skipped:
                        per_file.setdefault(i, []).append((scores[row], {k: v[row] for k, v in layer_out.items()}))
            in_flight.clear()

        def flush() -> None:
            if not pending:
                return
            fetch = runner.submit(np.stack([w for _, w in pending]))
            collect()  # the previous batch, finished by now or soon; this one runs while the next files decode
            in_flight.append(([i for i, _ in pending], fetch))
            pending.clear()

        bar = tqdm(total=len(files), desc="tag", unit="file", disable=not progress, dynamic_ncols=True)
        for i, path in enumerate(files):
            try:
                for w in audio_lib.windows(path, sr, window, hop, max(1, int(min_seconds * sr))):
                    pending.append((i, w))
                    if len(pending) == runner.batch_size:
                        flush()
            except AudioError as e:
                skipped[i] = e.reason
                per_file.pop(i, None)
                log.warning("skipped %s: %s", path, e.reason)
            bar.update(1)
        flush()
        collect()
        bar.close()
        results = []
        for i, path in enumerate(files):
            if i in skipped or i not in per_file:
                continue
            rows = per_file[i]
            layer_rows = {k: np.stack([r[1][k] for r in rows]) for k in rows[0][1]}
            results.append(FileResult(path, np.stack([r[0] for r in rows]), layer_rows))
        return Result(self.outputs, window / sr, hop / sr, results, [(files[i], r) for i, r in sorted(skipped.items())],
                      self.loaded.source)

    def embed(self, paths: Sequence[str], layers: Sequence[str], overlap: float = 0.0, min_seconds: float = 0.5,
              progress: bool = True) -> Result:
        """Per-window outputs of `layers` (each averaged over all but its channel axis) for every file."""
        if not layers:
            raise UserError("name at least one layer (see `mirjax embed --list-layers`)")
        return self.tag(paths, overlap, min_seconds, progress, layers)

    def layer_names(self) -> list[str]:
        return model_lib.WindowRunner(self.loaded, 1).layer_names()


def file_embeddings(result: Result, pooling: str = "mean") -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(path, {layer: per-file vector}) with `pooling` over windows: `mean`, or `mean_std` (concatenated)."""
    if pooling not in ("mean", "mean_std"):
        raise UserError(f"pooling must be mean or mean_std, got {pooling!r}")
    for f in result.files:
        yield f.path, {k: (v.mean(0) if pooling == "mean" else np.concatenate([v.mean(0), v.std(0)]))
                       for k, v in f.layers.items()}
