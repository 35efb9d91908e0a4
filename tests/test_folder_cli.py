"""Own images end to end through the CLI: search on a PNG folder, train, load back, export (tenas.data.folder)."""

from __future__ import annotations

import csv
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

from tenas.cli import main
from tenas.report.results import read_json

SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300", "--quiet", "--workers", "1"]
NAMES = ("airplane", "automobile", "bird", "cat")


@pytest.fixture
def photos(tmp_path, shared_dir, monkeypatch):
    """4 classes x 24 real CIFAR-10 test images as PNGs, one 48 x 40 and one grayscale among them, and a
    corrupt file; the decode cache goes to tmp_path."""
    monkeypatch.setenv("TENAS_CACHE", str(tmp_path / "cache"))
    with np.load(shared_dir / "data" / "cifar" / "cifar10_test.npz") as z:
        x, y = z["x"], z["y"]
    root = tmp_path / "photos"
    for c, name in enumerate(NAMES):
        (root / name).mkdir(parents=True)
        for i, r in enumerate(np.flatnonzero(y == c)[:24]):
            img = Image.fromarray(x[r])
            if (c, i) == (1, 0):
                img = img.resize((48, 40))
            if (c, i) == (2, 0):
                img = img.convert("L")
            img.save(root / name / f"{i:03d}.png")
    (root / "cat" / "broken.png").write_bytes(b"not a png")
    return root


def test_search_train_load_on_an_image_folder(photos, tmp_path, capsys):
    out = tmp_path / "search"
    assert main(["search", "--dataset", "folder", "--data", str(photos), "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr()
    assert "skipped 1 image file(s)" in printed.err and "broken.png" in printed.err
    result = read_json(out / "result.json")
    own = result["own_data"]
    assert result["benchmark"] is None and "none" in own["benchmark"]
    assert own["classes"] == list(NAMES) and own["train_images"] + own["val_images"] == 96 and own["skipped"] == 1
    assert result["config"]["num_classes"] == 4 and result["config"]["classes"] == 4
    assert len(own["mean"]) == 3 and all(0 < s < 1 for s in own["std"])
    assert (out / "trajectory.png").exists() and own["next"] in printed.out

    # the next command, made small; it takes the split and the normalisation from result.json
    cmd = shlex.split(own["next"])[1:]
    train_out = tmp_path / "search" / "train"
    assert main(cmd + ["--epochs", "2", "--channels", "8", "--cells", "1", "--batch-size", "32", "--quiet"]) == 0
    assert "from the cache" in capsys.readouterr().err  # decoded once, by the search
    with open(train_out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0 <= float(r["test_acc"]) <= 100 for r in rows)
    assert (train_out / "curves.png").exists()
    meta = read_json(train_out / "model.json")
    assert meta["mean"] == own["mean"] and meta["classes"] == list(NAMES) and meta["num_classes"] == 4

    import tenas
    from tenas.data import to_tensor
    from tenas.data.folder import read_folder
    from tenas.train import PROTOCOLS, build_model

    model = tenas.load_trained(train_out)
    assert not model.training and model.classes == NAMES
    state = torch.load(train_out / "model.pt", weights_only=True)
    # independently: the network rebuilt from the training checkpoint, inputs normalised by hand
    ckpt = torch.load(train_out / "checkpoint.pt", weights_only=True)
    net = build_model("nb201", result["arch"], "folder", PROTOCOLS["nb201"], channels=8, cells=1, num_classes=4)
    net.load_state_dict(ckpt["model"])
    net.eval()
    val = read_folder(photos).val
    with torch.no_grad():
        want = net(to_tensor(val.x, val)).argmax(1).numpy()
    assert np.array_equal(model.predict(val.x), want)
    assert set(state) == set(net.state_dict())


def test_onnx_export_predicts_like_the_module(photos, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    import tenas
    from tenas.data.folder import read_folder

    out = tmp_path / "t"
    assert main(["train", "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
                 "--space", "nb201", "--dataset", "folder", "--data", str(photos), "--out", str(out), "--epochs", "1",
                 "--channels", "4", "--cells", "1", "--batch-size", "32", "--export", "onnx", "--quiet"]) == 0
    onnx.checker.check_model(str(out / "model.onnx"))
    model = tenas.load_trained(out)
    val = read_folder(photos).val
    x = val.x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    (logits,) = ReferenceEvaluator(str(out / "model.onnx")).run(None, {"images": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.allclose(logits, want, atol=1e-4) and np.array_equal(logits.argmax(1), model.predict(val.x))


def test_export_without_onnx_is_one_clear_message(photos, tmp_path, capsys, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_onnx(name, *a, **k):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    assert main(["train", "0", "--space", "nb201", "--dataset", "folder", "--data", str(photos), "--out",
                 str(tmp_path / "t"), "--export", "onnx", "--quiet"]) == 2
    assert "pip install onnx" in capsys.readouterr().err and not (tmp_path / "t").exists()


@pytest.mark.parametrize("args, message", [
    (["--dataset", "folder"], "--dataset folder needs --data DIR"),
    (["--dataset", "cifar10", "--image-size", "64"], "--image-size apply to --dataset folder only"),
    (["--dataset", "folder", "--data", "MISSING"], "no such folder"),
    (["--dataset", "folder", "--data", "ONE_CLASS"], "only one class"),
    (["--dataset", "folder", "--data", "PHOTOS", "--objective", "tenas+"], "has no measurement on other data"),
    (["--dataset", "folder", "--data", "PHOTOS", "--val-fraction", "1.5"], "expected a number in [0, 1)"),
])
def test_bad_folder_input_through_the_cli(photos, tmp_path, capsys, args, message):
    one = tmp_path / "one" / "only"
    one.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(one / "a.png")
    subs = {"MISSING": str(tmp_path / "nope"), "ONE_CLASS": str(tmp_path / "one"), "PHOTOS": str(photos)}
    args = [subs.get(a, a) for a in args]
    try:
        rc = main(["search", "--out", str(tmp_path / "x"), *SMALL, *args])
    except SystemExit as e:  # argparse
        rc = e.code
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing half-written


@pytest.mark.slow
def test_darts_search_on_a_folder(photos, tmp_path):
    out = tmp_path / "d"
    assert main(["search", "--space", "darts", "--dataset", "folder", "--data", str(photos), "--out", str(out),
                 "--repeats", "1", "--batch-size", "4", "--region-samples", "100", "--quiet", "--workers", "1"]) == 0
    result = read_json(out / "result.json")
    assert result["config"]["num_classes"] == 4 and result["darts"]["eval_params_M"] > 0
    assert result["own_data"]["next"].startswith("tenas train ")
