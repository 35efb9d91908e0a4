"""tenas.bench: NB201 lookup, the `tenas bench` command, and the NATS-Bench adapter (with a stand-in API)."""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
import sys
import types

import pytest
import torch

from tenas.bench.nats import NatsBenchSource
from tenas.bench.nb201 import BenchRecord, lookup
from tenas.cli import main

FIELDS = ("cifar10_test", "cifar100_test", "imagenet16_120_test", "cifar10_valid_valid", "cifar10_valid_test")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def rows(shared_dir):
    """The ground-truth CSV (independent of the package's gzipped copy): index -> row of floats."""
    with open(shared_dir / "data" / "nb201" / "nb201_accuracy.csv", newline="") as f:
        out = {}
        for r in csv.DictReader(f):
            out[int(r["index"])] = {"arch": r["arch"], **{k: float(r[k]) for k in FIELDS}}
    return out


@pytest.fixture(scope="module")
def optima(rows):
    """Per dataset, the indices of the cells with the best test accuracy."""
    best = {}
    for col in ("cifar10_test", "cifar100_test", "imagenet16_120_test"):
        top = max(r[col] for r in rows.values())
        best[col] = sorted(i for i, r in rows.items() if r[col] == top)
    return best


def test_published_optima_are_three_different_cells(rows, optima):
    # TE-NAS / NAS-Bench-201 optimal test accuracies: CIFAR-10 94.37, CIFAR-100 73.51, ImageNet16-120 47.31
    assert round(rows[optima["cifar10_test"][0]]["cifar10_test"], 2) == 94.37
    assert round(rows[optima["cifar100_test"][0]]["cifar100_test"], 2) == 73.51
    assert round(rows[optima["imagenet16_120_test"][0]]["imagenet16_120_test"], 2) == 47.31
    # CIFAR-10's optimum is a tie of two cells in this table (94.3733 both)
    assert optima["cifar10_test"] == [6111, 13714]
    assert optima["cifar100_test"] == [9930] and optima["imagenet16_120_test"] == [857]


@pytest.mark.parametrize("col", ["cifar10_test", "cifar100_test", "imagenet16_120_test"])
def test_lookup_returns_the_optimal_cells(rows, optima, col):
    for index in optima[col]:
        row = rows[index]
        for query in (row["arch"], index):
            rec = lookup(query)
            assert isinstance(rec, BenchRecord)
            assert rec.index == index and rec.arch == row["arch"]
            for field in FIELDS:
                assert getattr(rec, field) == pytest.approx(row[field], abs=1e-9)
    rec = lookup(optima[col][0])
    assert round(getattr(rec, col), 2) == {"cifar10_test": 94.37, "cifar100_test": 73.51, "imagenet16_120_test": 47.31}[col]


