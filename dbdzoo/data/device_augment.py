"""The random stage of the br2net, zhao320 and dmenet recipes, batched on the training device.

``data.augment_on=device``: with crop, flips and rotation done per image on the CPU, the loader workers
rather than the GPU set the training speed on real datasets. Here a worker does only the deterministic part
(decode, the recipe's rescale) and ships its images as they are: uint8, channels last, binary masks as
uint8, a batch's samples concatenated flat with their sizes beside them (no padding to the largest, which
for CUHK's mixed portrait and landscape images more than doubled the bytes). The device crops, flips and
turns by indexing (exact) and rotates with one ``grid_sample`` (bilinear for images and σ, nearest for
masks, zeros outside the crop as albumentations' constant border).

Each sample's draws come from its own seed, the (seed, epoch, index) seed the worker path gives
albumentations, so a run is reproducible for any worker count and resumable mid-epoch. The draws follow the
albumentations ops' distributions, not their random streams: both paths give equally distributed batches,
not identical ones (``tests/data/test_device_augment.py`` checks crop positions, flip and angle frequencies
and image/mask alignment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F

from .collate import collate
from .io import DataError
from .transforms import _TARGETS, MAP_KEYS, PairedTransform, Rot90Choice

#: recipes whose random stage has a device form (the others have no random stage at all)
DEVICE_RECIPES = ("br2net", "zhao320", "dmenet")


class WorkerStage(PairedTransform):
    """A recipe's deterministic rescale only: H×W×C images as decoded, H×W maps, the sample's seed.

    ``seed_transforms`` re-seeds it per sample exactly as it re-seeds the full pipeline, so the device
    draws from the seed the worker path would have used.
    """

    def __init__(self, recipe: PairedTransform) -> None:
        super().__init__(recipe.resize, recipe.interpolation, (), None, recipe.name)
        self.seed = 0

    def set_random_seed(self, seed: int) -> None:
        self.seed = int(seed) % 2**32

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        out, image, maps = self.deterministic(item)
        image = np.ascontiguousarray(
            image if image.dtype == np.uint8 else np.clip(image, 0, 1, dtype=np.float32)
        )
        out["image"] = torch.from_numpy(image)
        for key, m in maps.items():
            binary = _TARGETS.get(key) != "image" and bool(((m == 0) | (m == 1)).all())
            out[key] = torch.from_numpy(np.ascontiguousarray(m, dtype=np.uint8 if binary else np.float32))
        out["aug_seed"] = self.seed
        return out


def device_collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """``collate`` for the device path: each image and map key flat-concatenated, the sizes in ``aug_hw``."""
    keys = [k for k in ("image", *MAP_KEYS) if k in batch[0]]
    out = collate([{k: v for k, v in item.items() if k not in keys} for item in batch])
    for key in keys:
        parts = [item[key] for item in batch]
        if len({p.dtype for p in parts}) > 1:
            parts = [p.float() for p in parts]  # a soft map among binary ones: all as float
        out[key] = torch.cat([p.reshape(-1) for p in parts])
    out["aug_hw"] = torch.tensor([tuple(item["image"].shape[:2]) for item in batch], dtype=torch.long)
    return out


@dataclass(frozen=True)
class Op:
    """One random op: ``crop`` (size), ``hflip``/``vflip`` (p), ``rot90`` (ks, p) or ``rotate`` (limit, p)."""

    kind: str
    p: float = 1.0
    size: tuple[int, int] = (0, 0)
    ks: tuple[int, ...] = (0,)
    limit: tuple[float, float] = (0.0, 0.0)


def _op_of(op: A.BasicTransform, recipe: str) -> Op:
    if isinstance(op, A.RandomCrop) and not op.pad_if_needed:
        return Op("crop", op.p, size=(int(op.height), int(op.width)))
    if isinstance(op, A.HorizontalFlip | A.VerticalFlip):
        return Op("hflip" if isinstance(op, A.HorizontalFlip) else "vflip", op.p)
    if isinstance(op, Rot90Choice):
        return Op("rot90", op.p, ks=tuple(op.ks))
    if isinstance(op, A.RandomRotate90):
        return Op("rot90", op.p, ks=(0, 1, 2, 3))
    if isinstance(op, A.Rotate) and op.fill == 0 and op.fill_mask == 0 and not op.crop_border:
        return Op("rotate", op.p, limit=(float(op.limit[0]), float(op.limit[1])))
    raise DataError(f"recipe {recipe!r}: {type(op).__name__} has no device form; use data.augment_on=worker")


class DeviceAugment:
    """Apply a recipe's random ops to a padded uint8 batch on ``device``; returns float images in [0, 1]."""

    def __init__(self, ops: list[Op], name: str = "") -> None:
        self.ops, self.name = list(ops), name

    @classmethod
    def split(cls, recipe: PairedTransform) -> tuple[WorkerStage, DeviceAugment]:
        """The worker's part and the device's part of a built recipe (``build_transform``)."""
        ops = recipe.compose.transforms if recipe.compose is not None else []
        plan = [_op_of(op, recipe.name) for op in ops]
        if any(op.kind == "crop" for op in plan[1:]):  # the crop is what removes the batch's padding
            raise DataError(
                f"recipe {recipe.name!r}: only a first crop has a device form; use data.augment_on=worker"
            )
        return WorkerStage(recipe), cls(plan, recipe.name)

    def draw(self, seed: int, hw: tuple[int, int]) -> list[Any]:
        """One sample's parameters, op by op: two uniforms per op from a generator seeded by ``seed``."""
        u = torch.rand(
            2 * len(self.ops), generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64
        )
        h, w = hw
        params: list[Any] = []
        for j, op in enumerate(self.ops):
            a, b = float(u[2 * j]), float(u[2 * j + 1])
            if op.kind == "crop":  # albumentations: int((H - h + 1) · u), uniform over every position
                ch, cw = op.size
                if h < ch or w < cw:
                    raise DataError(
                        f"recipe {self.name!r}: a {h}x{w} image is smaller than the {ch}x{cw} crop"
                    )
                params.append((int((h - ch + 1) * a), int((w - cw + 1) * b)))
                h, w = ch, cw
            elif op.kind in ("hflip", "vflip"):
                params.append(a < op.p)
            elif op.kind == "rot90":
                k = op.ks[min(int(b * len(op.ks)), len(op.ks) - 1)] % 4 if a < op.p else 0
                if k % 2 and h != w:
                    raise DataError(
                        f"recipe {self.name!r}: quarter turns of a {h}x{w} batch need a square size"
                    )
                params.append(k)
            else:  # rotate: uniform angle in degrees, counter-clockwise as cv2/albumentations
                params.append(op.limit[0] + (op.limit[1] - op.limit[0]) * b if a < op.p else 0.0)
        return params

    def __call__(self, batch: dict[str, Any], device: torch.device | str = "cpu") -> dict[str, Any]:
        """Augment a ``device_collate`` batch (CPU tensors); its image and maps end on ``device``, N×C×H×W.

        Crops, flips and quarter turns are per-sample views and copies (no index tensor, so no
        host-device synchronisation); rotations are one batched ``grid_sample``.
        """
        batch, device = dict(batch), torch.device(device)
        seeds = batch.pop("aug_seed").tolist()
        hws = [tuple(s) for s in batch.pop("aug_hw").tolist()]
        params = [self.draw(s, hw) for s, hw in zip(seeds, hws, strict=True)]
        if not (self.ops and self.ops[0].kind == "crop") and len(set(hws)) > 1:
            raise DataError(f"recipe {self.name!r} does not crop: its rescale must give every image one size")
        x = {
            k: _unflatten(batch[k].to(device, non_blocking=True), hws)
            for k in ("image", *MAP_KEYS)
            if k in batch
        }
        for j, op in enumerate(self.ops):
            p = [sample[j] for sample in params]
            if op.kind == "rotate":
                if any(a != 0.0 for a in p):
                    angles = _on(device, p)
                    for k, v in x.items():
                        rotated = _rotate(_batch(k, v).permute(0, 3, 1, 2), angles, bilinear=_bilinear(k))
                        x[k] = list(rotated.permute(0, 2, 3, 1).unbind(0))
                continue
            x = {k: [_integer_op(op, t, pb) for t, pb in zip(v, p, strict=True)] for k, v in x.items()}
        batch.update({k: _batch(k, v).permute(0, 3, 1, 2).contiguous() for k, v in x.items()})
        return batch

    def __repr__(self) -> str:
        return f"DeviceAugment({self.name!r}, {self.ops})"


