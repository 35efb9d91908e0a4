"""VKDNW: the entropy of the decile spectrum of the Fisher information of a network's weights at
initialisation (Tybl & Neumann, "Training-free Neural Architecture Search through Variance of Knowledge of
Deep Network Weights", CVPR 2025), and VKDNW_single, the paper's ranking by (number of parameter tensors,
VKDNW).

Definition. Take P scalar weights theta (below: the first entry of each of the first 128 parameter tensors).
For every sample n of the batch let J_n = d z_n / d theta (K x P, z_n the logits) and p_n the predictive
distribution, smoothed: p_n = (1 - a) softmax(z_n) + a / K with a = 0.05. The Fisher information of the
categorical likelihood is F = (1/N) sum_n J_n^T (diag(p_n) - p_n p_n^T) J_n, i.e. the expected outer product
of the per-sample score vectors J_n^T (e_y - p_n) over labels y drawn from the model's own (smoothed)
predictive distribution -- no true labels are used. With lambda the eigenvalues of F, q_1..q_9 their
deciles (``torch.quantile`` at 0.1, ..., 0.9, linear interpolation) and t_k = q_k / (sum_j q_j + 1e-10),

    VKDNW = -sum_k t_k log(t_k + 1e-10)            (between 0 and log 9; higher is predicted better).

VKDNW_single ranks networks by the number of parameter tensors (the paper's aleph, "number of trainable
layers"; the official ``vkdnw_dim``) first and VKDNW second: the official analysis takes the dense rank of
the tuples ``(vkdnw_dim, vkdnw_entropy)``. Here it is one number with that order,
``aleph + VKDNW / (1 + log 9)`` (VKDNW < 1 + log 9, so aleph always dominates; on NAS-Bench-201 at C=16,
N=5, aleph = 21 + 45 x (number of convolution edges), so any monotone combination ranks the same).

What the official code does (github.com/ondratybl/VKDNW, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``
with ``tss_general_.py``; the Table 1 runs are those of 12 November 2024, see ``paper_preparation.ipynb``):

* network: NAS-Bench-201's ``TinyNetwork`` at C=16, N=5 (``--channel 16 --num_cells 5``), BatchNorm affine
  with running statistics, freshly built; re-initialised by ``init_model(model, 'kaiming_norm_fanin')``:
  ``nn.Conv2d`` / ``nn.Linear`` weights ``kaiming_normal_(mode='fan_in', nonlinearity='relu')``, biases 0,
  BatchNorm2d / GroupNorm (affine) weight 1 and bias 0; then ``model.eval()`` -- BatchNorm normalises with
  the fresh running statistics (mean 0, variance 1), so every sample is processed independently;
* input: ``torch.randn(64, 3, R, R)`` -- Gaussian, not images (vkdnw is not among the script's
  ``real_input_metrics``), batch 64 (``--batch_size 64``), R the dataset's resolution (32 for CIFAR, 16 for
  ImageNet16-120); seeds 1..5 (``--rand_seed``), results averaged over the 5 runs;
* parameters: the first ``params_grad_len = 128`` tensors of ``model.named_parameters()``; from each, the
  entries at ``torch.linspace(0, numel - 1, steps=p).long()`` of the flattened tensor. The Table 1 code
  takes entry 0 of each tensor (``v.flatten()[0:1]``, = ``p = 1`` in the later code; ``p`` defaults to 0
  there, which selects nothing and fails, so it must be given): P <= 128. Here ``n_tensors`` and
  ``per_tensor`` (defaults 128 and 1);
* Jacobian: ``vmap`` over samples of ``jacrev`` of the logits of ``functional_call`` on that sample alone,
  with respect to the chosen entries (the rest held fixed): J of shape (N, K, P);
* probabilities: ``softmax(model(inputs)[1]) * (1 - a) + a / K`` with ``a = torch.tensor(0.05, float16)``
  (0.04998779296875): ``1 - a`` and ``a / K`` are float16 too (0.9501953125 and, for K = 10,
  0.00499725341796875), so the smoothed probabilities sum to 1.00017, not 1;
* covariance factor: the exact Cholesky factor of the multinomial covariance of Tanabe & Sagae (1992,
  Theorem 1): with q_j = 1 - sum_{i<=j} p_i (q_K set to 0) and q_0 = 1, d_j = sqrt(p_j q_j / q_{j-1}),
  L_jj = d_j, L_ij = -p_i d_j / q_j for i > j, 0 above the diagonal; the code checks L L^T = diag(p) - p p^T
  (to 1e-3) and then forms ``jacobian = L @ J_n`` and ``F = mean_n (L J_n)^T (L J_n)``. So the official
  matrix is (1/N) sum_n J_n^T L_n^T L_n J_n: L^T L, not L L^T, sits between the Jacobians, and it is *not*
  the Fisher information above (L^T L has the eigenvalues of the covariance but not its eigenvectors;
  see the tests). ``fisher="official"`` (the default: the matrix behind the published numbers) computes
  that matrix with the float16-rounded constants; ``fisher="exact"`` the Fisher information of the
  definition (a = 0.05 exactly);
* spectrum: ``torch.svd(F).S`` (float32, GPU) -- the absolute eigenvalues of the symmetric F; on a solver
  error all eigenvalues are taken as 0 (score 0). Deciles ``torch.quantile(lambdas, torch.arange(0.1, 1.,
  0.1))`` (nine levels), normalised by their L1 norm + 1e-10; entropy with log(t + 1e-10) as above;
* ``vkdnw_dim = len(list(model.named_parameters()))`` (every tensor, not only the 128 used);
* ranking (``tss_utils.get_scores``, ``paper_preparation.ipynb``): VKDNW_single = dense rank of
  ``(vkdnw_dim, vkdnw_entropy)``; VKDNW_agg = log of that rank + log rank(expressivity) + log
  rank(trainability) (AZ-NAS' components, not its progressivity) + log rank(jacov) + log rank(FLOPs), ranks
  over the scored networks (pandas average ranks; jacov's NaNs replaced by its minimum first). Not built
  here: with the registry it is the ``logrank`` ensemble of vkdnw_single, the AZ-NAS expressivity and
  trainability, jacob_cov and flops.

Here ``inputs`` is used as given (the caller chooses: the official setting is 64 N(0, 1) images at the
dataset's resolution) in eval mode on a copy of the model, re-initialised as above from ``seed`` with its
BatchNorm running statistics reset (a fresh network's), unless ``kaiming_init=False`` (then the caller's
weights and statistics, in eval mode; nothing of the caller's model changes either way). The per-sample
Jacobians are the official ones computed faster: a zero "probe" per chosen entry is added to the output of
the module owning it, times d out / d entry (closed form for Conv2d, Linear and eval-mode BatchNorm, a
``torch.func.jvp`` of the module otherwise), and one batched backward pass per chunk of classes reads
d z / d probe = J for all samples at once (2-3x faster than vmap of jacrev on the C=16, N=5 network on CPU).
That needs samples that do not interact (checked: sample 0 alone must give the batch's logits) and modules
returning tensors; otherwise -- e.g. BatchNorm without running statistics -- the official computation, vmap
of jacrev one sample at a time, is used (``jacobian_vmap``). The Jacobian is taken in float32 (the
network's precision), the matrix and its eigenvalues (``eigvalsh``, absolute values) in float64: the
official values up to float32 rounding. A non-finite matrix gives NaN (the official code scores 0 when its
solver fails); a model without parameters, or a non-positive ``n_tensors`` / ``per_tensor``, a
``ValueError``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import NORMS, borrowed, generator, logits, working_copy

#: the official label smoothing of the predictive distribution
ALPHA = 0.05
#: the official quantile levels: ``torch.arange(0.1, 1., 0.1)``, nine deciles
DECILES = tuple(k / 10 for k in range(1, 10))
EPS = 1e-10
PAPER = ("Tybl & Neumann, 'Training-free Neural Architecture Search through Variance of Knowledge of Deep "
         "Network Weights', CVPR 2025")


def quantile_entropy(eigenvalues: torch.Tensor, levels: tuple[float, ...] = DECILES) -> float:
    """``-sum t log(t + 1e-10)`` of the spectrum's quantiles ``q`` at ``levels``, ``t = q / (|q|_1 + 1e-10)``."""
    lam = eigenvalues.detach().to(torch.float64).reshape(-1)
    if lam.numel() == 0:
        raise ValueError("vkdnw needs at least one eigenvalue")
    if not bool(torch.isfinite(lam).all()):
        return float("nan")
    q = torch.quantile(lam, torch.tensor(levels, dtype=torch.float64))
    t = q / (q.abs().sum() + EPS)
    return float(-(t * torch.log(t + EPS)).sum())


