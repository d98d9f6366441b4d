"""The config schema of the KCNN study (`mirjax study kcnn`, configs/zhang_kcnn.py): every key, with its default
(Zhang et al., ICMR'15, Table 1 where the paper states a value; see configs/zhang_kcnn.py for our choices)."""

from __future__ import annotations

import ml_collections


def kcnn_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.dataset = ml_collections.ConfigDict(dict(
        name="scorebank/default",
        label="style",  # ClassLabel feature to classify
        group="work_id",  # items sharing it stay in one fold ("" = none)
        predefined="",  # "split": the builder's train split trains, its test split scores (ISMIR 2004)
        data_dir="",
        manual_dir="",
        max_items=0,  # ≤ this many items (whole groups, balanced over classes, seeded); 0 = all
        folds=10,  # outer CV folds (ignored with predefined)
        use_folds=0,  # run only the first N folds (0 = all): a CPU-budget scaling, reported as such
        inner_folds=3,  # SVM C/γ selection inside each training part
        seeds=10,  # network / learner initialisations averaged per cell (paper: 10)
        seed=0,  # base seed of folds, codebooks and subsets
    ))
    c.words = ml_collections.ConfigDict(dict(
        sample_rate=22050, n_fft=1024, hop_length=512, n_mels=40, n_bands=12, band_fmin=250.0, min_bins=4,
        frames_per_segment=4, num_words=256, variance=0.95, whiten_epsilon=0.01, kmeans_iters=20,
        max_samples=20000, joint=False,
    ))
    c.model = ml_collections.ConfigDict(dict(window=5, conv_units=500, conv_layers=1, k=5, hidden=(300,),
                                             padding="SAME"))
    c.train = ml_collections.ConfigDict(dict(lr=0.02, l2=1e-4, batch_size=16, epochs=30))
    c.baselines = ml_collections.ConfigDict(dict(
        max_samples=10000,  # training segments each unsupervised learner sees
        sc_atoms=128, sc_alpha=1.0, sc_iters=200,
        ae_hidden=256, ae_epochs=20, ae_noise=0.2,
        dbn_layers=(128, 128), dbn_epochs=20,
    ))
    c.svm = ml_collections.ConfigDict(dict(cs=(1.0, 10.0, 100.0), gamma_scales=(0.3, 1.0, 3.0)))
    return c
