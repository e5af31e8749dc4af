"""CTCUG (Tang group, 150 test images, blurred = white) and EBD (D-DFFNet, in-focus = white)."""

from __future__ import annotations

from pathlib import Path

from ..base import DATASETS, ReaderBase, Sample
from ..io import list_files


@DATASETS.register("ctcug")
class CTCUG(ReaderBase):
    """CTCUG in either published layout: BR2Net's single ``Imgs/`` folder or D-DFFNet's two folders.

    In ``Imgs/`` the ``.jpg`` is the image and the ``.png`` of the same stem its GT. D-DFFNet matches its
    two folders by sorted order; ``pairing`` (``auto``/``stem``/``sorted``) controls that.
    """

    name = "ctcug"
    native_positive = "blur"
    splits = ("test", "all")
    aliases = ("CTCUG",)
    layout = """\
CTCUG/Imgs/<stem>.jpg + <stem>.png            (BR2Net layout; .png = GT, white = blurred)
or
CTCUG/CTCUG_images/*  CTCUG/CTCUG_gt/*        (D-DFFNet layout; paired by stem, else by sorted order)"""

    def __init__(self, root, split: str = "test", transform=None, *, pairing: str = "auto", **kwargs) -> None:
        self.pairing = pairing
        super().__init__(root, split, transform, **kwargs)

    def matches(self, root: Path) -> bool:
        return (root / "Imgs").is_dir() or ((root / "CTCUG_images").is_dir() and (root / "CTCUG_gt").is_dir())

    def scan(self, root: Path) -> list[Sample]:
        if (root / "Imgs").is_dir():
            folder = root / "Imgs"
            images = list_files(folder, (".jpg", ".jpeg"))
            gts = list_files(folder, (".png",))
            return self.pair(images, gts, str(folder))
        return self.pair_auto(
            list_files(root / "CTCUG_images"),
            list_files(root / "CTCUG_gt"),
            str(root / "CTCUG_images"),
            self.pairing,
        )


@DATASETS.register("ebd")
class EBD(ReaderBase):
    """EBD: 1305 partially focused + 300 fully clear images (the latter become all-zero masks)."""

    name = "ebd"
    native_positive = "in_focus"
    splits = ("test", "all")
    aliases = ("EBD",)
    layout = """\
EBD/image/*   EBD/gt/*   (white = in focus; paired by stem, else by sorted order like D-DFFNet)"""

    def __init__(self, root, split: str = "test", transform=None, *, pairing: str = "auto", **kwargs) -> None:
        self.pairing = pairing
        super().__init__(root, split, transform, **kwargs)

    def matches(self, root: Path) -> bool:
        return (root / "image").is_dir() and (root / "gt").is_dir()

    def scan(self, root: Path) -> list[Sample]:
        return self.pair_auto(
            list_files(root / "image"), list_files(root / "gt"), str(root / "image"), self.pairing
        )