def _bilinear(key: str) -> bool:
    return key == "image" or _TARGETS.get(key) == "image"  # σ and depth resample like the image


def _unflatten(flat: torch.Tensor, hws: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Per-sample H×W×C views of a flat-concatenated key (C from its size: 3 for images, 1 for maps)."""
    channels = flat.numel() // sum(h * w for h, w in hws)
    out, offset = [], 0
    for h, w in hws:
        out.append(flat[offset : offset + h * w * channels].view(h, w, channels))
        offset += h * w * channels
    return out


def _batch(key: str, samples: list[torch.Tensor]) -> torch.Tensor:
    """Stack H×W×C samples to N×H×W×C float; uint8 images become [0, 1], binary uint8 maps 0/1."""
    t = torch.stack(samples)
    return t.float().div_(255.0) if key == "image" and t.dtype == torch.uint8 else t.float()


def _on(device: torch.device, values: list[float]) -> torch.Tensor:
    """A small float tensor on ``device`` without a blocking copy (pinned, asynchronous on CUDA)."""
    t = torch.tensor(values, dtype=torch.float32)
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)


def _integer_op(op: Op, t: torch.Tensor, param: Any) -> torch.Tensor:
    """Crop (param = (y, x)), flip (param = bool) or quarter turns (param = k) of one H×W×C sample."""
    if op.kind == "crop":
        (y, x), (ch, cw) = param, op.size
        return t[y : y + ch, x : x + cw]
    if op.kind in ("hflip", "vflip"):
        return t.flip(1 if op.kind == "hflip" else 0) if param else t
    return torch.rot90(t, param, dims=(0, 1)) if param else t  # np.rot90(img, k): counter-clockwise


def _rotate(t: torch.Tensor, degrees: torch.Tensor, *, bilinear: bool) -> torch.Tensor:
    """Rotate each sample about its centre ((w − 1)/2, (h − 1)/2), zeros outside, as albumentations' Rotate.

    albumentations maps a source point s to d = R(θ)(s − c) + c with R = [[cos, sin], [−sin, cos]], so the
    output pixel d reads s = Rᵀ(d − c) + c; ``align_corners=False`` puts pixel i at (2i + 1)/n − 1.
    """
    b, _, h, w = t.shape
    theta = torch.deg2rad(degrees)
    cos, sin = theta.cos().view(b, 1, 1), theta.sin().view(b, 1, 1)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=t.device, dtype=torch.float32),
        torch.arange(w, device=t.device, dtype=torch.float32),
        indexing="ij",
    )
    dx, dy = xs - (w - 1) / 2, ys - (h - 1) / 2
    sx = cos * dx - sin * dy + (w - 1) / 2
    sy = sin * dx + cos * dy + (h - 1) / 2
    grid = torch.stack(((2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1), dim=-1)
    mode = "bilinear" if bilinear else "nearest"
    return F.grid_sample(t.float(), grid, mode=mode, padding_mode="zeros", align_corners=False)
