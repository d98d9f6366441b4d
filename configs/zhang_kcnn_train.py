"""Zhang et al.'s KCNN ("A Deep Neural Network for Modeling Music", ICMR'15) as a train.py experiment: style
classification on scorebank (or any dataset with a class label) from audio words.

    mirjax words --config configs/zhang_kcnn_train.py                 # fit the vocabulary (training split)
    mirjax train --config configs/zhang_kcnn_train.py --workdir DIR
    mirjax eval  --config configs/zhang_kcnn_train.py --workdir DIR

The front-end `audio_words` turns each crop into one word per 4-frame segment and feature type (log-mel, SFM,
SCF; frames of 1,024 with hop 512) with the vocabulary `mirjax words` fitted on the training split; the `kcnn`
model starts its lookup tables at that vocabulary's centroids: conv w = 5 × 500, k-max pooling k = 5, 300
sigmoid units, softmax; plain SGD at lr 0.02 with an L2 term of 1e-4 on every parameter, biases and tables
included (Eq. 6: `optim.decay="all"`; for plain SGD decoupled decay is the same update).

Differences from the paper and from `mirjax study kcnn`: the vocabulary is fitted once on the training split
(the study refits it per outer fold); training sees random crops of `crop_seconds` (whole 10-s clips here:
scorebank's clips are 10 s), evaluation averages the class probabilities of `eval.num_crops` crops; scorebank is
16 kHz, so its frames are 64 ms, not the paper's 46 ms at 22.05 kHz.

Arg: `[VARIANT][,SCOREBANK]`.
  VARIANT    full (default) | ult (the lookup tables frozen: `optim.frozen="table_"`, and so out of the L2
             term) | k1 (k = 1)
  SCOREBANK  default | tiny (a smoke test: tiny tables and 4 steps)
The vocabulary path is `frontend.vocabulary` = `model.vocabulary` (default workdirs/kcnn_words/SCOREBANK.npz);
override both to use another one.
"""

from configs.common import choice, parse_arg
from mirjax.config import base_config

VARIANTS = ("full", "ult", "k1")


def get_config(arg: str | None = None):
    arg = parse_arg(arg, variant="full", scorebank="default")
    variant = choice("variant", arg.variant, VARIANTS)
    c = base_config()
    c.dataset.name = f"scorebank/{arg.scorebank}"
    c.dataset.label_key = "style"
    c.dataset.task = "multiclass"
    c.dataset.sample_rate = 16000
    c.dataset.crop_seconds = 10.0
    vocabulary = f"workdirs/kcnn_words/{arg.scorebank}.npz"
    c.frontend.update(dict(name="audio_words", vocabulary=vocabulary))
    c.model.update(dict(name="kcnn", vocabulary=vocabulary, window=5, conv_units=500, k=1 if variant == "k1" else 5,
                        hidden=(300,)))
    c.optim.update(dict(name="sgd", learning_rate=0.02, schedule="constant", momentum=0.0, nesterov=False,
                        weight_decay=1e-4, decay="all", frozen="table_" if variant == "ult" else ""))
    c.train.batch_size = 16
    c.train.num_steps = 4335  # 30 epochs of scorebank/default's 2,312 training clips (the paper's is unstated)
    c.train.log_every = 145
    c.train.eval_every = c.train.checkpoint_every = 1445
    c.train.eval_crops = 1
    c.eval.num_crops = 1
    if arg.scorebank == "tiny":  # a smoke test: 27 training clips, small tables
        c.model.update(dict(conv_units=16, hidden=(8,)))
        c.train.update(dict(batch_size=4, num_steps=4, log_every=2, eval_every=4, checkpoint_every=4))
    return c
