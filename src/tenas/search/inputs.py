"""The inputs a search measures on: the NTK batch and the region crops of (round, repeat[, candidate]),
drawn deterministically from the search's seed (independent of process, worker and order)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["derive_seed", "InputSource"]

_PURPOSE = {"batch": 1, "crops": 2, "ntk_init": 3, "region_init": 4, "crop_images": 5}


def derive_seed(seed: int, round_index: int, repeat: int, purpose: str, unit: int | None = None) -> int:
    """A 63-bit seed from (seed, round, repeat, purpose[, unit]), independent of process and worker."""
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF, round_index, repeat, _PURPOSE[purpose]]
    if unit is not None:
        words.append(int(unit) + 1)
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


class InputSource:
    """Draws the NTK batch and the region crops for (round, repeat) from a dataset, deterministically."""

    def __init__(self, dataset, config):
        from tenas.data import sample_batch, to_tensor

        self._dataset = dataset
        self._config = config
        self._sample_batch = sample_batch
        self._to_tensor = to_tensor
        if config.batch_size > len(dataset.y):
            raise ValueError(
                f"--batch-size {config.batch_size} is larger than the data ({len(dataset.y)} images in {dataset.source})"
            )

    def batch(self, round_index: int, repeat: int, unit: int | None = None) -> np.ndarray:
        """The NTK batch of (round, repeat[, candidate]): augmented, normalised, distinct images."""
        return self.labelled_batch(round_index, repeat, unit)[0]

    def labelled_batch(self, round_index: int, repeat: int, unit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`batch` and its labels."""
        seed = derive_seed(self._config.seed, round_index, repeat, "batch", unit)
        x, y = self._sample_batch(self._dataset, self._config.batch_size, _generator(seed), augment=True)
        return x.numpy(), y.numpy()

    def crops(self, round_index: int, repeat: int, unit: int | None = None, distinct: bool = False) -> np.ndarray:
        """The region crops of (round, repeat[, candidate]). ``distinct``: as the official loader draws them,
        each chunk of ``region_batch`` crops from as many distinct images (one random channel and position
        each); otherwise from random images drawn with replacement."""
        from tenas.indicators.crops import random_crops

        cfg = self._config
        if distinct:
            return self._distinct_crops(_generator(derive_seed(cfg.seed, round_index, repeat, "crops", unit)))
        g = _generator(derive_seed(cfg.seed, round_index, repeat, "crop_images", unit))
        n_img = len(self._dataset.y)
        idx = torch.randint(n_img, (min(n_img, cfg.region_samples),), generator=g).numpy()
        images = self._to_tensor(self._dataset.x[np.sort(idx)], self._dataset)
        g2 = _generator(derive_seed(cfg.seed, round_index, repeat, "crops", unit))
        return random_crops(images, n=cfg.region_samples, size=3, generator=g2).numpy()

    def _distinct_crops(self, g: torch.Generator) -> np.ndarray:
        cfg = self._config
        n_img = len(self._dataset.y)
        chunks, left = [], cfg.region_samples
        while left > 0:
            take = min(cfg.region_batch, left, n_img)
            idx = torch.randperm(n_img, generator=g)[:take].numpy()
            images = self._to_tensor(self._dataset.x[idx], self._dataset)
            n, c, h, w = images.shape
            ch = torch.randint(c, (n,), generator=g)
            top = torch.randint(h - 2, (n,), generator=g)
            left_ = torch.randint(w - 2, (n,), generator=g)
            offs = torch.arange(3)
            rows = (top[:, None] + offs)[:, :, None]
            cols = (left_[:, None] + offs)[:, None, :]
            chunks.append(images[torch.arange(n)[:, None, None], ch[:, None, None], rows, cols].unsqueeze(1))
            left -= take
        return torch.cat(chunks).contiguous().numpy()
