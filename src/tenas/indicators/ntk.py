"""TE-NAS' trainability indicator kappa_N: the condition number of the empirical neural tangent kernel.

Definition (TE-NAS ``lib/procedures/ntk.py``, for any ``nn.Module``):

* the whole batch is forwarded once with the model in **train mode**: BatchNorm normalises with the batch
  statistics and gradients flow through them, so every sample's output depends on every other sample;
* the output of sample ``i`` is the **sum of its logits** (``kernel="sum"``);
* ``J[i] = d(output i) / d theta`` over every parameter whose name contains ``"weight"`` and that requires
  grad (parameters the output does not depend on contribute nothing);
* ``NTK = J J^T`` (N x N, accumulated in float64) and ``kappa = lambda_max / lambda_min`` from a float64
  symmetric eigensolver.

``kernel="full"`` gives the multi-output empirical NTK instead: one row of ``J`` per (sample, logit) pair,
sample-major, an ``N*C x N*C`` matrix.

Conventions: :func:`condition_number` returns ``inf`` whenever ``lambda_min <= 0`` or anything is not
finite (a rank-deficient or broken kernel) and never raises from the eigensolver; a batch of one gives the
1 x 1 kernel and ``kappa = 1.0``. The model is left as it was: modes are restored, no ``.grad`` is created
(gradients come from ``torch.autograd.grad``), and buffers (BatchNorm running statistics, batch counters) are
replaced by copies for the measurement (``torch.func.functional_call``), so they are not changed.

How the rows of ``J`` are computed (``method``): the samples are coupled through BatchNorm, so ``J`` needs one
vector-Jacobian product of the *whole-batch* graph per row -- per-sample ``vmap`` would compute a different
kernel. ``"loop"`` does one ``autograd.grad`` per row on the retained graph (TE-NAS' procedure);
``"batched"`` does chunks of rows at once with ``is_grads_batched=True``; ``"threads"`` does the loop's
rows from several Python threads at once over the same retained graph (concurrent ``autograd.grad`` calls
on a shared graph with ``retain_graph=True`` are supported by PyTorch), each row single-threaded: the
small convolutions of a supernet use one core far better than two cores use them through intra-op
threads, and several threads hide the autograd engine's per-op overhead. ``"auto"`` picks ``"threads"``
on CPU (measured fastest, see ``benchmarks/speed/bench_ntk.py``) and ``"loop"`` on other devices.

With ``"threads"`` the whole measurement (forward included) runs with ``torch.set_num_threads(1)`` and
:func:`row_threads` worker threads; torch's thread count is restored on return. Every row is then computed
by the same single-threaded kernels whatever the machine's core count or the scheduling of the threads,
so the result does not depend on either (bitwise). On CUDA the measurement runs cuDNN in full float32
(TF32 off) with deterministic algorithms.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator

import torch
from torch import nn

from tenas.indicators.ntk_harness import (_gram64, check_inputs, forward, measuring, ntk_weights,  # noqa: F401
                                          required_weights)

__all__ = ["ntk_condition_number", "ntk_matrix", "condition_number", "ntk_weights", "required_weights", "row_threads",
           "METHODS", "KERNELS", "BN_MODES"]

METHODS = ("auto", "loop", "batched", "threads")
KERNELS = ("sum", "full")
#: ``"batch"``: BatchNorm normalises with the batch statistics and is differentiated through them (TE-NAS);
#: ``"fixed"``: the statistics are held at the batch's values (an estimator; see :mod:`tenas.indicators.ntk_fixed_bn`).
BN_MODES = ("batch", "fixed")
#: Rows per ``is_grads_batched`` call of ``method="batched"``.
BATCHED_CHUNK = 8


def row_threads(intra_op_threads: int) -> int:
    """Worker threads of ``method="threads"`` for a process that had ``intra_op_threads`` torch threads:
    twice as many (at least 2), measured best on 2 cores (one thread per core leaves the cores idle while a
    thread runs Python or waits for the interpreter lock)."""
    return max(2, 2 * intra_op_threads)


#: Serialises the sections that change torch's (process-wide) thread count, so that calls from several
#: user threads at once cannot restore each other's setting wrongly; they would compete for the cores anyway.
_THREAD_COUNT_LOCK = threading.Lock()


@contextlib.contextmanager
def _single_threaded_ops() -> Iterator[int]:
    """torch's intra-op thread count set to 1 inside, restored after; yields the count it had."""
    with _THREAD_COUNT_LOCK:
        before = torch.get_num_threads()
        if before != 1:
            torch.set_num_threads(1)
        try:
            yield before
        finally:
            if before != 1:
                torch.set_num_threads(before)


def _grad_row(outputs: torch.Tensor, i: int, ws: list[torch.Tensor], sizes: list[int], out: torch.Tensor) -> None:
    gs = torch.autograd.grad(outputs[i], ws, retain_graph=True, allow_unused=True)
    torch.cat([(torch.zeros(s, dtype=out.dtype, device=out.device) if g is None else g.reshape(-1))
               for g, s in zip(gs, sizes)], out=out)


def _threaded_rows(outputs: torch.Tensor, ws: list[torch.Tensor], sizes: list[int], jac: torch.Tensor,
                   threads: int) -> None:
    """Rows 1.. of ``jac`` from ``threads`` threads taking the next row from a shared counter."""
    m = outputs.shape[0]
    lock = threading.Lock()
    counter = iter(range(1, m))

    def work() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            _grad_row(outputs, i, ws, sizes, jac[i])

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tenas-ntk") as pool:
        futures = [pool.submit(work) for _ in range(min(threads, m - 1))]
        for f in futures:
            f.result()  # re-raises a worker's exception


