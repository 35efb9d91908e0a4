"""Named scoring protocols: ``published`` (each proxy as its paper's official code runs it on NAS-Bench-201) and
``fast`` (one cheap setting for every proxy), the choices of ``tenas score`` / ``tenas correlate --protocol``.

``published`` is the default, so that a table from ``tenas correlate`` compares with the literature:

* the gradient-saliency and Jacobian proxies (snip, grad_norm, fisher, grasp, synflow, jacob_cov) as Abdelfattah et
  al. ("Zero-Cost Proxies for Lightweight NAS", ICLR 2021) score NAS-Bench-201 (SamsungLabs/zero-cost-nas,
  ``nasbench2_pred.py``): the benchmark's own network (C=16, N=5), one random batch of 64 training images,
  PyTorch's default initialisation (``--init_w_type none``), train mode;
* naswot, zico, zen and the proxies without a setting of their own: the same network and batch (C=16, N=5,
  64 images);
* ntk: TE-NAS' own NAS-Bench-201 setting (VITA-Group/TENAS ``prune_tenas.py``: the NTK network at C=3, N=1;
  ``prune_launch.py``: batch 72); regions: TE-NAS' thin network (C=1, one cell, no stem) on 3,000 crops;
* params / flops: the benchmark network, as the benchmark counts them;
* swap: SWAP's official ``correlation.py`` (pym1024/SWAP; its only script, for DARTS cells) scores the reduced
  one-cell network at C=3 on the first 16 training images, averaged over 32 Gaussian re-initialisations; here the
  NB201 analogue: C=3, N=1, 16 images, ``repeats=32``. ``reg_swap`` runs in the same setting, but it needs ``mu`` /
  ``sigma`` that neither the repository nor the sources we could read give for NB201, so the user passes them
  (``--proxy-option reg_swap.mu=M``; values fitted on a held-out sample: README) and ``all`` leaves it out;
* az_expressivity / az_progressivity / az_trainability / az_complexity (AZ-NAS, cvlab-yonsei/AZ-NAS as run by
  ondratybl/VKDNW ``NB201``): the C=16, N=5 network; the proxies themselves re-initialise a copy (Kaiming fan-in)
  and draw standard-normal images shaped like the batch (64), as the official code does;
* vkdnw / vkdnw_single (ondratybl/VKDNW ``NB201``): the C=16, N=5 network (the proxies re-initialise a copy,
  Kaiming), on 64 standard-normal images (``torch.randn(64, 3, 32, 32)`` in the official code);
* meco: MeCo's official NB201 script (HamsterMimi/MeCo ``correlation/NAS_Bench_201.py``) feeds ONE training
  image (``--batch_size 1``) to the C=16, N=5 network.

``fast`` is the setting every table of this project used before (C=8, N=1, batch 64; ntk C=8, N=1, batch 32):
about 8x cheaper, and it loses snip / grad_norm / fisher / grasp (benchmarks/results/bench_proxies_2026-11-28.txt).
"""

from __future__ import annotations

from tenas.correlate.protocol import Protocol, Setting

__all__ = ["PROTOCOLS", "FAST", "PUBLISHED", "get_protocol"]

FAST = Protocol(name="fast")
PUBLISHED = Protocol(
    name="published",
    C=16, N=5, batch_size=64,
    ntk_C=3, ntk_N=1, ntk_batch=72,
    region_samples=3000,
    per_proxy=(
        ("meco", Setting(C=16, N=5, batch=1, source="MeCo official NB201 script: one training image")),
        ("vkdnw", Setting(C=16, N=5, batch=64, inputs="gaussian", source="VKDNW official NB201 code: 64 N(0,1) images")),
        ("vkdnw_single", Setting(C=16, N=5, batch=64, inputs="gaussian",
                                 source="VKDNW official NB201 code: 64 N(0,1) images")),
        ("swap", Setting(C=3, N=1, batch=16, options=(("repeats", 32),),
                         source="SWAP official correlation.py: 1-cell C=3 net, 16 images, 32 Gaussian re-inits")),
        ("reg_swap", Setting(C=3, N=1, batch=16, options=(("repeats", 32),),
                             source="as swap; mu / sigma from --proxy-option (no published NB201 values)")),
    ),
)
#: every named protocol, by the name ``--protocol`` takes
PROTOCOLS: dict[str, Protocol] = {"published": PUBLISHED, "fast": FAST}


def get_protocol(name: str) -> Protocol:
    """The named protocol; ``ValueError`` lists the names."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None
