"""Reader base class: root validation, pairing, decoding, size checks and error policy.

Every benchmark reader is a small subclass that only says where its files are (``scan``) and what white
means in its ground truth (``native_positive``); conversion to the canonical polarity (1 = blurred),
size reconciliation and the ``on_error``/``on_mismatch`` policies live here so they behave the same for
every dataset.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from torch.utils.data import Dataset

from dbdzoo.registry import Registry

from .io import GT_THRESHOLD, DataError, binarize, read_gray, read_rgb

log = logging.getLogger(__name__)

#: name -> reader class (or factory); ``create_dataset`` looks names up here.
DATASETS: Registry = Registry("dataset")

Item = dict[str, Any]


@dataclass(frozen=True)
class Sample:
    """One image and the files that label it."""

    name: str
    image: Path
    gt: Path | None = None
    sigma: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def layout_folders(layout: str) -> list[str]:
    """Top-level folder names a layout text shows (``image/``, ``gt/`` ...), not the dataset folder itself."""
    import re

    lines = [ln for ln in layout.splitlines() if "optional" not in ln and "ignored" not in ln]
    text = re.sub(r"\([^)]*\)", "", "\n".join(lines))  # parenthetical remarks name other layouts
    first = text.lstrip().split("/", 1)[0]
    text = re.sub(rf"(?<![\w-]){re.escape(first)}/", " ", text)  # CTCUG/Imgs/ -> Imgs/
    names = re.findall(r"(?:^|\s|<root>/)([A-Za-z][\w.-]*)/", text, flags=re.M)
    return list(dict.fromkeys(names))


def layout_error(reader: str, problem: str, layout: str) -> DataError:
    """A ``DataError`` whose first line states the problem and whose body shows the expected tree."""
    return DataError(f"{reader}: {problem}\nexpected layout:\n{layout.rstrip()}")


class ReaderBase(Dataset, ABC):
    """Map-style dataset over paired files, yielding the sample dicts every reader shares (docs/datasets.md).

    Args:
        root: dataset folder, or a parent holding it under one of the reader's usual folder names.
        split: which part to read; each reader lists its valid splits.
        transform: callable on the item dict (``build_transform``); ``None`` keeps numpy arrays.
        on_error: ``"raise"`` (default) or ``"skip"``: undecodable files and unpaired files are logged,
            counted in ``self.skipped`` and replaced by the next sample instead of stopping a long run.
        on_mismatch: ``"raise"`` (default), ``"resize"`` (ground truth resized to the image) or ``"crop"``
            (both cropped to the common top-left region, as the RTF protocol does).
        gt_threshold: grey level above which binary ground truth is white; ``None`` keeps soft maps.
    """

    name: ClassVar[str] = ""
    native_positive: ClassVar[str] = "blur"
    layout: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")

    def __init__(
        self,
        root: str | Path | None,
        split: str = "train",
        transform: Callable[[Item], Item] | None = None,
        *,
        on_error: str = "raise",
        on_mismatch: str = "raise",
        gt_threshold: int | None = GT_THRESHOLD,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise DataError(f"on_error={on_error!r}: expected 'raise' or 'skip'")
        if on_mismatch not in ("raise", "resize", "crop"):
            raise DataError(f"on_mismatch={on_mismatch!r}: expected 'raise', 'resize' or 'crop'")
        if split not in self.splits:
            raise DataError(
                f"{self.name}: split={split!r} is not offered; valid splits: {', '.join(self.splits)}"
            )
        self.split = split
        self.transform = transform
        self.on_error = on_error
        self.on_mismatch = on_mismatch
        self.gt_threshold = gt_threshold
        self.skipped: dict[str, str] = {}
        self.root = self._resolve_root(root)
        self.samples: list[Sample] = self.scan(self.root)
        if not self.samples:
            raise layout_error(
                self.name, f"no samples found under {self.root} for split {split!r}", self.layout
            )

    # -- subclass hooks -------------------------------------------------------------------------------
    @abstractmethod
    def matches(self, root: Path) -> bool:
        """True when ``root`` itself has this reader's layout."""

    @abstractmethod
    def scan(self, root: Path) -> list[Sample]:
        """List the samples of ``self.split`` under a validated root."""

    def load_targets(self, sample: Sample) -> dict[str, np.ndarray]:
        """Target maps at their stored size: ``mask`` and optionally ``defocus``/``defocus_valid``."""
        if sample.gt is None:
            return {}
        return {"mask": self.mask_from_gray(read_gray(sample.gt))}

    def root_aliases(self) -> tuple[str, ...]:
        """Sub-paths probed under ``root`` when ``root`` itself does not match (split-dependent for some)."""
        return self.aliases

    # -- shared machinery -----------------------------------------------------------------------------
    def mask_from_gray(self, gray: np.ndarray) -> np.ndarray:
        """Binarise and convert to the canonical polarity (1 = blurred)."""
        m = binarize(gray, self.gt_threshold)
        return 1.0 - m if self.native_positive == "in_focus" else m

    def _resolve_root(self, root: str | Path | None) -> Path:
        if root is None:
            raise layout_error(self.name, "needs root=<folder>; none was given", self.layout)
        root = Path(root).expanduser()
        if not root.is_dir():
            raise layout_error(self.name, f"root {root} does not exist or is not a folder", self.layout)
        for cand in (root, *(root / a for a in self.root_aliases())):
            if cand.is_dir() and self.matches(cand):
                return cand
        held = {p.name for p in root.iterdir()}
        found = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())[:12])
        expected = layout_folders(self.layout)
        missing = [f"{f}/" for f in expected if f not in held]
        what = f"missing {', '.join(missing)}; " if missing and len(missing) < len(expected) else ""
        raise layout_error(
            self.name,
            f"{root} does not have the expected layout ({what}it holds: {found or 'nothing'})",
            self.layout,
        )

    def pair(self, images: dict[str, Path], gts: dict[str, Path], where: str) -> list[Sample]:
        """Pair by stem; unmatched files on either side are an error (or logged and counted on skip)."""
        lonely = sorted(set(images) - set(gts)) + sorted(set(gts) - set(images))
        if lonely:
            msg = (
                f"{self.name}: {len(lonely)} unpaired file(s) in {where}, e.g. {', '.join(lonely[:5])} "
                "(each image needs a ground truth with the same stem)"
            )
            if self.on_error == "raise":
                raise DataError(msg)
            log.warning("%s; skipping them", msg)
            self.skipped.update({n: "unpaired" for n in lonely})
        return [Sample(s, images[s], gts[s]) for s in sorted(set(images) & set(gts), key=_natural)]

    def pair_auto(
        self, images: dict[str, Path], gts: dict[str, Path], where: str, pairing: str
    ) -> list[Sample]:
        """Pair by stem, or by sorted order as D-DFFNet and the RTF MATLAB script do.

        ``pairing="auto"`` uses stems when any stem matches and falls back to sorted order only when no
        stem matches and both folders hold the same number of files (logged, since it is a guess).
        """
        if pairing not in ("auto", "stem", "sorted"):
            raise DataError(f"pairing={pairing!r}: expected 'auto', 'stem' or 'sorted'")
        if pairing == "stem" or (pairing == "auto" and set(images) & set(gts)):
            return self.pair(images, gts, where)
        if len(images) != len(gts):
            raise DataError(
                f"{self.name}: cannot pair {len(images)} images with {len(gts)} ground truths in {where} "
                "by sorted order (stems differ and counts differ)"
            )
        if pairing == "auto":
            log.info(
                "%s: no stems match in %s; pairing %d files by sorted order", self.name, where, len(images)
            )
        im = sorted(images, key=_natural)
        gt = sorted(gts, key=_natural)
        return [Sample(a, images[a], gts[b]) for a, b in zip(im, gt, strict=True)]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Item:
        item = self.decoded(index)
        return self.transform(item) if self.transform is not None else item

    def decoded(self, index: int) -> Item:
        """Item ``index`` before the transform, with the ``on_error`` policy (``data.cache=ram`` keeps these)."""
        i = index
        for _ in range(len(self.samples)):
            sample = self.samples[i]
            try:
                item = self.load(sample)
                break
            except DataError as exc:
                if self.on_error == "raise":
                    raise
                self.skipped[sample.name] = str(exc).splitlines()[0]
                log.warning(
                    "skipping %s (%d skipped so far in this process): %s",
                    sample.name,
                    len(self.skipped),
                    self.skipped[sample.name],
                )
                i = (i + 1) % len(self.samples)
        else:
            raise DataError(f"{self.name}: every sample under {self.root} failed to load")
        return item

    def load(self, sample: Sample) -> Item:
        """Decode one sample into the contract-5 dict (numpy, canonical polarity, sizes reconciled)."""
        image = read_rgb(sample.image)
        h, w = image.shape[:2]
        targets = self.load_targets(sample)
        image, targets = self._reconcile(sample, image, targets)
        meta = {
            "name": sample.name,
            "dataset": self.name,
            "orig_size": (h, w),
            "native_positive": self.native_positive,
            "split": self.split,
            "path": str(sample.image),
        }
        return {"image": image, **targets, "meta": meta}

    def _reconcile(self, sample: Sample, image: np.ndarray, targets: dict[str, np.ndarray]):
        h, w = image.shape[:2]
        bad = {k: v.shape[:2] for k, v in targets.items() if v.shape[:2] != (h, w)}
        if not bad:
            return image, targets
        key, (gh, gw) = next(iter(bad.items()))
        if self.on_mismatch == "raise":
            src = sample.sigma if key == "defocus" and sample.sigma else sample.gt
            raise DataError(
                f"{src}: {key} is {gh}x{gw} (HxW) but image {sample.image.name} is {h}x{w}; "
                "pass on_mismatch='resize' or 'crop' to accept it"
            )
        if self.on_mismatch == "crop":
            ch = min([h] + [s[0] for s in bad.values()])
            cw = min([w] + [s[1] for s in bad.values()])
            return image[:ch, :cw].copy(), {k: v[:ch, :cw].copy() for k, v in targets.items()}
        out = {}
        for k, v in targets.items():
            if v.shape[:2] == (h, w):
                out[k] = v
            elif k == "defocus":  # σ is a length in pixels: interpolate linearly and rescale its value
                scale = float(np.sqrt((h / v.shape[0]) * (w / v.shape[1])))
                out[k] = cv2.resize(v, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(scale)
            else:
                out[k] = cv2.resize(v, (w, h), interpolation=cv2.INTER_NEAREST)
        return image, out


def _natural(name: str) -> tuple:
    """Sort key that orders ``2`` before ``10`` (DUT and Zhao names are integers)."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
