"""Dieleman thesis Ch. 3: multiscale spherical K-means features + a supervised learner (Table 3.1).

Arg: `REPRESENTATION,WINDOW,MEANS[,TASK[,SCOREBANK]]` (default `laplacian,1,500,tags,default`; keys by name
too: `…:gaussian,2,1000,scorebank=tiny`) — one of the 28 architectures of §3.6: REPRESENTATION gaussian |
laplacian | multires, WINDOW 1 | 2 | 4 frames, MEANS 200 | 500 | 1000 (any count) | pca.
TASK (default `tags`):
  tags   scorebank tag prediction, the tag MLP (MTAT/MSD column of Table 3.1)
  style  scorebank style classification with the GTZAN genre MLP (100 epochs)
  nca    scorebank 50-d NCA with works as classes (the MTAT-artist column; clips of one work are "same artist")
  mtt    MagnaTagATune tagging, parts 1–12 / 13 / 14–16 (`magnatagatune/original`, needs the user's files)
  gtzan  GTZAN genres, fold 0 of 5 (`gtzan_genres/5fold_0`; `--config.dataset.name=gtzan_genres/5fold_3` for the others)
SCOREBANK: `default` (default) or `tiny` for the scorebank tasks.

    mirjax features --config configs/dieleman_kmeans.py:laplacian,1,500 --workdir /tmp/km
    mirjax features --config configs/dieleman_kmeans.py:gaussian,2,1000,style --workdir /tmp/km_style
    … --config.features.freq_invariance=12   (§3.5.5)     … --config.features.layers=3   (§3.5.6)
"""

from configs.common import choice, error, parse_arg
from mirjax.features.config import feature_config
from mirjax.features.extraction import REPRESENTATIONS

REFERENCE = feature_config  # the schema of `mirjax features` configs, not train.py's

# task → (dataset, label key, task kind, sample rate, clip seconds, Table 3.1 column)
TASKS = {
    "tags": ("scorebank/{sb}", "tags", "multilabel", 16000, 0.0, "mlp"),
    "style": ("scorebank/{sb}", "style", "multiclass", 16000, 0.0, "genre"),
    "nca": ("scorebank/{sb}", "work_id", "nca", 16000, 0.0, "nca"),
    "mtt": ("magnatagatune/original", "tags", "multilabel", 16000, 29.0, "mlp"),
    "gtzan": ("gtzan_genres/5fold_0", "genre", "multiclass", 22050, 30.0, "genre"),
}
# Table 3.1: learning rate, weight decay, min / max epochs, patience, fixed epochs, hidden units
TABLE_3_1 = {
    "mlp": dict(learning_rate=0.1, weight_decay=1e-5, min_epochs=100, max_epochs=500, patience=10, fixed_epochs=0,
                hidden=1000),
    "nca": dict(learning_rate=0.01, weight_decay=1e-3, min_epochs=100, max_epochs=500, patience=20, fixed_epochs=0,
                hidden=0, nca_dims=50),
    # Table 3.1 says 1000 hidden units, the text (§3.6.4) 100: we follow the table.
    "genre": dict(learning_rate=0.1, weight_decay=1e-5, min_epochs=100, max_epochs=500, patience=10,
                  fixed_epochs=100, hidden=1000),
}


def get_config(arg: str | None = None):
    arg = parse_arg(arg, representation="laplacian", window=1, means="500", task="tags", scorebank="default")
    choice("representation", arg.representation, REPRESENTATIONS)
    name, label, kind, rate, seconds, column = TASKS[choice("task", arg.task, TASKS)]
    if arg.means != "pca" and not (arg.means.isdigit() and int(arg.means) > 0):
        raise error(f"MEANS must be a positive count or 'pca', got '{arg.means}'")
    c = feature_config()
    c.dataset.update(dict(name=name.format(sb=arg.scorebank), label_key=label, task=kind, sample_rate=rate,
                          clip_seconds=seconds))
    c.features.update(dict(representation=arg.representation, window=arg.window,
                           num_means=0 if arg.means == "pca" else int(arg.means)))
    c.downstream.update(TABLE_3_1[column])
    return c
