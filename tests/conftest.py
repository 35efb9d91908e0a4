"""Shared test fixtures: the real data in ../shared (read by tests only, never by the package)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(os.environ.get("TENAS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
CIFAR_DIR = SHARED / "data" / "cifar"
NB201_CSV = SHARED / "data" / "nb201" / "nb201_accuracy.csv"


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared data folder {SHARED} not present")
    return SHARED


@pytest.fixture(scope="session")
def embedded():
    """The embedded CIFAR-10 sample (2,000 training images)."""
    from tenas.data import load_dataset

    return load_dataset("cifar10")


@pytest.fixture
def one_thread():
    """torch on one thread for the test (the threads of a worker: the same values), restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
