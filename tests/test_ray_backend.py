"""Choosing the backend (runs without ray installed): one clear line when ray is missing."""

from __future__ import annotations

import importlib.util

import pytest

from tenas.cli import UserError, main
from tenas.parallel.backends import make_pool
from tenas.parallel.local import LocalPool

SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300", "--quiet"]


@pytest.fixture
def no_ray(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "ray" else real(name, *a, **k))


def test_make_pool_local_and_bad_choices():
    pool = make_pool("local", 3)
    assert isinstance(pool, LocalPool) and pool.workers == 3
    with pytest.raises(UserError, match="--address is for --backend ray"):
        make_pool("local", 1, "10.0.0.1:6379")
    with pytest.raises(UserError, match="unknown backend"):
        make_pool("dask", 1)


def test_missing_ray_says_how_to_install(no_ray):
    with pytest.raises(UserError, match=r'pip install "tenas\[ray\]"'):
        make_pool("ray", 2)


@pytest.mark.parametrize("command", [["search", *SMALL], ["correlate", "--sample", "2", "--proxies", "params"]])
def test_cli_without_ray_prints_one_line(no_ray, tmp_path, capsys, command):
    assert main([*command, "--backend", "ray", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "tenas[ray]"' in err[0] and err[0].startswith(f"tenas {command[0]}: error:")
    assert not (tmp_path / "o").exists()  # refused before anything was written
