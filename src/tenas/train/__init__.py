"""Training found architectures from scratch (DARTS and NAS-Bench-201 protocols).

    from tenas.train import Trainer, protocol_for, build_model, resolve_arch
"""

from __future__ import annotations

from tenas.train.export import TrainedModel, load_trained, save_trained
from tenas.train.models import NUM_CLASSES, build_model, resolve_arch
from tenas.train.protocols import PROTOCOLS, Protocol, protocol_for
from tenas.train.trainer import COLUMNS, CheckpointMismatch, Trainer, derive_seed, plot_curves, subset, write_csv

__all__ = [
    "COLUMNS", "CheckpointMismatch", "NUM_CLASSES", "PROTOCOLS", "Protocol", "Trainer", "TrainedModel", "build_model",
    "derive_seed", "load_trained", "plot_curves", "protocol_for", "resolve_arch", "save_trained", "subset",
    "write_csv",
]
