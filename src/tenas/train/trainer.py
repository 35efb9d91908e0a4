"""Training a found architecture from scratch: epochs, evaluation, logs, curves, resumable checkpoints.

What a run writes into its folder (every file replaced atomically, so a kill never leaves a torn file):

- ``checkpoint.pt`` after every epoch: model, optimizer, lr scheduler, AMP grad scaler, RNG states, the
  per-epoch history and the run's identity (architecture, data, protocol). It holds tensors and plain
  data only and is read with ``torch.load(weights_only=True)``.
- ``log.csv``: one row per finished epoch (:data:`COLUMNS`): ``train_loss`` is the main head's plain
  cross-entropy (comparable with ``test_loss``), ``train_objective`` what is minimised (with the
  auxiliary head's weighted loss and label smoothing); both averaged over the epoch's batches as trained
  (augmentation, drop-path, weights changing). Accuracies in %.
- ``curves.png``: loss and accuracy curves drawn from that data (matplotlib, Agg canvas).

Resuming: a run started on a folder with a checkpoint continues after its last finished epoch (an epoch
killed half-way is redone from its start). Every random choice of epoch ``e`` -- data order, crops,
flips, cutout, drop-path -- is drawn from generators seeded by ``(seed, e)``, so the resumed epoch is
the epoch an uninterrupted run would have trained (bitwise on CPU; on GPU up to non-deterministic
kernels). A checkpoint belonging to another architecture, data set or protocol is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from tenas.data import ImageSet, iterate_batches
from tenas.train.protocols import Protocol

CHECKPOINT = "checkpoint.pt"
LOG = "log.csv"
CURVES = "curves.png"
FORMAT = 1
COLUMNS = (
    "epoch", "lr", "drop_path", "train_loss", "train_objective", "train_acc", "test_loss", "test_acc", "test_top5",
    "seconds", "images_per_s",
)


def derive_seed(seed: int, *parts: Any) -> int:
    """A 63-bit seed from ``seed`` and labels (stable across runs, platforms and Python hash seeds)."""
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)


# --------------------------------------------------------------------------------------------------
# data subsets
# --------------------------------------------------------------------------------------------------
class _Rows:
    """A lazy row selection of an image array (``x[indices]`` reads only those rows)."""

    def __init__(self, base: Any, rows: np.ndarray):
        self.base, self.rows = base, rows
        self.shape = (len(rows), *tuple(base.shape[1:]))
        self.dtype = getattr(base, "dtype", np.dtype(np.uint8))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> np.ndarray:
        return self.base[self.rows[index]]


def subset(ds: ImageSet, n: Optional[int], seed: int = 0) -> ImageSet:
    """``n`` images of ``ds`` chosen at random (fixed ``seed``, kept in file order); all if ``n`` is None
    or not smaller. Random rather than the first ``n`` because test files are often sorted by class."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ValueError(f"need at least one image, asked for {n}")
    rows = np.sort(torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n].numpy())
    x = ds.x[rows] if isinstance(ds.x, np.ndarray) else _Rows(ds.x, rows)
    return replace(ds, x=x, y=ds.y[rows], source=f"{ds.source} ({n} of {len(ds)} images)")


