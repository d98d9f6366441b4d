"""Studies: sweeps of experiments that reproduce a seed's comparison and write its table and plots.

    python -m mirjax.studies structures --quick --out DIR     (Choi Ch. 4)
    python -m mirjax.studies preprocessing --out DIR          (Choi Ch. 5)
    python -m mirjax.studies raw_audio --out DIR              (Dieleman Ch. 5)
    python -m mirjax.studies kmeans --quick --out DIR         (Dieleman Ch. 3)
"""
