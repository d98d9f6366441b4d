"""Studies: sweeps of experiments that reproduce a seed's comparison and write its table and plots.

    mirjax study structures --quick --out DIR     (Choi Ch. 4)
    mirjax study preprocessing --out DIR          (Choi Ch. 5)
    mirjax study raw_audio --out DIR              (Dieleman Ch. 5)
    mirjax study kmeans --quick --out DIR         (Dieleman Ch. 3)
    mirjax study transfer --source scorebank --out DIR   (Choi Ch. 6)
    mirjax study kcnn --setting quick --out DIR          (Zhang et al., KCNN)
    mirjax study convdbn --quick --out DIR               (Dieleman Ch. 2)
"""
