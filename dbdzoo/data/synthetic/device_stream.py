"""``DeviceRenderStream``: endless synthetic training batches rendered on the training device.

Used for ``data.render_on: device``.

The worker path renders one sample per DataLoader item on CPU workers; this renders whole batches in the
main process with ``DeviceRenderer`` and yields them already on the device, positioned by the number of
micro-batches consumed, like ``engine.loaders.BatchStream``.

What batch k of rank r holds: samples j = (k·world + r)·B + b, b < B, each keyed by
``sample_seed(base, j)`` with base = ``sample_seed(split stream of data seed, run seed)``. A sample's
layout, σ, PSF, camera settings and labels depend only on (data seed, split, run seed, j): the union of
the ranks' k-th batches has the same labels as the single-process k-th batch of world·B samples. Pixel
noise comes from one generator per render call of ``group`` micro-batches, seeded by (base, call, rank),
so images also depend on the batch size, ``group`` and the device type. Every batch is new: ``length``
only sets the epoch (``steps_per_epoch = length // (batch_size · world_size)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from ...registry import did_you_mean
from ..io import DataError
from .dataset import SPLIT_CODES, _hw, load_texture_pool, synthetic
from .device_render import DeviceRenderer
from .render import sample_seed

NOISE_SALT = 0x6E6F697365  # "noise": the pixel-noise seeds never collide with the sample keys
RENDER_PIXELS = 256 * 128 * 128  # pixels per render call on accelerators: fewer, larger calls keep them busy
_STREAM_KEYS = {"name", "split", "length", "size", "seed", "texture_dir", "texture_exclude", "root"}
_RENDER_KEYS = set(inspect.signature(DeviceRenderer.__init__).parameters) - {"self", "height", "width", "device", "pool"}  # fmt: skip
_NO_EFFECT = {"fill_holes"}  # acts on user images only: nothing to do for procedural scenes
_WHY = {
    "image_dir": "user images and depth maps are rendered by the workers",
    "depth_dir": "user images and depth maps are rendered by the workers",
    "depth_scale": "user images and depth maps are rendered by the workers",
    "transform": "the device renderer has no augmentation pipeline",
    "start": "the stream is positioned by the consumed micro-batches",
}


def device_render_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check a ``data.train`` synthetic spec for the device renderer; ``None`` values mean the default."""
    if spec.get("name", "synthetic") != "synthetic":
        raise DataError(f"render_on: device renders the synthetic dataset only, not {spec.get('name')!r}")
    for key in spec:
        if key in _WHY:
            raise DataError(f"data.train.{key} is not supported with render_on: device ({_WHY[key]})")
        if key not in _STREAM_KEYS | _RENDER_KEYS | _NO_EFFECT:
            if key in synthetic.declared_options:
                raise DataError(f"data.train.{key} is not supported with render_on: device (a worker option)")
            hint = did_you_mean(key, _STREAM_KEYS | _RENDER_KEYS | _NO_EFFECT)
            raise DataError(f"data.train.{key} is unknown with render_on: device{hint}")
    return {k: v for k, v in spec.items() if v is not None}


