"""Zhang et al., "A Deep Neural Network for Modeling Music" (ICMR'15): KCNN on audio words with its ULT, k = 1
and +SVM variants, against sparse coding, autoencoder and DBN baselines (Tables 2/3, Fig. 3).

    mirjax study kcnn --setting quick --dataset scorebank --features mel,sfm,scf,all --out DIR

`run` (the study), `data` (items, frame features, folds), `train` (the KCNN training loop), `baselines`
(SC / AE / DBN representations and the SVM), `config` (the schema of configs/zhang_kcnn.py).
"""

from mirjax.studies.kcnn.run import main

__all__ = ["main"]
