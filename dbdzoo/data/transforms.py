"""Paired augmentation pipelines for the paper recipes (albumentations 2.0.8 underneath).

A pipeline has three stages. (1) A deterministic rescale whose factor is known, so σ maps can be
interpolated linearly *and* multiplied by the scale (a σ of 2 px becomes 1 px when the image halves).
(2) A seeded ``albumentations.Compose`` for the random, scale-preserving ops (crop, flips, rotations); σ
travels as an image-type target (bilinear), masks with nearest. (3) Conversion to tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch

from .io import DataError

INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
}
MAP_KEYS = ("mask", "defocus", "defocus_valid", "depth")
_TARGETS = {"defocus": "image", "defocus_valid": "mask", "depth": "image"}
ResizeRule = Callable[[int, int], tuple[int, int] | None]


class Rot90Choice(A.RandomRotate90):
    """Rotate by k quarter turns, k drawn from ``ks`` (e.g. (0, 1, 2) for BTBNet's 0°/90°/180°)."""

    def __init__(self, ks: Sequence[int] = (0, 1, 2, 3), p: float = 1.0) -> None:
        super().__init__(p=p)
        self.ks = tuple(int(k) % 4 for k in ks)

    def get_params(self) -> dict[str, int]:
        return {"factor": self.py_random.choice(self.ks)}


class PairedTransform:
    """Callable on item dicts; keeps ``image``, ``mask``, ``defocus`` and ``defocus_valid`` aligned.

    Args:
        resize: ``(h, w) -> (new_h, new_w) | None``, the deterministic rescale of stage 1.
        interpolation: OpenCV flag for the image in stage 1 (σ maps always bilinear, masks nearest).
        ops: albumentations transforms of stage 2 (must not change the scale).
        seed: seed of the Compose; ``seed_worker`` re-seeds it in each DataLoader worker.
    """

    def __init__(
        self,
        resize: ResizeRule | None = None,
        interpolation: int = cv2.INTER_LINEAR,
        ops: Sequence[A.BasicTransform] = (),
        seed: int | None = None,
        name: str = "",
    ) -> None:
        self.resize, self.interpolation, self.name = resize, interpolation, name
        self.compose = (
            A.Compose(
                list(ops),
                additional_targets=dict(_TARGETS),
                strict=True,
                seed=seed,
                mask_interpolation=cv2.INTER_NEAREST,
            )
            if ops
            else None
        )

    def set_random_seed(self, seed: int) -> None:
        """Re-seed the random stage (albumentations keeps its RNG inside the Compose)."""
        if self.compose is not None:
            self.compose.set_random_seed(int(seed) % 2**32)

    def deterministic(self, item: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
        """Stage 1 alone: (other keys, rescaled image, rescaled maps); ``data.augment_on=device`` stops here."""
        out = {k: v for k, v in item.items() if k != "image" and k not in MAP_KEYS}
        image = _numpy_image(item["image"])
        maps = {k: _numpy_map(item[k]) for k in MAP_KEYS if k in item}
        if "defocus" in maps and "defocus_valid" not in maps:
            maps["defocus_valid"] = np.ones_like(maps["defocus"])  # so rotation fill is marked unlabelled
        if self.resize is not None:
            image, maps = self._rescale(image, maps)
        return out, image, maps

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        out, image, maps = self.deterministic(item)
        if self.compose is not None:
            res = self.compose(image=image, **maps)
            image, maps = res["image"], {k: res[k] for k in maps}
        out["image"] = _image_tensor(image)
        out.update(
            {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))[None] for k, v in maps.items()}
        )
        return out

    def _rescale(self, image: np.ndarray, maps: dict[str, np.ndarray]):
        h, w = image.shape[:2]
        new = self.resize(h, w)
        if new is None or tuple(new) == (h, w):
            return image, maps
        nh, nw = new
        image = cv2.resize(image, (nw, nh), interpolation=self.interpolation)
        scale = math.sqrt((nh / h) * (nw / w))  # anisotropic resizes: geometric mean of the two factors
        resized = {}
        for k, v in maps.items():
            if _TARGETS.get(k) == "image":
                v = cv2.resize(v, (nw, nh), interpolation=cv2.INTER_LINEAR)
                resized[k] = v * np.float32(scale) if k == "defocus" else v
            else:
                resized[k] = cv2.resize(v, (nw, nh), interpolation=cv2.INTER_NEAREST)
        return image, resized

    def __repr__(self) -> str:
        return f"PairedTransform({self.name!r}, ops={self.compose.transforms if self.compose else []})"


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _numpy_image(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):  # synthetic items arrive as 3×H×W float tensors
        return np.ascontiguousarray(x.detach().cpu().permute(1, 2, 0).numpy().astype(np.float32))
    return np.ascontiguousarray(x)


