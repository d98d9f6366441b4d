"""KCNN of Zhang et al., "A Deep Neural Network for Modeling Music" (ICMR'15), and its baselines, for
`mirjax study kcnn` (the schema is `mirjax.studies.kcnn.config.kcnn_config`).

Stated by the paper (Table 1, §4.2): 22,050 Hz mono, frames of 1,024 with hop 512; window w = 5, V = 500
convolutional units, k = 5, 300 sigmoid hidden units, learning rate 0.02, λ = 1e-4 (on every parameter); 10 runs
per setting; GTZAN 10-fold CV, ISMIR2004 training / development split.

Our choices where the paper is silent (each a config key): 40 log-mel bands; SFM / SCF on 12 log-spaced
sub-bands from 250 Hz (≥ 4 FFT bins each); segments of F = 4 frames (≈ 93 ms, no overlap); PCA whitening keeping
95 % of the variance; 256 words per codebook (K-means, 20 Lloyd iterations from k-means++, ≤ 20,000 training
segments); one codebook and lookup table per feature type for ALL; mini-batches of 16 clips for 30 epochs;
'SAME' convolution. Baselines on the same whitened segments, max-pooled over the clip: sparse coding with 128
atoms (scikit-learn MiniBatchDictionaryLearning, L1 α = 1, lasso encoding), a denoising autoencoder with 256
sigmoid units, a DBN of two 128-unit CD-1 RBMs (Gaussian-binary then binary). SVM: RBF SVC on standardised
features, C ∈ {1, 10, 100}, γ ∈ {0.3, 1, 3}/dims, chosen by 3-fold inner CV on the training part.

Arg: `[SETTING][,DATASET]`.
  SETTING  paper (10 folds × 10 seeds, 30 epochs) | quick (the 2-core CPU run reported in docs/results.md:
           3 group-aware folds × 10 seeds, 360 items, 12 epochs of batch 4) | tiny (smoke tests)
  DATASET  scorebank (scorebank/default styles, folds by work) | gtzan (gtzan_genres, 10-fold stratified) |
           ismir2004 (ismir2004_genre/30s: training trains, development tests) | scorebank_tiny
"""

from configs.common import choice, parse_arg
from mirjax.studies.kcnn.config import kcnn_config

REFERENCE = kcnn_config

DATASETS = {
    "scorebank": dict(name="scorebank/default", label="style", group="work_id", predefined=""),
    "scorebank_tiny": dict(name="scorebank/tiny", label="style", group="work_id", predefined=""),
    "gtzan": dict(name="gtzan_genres/10fold_0", label="genre", group="", predefined=""),
    "ismir2004": dict(name="ismir2004_genre/30s", label="label", group="group", predefined="split"),
}
SETTINGS = ("paper", "quick", "tiny")


def get_config(arg: str | None = None):
    arg = parse_arg(arg, setting="paper", dataset="scorebank")
    c = kcnn_config()
    c.dataset.update(DATASETS[choice("dataset", arg.dataset, DATASETS)])
    setting = choice("setting", arg.setting, SETTINGS)
    if setting == "quick":
        c.dataset.update(dict(max_items=360, folds=3, use_folds=0, seeds=10))
        c.train.update(dict(epochs=12, batch_size=4))
        c.baselines.update(dict(max_samples=5000, ae_epochs=10, dbn_epochs=10, sc_iters=100))
    elif setting == "tiny":
        c.dataset.update(dict(max_items=45, folds=3, use_folds=1, seeds=1, inner_folds=2))
        c.words.update(dict(num_words=16, max_samples=2000, kmeans_iters=5))
        c.model.update(dict(conv_units=16, hidden=(8,)))
        c.train.update(dict(epochs=2, batch_size=8))
        c.baselines.update(dict(max_samples=500, sc_atoms=8, sc_iters=10, ae_hidden=8, ae_epochs=2,
                                dbn_layers=(8,), dbn_epochs=2))
        c.svm.update(dict(cs=(1.0,), gamma_scales=(1.0,)))
    return c
