"""Candidate batching: kappa_N and R_N of many candidates of one supernet in one vmapped pass.

The candidates of a round differ only in which ops are alive. Written as op *weights* over one set of
parameters (``space.edge_weights(mask)``: the weighted forward equals the masked one), a candidate is an input
of the network, and ``torch.func.vmap`` over the weights measures a chunk of candidates at once:

* kappa_N: per candidate, ``jacrev`` of the per-sample sums of logits with respect to TE-NAS' weights (names
  holding ``"weight"``), through the whole-batch graph -- BatchNorm in train mode on each candidate's own batch
  statistics, so the coupling of the samples is kept exactly -- then ``J J^T`` in float64 and the same
  condition number as :func:`tenas.indicators.ntk.ntk_condition_number`;
* R_N: the forward over the crops (in chunks, BatchNorm statistics per chunk as TE-NAS), every ``nn.ReLU``'s
  on/off pattern returned from the vmapped function; the ReLUs of ops a candidate has switched off are
  masked to a constant (they do not run in the one-at-a-time measurement, and a constant column changes no
  count), then the distinct rows counted per candidate.

On CPU the Jacobian pass runs in float64 (``dtype="auto"``): in float32 there, torch's native convolutions
under ``vmap(jacrev)`` over several candidates were off by up to 5 % and oneDNN's by up to ~1e-3 against
float64 (torch 2.13; ``tests/test_batched.py``), while float64 is exact; CPU batching is opt-in and slow anyway.
On CUDA it is float32 (cuDNN, TF32 off), as the one-at-a-time measurement.
BatchNorm runs without running statistics (``track_running_stats`` off on a copy): in train mode the output is
the same, and nothing is updated in place under vmap. Every candidate costs a full supernet here (switched-off
ops are computed and multiplied by 0), which a GPU absorbs; on a CPU the one-at-a-time path, which skips them,
is faster (``benchmarks/speed/bench_batched.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["batched_kappas", "batched_regions", "prepared", "is_out_of_memory"]


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA or CPU allocation failure (the chunk is then halved and the pass retried)."""
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, (oom, MemoryError)) or (
        isinstance(exc, RuntimeError) and ("out of memory" in str(exc) or "can't allocate memory" in str(exc)))


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def prepared(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for vmapped measurement: train mode, BatchNorm without running statistics."""
    net = copy.deepcopy(model)
    torch.func.replace_all_batch_norm_modules_(net)
    return net.train()


def _weights(space, masks: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    w = np.stack([space.edge_weights(np.asarray(m, dtype=bool)) for m in masks])
    return torch.as_tensor(w, device=device)


def batched_kappas(space, net: nn.Module, inputs: torch.Tensor, masks: Sequence[np.ndarray], *,
                   chunk: int = 8, row_chunk: int | None = None, per_mask_inputs: bool = False,
                   dtype: str | torch.dtype = "auto") -> list[float]:
    """kappa_N of ``net`` (a space's NTK supernet, prepared or not) for each alive mask, ``chunk`` candidates
    per vmapped pass and ``row_chunk`` rows of J per backward batch (None: all); equal to one at a time.
    ``per_mask_inputs``: ``inputs`` is K x N x ... , one batch per mask (the official protocol's). ``dtype``:
    of the pass; ``"auto"``: float64 on CPU, the inputs' on other devices (see the module doc)."""
    from tenas.indicators.ntk import _exact_cuda, condition_number, ntk_weights

    device = inputs.device
    if dtype == "auto":
        dtype = torch.float64 if device.type == "cpu" else inputs.dtype
    model = prepared(net).to(dtype)
    inputs = inputs.to(dtype)
    names = [n for n, _ in ntk_weights(model)]
    weights = {n: p.detach() for n, p in model.named_parameters() if n in names}
    rest = {n: p.detach() for n, p in model.named_parameters() if n not in weights}
    n = inputs.shape[1] if per_mask_inputs else inputs.shape[0]

    def sums(ws: dict[str, torch.Tensor], w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, {**ws, **rest}, (x,), {"edge_weights": w})
        return out.sum(1)  # the output of sample i: the sum of its logits (TE-NAS)

    def jacobian(w: torch.Tensor, x: torch.Tensor, rows: int) -> dict[str, torch.Tensor]:
        dims = (None, 0, 0 if per_mask_inputs else None)
        return torch.func.vmap(torch.func.jacrev(sums, chunk_size=rows), in_dims=dims)(weights, w, x)

    kappas: list[float] = []
    all_w = _weights(space, masks, device).to(dtype)
    rows = n if row_chunk is None else max(1, min(int(row_chunk), n))
    chunk = max(1, int(chunk))
    start = 0
    while start < len(masks):
        w = all_w[start:start + chunk]
        try:
            with _exact_cuda(device):  # on CUDA: full float32, deterministic
                J = jacobian(w, inputs[start:start + chunk] if per_mask_inputs else inputs, rows)
        except Exception as exc:  # memory bounded: fewer rows per backward, then fewer candidates per pass
            if not is_out_of_memory(exc) or (rows == 1 and chunk == 1):
                raise
            _free(device)
            if rows > 1:
                rows = (rows + 1) // 2
            else:
                chunk = (chunk + 1) // 2
            continue
        start += w.shape[0]
        k = w.shape[0]
        ntk = torch.zeros(k, n, n, dtype=torch.float64, device=device)
        for name in names:
            jk = J[name].reshape(k, n, -1).double()
            ntk += jk @ jk.transpose(1, 2)
        del J
        kappas.extend(float(condition_number(ntk[i])) for i in range(k))
    return kappas


def batched_regions(space, net: nn.Module, crops: torch.Tensor, masks: Sequence[np.ndarray], *,
                    batch_size: int = 1000, chunk: int = 8, per_mask_crops: bool = False,
                    per_mask_params: dict[str, torch.Tensor] | None = None) -> list[float]:
    """R_N of ``net`` (a space's thin region supernet) for each alive mask over ``crops`` (forwarded in chunks
    of ``batch_size``), ``chunk`` candidates per vmapped pass; equal to one at a time. ``per_mask_crops``:
    ``crops`` is K x n x ..., one set per mask; ``per_mask_params``: the parameters stacked K x ... , one draw
    per mask (the official protocol draws the thin network per candidate)."""
    from tenas.indicators.regions import count_distinct_rows

    model = prepared(net)
    owner = model.op_of_relu()  # id(ReLU) -> its op's index in the flattened mask; absent: always runs
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    params = per_mask_params if per_mask_params is not None else {n: p.detach() for n, p in model.named_parameters()}
    captured: list[tuple[nn.Module, torch.Tensor]] = []

    def hook(module, args, output):
        captured.append((module, output > 0))

    def patterns(ps: dict[str, torch.Tensor], w: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
        captured.clear()
        torch.func.functional_call(model, ps, (part,), {"edge_weights": w})
        flat_w = w.reshape(-1)
        cols = []
        for module, on in captured:
            on = on.reshape(on.shape[0], -1)
            where = owner.get(id(module))
            if where is not None:  # a switched-off op's ReLU does not run one at a time: constant here
                on = on & (flat_w[where] > 0)
            cols.append(on)
        captured.clear()
        return torch.cat(cols, dim=1)

    handles = [m.register_forward_hook(hook) for m in relus]
    counts: list[float] = []
    try:
        all_w = _weights(space, masks, crops.device)
        run = torch.func.vmap(patterns, in_dims=(0 if per_mask_params is not None else None, 0,
                                                 0 if per_mask_crops else None))
        n_crops = crops.shape[1] if per_mask_crops else crops.shape[0]
        chunk = max(1, int(chunk))
        start = 0
        with torch.no_grad():
            while start < len(masks):
                w = all_w[start:start + chunk]
                stop = start + w.shape[0]
                ps = params if per_mask_params is None else {k: v[start:stop] for k, v in params.items()}
                cs = crops[start:stop] if per_mask_crops else crops
                try:
                    parts = [run(ps, w, cs[:, s:s + batch_size] if per_mask_crops else cs[s:s + batch_size]).cpu()
                             for s in range(0, n_crops, batch_size)]
                except Exception as exc:  # memory bounded: fewer candidates per pass
                    if not is_out_of_memory(exc) or chunk == 1:
                        raise
                    _free(crops.device)
                    chunk = (chunk + 1) // 2
                    continue
                start += w.shape[0]
                bits = torch.cat(parts, dim=1).numpy()  # k x n x columns
                counts.extend(float(count_distinct_rows(np.packbits(b, axis=1))) for b in bits)
    finally:
        for h in handles:
            h.remove()
    return counts