def _numpy_map(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    return np.ascontiguousarray(x[0] if x.ndim == 3 else x)


def _image_tensor(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    return t.float().div_(255.0) if image.dtype == np.uint8 else t.float().clamp_(0.0, 1.0)


def short_side_at_least(size: tuple[int, int]) -> ResizeRule:
    """BR2Net: scale up (keeping aspect) only when the image is smaller than the crop."""

    def rule(h: int, w: int) -> tuple[int, int] | None:
        s = max(size[0] / h, size[1] / w)
        return None if s <= 1 else (max(size[0], math.ceil(h * s)), max(size[1], math.ceil(w * s)))

    return rule


def fixed_size(size: tuple[int, int]) -> ResizeRule:
    return lambda h, w: size


def dmenet_rescale(crop: int, max_side: int) -> ResizeRule:
    """DMENet ``utils.py``: short side ≤ crop → scale to crop; short side > max_side → scale to max_side.

    New sides are ``floor(side × ratio) + 1`` as in the original code.
    """

    def rule(h: int, w: int) -> tuple[int, int] | None:
        short = min(h, w)
        target = crop if short <= crop else max_side if short > max_side else None
        if target is None:
            return None
        r = target / short
        return math.floor(h * r) + 1, math.floor(w * r) + 1

    return rule


def build_transform(
    recipe: str,
    size: int | Sequence[int] | None = None,
    *,
    seed: int | None = None,
    interpolation: str | None = None,
    **kw: Any,
) -> PairedTransform:
    """Build the paired pipeline of a paper recipe.

    Args:
        recipe: ``br2net`` (short side up to 300 — or first resize to ``resize`` — random crop 300, h-flip,
            rotation ±10°), ``zhao320``
            (resize 320, nearest for the image as the Zhao lab did; ``hflip``, ``rot90=(0, 1, 2)`` options),
            ``dmenet`` (rescale short side ≤ 240 or > 800, random crop 240, v-flip, rot90 k ∈ {0..3}),
            ``eval_resize`` (resize to ``size``, default 320, bilinear), ``eval_native`` / ``synthetic`` /
            ``none`` (tensors only; models pad).
        size: crop or resize size, int or (H, W); recipe default when ``None``.
        seed: seed of the random stage (re-seeded per worker by ``seed_worker``).
        interpolation: image interpolation of the rescale stage: nearest, bilinear, bicubic or area.
        **kw: recipe options: br2net ``hflip``, ``rotate``, ``resize`` (e.g. 320: crops of a 320² image, the
            DeFusionNet reading of the recipe); zhao320 ``hflip``, ``rot90``; dmenet ``max_side``,
            ``vflip``, ``rot90``.
    """
    interp = INTERPOLATION.get(interpolation or "")
    if interpolation is not None and interp is None:
        raise DataError(f"interpolation={interpolation!r}; expected one of {', '.join(INTERPOLATION)}")
    if recipe == "br2net":
        hw = _hw(size or 300)
        ops = [A.RandomCrop(height=hw[0], width=hw[1], p=1.0)]
        if kw.pop("hflip", True):
            ops.append(A.HorizontalFlip(p=0.5))
        rotate = float(kw.pop("rotate", 10.0))
        if rotate:
            ops.append(
                A.Rotate(
                    limit=(-rotate, rotate),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST,
                    border_mode=cv2.BORDER_CONSTANT,
                    fill=0,
                    fill_mask=0,
                    p=1.0,
                )
            )
        pre = kw.pop("resize", None)
        rule = fixed_size(_hw(pre)) if pre else short_side_at_least(hw)
        tf = PairedTransform(rule, interp or cv2.INTER_LINEAR, ops, seed, recipe)
    elif recipe == "zhao320":
        hw = _hw(size or 320)
        ops = [A.HorizontalFlip(p=0.5)] if kw.pop("hflip", True) else []
        ks = tuple(kw.pop("rot90", ()))
        if ks:
            ops.append(Rot90Choice(ks))
        tf = PairedTransform(
            fixed_size(hw), interp if interp is not None else cv2.INTER_NEAREST, ops, seed, recipe
        )
    elif recipe == "dmenet":
        crop = _hw(size or 240)
        ops = [A.RandomCrop(height=crop[0], width=crop[1], p=1.0)]
        if kw.pop("vflip", True):
            ops.append(A.VerticalFlip(p=0.5))
        if kw.pop("rot90", True):
            ops.append(A.RandomRotate90(p=1.0))
        rule = dmenet_rescale(min(crop), int(kw.pop("max_side", 800)))
        tf = PairedTransform(rule, interp or cv2.INTER_LINEAR, ops, seed, recipe)
    elif recipe == "eval_resize":
        tf = PairedTransform(fixed_size(_hw(size or 320)), interp or cv2.INTER_LINEAR, (), seed, recipe)
    elif recipe in ("eval_native", "synthetic", "none"):
        tf = PairedTransform(None, cv2.INTER_LINEAR, (), seed, recipe)
    else:
        raise DataError(
            f"unknown transform recipe {recipe!r}; valid: br2net, zhao320, dmenet, eval_resize, "
            "eval_native, synthetic, none"
        )
    if kw:
        raise DataError(f"build_transform({recipe!r}): unexpected option(s) {', '.join(sorted(kw))}")
    return tf
