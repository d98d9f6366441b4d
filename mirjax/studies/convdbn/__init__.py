"""Dieleman thesis Ch. 2: the convolutional DBN on beat-aligned chroma and timbre (Table 2.1) on scorebank."""


def main(args) -> int:
    """`mirjax study convdbn` (see `mirjax.studies.convdbn.run`); imported lazily so that the study's parts load
    without scikit-learn and TFDS."""
    from mirjax.studies.convdbn.run import main as run_main
    return run_main(args)
