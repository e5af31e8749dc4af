"""CUHK blur detection dataset (Shi et al., CVPR 2014): ``image/`` + ``gt/``, blurred = white."""

from __future__ import annotations

import logging
from pathlib import Path

from ..base import DATASETS, ReaderBase, Sample, layout_error
from ..io import DataError, list_files
from ..splits import load_split_list

log = logging.getLogger(__name__)

SCHEMES = {"btbnet": "cuhk_btbnet_test", "btbnet_val80": "cuhk_btbnet_test"}
#: Validation lists carved from CUHK-TR-1 (the BTBNet 604): model selection never touches the 100 test images.
VAL_LISTS = {"btbnet_val80": "cuhk_btbnet_val80"}


@DATASETS.register("cuhk")
class CUHK(ReaderBase):
    """CUHK with the BTBNet 604/100 split (``scheme="btbnet"``) or every image (``split="all"``).

    ``scheme="btbnet_val80"`` carves a fixed validation list of 80 images out of the 604 (``split="val"``;
    ``split="train"`` is then the other 524; ``split="test"`` stays the BTBNet 100), so model selection
    never looks at the test images. The list is ``dbdzoo/data/splits/cuhk_btbnet_val80.txt``.

    Motion-blurred images (``motion*``) are not defocus data, so they are excluded (and the count logged)
    unless ``include_motion=True``, which is only meaningful with ``split="all"``. The ``kim2018`` split is
    not shipped: its list is not part of dbdzoo.
    """

    name = "cuhk"
    splits = ("train", "val", "test", "all")
    native_positive = "blur"
    aliases = ("CUHK", "cuhk", "BlurDataset")
    layout = """\
CUHK/
  image/out_of_focus0001.jpg ... out_of_focus0704.jpg   (some are .JPG; matched case-insensitively)
  image/motion0001.jpg ... motion0296.jpg               (excluded unless include_motion=True)
  gt/out_of_focus0001.png ... gt/motion0296.png         (same stem, white = blurred; L or RGBA)"""

    def __init__(
        self,
        root: str | Path | None,
        split: str = "train",
        transform=None,
        *,
        scheme: str = "btbnet",
        include_motion: bool = False,
        **kwargs,
    ) -> None:
        if scheme not in SCHEMES:
            raise DataError(f"cuhk: scheme={scheme!r} is not shipped; valid schemes: {', '.join(SCHEMES)}")
        if split == "val" and scheme not in VAL_LISTS:
            raise DataError(
                f"cuhk: scheme={scheme!r} has no val split; use scheme=btbnet_val80 "
                "(80 images carved from the 604 train images)"
            )
        if include_motion and split != "all":
            raise DataError(
                f"cuhk: include_motion=True needs split='all' (the {scheme} split is defocus-only)"
            )
        self.scheme = scheme
        self.include_motion = include_motion
        self.excluded: dict[str, int] = {}
        super().__init__(root, split, transform, **kwargs)

    def matches(self, root: Path) -> bool:
        return (root / "image").is_dir() and (root / "gt").is_dir()

    def scan(self, root: Path) -> list[Sample]:
        images, gts = list_files(root / "image"), list_files(root / "gt")
        if not self.include_motion:
            motion = [s for s in images if s.startswith("motion")]
            for s in motion:
                images.pop(s)
                gts.pop(s, None)
            gts = {s: p for s, p in gts.items() if not s.startswith("motion")}
            if motion:
                self.excluded["motion"] = len(motion)
                log.info("cuhk: excluded %d motion images (include_motion=True keeps them)", len(motion))
        samples = self.pair(images, gts, str(root))
        if self.split == "all":
            return samples
        test = load_split_list(SCHEMES[self.scheme])
        if self.split == "test":
            return self._listed(samples, test, "test", root)  # list order = Zhao number order
        held_out = set(test)
        if self.scheme in VAL_LISTS:
            val = load_split_list(VAL_LISTS[self.scheme])
            if self.split == "val":
                return self._listed(samples, val, "val", root)
            held_out |= set(val)
        return [s for s in samples if s.name.startswith("out_of_focus") and s.name not in held_out]

    def _listed(self, samples: list[Sample], names: tuple[str, ...], what: str, root: Path) -> list[Sample]:
        """The samples of a shipped list, in its order; every listed image must be present."""
        by_name = {s.name: s for s in samples}
        missing = [n for n in names if n not in by_name]
        if missing and what == "test" and len(missing) == len(names):
            raise DataError(
                f"cuhk: none of the {len(names)} BTBNet test images (CUHK-TE-1) is under {root}: a CUHK-TR-1 "
                "copy holds only the 604 train images; train and evaluate on its 80 val images with "
                "data=cuhk_val80 (eval: datasets=[cuhk_val80]), or add the test images"
            )
        if missing:
            raise layout_error(
                self.name,
                f"{len(missing)} of the {len(names)} {self.scheme} {what} images are missing under {root}, "
                f"e.g. {', '.join(missing[:5])}",
                self.layout,
            )
        return [by_name[n] for n in names]
