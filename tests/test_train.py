"""Training from scratch: loss goes down on real CIFAR-10, resume after a kill is exact, logs and CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tenas.cli import main
from tenas.data import ImageSet, iterate_batches
from tenas.spaces.genotypes import DARTS_V1, DARTS_V2, PC_DARTS, TENAS_CIFAR10, format_genotype
from tenas.train import (
    PROTOCOLS,
    CheckpointMismatch,
    Trainer,
    build_model,
    protocol_for,
    resolve_arch,
    subset,
)
from tenas.train.trainer import CHECKPOINT, CURVES, LOG


@pytest.fixture(autouse=True)
def _one_thread():
    # 2 shared cores: one thread is faster and keeps results independent of the machine's thread count
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def cifar(shared_dir) -> ImageSet:
    path = shared_dir / "data" / "cifar" / "cifar10_train_10k.npz"
    with np.load(path) as f:
        x, y = f["x"][:1000], f["y"][:1000]
    return ImageSet(x, y, "cifar10", 10, str(path))


def _small(dataset: ImageSet, n: int, seed: int = 0) -> ImageSet:
    return subset(dataset, n, seed=seed)


def _darts_trainer(out, data, test=None, epochs=1, batch=32, seed=0, arch=DARTS_V2, channels_last=None, **kw):
    protocol = protocol_for("darts", "cifar10").with_overrides(epochs=epochs, batch_size=batch, **kw)
    torch.manual_seed(seed)
    model = build_model("darts", format_genotype(arch), "cifar10", protocol, channels=6, cells=3)
    return Trainer(model, protocol, data, test, out, seed=seed, progress=False,
                   identity={"arch": format_genotype(arch)}, eval_batch_size=64, channels_last=channels_last)


@torch.no_grad()
def _loss_on(model, data: ImageSet) -> float:
    """Cross-entropy on fixed images, no augmentation, batch statistics (train-mode BN, no drop-path)."""
    model.train()
    drop = model.drop_path_prob
    model.drop_path_prob = 0.0
    x, y = next(iterate_batches(data, len(data), torch.Generator(), shuffle=False, augment=False))
    loss = float(torch.nn.functional.cross_entropy(model(x), y))
    model.drop_path_prob = drop
    return loss


def test_one_epoch_lowers_training_loss(cifar, tmp_path):
    data = _small(cifar, 384)
    trainer = _darts_trainer(tmp_path, data, epochs=1, batch=16, lr=0.05)
    probe = _small(data, 192, seed=1)
    before = _loss_on(trainer.model, probe)
    history = trainer.fit()
    after = _loss_on(trainer.model, probe)
    assert len(history) == 1 and math.isfinite(history[0]["train_loss"])
    assert after < before - 0.1, (before, after)


def test_resume_after_kill_repeats_the_epoch_exactly(cifar, tmp_path):
    data, test = _small(cifar, 96), _small(cifar, 64, seed=2)
    full = _darts_trainer(tmp_path / "full", data, test, epochs=2)
    history_full = full.fit()

    class Killed(Exception):
        pass

    def kill(epoch, step):
        if epoch == 1 and step == 1:
            raise Killed

    broken = _darts_trainer(tmp_path / "resumed", data, test, epochs=2)
    with pytest.raises(Killed):
        broken.fit(on_step=kill)
    state = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)
    assert state["epoch"] == 1  # the half-done epoch 2 was not saved
    # a new process: other initial weights, whatever the global RNG holds
    torch.manual_seed(1234)
    resumed = _darts_trainer(tmp_path / "resumed", data, test, epochs=2, seed=0)
    with torch.no_grad():
        for p in resumed.model.parameters():
            p.add_(1.0)
    history_resumed = resumed.fit()
    timing = ("seconds", "images_per_s")
    assert {k: v for k, v in history_resumed[0].items() if k not in timing} == \
           {k: v for k, v in history_full[0].items() if k not in timing}
    for key in ("lr", "drop_path", "train_loss", "train_objective", "train_acc", "test_loss", "test_acc"):
        assert history_resumed[1][key] == history_full[1][key], key  # bitwise on CPU
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    sa, sb = full.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"]) for i in sa)
    # logs: one CSV row per epoch, curves drawn
    rows = list(csv.DictReader(open(tmp_path / "resumed" / LOG)))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert (tmp_path / "resumed" / CURVES).read_bytes()[:4] == b"\x89PNG"
    # finished: running again trains nothing
    assert len(_darts_trainer(tmp_path / "resumed", data, test, epochs=2).fit(on_step=kill)) == 2


def test_channels_last_trains_the_same_function(cifar, tmp_path):
    # NHWC memory (the CPU default) changes only the kernels: one step from the same start computes the same
    # loss and gradients (later steps drift apart as training amplifies differences, like a change of thread count)
    data = _small(cifar, 96)
    nhwc = _darts_trainer(tmp_path / "nhwc", data, None, epochs=1)
    nchw = _darts_trainer(tmp_path / "nchw", data, None, epochs=1, channels_last=False)
    conv = next(m for m in nhwc.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.weight.shape[-1] > 1
    conv = next(m for m in nchw.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    x, y = next(iterate_batches(data, 32, torch.Generator().manual_seed(0), shuffle=True, augment=True, cutout=16))
    exact = _darts_trainer(tmp_path / "f64", data, None, epochs=1, channels_last=False).model.double()
    losses, grads = [], []
    for trainer in (nhwc, nchw):
        trainer.model.train()
        trainer.model.drop_path_prob = 0.0  # (float64 would draw other drop-path masks)
        losses.append(float(trainer.train_step(x, y)[0]))
        grads.append({n: q.grad.double() for n, q in trainer.model.named_parameters()})
    exact.train()
    exact.drop_path_prob = 0.0
    logits, aux = exact(x.double(), with_aux=True)
    ce = torch.nn.functional.cross_entropy
    (ce(logits, y) + nhwc.protocol.auxiliary_weight * ce(aux, y)).backward()
    torch.nn.utils.clip_grad_norm_(exact.parameters(), nhwc.protocol.grad_clip)  # as train_step does
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    # against the float64 gradient: NCHW is exact to float32 rounding; NHWC is the same function but less
    # precise, because PyTorch's NHWC BatchNorm on CPU sums less carefully (alone: about 40x NCHW's error at
    # mean/std 10, measured 2026-12-06); through 3 cells that reached 1.2 % of a gradient's norm, well inside
    # minibatch noise (like AMP on CUDA), while another function would be off by O(1)
    for n, q in exact.named_parameters():
        norm = float(q.grad.norm()) + 1e-9
        err = [float((g[n] - q.grad).norm()) / norm for g in grads]
        assert err[1] <= 1e-4 and err[0] <= 5e-2, (n, err)
    a, b = nhwc.model.state_dict(), nchw.model.state_dict()
    assert not all(torch.equal(a[k], b[k]) for k in a)  # really other kernels
    # a checkpoint of an NHWC run resumes in an NCHW trainer: the format is not part of the run
    nhwc.save_checkpoint()
    again = _darts_trainer(tmp_path / "nhwc", data, None, epochs=1, channels_last=False)
    assert again.load_checkpoint()
    assert all(torch.equal(again.model.state_dict()[k], a[k]) for k in a)


def test_checkpoint_of_another_run_is_refused(cifar, tmp_path):
    data = _small(cifar, 32)
    _darts_trainer(tmp_path, data, epochs=1).fit()
    with pytest.raises(CheckpointMismatch, match="arch"):
        _darts_trainer(tmp_path, data, epochs=1, arch=DARTS_V1).fit()
    with pytest.raises(CheckpointMismatch, match="protocol"):
        _darts_trainer(tmp_path, data, epochs=3).fit()


def test_nb201_protocol_trains(cifar, tmp_path):
    protocol = PROTOCOLS["nb201"].with_overrides(epochs=1, batch_size=32)
    model = build_model("nb201", resolve_arch("nb201", "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"),
                        "cifar10", protocol, channels=4, cells=1)
    history = Trainer(model, protocol, _small(cifar, 64), None, tmp_path, progress=False).fit()
    assert math.isfinite(history[0]["train_loss"]) and math.isnan(history[0]["test_acc"])


def test_protocols():
    darts = PROTOCOLS["darts-cifar"]
    assert (darts.epochs, darts.batch_size, darts.lr, darts.weight_decay, darts.cutout, darts.drop_path,
            darts.auxiliary_weight, darts.grad_clip, darts.channels, darts.cells) == (600, 96, 0.025, 3e-4, 16, 0.3, 0.4, 5.0, 36, 20)
    assert darts.lr_at(0) == 0.025 and darts.lr_at(300) == pytest.approx(0.0125) and darts.lr_at(0, 0.9) == 0.025
    nb = PROTOCOLS["nb201"]
    assert (nb.epochs, nb.batch_size, nb.lr, nb.nesterov, nb.weight_decay) == (200, 256, 0.1, True, 5e-4)
    assert nb.lr_at(100, 0.0) == pytest.approx(0.05) and nb.lr_at(0, 0.5) < 0.1
    img = protocol_for("darts", "imagenet")
    assert (img.lr, img.epochs, img.label_smoothing, img.channels, img.cells) == (0.5, 250, 0.1, 48, 14)
    # PC-DARTS: warm-up 1/5..5/5 of the linear schedule, then linear to 0 with a gentler last 5 epochs
    assert img.lr_at(0) == pytest.approx(0.5 * 245 / 245 / 5) and img.lr_at(4) == pytest.approx(0.5 * 241 / 245)
    assert img.lr_at(249) == pytest.approx(0.5 * 1 / (245 * 5))
    assert protocol_for("nb201", "cifar100") is nb


def test_resolve_arch(tmp_path):
    text = format_genotype(DARTS_V2)
    assert resolve_arch("darts", "DARTS_V2") == text
    (tmp_path / "result.json").write_text(json.dumps({"arch": text, "rounds": []}))
    assert resolve_arch("darts", str(tmp_path / "result.json")) == text
    (tmp_path / "g.txt").write_text(text.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 6)") + "\n")
    assert resolve_arch("darts", str(tmp_path / "g.txt")) == text
    assert resolve_arch("nb201", "0").startswith("|")
    with pytest.raises(ValueError, match="unknown op"):
        resolve_arch("darts", text.replace("dil_conv_3x3", "dil_conv_9x9"))
    # published cells by name, any case
    assert resolve_arch("darts", "tenas_cifar10") == format_genotype(TENAS_CIFAR10)
    assert resolve_arch("darts", "PC-DARTS") == format_genotype(PC_DARTS)
    with pytest.raises(ValueError, match="unknown genotype name 'NOPE'; known names: TENAS_CIFAR10, "):
        resolve_arch("darts", "NOPE")
    with pytest.raises(ValueError, match="no such file"):
        resolve_arch("darts", str(tmp_path / "missing" / "result.json"))


def test_cli_train_and_resume(shared_dir, tmp_path, capsys):
    cifar_dir = shared_dir / "data" / "cifar"
    args = ["train", "DARTS_V1", "--space", "darts", "--data", str(cifar_dir / "cifar10_train_10k.npz"),
            "--test-data", str(cifar_dir / "cifar10_test.npz"), "--max-train-images", "48",
            "--max-test-images", "32", "--epochs", "1", "--batch-size", "24", "--channels", "4", "--cells", "2",
            "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "epoch 1/1" in out.out and "done: 1 epochs" in out.out
    assert (tmp_path / LOG).exists() and (tmp_path / CURVES).exists()
    assert main(args) == 0  # resumes, nothing left to do
    assert "1 of 1 epochs already done" in capsys.readouterr().err
    # the same cell by another spelling of its name, or as its text, is the same run
    assert main(args[:1] + ["darts_v1"] + args[2:]) == 0
    err = capsys.readouterr().err
    assert "darts DARTS_V1: Genotype(" in err and "1 of 1 epochs already done" in err
    assert main(args[:1] + [format_genotype(DARTS_V1)] + args[2:]) == 0
    assert "1 of 1 epochs already done" in capsys.readouterr().err
    assert main(args[:1] + ["Genotype(normal=[])"] + args[2:]) == 2
    assert "genotype is missing field(s) normal_concat" in capsys.readouterr().err
    bad = [a if a != "1" else "3" for a in args]  # other epochs: refuse to mix runs
    assert main(bad) == 2
    assert "other settings (protocol)" in capsys.readouterr().err


def test_last_batch_of_one_is_dropped(cifar, tmp_path):
    # 33 images at batch 32 would leave one image, which BatchNorm cannot normalise in training mode
    history = _darts_trainer(tmp_path, _small(cifar, 33), epochs=1, batch=32).fit()
    assert math.isfinite(history[0]["train_loss"])