def trainable_layers(model: nn.Module) -> int:
    """The paper's aleph (official ``vkdnw_dim``): how many parameter tensors ``model.named_parameters()`` yields."""
    return len(list(model.named_parameters()))


def kaiming_init_(model: nn.Module, gen: torch.Generator) -> None:
    """The official ``init_model(model, 'kaiming_norm_fanin')``, drawn from ``gen``, plus fresh BatchNorm statistics."""
    from tenas.indicators.init import kaiming_init_ as tenas_kaiming

    tenas_kaiming(model, mode="fan_in", generator=gen)
    for m in model.modules():
        if isinstance(m, NORMS) and m.track_running_stats:
            m.reset_running_stats()


def selected_entries(model: nn.Module, n_tensors: int = 128, per_tensor: int = 1) -> list[tuple[str, torch.Tensor]]:
    """``(name, flat indices)`` of the first ``n_tensors`` parameter tensors: ``linspace(0, numel - 1, per_tensor)``."""
    if n_tensors < 1 or per_tensor < 1:
        raise ValueError(f"vkdnw needs n_tensors >= 1 and per_tensor >= 1, got {n_tensors} and {per_tensor}")
    named = list(model.named_parameters())[:n_tensors]
    if not named:
        raise ValueError("vkdnw needs a model with parameters")
    return [(name, torch.linspace(0, p.numel() - 1, steps=per_tensor).long()) for name, p in named]


