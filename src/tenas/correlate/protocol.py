"""How NAS-Bench-201 cells are scored: which network and which inputs each proxy gets.

The proxies themselves know nothing about search spaces (:mod:`tenas.indicators.zoo`); this module is
the harness that turns a cell into ``(model, inputs, targets)`` for each of them:

* ``params`` and ``flops``: the benchmark's own evaluation network (C=16, N=5), as the benchmark counts;
* ``regions``: TE-NAS' thin network (the cell alone at C=1 channel, no stem) on ``region_samples``
  single-channel 3x3 crops of training images, as TE-NAS counts R_N;
* ``ntk``: the NAS-Bench-201 network at ``ntk_C`` / ``ntk_N`` on the first ``ntk_batch`` images of the batch;
* every other proxy: the NAS-Bench-201 network at ``C`` / ``N`` on the batch of ``batch_size`` images;
* a proxy with its own :class:`Setting` in ``Protocol.per_proxy`` (the ``published`` protocol of
  :mod:`tenas.correlate.presets`): that setting's network and inputs instead (the first ``batch`` images of the
  drawn batch, or ``batch`` standard-normal images).

Randomness: the batch and the crops depend on (seed, dataset) only -- every cell is scored on the same
images -- and a cell's weights on (seed, cell index) only (PyTorch's default initialisation drawn under
a seed derived from them), so a value never depends on the worker, the order or the other cells.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from typing import Any

import numpy as np
import torch
from torch import nn

#: dataset name -> (benchmark accuracy column, number of classes)
DATASETS: dict[str, tuple[str, int]] = {
    "cifar10": ("cifar10_test", 10),
    "cifar100": ("cifar100_test", 100),
    "ImageNet16-120": ("imagenet16_120_test", 120),
}
_PURPOSE = {"batch": 1, "crops": 2, "crop_images": 3, "weights": 4, "proxy": 5, "sample": 6, "gaussian": 7}


def derive_seed(*words: int | str) -> int:
    """A 63-bit seed from integers and purpose names (independent of process, worker and order)."""
    ints: list[int] = []
    for w in words:
        w = _PURPOSE[w] if isinstance(w, str) else int(w)
        ints += [w & 0xFFFFFFFF, (w >> 32) & 0xFFFFFFFF]
    return int(np.random.SeedSequence(ints).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One proxy's own network (NB201 width ``C``, ``N`` cells per stage) and inputs under a protocol."""

    C: int = 16
    N: int = 5
    batch: int = 64
    #: "data": the first ``batch`` images of the protocol's batch; "gaussian": ``batch`` N(0, 1) images
    inputs: str = "data"
    #: the side of gaussian images (0: the dataset's own)
    image_size: int = 0
    #: where the setting comes from (paper / official code), shown by ``describe``
    source: str = ""
    #: keyword options for the proxy function, ((name, value), ...), e.g. (("repeats", 32),)
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if min(self.C, self.N, self.batch) < 1 or self.image_size < 0:
            raise ValueError(f"a setting needs C, N and batch >= 1 and image_size >= 0, got {self}")
        if self.inputs not in ("data", "gaussian"):
            raise ValueError(f"a setting's inputs are 'data' or 'gaussian', got {self.inputs!r}")

    def key(self) -> dict[str, Any]:
        """What the proxy's values depend on (the source is documentation only)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "source"}


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Network sizes and batch sizes of the scoring protocol (see the module docstring)."""

    C: int = 8
    N: int = 1
    batch_size: int = 64
    ntk_C: int = 8
    ntk_N: int = 1
    ntk_batch: int = 32
    region_samples: int = 3000
    augment: bool = False
    #: the protocol's name in outputs ("fast", "published", or "custom" for one built from options)
    name: str = "custom"
    #: proxies with their own network and inputs: ((proxy, Setting), ...)
    per_proxy: tuple[tuple[str, Setting], ...] = ()

    def setting(self, proxy: str) -> Setting | None:
        """The proxy's own setting, or None when it uses the protocol's generic one."""
        return dict(self.per_proxy).get(proxy)

    def data_batch(self) -> int:
        """How many training images to draw: the most any proxy takes (a smaller batch is a prefix of it)."""
        own = [s.batch for _, s in self.per_proxy if s.inputs == "data"]
        return max([self.batch_size, self.ntk_batch, *own])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def relevant(self, proxy: str) -> dict[str, Any]:
        """The fields a proxy's values depend on (a cache checks these, so changing, say, the NTK batch
        conflicts only with cached ``ntk`` rows)."""
        own = self.setting(proxy)
        if own is not None:
            return {"setting": own.key(), "augment": self.augment}
        if proxy in ("params", "flops"):
            return {}
        if proxy == "regions":
            return {"region_samples": self.region_samples}
        if proxy == "ntk":
            return {"ntk_C": self.ntk_C, "ntk_N": self.ntk_N, "ntk_batch": self.ntk_batch,
                    "batch_size": self.batch_size, "augment": self.augment}
        return {"C": self.C, "N": self.N, "batch_size": self.batch_size, "augment": self.augment}

    def with_options(self, options: dict[str, dict[str, Any]]) -> "Protocol":
        """This protocol with keyword options added to proxies' settings (``{proxy: {key: value}}``).

        A proxy without a setting of its own gets one equal to the network and batch it was scored on (the
        generic one, or for ``ntk`` its ``ntk_*`` fields), so only the options change. ``regions``, ``params``
        and ``flops`` take no options (``ValueError``), nor may an option be one the proxy function lacks.
        """
        if not options:
            return self
        from tenas.indicators.registry import get_proxy

        own = dict(self.per_proxy)
        for proxy, extra in options.items():
            if proxy in ("regions", "params", "flops"):
                raise ValueError(f"proxy {proxy!r} takes no options")
            params = inspect.signature(get_proxy(proxy).fn).parameters
            accepted = [k for k, v in params.items() if v.kind == v.KEYWORD_ONLY and k != "seed"]
            free = any(v.kind == v.VAR_KEYWORD for v in params.values())
            bad = [] if free else [k for k in extra if k not in accepted]
            if bad:
                raise ValueError(f"proxy {proxy!r} has no option {', '.join(map(repr, bad))}; "
                                 f"its options: {', '.join(accepted) or 'none'}")
            base = own.get(proxy)
            if base is None:
                base = (Setting(C=self.ntk_C, N=self.ntk_N, batch=self.ntk_batch) if proxy == "ntk"
                        else Setting(C=self.C, N=self.N, batch=self.batch_size))
            merged = {**dict(base.options), **extra}
            own[proxy] = dataclasses.replace(base, options=tuple(sorted(merged.items())))
        return dataclasses.replace(self, per_proxy=tuple(own.items()),
                                   name=self.name if self.name.endswith("+options") else f"{self.name}+options")

    def check_needs(self, proxies: list[str]) -> None:
        """``ValueError`` naming each proxy whose required options (``Proxy.needs``) no setting supplies."""
        from tenas.indicators.registry import get_proxy

        lines = []
        for p in proxies:
            own = self.setting(p)
            given = dict(own.options) if own is not None else {}
            missing = [k for k in get_proxy(p).needs if k not in given]
            if missing:
                lines.append(f"{p} needs {', '.join(missing)}: pass "
                             + " ".join(f"--proxy-option {p}.{k}=VALUE" for k in missing))
        if lines:
            raise ValueError("; ".join(lines))

    def describe(self, space=None) -> str:
        """One line: the networks and batches each proxy sees. On a ``space`` other than NAS-Bench-201 the NB201
        widths name the space's own networks (:meth:`tenas.spaces.base.BaseSpace.proxy_network`)."""
        own = "".join(f"; {name} on C={s.C} N={s.N}, "
                      f"{f'{s.batch} image(s)' if s.inputs == 'data' else f'{s.batch} N(0,1) image(s)'}"
                      + (f" of {s.image_size}x{s.image_size}" if s.image_size else "")
                      + "".join(f", {k}={v}" for k, v in s.options)
                      for name, s in self.per_proxy)
        if space is not None and not getattr(space, "indexed_benchmark", False):
            return (f"protocol {self.name} on space {space.name!r}: each proxy on the space's final network at "
                    f"C/16 of its width (C=16: its own network; N unused), generic C={self.C}, batch "
                    f"{self.batch_size}; ntk C={self.ntk_C}, batch {self.ntk_batch}; regions on the space's region "
                    f"network, {self.region_samples} 3x3 crops; params/flops of its own network{own}")
        return (f"protocol {self.name}: proxies on NB201 C={self.C} N={self.N}, batch {self.batch_size}; "
                f"ntk on C={self.ntk_C} N={self.ntk_N}, batch {self.ntk_batch}; "
                f"regions on the C=1 one-cell thin net, {self.region_samples} 3x3 crops; "
                f"params/flops on the benchmark net (C=16 N=5){own}")