def _jacobian_rows(outputs: torch.Tensor, weights: list[torch.Tensor], method: str, threads: int = 2) -> torch.Tensor:
    """J: one row per element of ``outputs`` (1-D), columns over the used weights, in their dtype."""
    m = outputs.shape[0]
    # which weights the outputs depend on (autograd gives None for the others; they add nothing to J J^T)
    probe = torch.autograd.grad(outputs[0], weights, retain_graph=True, allow_unused=True)
    used = [i for i, g in enumerate(probe) if g is not None]
    if not used:
        raise ValueError("the model's output does not depend on any of its weight parameters")
    ws = [weights[i] for i in used]
    sizes = [w.numel() for w in ws]
    dtype = functools.reduce(torch.promote_types, (w.dtype for w in ws))
    jac = torch.empty((m, sum(sizes)), dtype=dtype, device=outputs.device)
    torch.cat([probe[i].reshape(-1) for i in used], out=jac[0])
    if m == 1:
        return jac
    if method == "batched":
        eye = torch.eye(m, dtype=outputs.dtype, device=outputs.device)
        for start in range(1, m, BATCHED_CHUNK):
            stop = min(m, start + BATCHED_CHUNK)
            gs = torch.autograd.grad(outputs, ws, grad_outputs=eye[start:stop], retain_graph=True,
                                     is_grads_batched=True, allow_unused=True)
            torch.cat([(torch.zeros((stop - start, s), dtype=dtype, device=jac.device) if g is None
                        else g.reshape(stop - start, -1)) for g, s in zip(gs, sizes)], dim=1, out=jac[start:stop])
    elif method == "threads":
        _threaded_rows(outputs, ws, sizes, jac, threads)
    else:
        for i in range(1, m):
            _grad_row(outputs, i, ws, sizes, jac[i])
    return jac


def _exact_cuda(device: torch.device) -> contextlib.AbstractContextManager:
    """On CUDA: cuDNN in full float32 (no TF32) and deterministic algorithms for the measurement."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    cudnn = torch.backends.cudnn
    return cudnn.flags(enabled=cudnn.enabled, benchmark=False, deterministic=True, allow_tf32=False)


def ntk_matrix(model: nn.Module, inputs: torch.Tensor, *, kernel: str = "sum", method: str = "auto",
               bn: str = "batch") -> torch.Tensor:
    """The empirical NTK ``J J^T`` (float64, on the inputs' device) with TE-NAS semantics (see module doc).

    ``kernel="sum"``: N x N, the output of a sample is the sum of its logits. ``kernel="full"``: N*C x N*C,
    one row per (sample, logit), sample-major. ``bn="fixed"``: BatchNorm statistics held at the batch's
    values instead (not TE-NAS' kernel; ``method`` is then ignored, see :mod:`tenas.indicators.ntk_fixed_bn`).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}")
    inputs = check_inputs(inputs)
    if bn == "fixed":
        from tenas.indicators.ntk_fixed_bn import fixed_bn_ntk

        return fixed_bn_ntk(model, inputs, kernel=kernel)
    weights = required_weights(model)
    from tenas._alloc import tune_allocator

    tune_allocator()
    if method == "auto":
        method = "threads" if inputs.device.type == "cpu" else "loop"
    threads = contextlib.nullcontext(torch.get_num_threads()) if method != "threads" else _single_threaded_ops()
    with threads as intra_op, _exact_cuda(inputs.device), measuring(model, train=True) as buffers, \
            torch.enable_grad():
        out = forward(model, buffers, inputs)
        if not out.requires_grad:
            raise ValueError("the model's output does not depend on any of its weight parameters")
        n = out.shape[0]
        rows = out.reshape(n, -1).sum(1) if kernel == "sum" else out.reshape(-1)
        jac = _jacobian_rows(rows, [p for _, p in weights], method, row_threads(intra_op))
        del out, rows
        return _gram64(jac)


def condition_number(kernel: torch.Tensor) -> float:
    """``lambda_max / lambda_min`` of a symmetric kernel from a float64 eigensolver.

    Returns ``inf`` when ``lambda_min <= 0``, when the kernel or the result is not finite, or when the
    eigensolver fails -- never NaN, never an exception for a square matrix. A 1 x 1 kernel ``[[k]]`` with
    ``k > 0`` gives 1.0.
    """
    k = torch.as_tensor(kernel).detach().to(device="cpu", dtype=torch.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ValueError(f"a kernel must be a non-empty square matrix, got shape {tuple(k.shape)}")
    if not bool(torch.isfinite(k).all()):
        return math.inf
    try:
        eig = torch.linalg.eigvalsh((k + k.T) * 0.5)
    except RuntimeError:  # torch.linalg.LinAlgError: no convergence
        return math.inf
    lo, hi = float(eig[0]), float(eig[-1])
    if not (lo > 0.0) or not math.isfinite(hi):
        return math.inf
    value = hi / lo
    return value if math.isfinite(value) else math.inf


def ntk_condition_number(model: nn.Module, inputs: torch.Tensor, *, kernel: str = "sum", method: str = "auto",
                         bn: str = "batch") -> float:
    """TE-NAS' kappa_N of ``model`` on the batch ``inputs``: :func:`condition_number` of :func:`ntk_matrix`.

    Lower means better conditioned (predicted more trainable). ``inf`` for a singular kernel (e.g. more
    samples than the weights can separate, or a dead network). A batch of one gives 1.0. ``bn="fixed"``:
    the cheaper fixed-statistics estimator (see :func:`ntk_matrix`).
    """
    return condition_number(ntk_matrix(model, inputs, kernel=kernel, method=method, bn=bn))
