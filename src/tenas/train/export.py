"""A trained network as files and back: ``model.pt`` (a plain state dict), ``model.json`` (how to rebuild it and
how to normalise its inputs), optionally ``model.onnx``; :func:`load_trained` returns the ready module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

WEIGHTS = "model.pt"
META = "model.json"
ONNX = "model.onnx"

__all__ = ["TrainedModel", "save_trained", "load_trained", "export_onnx", "WEIGHTS", "META", "ONNX"]


class TrainedModel(nn.Module):
    """A trained network with its input normalisation attached: ``forward`` takes float images in 0..1
    (N x 3 x S x S) and returns logits; :meth:`predict` takes uint8 N x S x S x 3 arrays and returns labels."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...], image_size: int,
                 classes: tuple[str, ...] | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.image_size = int(image_size)
        self.classes = tuple(classes) if classes is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected float images N x 3 x H x W in 0..1, got shape {tuple(x.shape)}")
        out = self.net((x - self.mean) / self.std)
        return out[0] if isinstance(out, tuple) else out

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class indices of uint8 images N x S x S x 3 (as :mod:`tenas.data` holds them)."""
        x = torch.as_tensor(np.asarray(images))
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"predict expects uint8 images N x H x W x 3, got {x.dtype} of shape {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).float().div_(255.0).to(self.mean.device)
        return self(x).argmax(1).cpu().numpy()


def save_trained(out: str | Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write ``model.pt`` (the state dict, loadable with ``torch.load(weights_only=True)``) and ``model.json``."""
    from tenas.train.trainer import _atomic

    out = Path(out)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic(out / WEIGHTS, lambda f: torch.save(state, f))
    _atomic(out / META, lambda f: f.write(json.dumps(meta, indent=2)), mode="w")


def load_trained(out: str | Path, device: str = "cpu") -> TrainedModel:
    """The network ``tenas train`` wrote to ``out``, in eval mode, normalisation attached (see :class:`TrainedModel`)."""
    from tenas.train.models import build_model
    from tenas.train.protocols import PROTOCOLS

    out = Path(out)
    for name in (META, WEIGHTS):
        if not (out / name).is_file():
            raise FileNotFoundError(f"{out / name} is missing: expected a folder written by tenas train "
                                    f"(holding {META} and {WEIGHTS})")
    try:
        meta = json.loads((out / META).read_text(encoding="utf-8"))
        protocol = PROTOCOLS[meta["protocol"]].with_overrides(auxiliary_weight=meta.get("auxiliary_weight"))
        net = build_model(meta["space"], meta["arch"], meta["dataset"], protocol, channels=meta["channels"],
                          cells=meta["cells"], num_classes=meta["num_classes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{out / META} does not describe a trained network ({type(exc).__name__}: {exc})") from None
    net.load_state_dict(torch.load(out / WEIGHTS, map_location="cpu", weights_only=True))
    classes = meta.get("classes")
    model = TrainedModel(net, tuple(meta["mean"]), tuple(meta["std"]), meta["image_size"],
                         tuple(classes) if classes else None)
    return model.to(device).eval()


def export_onnx(model: TrainedModel, path: str | Path) -> Path:
    """``model`` (0..1 images in, logits out; batch dimension dynamic) as an ONNX file; needs ``onnx``."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise RuntimeError("--export onnx needs the onnx package: pip install onnx") from None
    import copy

    path = Path(path)
    model = copy.deepcopy(model).cpu().eval()
    for m in model.modules():  # NB201's fused cells build kernels on the fly: export the plain, equal ops
        if hasattr(m, "fused"):
            m.fused = False
    x = torch.zeros(1, 3, model.image_size, model.image_size)
    import warnings

    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    return path
