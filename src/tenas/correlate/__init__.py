"""How well do training-free proxies rank architectures? Kendall tau / Spearman rho on NAS-Bench-201.

    from tenas.correlate import CorrelateConfig, run_correlate
    result = run_correlate(CorrelateConfig(dataset="cifar10", sample=1000, seed=0, out="corr"))

See :mod:`tenas.correlate.protocol` (which network and inputs each proxy gets), :mod:`.cache` (the
resumable SQLite score cache), :mod:`.stats` (correlations, TE-NAS' rank combination, ensembles) and
:mod:`.report` (table, CSV, JSON, scatter plots).
"""

from tenas.correlate.protocol import DATASETS, Protocol, score_cell
from tenas.correlate.run import DEFAULT_ENSEMBLES, CorrelateConfig, run_correlate, sample_cells

__all__ = ["DATASETS", "DEFAULT_ENSEMBLES", "CorrelateConfig", "Protocol", "run_correlate", "sample_cells", "score_cell"]