def test_record_is_frozen_and_json_ready():
    rec = lookup(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.index = 1  # type: ignore[misc]
    d = json.loads(json.dumps(rec.to_dict()))
    assert d["index"] == 0 and set(d) >= set(FIELDS) | {"arch", "params_cifar10", "flops_imagenet16_120"}


def test_lookup_costs_match_published_figures():
    # NATS-Bench issue #24: index 0 has FLOPs 15.64737 (cifar10-valid), 15.65322 (cifar100), 3.91948 (ImageNet16-120)
    rec = lookup(0)
    assert rec.flops_cifar10 == pytest.approx(15.64737, abs=5e-6)
    assert rec.flops_cifar100 == pytest.approx(15.65322, abs=5e-6)
    assert rec.flops_imagenet16_120 == pytest.approx(3.91948, abs=5e-6)
    # NATS-Bench issue #36: params 0.802426 M, FLOPs 113.95137 M on CIFAR-10
    rec = lookup("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    assert rec.params_cifar10 == pytest.approx(0.802426, abs=1e-9)
    assert rec.flops_cifar10 == pytest.approx(113.95137, abs=5e-6)
    # the classifier is the only difference between class counts: 64*k + k parameters
    assert rec.params_cifar100 - rec.params_cifar10 == pytest.approx(65 * 90 / 1e6, abs=1e-9)
    assert rec.params_imagenet16_120 - rec.params_cifar10 == pytest.approx(65 * 110 / 1e6, abs=1e-9)


# ------------------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------------------
def _run(capsys, *argv):
    code = main(["bench", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_for_the_three_optima(capsys, rows, optima):
    queries = {
        "cifar10_test": str(optima["cifar10_test"][0]),  # an index
        "cifar100_test": rows[optima["cifar100_test"][0]]["arch"],  # a cell string
        "imagenet16_120_test": " " + rows[optima["imagenet16_120_test"][0]]["arch"] + " ",  # with spaces
    }
    for col, query in queries.items():
        code, out, err = _run(capsys, "nb201", query, "--json")
        assert code == 0 and err == ""
        d = json.loads(out)
        index = optima[col][0]
        assert d["index"] == index and d["arch"] == rows[index]["arch"]
        for field in FIELDS:
            assert d[field] == pytest.approx(rows[index][field], abs=1e-9)


def test_cli_table(capsys):
    code, out, _ = _run(capsys, "nb201", "9930")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "NAS-Bench-201 #9930"
    cifar100 = next(line for line in lines if line.startswith("cifar100 "))
    assert "73.51" in cifar100.split()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nb201", "|nor_conv_3x3~0|+|conv~0|none~1|+|none~0|none~1|none~2|"], "unknown op 'conv'"),
        (["nb201", "|nor_conv_3x3~0|+|none~0|none~1|"], "2 node groups"),
        (["nb201", "15625"], "0..15624"),
        (["nb202", "1"], "unknown benchmark 'nb202'"),
        (["nats", "1"], "--source"),
        (["darts", "x"], "space 'darts' has no benchmark"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("tenas bench: error:") and message in err


# ------------------------------------------------------------------------------------------------
# NATS-Bench adapter
# ------------------------------------------------------------------------------------------------
class StandInAPI:
    """Just the two methods the adapter uses, answering from the CSV like the official API would."""

    def __init__(self, rows):
        self.rows = rows
        self.by_arch = {r["arch"]: i for i, r in rows.items()}
        self.calls = []

    def query_index_by_arch(self, arch):
        return self.by_arch.get(arch, -1)

    def get_more_info(self, index, dataset, iepoch=None, hp="12", is_random=True):
        self.calls.append((index, dataset, hp, is_random))
        r = self.rows[index]
        info = {"train-accuracy": 99.9, "train-loss": 0.01}  # distractors
        if dataset == "cifar10-valid":
            info.update({"valid-accuracy": r["cifar10_valid_valid"], "test-accuracy": r["cifar10_valid_test"]})
        elif dataset == "cifar10":
            info.update({"test-accuracy": r["cifar10_test"]})
        else:
            col = {"cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}[dataset]
            info.update({"test-accuracy": r[col], "valid-accuracy": -1.0, "valtest-accuracy": -2.0})
        return info


def test_nats_adapter_answers_like_the_table(rows, optima):
    api = StandInAPI(rows)
    source = NatsBenchSource(api)
    for index in (optima["cifar100_test"][0], optima["imagenet16_120_test"][0]):
        assert source.lookup(rows[index]["arch"]) == lookup(index)
        assert source.lookup(index) == lookup(index)
    assert {(d, hp, r) for _, d, hp, r in api.calls} == {
        (d, "200", False) for d in ("cifar10", "cifar10-valid", "cifar100", "ImageNet16-120")
    }


def test_nats_adapter_errors(rows):
    api = StandInAPI(rows)
    source = NatsBenchSource(api)
    with pytest.raises(ValueError, match="unknown op"):
        source.lookup("|nor_conv_3x3~0|+|conv~0|none~1|+|none~0|none~1|none~2|")
    missing = rows[857]["arch"]
    del api.by_arch[missing]
    with pytest.raises(ValueError, match="not in the NATS-Bench"):
        source.lookup(missing)
    with pytest.raises(TypeError, match="get_more_info"):
        NatsBenchSource(types.SimpleNamespace(query_index_by_arch=lambda a: 0))


def test_nats_adapter_missing_metric_is_reported(rows):
    class NoValid(StandInAPI):
        def get_more_info(self, index, dataset, **kw):
            info = super().get_more_info(index, dataset, **kw)
            info.pop("valid-accuracy", None)
            return info

    with pytest.raises(ValueError, match="'valid-accuracy' for 'cifar10-valid'"):
        NatsBenchSource(NoValid(rows)).lookup(0)


def test_nats_path_imports_lazily(tmp_path, monkeypatch, rows):
    # importing the adapter imports neither nats_bench nor nas_201_api
    attempted = []

    class Spy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("nats_bench", "nas_201_api"):
                attempted.append(name)
            return None

    monkeypatch.setattr(sys, "meta_path", [Spy(), *sys.meta_path])
    import tenas.bench.nats as nats_module

    importlib.reload(nats_module)
    assert attempted == []

    with pytest.raises(FileNotFoundError, match="not found"):
        nats_module.NatsBenchSource(tmp_path / "absent")

    # not installed -> a clear ImportError naming the package
    monkeypatch.setitem(sys.modules, "nats_bench", None)
    with pytest.raises(ImportError, match="nats_bench"):
        nats_module.NatsBenchSource(tmp_path)

    # installed -> create(path, "tss", fast_mode=<is a directory>) is what gets used
    created = []

    def create(path, space, fast_mode=False, verbose=True):
        created.append((path, space, fast_mode))
        return StandInAPI(rows)

    monkeypatch.setitem(sys.modules, "nats_bench", types.SimpleNamespace(create=create))
    source = nats_module.NatsBenchSource(tmp_path)
    assert created == [(str(tmp_path), "tss", True)]
    assert source.lookup(9930).cifar100_test == pytest.approx(rows[9930]["cifar100_test"])
    pickle_file = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    pickle_file.write_bytes(b"")
    nats_module.NatsBenchSource(pickle_file)
    assert created[-1] == (str(pickle_file), "tss", False)


def test_cli_nats_without_the_package_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nats_bench", None)
    code, out, err = _run(capsys, "nats", "0", "--source", str(tmp_path))
    assert code == 2 and "nats_bench" in err