def hold_out(ds: ImageSet, n: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split ``ds`` into (the rest, ``n`` random images held out for evaluation)."""
    if not 1 <= n < len(ds):
        raise ValueError(f"cannot hold out {n} of {len(ds)} images")
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed)).numpy()
    parts = []
    for rows, what in ((np.sort(perm[n:]), "for training"), (np.sort(perm[:n]), "held out")):
        x = ds.x[rows] if isinstance(ds.x, np.ndarray) else _Rows(ds.x, rows)
        parts.append(replace(ds, x=x, y=ds.y[rows], source=f"{ds.source}, {len(rows)} {what}"))
    return parts[0], parts[1]


# --------------------------------------------------------------------------------------------------
# atomic files
# --------------------------------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write through a temporary file in the same folder, fsync, rename (ordinary file permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv(history: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    _atomic(path, lambda f: f.write(buf.getvalue()), mode="w")


def plot_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Loss and accuracy per epoch (train and test) into a PNG, from the history rows alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    for key, label, ax in (
        ("train_objective", "train objective", ax_loss),
        ("train_loss", "train", ax_loss),
        ("test_loss", "test", ax_loss),
        ("train_acc", "train", ax_acc), ("test_acc", "test", ax_acc),
    ):
        values = [r.get(key, math.nan) for r in history]
        if any(math.isfinite(v) for v in values):
            ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        import textwrap

        fig.suptitle("\n".join(textwrap.wrap(title, 170)[:3]), fontsize=6)
    fig.tight_layout()
    _atomic(path, lambda f: fig.savefig(f, format="png"))


# --------------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------------
class CheckpointMismatch(ValueError):
    """The output folder holds a checkpoint of a different run."""


class Trainer:
    """Trains ``model`` on ``train_set`` with ``protocol``, evaluating on ``test_set`` after every epoch.

    ``identity``: plain data naming the run (architecture, data, ...); stored in the checkpoint and
    compared on resume together with the protocol, seed and data sizes. ``amp``: mixed precision
    (``torch.autocast`` float16 + ``GradScaler``), used on CUDA only. ``channels_last``: keep weights and
    images in NHWC memory: the same function, 1.3-1.9x faster on CPU (``benchmarks/speed/train_memory_format.py``),
    gradients a little less precise (PyTorch's NHWC BatchNorm on CPU; within about 1 % of a float64 gradient,
    far inside minibatch noise); None (default) means on CPU only.
    """

    def __init__(
        self,
        model: nn.Module,
        protocol: Protocol,
        train_set: ImageSet,
        test_set: Optional[ImageSet],
        out_dir: str | os.PathLike,
        device: str | torch.device = "cpu",
        seed: int = 0,
        amp: bool = True,
        progress: bool = True,
        identity: Optional[dict[str, Any]] = None,
        eval_batch_size: int = 256,
        channels_last: Optional[bool] = None,
    ):
        self.protocol = protocol
        self.device = torch.device(device)
        if channels_last is None:
            channels_last = self.device.type == "cpu"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.train_set, self.test_set = train_set, test_set
        self.out = Path(out_dir)
        self.seed = int(seed)
        self.amp = bool(amp) and self.device.type == "cuda"
        self.progress = progress
        self.eval_batch_size = eval_batch_size
        self.identity = {
            **(identity or {}),
            "protocol": protocol.to_dict(),
            "seed": self.seed,
            "train_images": len(train_set),
            "test_images": len(test_set) if test_set is not None else 0,
        }
        # a last batch of one image would break BatchNorm in training mode (the auxiliary head ends at
        # 1x1): drop it, and only then
        self.drop_last = len(train_set) % protocol.batch_size == 1 and len(train_set) > 1
        self.steps_per_epoch = len(train_set) // protocol.batch_size + (
            0 if self.drop_last or len(train_set) % protocol.batch_size == 0 else 1
        )
        self.images_per_epoch = len(train_set) - (1 if self.drop_last else 0)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=protocol.label_smoothing)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=protocol.lr, momentum=protocol.momentum,
            weight_decay=protocol.weight_decay, nesterov=protocol.nesterov,
        )
        spe, p = self.steps_per_epoch, protocol
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: p.lr_at(step // spe, (step % spe) / spe) / p.lr
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs finished
        self.uses_aux = getattr(self.model, "auxiliary_head", None) is not None and protocol.auxiliary_weight > 0

    # -- checkpoints ------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT

    def save_checkpoint(self) -> None:
        state = {
            "format": FORMAT,
            "epoch": self.epoch,
            "identity": self.identity,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }
        _atomic(self.checkpoint_path, lambda f: torch.save(state, f))

    def load_checkpoint(self) -> bool:
        """Resume from ``checkpoint.pt`` if there is one; ``CheckpointMismatch`` if it is another run's."""
        path = self.checkpoint_path
        if not path.exists():
            return False
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a foreign or damaged file: say so instead of a pickle traceback
            raise CheckpointMismatch(f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); "
                                     "delete it or choose another --out") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointMismatch(f"{path} is not a tenas training checkpoint (format {FORMAT})")
        saved = state["identity"]
        if saved != self.identity:
            diff = sorted(k for k in set(saved) | set(self.identity) if saved.get(k) != self.identity.get(k))
            raise CheckpointMismatch(
                f"{path} belongs to a run with other settings ({', '.join(diff)}); use the same settings to "
                "resume, or choose another --out"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        return True

    # -- steps ------------------------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step; returns (objective, main-head logits) for bookkeeping."""
        x = x.to(self.device, memory_format=self.memory_format, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        with self._autocast():
            if self.uses_aux:
                logits, aux = self.model(x, with_aux=True)
            else:
                logits, aux = self.model(x), None
            loss = self.criterion(logits, y)
            if aux is not None:
                loss = loss + self.protocol.auxiliary_weight * self.criterion(aux, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.protocol.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.protocol.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), logits.detach()

    @torch.no_grad()
    def evaluate(self, ds: ImageSet) -> dict[str, float]:
        """Loss (plain cross-entropy), top-1 and top-5 accuracy (%) in eval mode, no augmentation."""
        self.model.eval()
        total, loss_sum, top1, top5 = 0, 0.0, 0, 0
        gen = torch.Generator()
        for x, y in iterate_batches(ds, self.eval_batch_size, gen, shuffle=False, augment=False):
            x = x.to(self.device, memory_format=self.memory_format, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.model(x)
            logits = logits.float()
            loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            k = min(5, logits.shape[1])
            best = logits.topk(k, dim=1).indices
            top1 += int((best[:, 0] == y).sum())
            top5 += int((best == y[:, None]).any(dim=1).sum())
            total += len(y)
        return {"loss": loss_sum / total, "acc": 100.0 * top1 / total, "top5": 100.0 * top5 / total}

    def train_epoch(self, epoch: int, on_step: Optional[Callable[[int, int], None]] = None) -> dict[str, float]:
        p = self.protocol
        torch.manual_seed(derive_seed(self.seed, "model", epoch))  # drop-path (CPU and every GPU)
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "data", epoch))
        if hasattr(self.model, "drop_path_prob"):
            self.model.drop_path_prob = p.drop_path * epoch / p.epochs
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        ce_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{p.epochs}", leave=False,
                       file=sys.stderr, dynamic_ncols=True)
        try:
            batches = iterate_batches(self.train_set, p.batch_size, gen, shuffle=True, augment=True, cutout=p.cutout,
                                      drop_last=self.drop_last)
            for step, (x, y) in enumerate(batches):
                loss, logits = self.train_step(x, y)
                n = len(y)
                seen += n
                y = y.to(self.device)
                loss_sum += loss.float() * n
                ce_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
                correct += (logits.argmax(1) == y).sum()
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step + 1 == self.steps_per_epoch:
                        bar.set_postfix(loss=f"{float(ce_sum) / seen:.3f}", acc=f"{100.0 * float(correct) / seen:.1f}")
                if on_step is not None:
                    on_step(epoch, step)
        finally:
            if bar is not None:
                bar.close()
        return {"loss": float(ce_sum) / seen, "objective": float(loss_sum) / seen, "acc": 100.0 * float(correct) / seen}

    # -- the loop ---------------------------------------------------------------------------------
    def fit(
        self,
        on_step: Optional[Callable[[int, int], None]] = None,
        on_epoch: Optional[Callable[[dict[str, Any]], None]] = None,
        resume: bool = True,
    ) -> list[dict[str, Any]]:
        """Train until ``protocol.epochs``; resume from the folder's checkpoint when there is one.

        ``on_step(epoch, step)`` is called after every optimisation step, ``on_epoch(row)`` after every
        finished (and saved) epoch. Returns the history: one dict per epoch with :data:`COLUMNS`.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_checkpoint()
        p = self.protocol
        title = str(self.identity.get("arch", ""))[:160]
        while self.epoch < p.epochs:
            epoch = self.epoch
            lr = self.optimizer.param_groups[0]["lr"]
            t0 = time.perf_counter()
            train = self.train_epoch(epoch, on_step)
            train_seconds = time.perf_counter() - t0
            test = self.evaluate(self.test_set) if self.test_set is not None else {}
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "drop_path": float(getattr(self.model, "drop_path_prob", 0.0)),
                "train_loss": train["loss"],
                "train_objective": train["objective"],
                "train_acc": train["acc"],
                "test_loss": test.get("loss", math.nan),
                "test_acc": test.get("acc", math.nan),
                "test_top5": test.get("top5", math.nan),
                "seconds": time.perf_counter() - t0,
                "images_per_s": self.images_per_epoch / train_seconds,
            }
            self.history.append(row)
            self.epoch = epoch + 1
            self.save_checkpoint()
            write_csv(self.history, self.out / LOG)
            plot_curves(self.history, self.out / CURVES, title)
            if on_epoch is not None:
                on_epoch(row)
        return self.history
