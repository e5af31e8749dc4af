"""DUT-DBD (Zhao et al.) and the Zhao-lab 320x320 redistribution (xu100 / dut500); both in-focus = white."""

from __future__ import annotations

from pathlib import Path

from ..base import DATASETS, ReaderBase, Sample
from ..io import DataError, list_files
from ..splits import zhao_number_to_cuhk

DUT_DIRS = {
    "train": ("DUT600S_Training", "DUT600GT_Training"),
    "test": ("DUT500S-Testing", "DUT500GT-Testing"),
}


@DATASETS.register("dut")
class DUT(ReaderBase):
    """DUT-DBD: 600 training and 500 test images; GT is inverted on load (255 = in focus)."""

    name = "dut"
    native_positive = "in_focus"
    aliases = ("DUT-DBD_Dataset", "DUT-DBD", "DUT", "dut")
    layout = """\
DUT-DBD_Dataset/
  DUT600S_Training/*.jpg    DUT600GT_Training/<stem>.bmp   (split='train')
  DUT500S-Testing/1.jpg ... 500.jpg    DUT500GT-Testing/1.bmp ... 500.bmp   (split='test'; white = in focus)"""

    def _parts(self) -> list[str]:
        return ["train", "test"] if self.split == "all" else [self.split]

    def matches(self, root: Path) -> bool:
        return all((root / d).is_dir() for part in self._parts() for d in DUT_DIRS[part])

    def scan(self, root: Path) -> list[Sample]:
        out: list[Sample] = []
        for part in self._parts():
            img_dir, gt_dir = (root / d for d in DUT_DIRS[part])
            out += self.pair(list_files(img_dir), list_files(gt_dir), str(img_dir))
        return out


ZHAO_SUBSETS = {
    "xu100": ("CUHK", "xu100-source", "xu100-gt"),
    "dut500": ("DUT", "dut500-source", "dut500-gt"),
}


@DATASETS.register("zhao320")
class Zhao320(ReaderBase):
    """The 320x320 test package of the Zhao lab (``subset="xu100"`` = BTBNet CUHK test 100, or ``"dut500"``).

    xu100 item n carries ``meta["cuhk_name"]``, the native CUHK stem, so 320 results map back to CUHK.
    The GT has interpolated grey edges: it is binarised at ``gt_threshold`` (pass ``None`` to keep it soft).
    """

    name = "zhao320"
    native_positive = "in_focus"
    splits = ("test", "all")
    layout = """\
<root>/test_data/CUHK/xu100-source/1.bmp ... 100.bmp   xu100-gt/1.bmp ... 100.bmp   (white = in focus)
<root>/test_data/DUT/dut500-source/1.jpg ... 500.jpg   dut500-gt/1.bmp ... 500.bmp
(root may also be test_data/, test_data/CUHK or test_data/DUT itself)"""

    def __init__(
        self, root: str | Path | None, split: str = "test", transform=None, *, subset: str = "xu100", **kwargs
    ) -> None:
        if subset not in ZHAO_SUBSETS:
            raise DataError(f"zhao320: subset={subset!r}; expected one of {', '.join(ZHAO_SUBSETS)}")
        self.subset = subset
        super().__init__(root, split, transform, **kwargs)

    def root_aliases(self) -> tuple[str, ...]:
        group = ZHAO_SUBSETS[self.subset][0]
        return (group, f"test_data/{group}")

    def matches(self, root: Path) -> bool:
        _, src, gt = ZHAO_SUBSETS[self.subset]
        return (root / src).is_dir() and (root / gt).is_dir()

    def scan(self, root: Path) -> list[Sample]:
        _, src, gt = ZHAO_SUBSETS[self.subset]
        samples = self.pair(list_files(root / src), list_files(root / gt), str(root / src))
        if self.subset == "xu100":
            names = zhao_number_to_cuhk()
            samples = [
                Sample(s.name, s.image, s.gt, extra={"cuhk_name": names.get(int(s.name))})
                if s.name.isdigit()
                else s
                for s in samples
            ]
        return samples

    def load(self, sample: Sample):
        item = super().load(sample)
        item["meta"].update(sample.extra)
        return item
