"""The SQLite cache of proxy scores: one row per (cell, proxy, seed, dataset), written as computed.

A row holds the raw value (NULL when the measurement failed), the error (NULL when it did not: ``"nan"``,
``"inf"``, ``"-inf"`` or the exception), and the seconds the proxy took (wall clock, and CPU time of
the worker process, which does not grow when other jobs share the cores). Rows are committed one cell at a
time, so an interrupted run loses at most the cells in flight, and a re-run computes only the rows that
are missing. The protocol (network and batch sizes, per proxy) and the data source are recorded in
``meta``: a cache refuses rows made under another protocol or from other data, rather than mixing them.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    cell INTEGER NOT NULL,
    proxy TEXT NOT NULL,
    seed INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    raw REAL,
    error TEXT,
    seconds REAL,
    cpu REAL,
    PRIMARY KEY (cell, proxy, seed, dataset)
);
"""


class CacheMismatch(ValueError):
    """The cache in this folder was made under another protocol or from other data."""


class ScoreCache:
    """Scores of (cell, proxy, seed, dataset) in ``path`` (an SQLite file)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.executescript(SCHEMA)
        self._db.commit()
        #: rows written by this object (what this run computed)
        self.written = 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta -------------------------------------------------------------------------------------
    def check_meta(self, key: str, value: str) -> None:
        """Record ``value`` under ``key``, or raise :class:`CacheMismatch` if another one is recorded."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            self._db.commit()
        elif row[0] != value:
            raise CacheMismatch(
                f"the score cache {self.path} was made with {key} = {row[0]}, not {value}; "
                f"use another --out folder (or delete that file) to score under new settings")

    # -- rows -------------------------------------------------------------------------------------
    def put(self, seed: int, dataset: str, cell: int, rows: Iterable[tuple[str, float, str | None, float]]) -> None:
        """Write one cell's ``(proxy, raw, error, seconds[, cpu_seconds])`` rows and commit."""
        data = []
        for proxy, raw, error, seconds, *cpu in rows:
            raw = float(raw)
            data.append((int(cell), proxy, int(seed), dataset, None if math.isnan(raw) else raw, error, float(seconds),
                         float(cpu[0]) if cpu else None))
        self._db.executemany(
            "INSERT OR REPLACE INTO scores (cell, proxy, seed, dataset, raw, error, seconds, cpu) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", data)
        self._db.commit()
        self.written += len(data)

    def missing(self, seed: int, dataset: str, cells: Sequence[int], proxies: Sequence[str]) -> dict[int, list[str]]:
        """For each cell, the proxies without a row (cells with none missing are left out)."""
        have: dict[int, set[str]] = {}
        for cell, proxy in self._db.execute("SELECT cell, proxy FROM scores WHERE seed = ? AND dataset = ?",
                                            (int(seed), dataset)):
            have.setdefault(cell, set()).add(proxy)
        out = {}
        for c in cells:
            need = [p for p in proxies if p not in have.get(int(c), ())]
            if need:
                out[int(c)] = need
        return out

    def table(self, seed: int, dataset: str, cells: Sequence[int], proxies: Sequence[str]
              ) -> tuple[dict[str, np.ndarray], dict[str, list[str | None]], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(raw, errors, seconds, cpu)``: per proxy, arrays aligned with ``cells`` (NaN where missing/failed)."""
        pos = {int(c): i for i, c in enumerate(cells)}
        raw = {p: np.full(len(cells), np.nan) for p in proxies}
        sec = {p: np.full(len(cells), np.nan) for p in proxies}
        cpu = {p: np.full(len(cells), np.nan) for p in proxies}
        err: dict[str, list[str | None]] = {p: ["missing"] * len(cells) for p in proxies}
        for cell, proxy, value, error, seconds, cpu_s in self._db.execute(
                "SELECT cell, proxy, raw, error, seconds, cpu FROM scores WHERE seed = ? AND dataset = ?",
                (int(seed), dataset)):
            if proxy in raw and cell in pos:
                i = pos[cell]
                raw[proxy][i] = np.nan if value is None else value
                err[proxy][i] = error
                sec[proxy][i] = np.nan if seconds is None else seconds
                cpu[proxy][i] = np.nan if cpu_s is None else cpu_s
        return raw, err, sec, cpu

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta"))


def dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)