def net_spec(proxy: str, protocol: Protocol) -> tuple[str, int, int]:
    """``(kind, C, N)`` of the network a proxy is computed on."""
    if proxy in ("params", "flops"):
        return ("full", 16, 5)
    own = protocol.setting(proxy)
    if own is not None:
        return ("full", own.C, own.N)
    if proxy == "regions":
        return ("thin", 1, 1)
    if proxy == "ntk":
        return ("full", protocol.ntk_C, protocol.ntk_N)
    return ("full", protocol.C, protocol.N)


def build(cell_index: int, spec: tuple[str, int, int], num_classes: int, seed: int, space=None) -> nn.Module:
    """The network of ``spec`` for a cell (a NAS-Bench-201 index, or ``space``'s architecture string),
    default-initialised from (seed, the cell's :meth:`arch_key`) alone."""
    space = _space(space)
    arch = cell_index if isinstance(cell_index, str) else _index_arch(space, cell_index)
    kind, C, N = spec
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, space.arch_key(arch), "weights"))
        return space.proxy_network(arch, kind, C, N, num_classes)


def _space(space):
    """``space`` itself, or the default space (NAS-Bench-201, the space of ``tenas correlate``'s indices)."""
    from tenas.spaces import DEFAULT_SPACE, get_space

    return get_space(DEFAULT_SPACE) if space is None else space


