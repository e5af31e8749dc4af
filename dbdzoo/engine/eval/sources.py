"""Where evaluation's maps come from: a model run on the images, or a folder of saved predictions.

Both sources turn dataset items into :class:`Prediction` pairs (blur probability, σ map) in dbdzoo's
polarity, so the scorers never need to know which one produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ...data.io import read_npy, read_sigma_png
from ..precision import autocast_context
from .datasets import find_prediction


@dataclass
class Prediction:
    """One item's maps, 1×1×H×W on the scoring device; ``None`` where the source has none."""

    prob: torch.Tensor | None
    sigma: torch.Tensor | None = None


def read_prediction(path: Path) -> torch.Tensor:
    """A prediction map as 1×1×H×W float in [0, 1]: 8/16-bit, grey or colour images, or ``.npy``."""
    if path.suffix.lower() == ".npy":
        arr = read_npy(path).astype(np.float32)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f"{path}: cannot be read as an image")
        if arr.ndim == 3:
            arr = cv2.cvtColor(arr[..., :3], cv2.COLOR_BGR2GRAY)
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype, 1.0)
        arr = arr.astype(np.float32) / scale
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel map, got shape {arr.shape}")
    return torch.from_numpy(arr)[None, None]


def read_sigma_prediction(path: Path) -> torch.Tensor:
    """A σ map in pixels as 1×1×H×W: ``.npy`` (px) or dbdzoo's 16-bit PNG (1/1000 px)."""
    arr = read_npy(path).astype(np.float32) if path.suffix.lower() == ".npy" else read_sigma_png(path)
    return torch.from_numpy(arr)[None, None]


