"""Synthetic defocus datasets: map-style (fixed length) and streaming (infinite), both seeded per item."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from ...registry import accepted_options, did_you_mean
from ..base import DATASETS
from ..io import IMAGE_EXTS, DataError, list_files, read_rgb, read_unchanged
from .render import render_defocus, sample_seed

#: renderer arguments the dataset sets itself (per item), never the caller
_SET_BY_DATASET = {"generator", "first_index", "batch_size", "height", "width", "images", "depths"}
#: what a synthetic spec may pass through to ``render_defocus``
RENDER_OPTIONS = (accepted_options(render_defocus) or set()) - _SET_BY_DATASET
_DATASET_OPTIONS = {"length", "size", "seed", "split", "transform", "texture_dir", "image_dir",
                    "texture_exclude", "depth_dir", "depth_scale", "start"}  # fmt: skip

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def load_texture_pool(folder: str | Path, max_side: int = 512, exclude: Sequence[str] = ()) -> torch.Tensor:
    """Load every image of ``folder`` as a float texture (short side resized to ``max_side``), N×3×S×S crops.

    ``exclude`` names stems to leave out (photos that are not sharp everywhere would teach wrong labels).
    """
    files = list_files(Path(folder), IMAGE_EXTS) if Path(folder).is_dir() else {}
    unknown = sorted(set(exclude) - set(files))
    if files and unknown:
        raise DataError(f"texture_exclude: {', '.join(unknown)} not found in {folder}")
    files = {k: v for k, v in files.items() if k not in set(exclude)}
    if not files:
        raise DataError(f"texture_dir {folder}: no images found (expected *.jpg/*.png/... files)")
    out = []
    for path in files.values():
        img = torch.from_numpy(read_rgb(path)).permute(2, 0, 1).float()[None] / 255.0
        s = min(img.shape[-2:])
        img = img[..., :s, :s]  # square top-left crop keeps textures isotropic
        out.append(F.interpolate(img, size=(min(s, max_side),) * 2, mode="area")[0])
    side = min(t.shape[-1] for t in out)
    return torch.stack([t[..., :side, :side] for t in out])


class SyntheticDefocusDataset(Dataset):
    """Rendered-on-the-fly thin-lens defocus samples; item i is a pure function of (seed, split, i).

    Args:
        length: number of items.
        size: output size, int or (H, W).
        seed: base seed; train, val and test use different seed streams, hence disjoint samples.
        split: ``train``, ``val`` or ``test``.
        transform: optional callable on the item dict (items are already tensors).
        texture_dir: optional folder of images mixed into the procedural textures.
        texture_exclude: stems of ``texture_dir`` to leave out.
        image_dir: optional folder of all-in-focus images rendered instead of procedural scenes
            (item i uses image i mod N, resized to ``size``), SYNDOF-style.
        depth_dir: optional depth maps for ``image_dir`` with the same stems: ``.npy`` floats or 16-bit
            images, multiplied by ``depth_scale`` to millimetres; without it a smooth random depth is drawn.
        **renderer: keyword arguments of ``render_defocus`` (``max_sigma``, ``blur_threshold``,
            ``sigma_step``, ``focal_length``, ``f_number``, ``focus_distance``, ``scene`` ...).
    """

    def __init__(
        self,
        length: int = 1000,
        size: int | Sequence[int] = 320,
        seed: int = 0,
        split: str = "train",
        transform: Any = None,
        texture_dir: str | Path | None = None,
        image_dir: str | Path | None = None,
        texture_exclude: Sequence[str] = (),
        depth_dir: str | Path | None = None,
        depth_scale: float = 1.0,
        **renderer: Any,
    ) -> None:
        if split not in SPLIT_CODES:
            raise DataError(f"synthetic: split={split!r}; expected one of {', '.join(SPLIT_CODES)}")
        if length is None or int(length) <= 0:
            raise DataError(
                f"synthetic: length={length!r} must be a positive int (length=None gives a stream)"
            )
        bad = _SET_BY_DATASET & set(renderer)
        if bad:
            raise DataError(f"synthetic: {', '.join(sorted(bad))} are set by the dataset, not by the caller")
        unknown = sorted(set(renderer) - RENDER_OPTIONS)
        if unknown:  # would otherwise surface at the first sample, deep inside a DataLoader worker
            known = sorted(RENDER_OPTIONS | _DATASET_OPTIONS)
            hint = did_you_mean(unknown[0], known)
            raise DataError(f"synthetic: unknown option {unknown[0]!r}{hint} (options: {', '.join(known)})")
        self.length, self.size, self.seed, self.split = int(length), _hw(size), int(seed), split
        self.stream_seed = sample_seed(self.seed, 1_000_000_007 * (SPLIT_CODES[split] + 1))
        self.transform = transform
        self.renderer = dict(renderer)
        if texture_dir is not None:
            self.renderer["textures"] = load_texture_pool(texture_dir, exclude=tuple(texture_exclude))
        self.images = list_files(Path(image_dir)) if image_dir is not None else None
        if self.images is not None and not self.images:
            raise DataError(f"synthetic: image_dir {image_dir} holds no images")
        if depth_dir is not None and self.images is None:
            raise DataError("synthetic: depth_dir needs image_dir (the all-in-focus images it belongs to)")
        self.depths = list_files(Path(depth_dir), (*IMAGE_EXTS, ".npy")) if depth_dir is not None else None
        if self.depths is not None:
            missing = [k for k in self.images if k not in self.depths]
            if missing:
                raise DataError(
                    f"synthetic: {len(missing)} image(s) have no depth map in {depth_dir}, "
                    f"e.g. {', '.join(missing[:5])}"
                )
        self.depth_scale = float(depth_scale)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"synthetic index {index} out of range [0, {self.length})")
        return render_item(self, index)


class SyntheticDefocusStream(IterableDataset):
    """Infinite stream of synthetic samples (``create_dataset("synthetic", length=None)``).

    Worker w of n yields indices w, w + n, w + 2n, ... so workers never repeat each other's samples.
    """

    def __init__(
        self,
        size: int | Sequence[int] = 320,
        seed: int = 0,
        split: str = "train",
        transform: Any = None,
        texture_dir: str | Path | None = None,
        start: int = 0,
        **renderer: Any,
    ) -> None:
        self._map = SyntheticDefocusDataset(1, size, seed, split, transform, texture_dir, **renderer)
        self.transform = transform
        self.start = start

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
        i = self.start + wid
        while True:
            yield render_item(self._map, i)
            i += n


def render_item(ds: SyntheticDefocusDataset, index: int) -> dict[str, Any]:
    """Render item ``index`` of ``ds`` as a contract-5 dict (tensors, canonical polarity)."""
    h, w = ds.size
    user = _user_inputs(ds, index) if ds.images is not None else {}
    source = user.pop("source", None)
    out = render_defocus(1, h, w, generator=ds.stream_seed, first_index=index, **user, **ds.renderer)
    params = {k: float(v[0]) for k, v in out["params"].items()}
    item = {
        "image": out["image"][0],
        "mask": out["mask"][0],
        "defocus": out["defocus"][0],
        "defocus_valid": torch.ones_like(out["defocus"][0]),
        "depth": out["depth"][0],
        "meta": {
            "name": f"synthetic_{ds.split}_{index:07d}",
            "dataset": "synthetic",
            "orig_size": (h, w),
            "native_positive": "blur",
            "split": ds.split,
            "index": index,
            **{k: (v if math.isfinite(v) else -1.0) for k, v in params.items()},
        },
    }
    if source is not None:
        item["meta"]["source"] = source
    return ds.transform(item) if ds.transform is not None else item


def _user_inputs(ds: SyntheticDefocusDataset, index: int) -> dict[str, Any]:
    """All-in-focus image i mod N (bilinear/area resize) and its depth (nearest: no depths between layers)."""
    stem = list(ds.images)[index % len(ds.images)]
    img = torch.from_numpy(read_rgb(ds.images[stem])).permute(2, 0, 1).float()[None] / 255.0
    out: dict[str, Any] = {
        "source": stem,
        "images": F.interpolate(img, size=ds.size, mode="area" if img.shape[-1] > ds.size[1] else "bilinear"),
    }
    if ds.depths is not None:
        path = ds.depths[stem]
        raw = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else read_unchanged(path)
        raw = raw[..., 0] if raw.ndim == 3 else raw
        if raw.shape != tuple(img.shape[-2:]):
            raise DataError(
                f"{path}: depth is {raw.shape[0]}x{raw.shape[1]} but image {stem} is "
                f"{img.shape[-2]}x{img.shape[-1]}"
            )
        depth = torch.from_numpy(raw.astype(np.float32))[None, None] * ds.depth_scale
        if not bool((depth > 0).all()):
            raise DataError(f"{path}: depth must be positive everywhere (metric depth, not disparity)")
        out["depths"] = F.interpolate(depth, size=ds.size, mode="nearest")
    return out


@DATASETS.register("synthetic")
def synthetic(
    root: str | Path | None = None,
    split: str = "train",
    transform: Any = None,
    length: int | None = 1000,
    **kwargs: Any,
) -> Dataset:
    """Registry entry: map-style dataset, or an infinite stream when ``length=None``; ``root`` is unused."""
    if root is not None:
        kwargs.setdefault("texture_dir", root)
    if length is None:
        return SyntheticDefocusStream(split=split, transform=transform, **kwargs)
    return SyntheticDefocusDataset(length=length, split=split, transform=transform, **kwargs)


synthetic.declared_options = frozenset(RENDER_OPTIONS | _DATASET_OPTIONS | {"root"})  # for config checks
