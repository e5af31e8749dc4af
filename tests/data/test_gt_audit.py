"""The checker's per-file ground-truth audit: empty/full masks and polarity against image sharpness.

Synthetic pairs only: a sharp noise texture whose right half is Gaussian-blurred, with the right mask
(right half = blurred) and the inverted one (the CUHK ``out_of_focus0508/0509`` defect).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from data_helpers import save_gt, save_rgb

from dbdzoo.data.check import main as check_main
from dbdzoo.data.sharpness import POLARITY_RATIO, blur_sharpness_ratio

H, W = 64, 96


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sharp noise on the left, the same noise blurred (σ = 3 px) on the right; mask 255 = blurred."""
    sharp = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    image = sharp.copy()
    image[:, W // 2 :] = cv2.GaussianBlur(sharp, (0, 0), 3)[:, W // 2 :]
    mask = np.zeros((H, W), np.uint8)
    mask[:, W // 2 :] = 255
    return image, mask


def _folder(root: Path, gts: dict[str, np.ndarray]) -> Path:
    for i, (stem, gt) in enumerate(gts.items()):
        image, _ = _scene(i)
        save_rgb(root / "images" / f"{stem}.png", image)
        save_gt(root / "masks" / f"{stem}.png", gt)
    return root


def _run(root: Path, capsys, *extra: str) -> tuple[int, str]:
    argv = [str(root), "--dataset", "folder", "--split", "all", "--option", "positive=blur", *extra]
    code = check_main(argv)
    return code, capsys.readouterr().out


def test_the_sharpness_cue_separates_right_and_inverted_masks() -> None:
    image, mask = _scene(0)
    right = blur_sharpness_ratio(image, mask / 255.0)
    inverted = blur_sharpness_ratio(image, 1 - mask / 255.0)
    assert right is not None and inverted is not None
    assert right < 1 / POLARITY_RATIO and inverted > POLARITY_RATIO
    assert blur_sharpness_ratio(image[:12, :16], mask[:12, :16] / 255.0) is None  # too small to judge


def test_inverted_empty_and_full_gts_are_warnings_naming_the_file(tmp_path, capsys) -> None:
    _, mask = _scene(0)
    gts = {"good": mask, "good2": mask, "good3": mask, "flipped": 255 - mask}
    gts |= {"empty": np.zeros_like(mask), "full": np.full_like(mask, 255)}
    root = _folder(tmp_path, gts)
    code, out = _run(root, capsys)
    masks = root / "masks"
    warnings = [line.strip() for line in out.splitlines() if "[warning]" in line]
    assert len(warnings) == 3, out
    assert any(f"{masks / 'flipped.png'}: polarity disagrees with the image" in w for w in warnings)
    assert any(f"{masks / 'empty.png'}: all-background ground truth" in w for w in warnings)
    assert any(f"{masks / 'full.png'}: all-blur ground truth" in w for w in warnings)
    assert code == 0 and "OK (3 warning(s); --strict fails on them)" in out  # warnings alone pass...
    code, out = _run(root, capsys, "--strict")
    assert code == 1 and "FAILED (3 warning(s))" in out  # ...unless --strict


def test_most_gts_inverted_or_empty_is_a_problem(tmp_path, capsys) -> None:
    _, mask = _scene(0)
    code, out = _run(_folder(tmp_path / "inv", {f"s{i}": 255 - mask for i in range(3)}), capsys)
    assert code == 1 and "[problem] polarity: 3 of 3 ground truths label the sharper region as blurred" in out
    code, out = _run(_folder(tmp_path / "empty", {f"s{i}": np.zeros_like(mask) for i in range(3)}), capsys)
    assert code == 1 and "[problem] ground truth: 3 of 3 masks are all-background or all-blur" in out


def test_warning_lists_are_capped_unless_all(tmp_path, capsys) -> None:
    _, mask = _scene(0)
    gts = {f"e{i:02d}": np.zeros_like(mask) for i in range(21)} | {f"g{i:02d}": mask for i in range(22)}
    root = _folder(tmp_path, gts)
    code, out = _run(root, capsys)
    assert code == 0 and out.count("[warning]") == 20 and "... and 1 more warnings (--all" in out
    code, out = _run(root, capsys, "--all")
    assert out.count("[warning]") == 21