def image_tensor(image: Any) -> torch.Tensor:
    """1×3×H×W float in [0, 1] from a dataset item's image (uint8 array or float tensor)."""
    if isinstance(image, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    return image[None].float() if image.ndim == 3 else image.float()


class ModelSource:
    """Runs a model; ``infer_size`` follows the Zhao-lab protocol (infer at N², resize back).

    Otherwise images larger than ``max_side`` (``auto``: the scale the weights were trained at) run
    shrunk and their maps are resized back, as ``dbdzoo predict`` does (``dbdzoo.models.scale``).
    """

    def __init__(self, model: Any, config: dict, device: torch.device) -> None:
        from ...models.scale import resolve_max_side

        self.model, self.config, self.device = model, config, device
        self.max_side = resolve_max_side(model, config.get("max_side", "auto"))
        self.wants_sigma = bool(config.get("dme_protocol"))
        self.missing: list[str] = []  # a model never misses a map; the same interface as the folder

    def predict(self, items: list[dict]) -> list[Prediction]:
        probs = self._probabilities([image_tensor(it["image"]) for it in items])
        out = []
        for item, prob in zip(items, probs, strict=True):
            sigma = None
            if self.wants_sigma and "defocus" in item:
                if self.model.task != "dme":
                    raise ValueError(
                        f"dme_protocol is set but {type(self.model).__name__} is a blur detector (task=dbd), "
                        "not a defocus-map model"
                    )
                sigma = self.model.sigma(prob)
            out.append(Prediction(prob, sigma))
        return out

    def _probabilities(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        """Blur probabilities (1×1×H×W each); images of one size run as one batch."""
        from ...models.scale import predict_scaled

        size = self.config.get("infer_size")
        groups = [images] if size or len({im.shape for im in images}) == 1 else [[im] for im in images]
        out: list[torch.Tensor] = []
        for group in groups:
            x = torch.cat(
                [F.interpolate(im, size=(size, size), mode="bilinear", align_corners=False) if size else im
                 for im in group]
            ).to(self.device)  # fmt: skip
            with autocast_context(self.device, self.config.get("precision", "fp32"), key="precision"):
                prob = predict_scaled(self.model, x, None if size else self.max_side).float()
            for im, p in zip(group, prob.split(1), strict=True):
                if size:
                    p = F.interpolate(p, size=im.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
                out.append(p)
        return out


class FolderSource:
    """Reads ``<stem>.png|.npy`` (and ``<stem>_sigma.*``) from an indexed folder of any method's maps.

    Never picks silently: two candidate maps for one image (``a.png`` and ``a_blur.png``, or ``a.png``
    and ``a.npy``) and a map whose aspect ratio is not its ground truth's are errors naming the files.
    """

    def __init__(self, files: dict[str, Path], config: dict, device: torch.device) -> None:
        self.files, self.config, self.device = files, config, device
        self.wants_sigma = bool(config.get("dme_protocol"))
        self.in_focus = config.get("prediction_polarity", "blur") == "in_focus"
        self.missing: list[str] = []

    def predict(self, items: list[dict]) -> list[Prediction]:
        out = []
        for item in items:
            name = str(item["meta"]["name"])
            found = unique_prediction(self.files, name)
            sigma_file = self.files.get(f"{Path(name).stem}_sigma") if self.wants_sigma else None
            if found is None and sigma_file is None:
                self.missing.append(Path(name).stem)  # reported (or counted) when the dataset finishes
            prob = None if found is None else read_prediction(found)
            if prob is not None:
                check_aspect(prob, item, found, name)
                prob = prob.to(self.device)
            if prob is not None and self.in_focus:
                prob = 1 - prob
            sigma = None
            if self.wants_sigma and "defocus" in item and (prob is not None or sigma_file is not None):
                if sigma_file is None:
                    raise FileNotFoundError(
                        f"{self.config['predictions']}: no {Path(name).stem}_sigma.npy/.png for the σ metrics of {name}"
                    )
                sigma = read_sigma_prediction(sigma_file)
                check_aspect(sigma, item, sigma_file, name)
                sigma = sigma.to(self.device)
            out.append(Prediction(prob, sigma))
        return out


def unique_prediction(files: dict[str, Path], name: str) -> Path | None:
    """``find_prediction``, refusing two maps that could both be the one for ``name``."""
    from .datasets import PRED_EXTS

    stem, suffix = Path(name).stem, Path(name).suffix[1:].lower()
    keys = (stem, f"{stem}_blur", *([f"{stem}_{suffix}_blur"] if suffix else []))
    candidates = [files[k] for k in keys if k in files]
    for path in list(candidates):  # the index keeps one file per stem: look for a.png next to a.npy
        candidates += [p for ext in PRED_EXTS if (p := path.with_suffix(ext)) != path and p.is_file()]
    if len(candidates) > 1:
        raise ValueError(
            f"ambiguous predictions for {name}: {' and '.join(map(str, candidates))}; "
            "keep one of them in the predictions folder"
        )
    return find_prediction(files, name) if candidates else None


def check_aspect(pred: torch.Tensor, item: dict, path: Path, name: str) -> None:
    """Refuse a map whose aspect ratio differs from its ground truth's: resizing would stretch it.

    A uniformly scaled map passes (rounding of one pixel at the map's scale allowed); a transposed map is
    left to the metric's own, more specific error.
    """
    target = next((item[k] for k in ("mask", "defocus") if k in item), None)
    if target is None:
        return  # no ground truth to stretch against
    shape = tuple(target.shape)
    channels_last = isinstance(target, np.ndarray) and len(shape) == 3 and shape[-1] == 1
    gh, gw = shape[:2] if channels_last else shape[-2:]
    ph, pw = pred.shape[-2:]
    if (ph, pw) in ((gh, gw), (gw, gh)):
        return
    if abs(ph * gw / pw - gh) <= max(1.0, gw / pw) and abs(pw * gh / ph - gw) <= max(1.0, gh / ph):
        return
    raise ValueError(
        f"{path}: the map is {ph}x{pw} (H x W) but the ground truth of {name} is {gh}x{gw}, another aspect "
        "ratio that resizing would stretch; save maps at the image's size"
    )