def _index_arch(space, index) -> str:
    """A benchmark index of the default space as its string."""
    from tenas.spaces.nb201 import index_to_arch

    return index_to_arch(int(index))


@dataclasses.dataclass
class Inputs:
    """The data every cell is scored on: one batch (images, labels) and the region crops."""

    x: torch.Tensor
    y: torch.Tensor
    crops: torch.Tensor | None
    source: str
    seed: int = 0  # the seed the batch was drawn with (gaussian inputs are drawn from it too)

    def for_proxy(self, proxy: str, protocol: Protocol) -> tuple[torch.Tensor, torch.Tensor]:
        own = protocol.setting(proxy)
        if own is not None:
            if own.inputs == "gaussian":
                side = own.image_size or self.x.shape[-1]
                g = _generator(derive_seed(self.seed, "gaussian"))
                return torch.randn(own.batch, self.x.shape[1], side, side, generator=g), self.y[: own.batch]
            return self.x[: own.batch], self.y[: own.batch]
        if proxy == "regions":
            if self.crops is None:
                raise RuntimeError("region crops are not available (tenas.indicators.crops missing)")
            return self.crops, self.y[:0]
        if proxy == "ntk":
            return self.x[: protocol.ntk_batch], self.y[: protocol.ntk_batch]
        return self.x[: protocol.batch_size], self.y[: protocol.batch_size]


def load_inputs(dataset: str, data: str | None, seed: int, protocol: Protocol, need_crops: bool = True) -> Inputs:
    """Draw the batch (and crops) for (dataset, seed) from ``data`` (None: the embedded CIFAR-10 sample)."""
    from tenas.data import load_dataset, sample_batch, to_tensor

    ds = load_dataset(dataset, data, "train")
    x, y = sample_batch(ds, protocol.data_batch(), _generator(derive_seed(seed, "batch")), augment=protocol.augment)
    crops = None
    if need_crops:
        try:
            from tenas.indicators.crops import random_crops
        except ImportError:  # pragma: no cover - while tenas.indicators.crops is not there
            crops = None
        else:
            g = _generator(derive_seed(seed, "crop_images"))
            n_img = len(ds.y)
            idx = torch.randperm(n_img, generator=g)[: min(n_img, protocol.region_samples)].sort().values.numpy()
            images = to_tensor(np.asarray(ds.x[idx]), ds)
            crops = torch.as_tensor(random_crops(images, n=protocol.region_samples, size=3,
                                                 generator=_generator(derive_seed(seed, "crops"))))
    return Inputs(x=x, y=y, crops=crops, source=str(ds.source), seed=seed)


def score_cell(cell_index, proxies: list[str], dataset: str, seed: int, protocol: Protocol,
               inputs: Inputs, space=None, num_classes: int | None = None) -> list[tuple[str, float, str | None, float]]:
    """``[(proxy, raw, error, seconds, cpu_seconds)]`` for one cell (a NAS-Bench-201 index, or an architecture
    string of ``space``); a failure is a NaN/inf raw or an exception, never raised. Seconds are wall clock;
    cpu_seconds the process' CPU time (the cost without other jobs)."""
    from tenas.indicators.registry import get_proxy

    space = _space(space)
    arch = cell_index if isinstance(cell_index, str) else _index_arch(space, cell_index)
    num_classes = num_classes or DATASETS[dataset][1]
    key = space.arch_key(arch)
    nets: dict[tuple[str, int, int], nn.Module] = {}
    rows = []
    for name in proxies:
        t0, c0 = time.perf_counter(), time.process_time()
        raw, err = float("nan"), None
        try:
            spec = net_spec(name, protocol)
            if spec not in nets:  # building is not charged to the proxy
                nets[spec] = build(arch, spec, num_classes, seed, space)
                t0, c0 = time.perf_counter(), time.process_time()
            x, y = inputs.for_proxy(name, protocol)
            own = protocol.setting(name)
            options = dict(own.options) if own is not None else {}
            raw = float(get_proxy(name).fn(nets[spec], x, y, seed=derive_seed(seed, key, "proxy"), **options))
            if not np.isfinite(raw):
                err = "nan" if np.isnan(raw) else ("inf" if raw > 0 else "-inf")
        except Exception as exc:  # recorded, never aborts the run
            raw, err = float("nan"), f"{type(exc).__name__}: {exc}"[:500]
        rows.append((name, raw, err, time.perf_counter() - t0, time.process_time() - c0))
    return rows