class DeviceRenderStream:
    """Endless (epoch, batch) pairs of synthetic samples rendered on ``device`` (see the module doc).

    Args:
        spec: the ``data.train`` mapping of a synthetic data config.
        batch_size: micro-batch size per rank.
        seed: run seed, mixed with the spec's data seed.
        rank, world_size: this process's place in data-parallel training.
        device: where to render (and where the batches live).
        group: micro-batches per render call (default: 1 on CPU, else about 4 M pixels per call).
    """

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        batch_size: int,
        seed: int,
        rank: int,
        world_size: int,
        device: torch.device | str,
        group: int | None = None,
    ) -> None:
        opts = device_render_options(spec)
        split, length = opts.pop("split", "train"), opts.pop("length", 1000)
        if split not in SPLIT_CODES:
            raise DataError(f"synthetic: split={split!r}; expected one of {', '.join(SPLIT_CODES)}")
        if not isinstance(length, int) or length <= 0:
            raise DataError(
                f"render_on: device needs a positive data.train.length (the epoch), got {length!r}"
            )
        self.batch_size, self.rank, self.world_size = int(batch_size), int(rank), int(world_size)
        self.steps_per_epoch = length // (self.batch_size * self.world_size)
        if self.steps_per_epoch == 0:
            raise DataError(
                f"data.train.length={length} is less than one batch of {self.batch_size} × {self.world_size} rank(s)"
            )
        self.split, self.size = split, _hw(opts.pop("size", 320))
        per_batch = self.batch_size * self.size[0] * self.size[1]
        cpu = torch.device(device).type == "cpu"  # no launch overhead to amortise: the smallest calls
        self.group = int(group) if group else 1 if cpu else max(1, RENDER_PIXELS // per_batch)
        stream = sample_seed(int(opts.pop("seed", 0)), 1_000_000_007 * (SPLIT_CODES[split] + 1))
        self.base = sample_seed(stream, int(seed))
        texture_dir = opts.pop("texture_dir", opts.pop("root", None))
        exclude = tuple(opts.pop("texture_exclude", ()))
        opts.pop("name", None)
        for key in _NO_EFFECT:
            opts.pop(key, None)
        pool = load_texture_pool(Path(texture_dir), exclude=exclude) if texture_dir is not None else None
        self.renderer = DeviceRenderer(*self.size, device=device, pool=pool, **opts)
        self._cache: tuple[int, list[dict[str, Any]]] | None = None

    def indices(self, k: int) -> range:
        """Global sample indices of micro-batch ``k`` on this rank."""
        first = (k * self.world_size + self.rank) * self.batch_size
        return range(first, first + self.batch_size)

    def batch(self, k: int) -> dict[str, Any]:
        """Micro-batch ``k`` (renders its group of ``group`` micro-batches, kept until the next group)."""
        g, pos = divmod(k, self.group)
        if self._cache is None or self._cache[0] != g:
            self._cache = (g, self._render_group(g))
        return self._cache[1][pos]

    def iterate(self, consumed: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (epoch, batch) from micro-batch ``consumed`` on, forever."""
        k = int(consumed)
        while True:
            yield k // self.steps_per_epoch, self.batch(k)
            k += 1

    def _render_group(self, g: int) -> list[dict[str, Any]]:
        ks = range(g * self.group, (g + 1) * self.group)
        index = [j for k in ks for j in self.indices(k)]
        noise = sample_seed(self.base ^ NOISE_SALT, g * self.world_size + self.rank)
        out = self.renderer.render([sample_seed(self.base, j) for j in index], noise)
        bs, (h, w) = self.batch_size, self.size
        params = {k: torch.where(v.isfinite(), v, -1.0) for k, v in out.pop("params").items()}
        batches = []
        for i, k in enumerate(ks):
            part = slice(i * bs, (i + 1) * bs)
            item = {key: v[part] for key, v in out.items()}
            item["defocus_valid"] = torch.ones_like(item["defocus"])
            js = list(self.indices(k))
            item["meta"] = {
                "name": [f"synthetic_{self.split}_{j:07d}" for j in js],
                "dataset": ["synthetic"] * bs,
                "orig_size": [(h, w)] * bs,
                "native_positive": ["blur"] * bs,
                "split": [self.split] * bs,
                "index": js,
                **{key: v[part] for key, v in params.items()},
            }
            batches.append(item)
        return batches

    def __repr__(self) -> str:
        h, w = self.size
        return (
            f"DeviceRenderStream({h}×{w}, batch {self.batch_size}, rank {self.rank}/{self.world_size}, "
            f"{self.steps_per_epoch} steps/epoch, group {self.group}, device {self.renderer.device})"
        )