def jacobian_vmap(net: nn.Module, inputs: torch.Tensor,
                  entries: list[tuple[str, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample Jacobians ``(N, K, P)`` and logits ``(N, K)`` as the official code: vmap of jacrev per sample."""
    base = {name: p.detach() for name, p in net.named_parameters()}
    sizes = [len(idx) for _, idx in entries]
    delta = torch.zeros(sum(sizes), dtype=inputs.dtype, device=inputs.device)

    def sample_logits(d: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        params = dict(base)
        for (name, idx), part in zip(entries, d.split(sizes)):
            flat = base[name].reshape(-1).index_add(0, idx, part)  # theta + delta at the chosen entries
            params[name] = flat.reshape(base[name].shape)
        z = logits(functional_call(net, params, (x.unsqueeze(0),)))[0]
        return z, z.detach()

    jac, z = vmap(jacrev(sample_logits, has_aux=True), in_dims=(None, 0))(delta, inputs.detach())
    return jac.detach(), z.detach()


class _Unsupported(Exception):
    """The structure the sensitivity path needs is missing (the vmap path is used instead)."""


def _closed_form(m: nn.Module, local: str, e: int, x: object, out: torch.Tensor) -> tuple | None:
    """``(support, s)`` of d out / d (entry e of parameter ``local``) for Conv2d, Linear and eval-mode BatchNorm."""
    if not isinstance(x, torch.Tensor):
        return None
    n = out.shape[0]
    if type(m) is nn.Conv2d and m.padding_mode == "zeros" and not isinstance(m.padding, str) and x.dim() == 4:
        plane = out.shape[2] * out.shape[3]
        if local == "bias":
            o = e
            return torch.arange(o * plane, (o + 1) * plane), out.new_ones(n, plane)
        c_out, c_in, kh, kw = m.weight.shape
        o, i, a, b = (int(v) for v in torch.unravel_index(torch.tensor(e), m.weight.shape))
        channel = (o // (c_out // m.groups)) * c_in + i
        kernel = x.new_zeros(1, 1, kh, kw)
        kernel[0, 0, a, b] = 1.0
        s = torch.conv2d(x[:, channel:channel + 1], kernel, None, m.stride, m.padding, m.dilation)
        return torch.arange(o * plane, (o + 1) * plane), s.reshape(n, plane)
    if (isinstance(m, NORMS) and not m.training and m.running_mean is not None and m.affine
            and x.dim() >= 2 and x.shape[1] == m.num_features):
        plane = out[0, 0].numel()
        sup = torch.arange(e * plane, (e + 1) * plane)
        if local == "bias":
            return sup, out.new_ones(n, plane)
        xhat = (x[:, e] - m.running_mean[e]) / torch.sqrt(m.running_var[e] + m.eps)
        return sup, xhat.reshape(n, plane)
    if type(m) is nn.Linear and x.dim() == 2:
        if local == "bias":
            return torch.tensor([e]), out.new_ones(n, 1)
        o, i = divmod(e, m.in_features)
        return torch.tensor([o]), x[:, i:i + 1]
    return None


def _by_jvp(m: nn.Module, local: str, e: int, args: tuple, kwargs: dict) -> tuple:
    """``(support, s)`` of d out / d (entry e of parameter ``local``) of any module, by forward-mode AD."""
    w = getattr(m, local).detach()
    tangent = torch.zeros(w.numel(), dtype=w.dtype, device=w.device)
    tangent[e] = 1.0
    s = torch.func.jvp(lambda v: functional_call(m, {local: v}, args, kwargs), (w,), (tangent.reshape(w.shape),))[1]
    if not isinstance(s, torch.Tensor):
        raise _Unsupported(f"{type(m).__name__} does not return a tensor")
    s = s.detach().reshape(s.shape[0], -1)
    support = (s != 0).any(dim=0).nonzero().flatten()
    return support, s[:, support]


def jacobian_sensitivities(net: nn.Module, inputs: torch.Tensor, entries: list[tuple[str, torch.Tensor]],
                           chunk: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The same Jacobians from one batched pass: per entry a probe on its module's output, per class one backward."""
    owners: dict[nn.Module, list[tuple[str, int, int]]] = {}
    column = 0
    for name, idx in entries:
        path, _, local = name.rpartition(".")
        for e in idx.tolist():
            owners.setdefault(net.get_submodule(path), []).append((local, e, column))
            column += 1
    names: dict[int, int] = {}
    for _, p in net.named_parameters(remove_duplicate=False):
        names[id(p)] = names.get(id(p), 0) + 1
    if any(count > 1 for count in names.values()):
        raise _Unsupported("a parameter is shared between modules")
    n = len(inputs)
    dtype = next(net.parameters()).dtype
    probe = torch.zeros(n, column, dtype=dtype, device=inputs.device, requires_grad=True)
    busy: set[nn.Module] = set()

    def hook(m: nn.Module, args: tuple, kwargs: dict, out: object) -> object:
        if m in busy:
            return None
        if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != n:
            raise _Unsupported(f"{type(m).__name__} does not return a per-sample tensor")
        args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
        supports, values = [], []
        busy.add(m)
        try:
            for local, e, col in owners[m]:
                found = _closed_form(m, local, e, args[0] if args else None, out) if not kwargs else None
                support, s = found if found is not None else _by_jvp(m, local, e, args, kwargs)
                supports.append(support.to(out.device))
                values.append(probe[:, col:col + 1] * s)  # out + probe_e * d out / d w_e: d z / d probe_e = J_e
        finally:
            busy.discard(m)
        flat = out.reshape(n, -1).index_add(1, torch.cat(supports), torch.cat(values, dim=1))
        return flat.reshape(out.shape)

    flags = [(p, p.requires_grad) for p in net.parameters()]
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in owners]
    try:
        for p, _ in flags:
            p.requires_grad_(False)  # only the probes: no weight gradients in the backward passes
        z = logits(net(inputs.detach()))
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
    with torch.no_grad():  # samples must not interact (BatchNorm on running statistics, no cross-sample ops)
        alone = logits(net(inputs[:1].detach()))
    if not torch.allclose(alone, z[:1].detach(), rtol=1e-4, atol=1e-5 * (1.0 + float(z.detach().abs().max()))):
        raise _Unsupported("the samples of a batch interact (BatchNorm on batch statistics?)")
    k = z.shape[1]
    if not z.requires_grad:  # no chosen weight reaches the logits
        return torch.zeros(n, k, column, dtype=z.dtype, device=z.device), z.detach()
    rows = []
    for start in range(0, k, chunk):
        classes = torch.arange(start, min(k, start + chunk))
        cot = torch.zeros(len(classes), n, k, dtype=z.dtype, device=z.device)
        cot[torch.arange(len(classes)), :, classes] = 1.0
        (g,) = torch.autograd.grad(z, probe, cot, retain_graph=start + chunk < k, is_grads_batched=True,
                                   allow_unused=True, materialize_grads=True)
        rows.append(g)
    return torch.cat(rows).transpose(0, 1).contiguous(), z.detach()


def logit_jacobian(net: nn.Module, inputs: torch.Tensor, entries: list[tuple[str, torch.Tensor]],
                   method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample Jacobians ``(N, K, P)`` and logits: ``"auto"`` (sensitivities, else vmap), ``"vmap"``, ``"jvp"``."""
    if method == "vmap":
        return jacobian_vmap(net, inputs, entries)
    if method not in ("auto", "jvp"):
        raise ValueError(f"vkdnw's jacobian method must be 'auto', 'jvp' or 'vmap', got {method!r}")
    try:
        return jacobian_sensitivities(net, inputs, entries)
    except _Unsupported:
        if method == "jvp":
            raise
        return jacobian_vmap(net, inputs, entries)


def official_probabilities(z: torch.Tensor) -> torch.Tensor:
    """The official smoothed softmax, with ``1 - a`` and ``a / K`` rounded to float16 as there (float64)."""
    a = torch.tensor(ALPHA, dtype=torch.float16)
    keep, floor = float(1 - a), float(a / z.shape[1])
    return torch.softmax(z.to(torch.float64), dim=1) * keep + floor


def tanabe_sagae_factor(prob: torch.Tensor) -> torch.Tensor:
    """The lower-triangular L with ``L L^T = diag(p) - p p^T`` (Tanabe & Sagae 1992), per row of ``prob`` (N, K)."""
    q = 1.0 - torch.cumsum(prob, dim=1)
    q[:, -1] = 0.0
    q_prev = torch.cat([torch.ones_like(q[:, :1]), q[:, :-1]], dim=1)
    d = torch.sqrt(prob * q / q_prev)
    ratio = -prob[:, :, None] / q[:, None, :]  # -p_i / q_j below the diagonal (never the last column, q_K = 0)
    k = prob.shape[1]
    strictly_lower = torch.ones(k, k, dtype=torch.bool, device=prob.device).tril(-1)
    unit = torch.where(strictly_lower, ratio, torch.eye(k, dtype=prob.dtype, device=prob.device))
    return unit * d[:, None, :]


def fisher_matrix(jac: torch.Tensor, z: torch.Tensor, fisher: str = "official") -> torch.Tensor:
    """The P x P matrix from Jacobians ``(N, K, P)`` and logits ``(N, K)``: ``"official"`` or ``"exact"`` (float64)."""
    j = jac.to(torch.float64)
    if fisher == "official":
        lj = tanabe_sagae_factor(official_probabilities(z)) @ j
        return (lj.transpose(1, 2) @ lj).mean(0)
    if fisher == "exact":
        p = torch.softmax(z.to(torch.float64), dim=1) * (1 - ALPHA) + ALPHA / z.shape[1]
        cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        return (j.transpose(1, 2) @ cov @ j).mean(0)
    raise ValueError(f"vkdnw's fisher must be 'official' or 'exact', got {fisher!r}")


def vkdnw_spectrum(model: nn.Module, inputs: torch.Tensor, *, seed: int = 0, n_tensors: int = 128,
                   per_tensor: int = 1, kaiming_init: bool = True, fisher: str = "official",
                   method: str = "auto") -> torch.Tensor:
    """The absolute eigenvalues (float64, ascending) of the VKDNW matrix of ``model`` on ``inputs``."""
    if fisher not in ("official", "exact"):
        raise ValueError(f"vkdnw's fisher must be 'official' or 'exact', got {fisher!r}")
    entries = selected_entries(model, n_tensors, per_tensor)
    if kaiming_init:
        net = working_copy(model, train=False)
        kaiming_init_(net, generator(seed))
        jac, z = logit_jacobian(net, inputs, entries, method)
    else:
        with borrowed(model, train=False) as net:
            jac, z = logit_jacobian(net, inputs, entries, method)
    mat = fisher_matrix(jac, z, fisher)
    if not bool(torch.isfinite(mat).all()):
        return torch.full((mat.shape[0],), float("nan"), dtype=torch.float64)
    return torch.linalg.eigvalsh(mat).abs().sort().values


@register_proxy("vkdnw", higher_is_better=True, paper=PAPER)
def vkdnw(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
          n_tensors: int = 128, per_tensor: int = 1, kaiming_init: bool = True, fisher: str = "official") -> float:
    """Entropy of the normalised deciles of the Fisher spectrum of one weight per tensor (first 128 tensors)."""
    lam = vkdnw_spectrum(model, inputs, seed=seed, n_tensors=n_tensors, per_tensor=per_tensor,
                         kaiming_init=kaiming_init, fisher=fisher)
    return quantile_entropy(lam)


@register_proxy("vkdnw_single", higher_is_better=True, paper=PAPER)
def vkdnw_single(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
                 n_tensors: int = 128, per_tensor: int = 1, kaiming_init: bool = True,
                 fisher: str = "official") -> float:
    """Number of parameter tensors + VKDNW / (1 + log 9): ranks by tensor count, then by VKDNW."""
    h = vkdnw(model, inputs, targets, seed=seed, n_tensors=n_tensors, per_tensor=per_tensor,
              kaiming_init=kaiming_init, fisher=fisher)
    return trainable_layers(model) + h / (1.0 + math.log(len(DECILES)))
