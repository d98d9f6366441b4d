"""Choi thesis, Ch. 6: transfer learning with the multi-layer convnet feature and SVMs.

    mirjax study transfer --source scorebank --tasks style,key,meter,composer,tempo --out workdirs/transfer
    mirjax study transfer --source musicnn-msd --tasks style,tempo --out workdirs/transfer
    mirjax study transfer --source WORKDIR --tasks gtzan,ballroom --manual_dir DIR --out workdirs/transfer

`features` (the convnet feature per strategy, the random network, MFCC-120), `classifiers` (the SVM grid, CV and
nested CV), `targets` (the tasks and their folds), `plots` (Figs. 6.2, 6.3, 6.5) and `run` (the command).
"""

from mirjax.studies.transfer.run import main

__all__ = ["main"]
