"""Choi's label-noise study (thesis Ch. 3) on scorebank: a Compact-convnet trained on weakly-labelled tags.

The tags of scorebank are exact (they describe what was rendered); `mirjax.data.weak_labels` makes them weak:
each tag gets a tagability (recall, the chance that a truly present tag is applied) drawn uniformly in
[0.2, 1.0] and a false-positive rate drawn in [0, 0.03], independently of the tag's popularity, seeded by
`dataset.label_noise.seed`; every split's labels are made noisy, so training, model selection and the
"ground truth" (GT) of the evaluation are noisy as with Last.fm tags, and the clean tags serve as the
re-annotation (`clean_*` metrics in report.json; task `weak_multilabel`, `mirjax.analysis.weak_task`).

Network, input and optimiser are configs/default.py's, trained briefly (300 steps of batch 16 by default, a
short run for two CPU cores; the thesis trains to convergence on the MSD).

Arg: `[STEPS][,FRACTION][,SEED][,LABELS][,scorebank=tiny]`: training steps (default 300), the fraction of the
training split used (default 1.0; the thesis's data-size series), the weight-initialisation seed (default 0) and
`weak` (default) or `clean`, the control trained on the clean tags (task `multilabel`, no noise section), e.g.
`configs/choi_label_noise.py:300,0.25`, `configs/choi_label_noise.py:seed=3`,
`configs/choi_label_noise.py:1500,labels=clean` or `configs/choi_label_noise.py:scorebank=tiny` (a 20-step smoke
test).
"""

import ml_collections

from configs import default
from configs.common import choice, parse_arg

NOISE = dict(seed=0, recall=(0.2, 1.0), false_positive=(0.0, 0.03))


def get_config(arg: str | None = None):
    arg = parse_arg(arg, steps=300, fraction=1.0, seed=0, labels="weak", scorebank="default")
    c = default.get_config(f"scorebank={arg.scorebank}")
    if choice("labels", arg.labels, ("weak", "clean")) == "weak":
        c.dataset.task = "weak_multilabel"
        c.dataset.label_noise = ml_collections.ConfigDict(NOISE)
    c.dataset.train_fraction = arg.fraction
    c.train.init_seed = arg.seed
    c.train.update(dict(batch_size=16, num_steps=arg.steps, log_every=50, eval_every=arg.steps,
                        checkpoint_every=arg.steps))
    c.optim.warmup_steps = min(50, arg.steps // 5)
    c.eval.num_crops = 4
    if arg.scorebank == "tiny":
        c.train.update(dict(batch_size=8, num_steps=20, log_every=10, eval_every=20, checkpoint_every=20))
        c.optim.warmup_steps = 5
    return c
