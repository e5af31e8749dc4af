"""``data.augment_on=device``: the batched device ops give the worker path's distributions, aligned pairs.

Images encode their own coordinates (channel 0 = 10 + 4·row, channel 1 = 10 + 4·column, channel 2 = 200),
so every augmented output says where each of its pixels came from: crop position, flips, quarter turns and
the rotation angle are read back from the pixels, for the albumentations (worker) path and the device path
alike, and compared over many samples with binomial tolerances (5 σ) that a shifted range, a missing flip
or a wrong probability would break.
"""

from __future__ import annotations

import math

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from dbdzoo.data import DataError, build_transform
from dbdzoo.data.device_augment import DeviceAugment, Op, _rotate, device_collate
from dbdzoo.data.transforms import Rot90Choice

N = 1200  # samples per path and check


def coord_image(h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([10 + 4 * ys, 10 + 4 * xs, np.full_like(ys, 200)], axis=-1).astype(np.uint8)


def worker_outputs(recipe: str, image: np.ndarray, mask: np.ndarray, **kw) -> list[dict]:
    tf = build_transform(recipe, **kw)
    out = []
    for seed in range(N):
        tf.set_random_seed(seed)
        out.append(tf({"image": image, "mask": mask}))
    return out


def device_outputs(recipe: str, image: np.ndarray, mask: np.ndarray, batch: int = 200, **kw) -> list[dict]:
    worker, augment = DeviceAugment.split(build_transform(recipe, **kw))
    out = []
    for start in range(0, N, batch):
        items = []
        for seed in range(start, start + batch):
            worker.set_random_seed(10**6 + seed)
            items.append(worker({"image": image, "mask": mask}))
        b = augment(device_collate(items), "cpu")
        out += [{"image": b["image"][i], "mask": b["mask"][i]} for i in range(batch)]
    return out


def read_crop_and_flip(item: dict) -> tuple[int, int, bool]:
    """(top row, left column, mirrored) of an unrotated crop, from the coordinate channels."""
    img = (item["image"] * 255).round().long()
    rows, cols = (img[0] - 10) // 4, (img[1] - 10) // 4
    return int(rows.min()), int(cols.min()), bool(cols[0, 0] > cols[0, -1])


def dihedral_class(item: dict) -> tuple[int, int, int, int]:
    """Signs of d(row)/dy, d(row)/dx, d(col)/dy, d(col)/dx: one of the 8 flips/quarter turns."""
    img = item["image"] * 255
    r, c = img[0], img[1]
    return tuple(int(torch.sign(g).item()) for g in (r[1, 0] - r[0, 0], r[0, 1] - r[0, 0],
                                                      c[1, 0] - c[0, 0], c[0, 1] - c[0, 0]))  # fmt: skip


def read_angle(item: dict, margin: int = 5) -> float:
    """The rotation in degrees, from a plane fitted to the column channel in the crop's centre."""
    col = item["image"][1].double() * 255
    h, w = col.shape
    ys, xs = torch.meshgrid(torch.arange(margin, h - margin), torch.arange(margin, w - margin), indexing="ij")
    a = torch.stack([xs.flatten(), ys.flatten(), torch.ones(xs.numel())], 1).double()
    coef = torch.linalg.lstsq(a, col[margin : h - margin, margin : w - margin].reshape(-1, 1)).solution
    return math.degrees(math.atan2(-float(coef[1]), float(coef[0])))  # s_x = cos·dx − sin·dy


def assert_uniform(values: list[int], support: list, what: str) -> None:
    p = 1 / len(support)
    for v in support:
        freq = sum(x == v for x in values) / len(values)
        assert abs(freq - p) < 5 * math.sqrt(p * (1 - p) / len(values)), f"{what}={v}: {freq:.3f} vs {p:.3f}"
    assert set(values) <= set(support), f"{what} outside {support}: {sorted(set(values) - set(support))}"


def test_crop_positions_and_flips_follow_the_worker_distribution() -> None:
    image, mask = coord_image(20, 30), np.zeros((20, 30), np.float32)
    kw = {"size": (12, 16), "rotate": 0}
    for outputs, path in ((worker_outputs("br2net", image, mask, **kw), "worker"),
                          (device_outputs("br2net", image, mask, **kw), "device")):  # fmt: skip
        read = [read_crop_and_flip(o) for o in outputs]
        assert_uniform([r[0] for r in read], list(range(20 - 12 + 1)), f"{path} crop top")
        assert_uniform([r[1] for r in read], list(range(30 - 16 + 1)), f"{path} crop left")
        assert_uniform([r[2] for r in read], [False, True], f"{path} h-flip")


def test_dmenet_flips_and_quarter_turns_cover_the_eight_orientations_equally() -> None:
    image, mask = coord_image(24, 24), np.zeros((24, 24), np.float32)
    classes = None
    for outputs in (
        worker_outputs("dmenet", image, mask, size=8),
        device_outputs("dmenet", image, mask, size=8),
    ):
        found = [dihedral_class(o) for o in outputs]
        classes = classes or sorted(set(found))
        assert len(classes) == 8 and sorted(set(found)) == classes  # the same eight, both paths
        assert_uniform(found, classes, "orientation")


def test_rotation_angles_are_uniform_over_the_limit_on_both_paths() -> None:
    # float images: cv2 rounds a rotated uint8 ramp to whole levels, which hides angles under ~1.5°
    image, mask = coord_image(40, 40).astype(np.float32) / 255, np.zeros((40, 40), np.float32)
    kw = {"size": 24, "rotate": 10, "hflip": False}
    for outputs, path in ((worker_outputs("br2net", image, mask, **kw), "worker"),
                          (device_outputs("br2net", image, mask, **kw), "device")):  # fmt: skip
        angles = np.array([read_angle(o) for o in outputs])
        assert np.abs(angles).max() < 10.3, path
        bins = np.clip(((angles + 10) // 5).astype(int), 0, 3)  # four 5° bins
        assert_uniform(bins.tolist(), [0, 1, 2, 3], f"{path} angle bin")


def test_fixed_ops_match_albumentations() -> None:
    """Quarter turns and flips exactly; a rotation within the worker's uint8 rounding, in its direction."""
    image, mask = coord_image(16, 16), (np.arange(256).reshape(16, 16) % 3 == 0).astype(np.float32)
    cases = [(Rot90Choice((1,)), Op("rot90", ks=(1,))), (Rot90Choice((3,)), Op("rot90", ks=(3,))),
             (A.HorizontalFlip(p=1), Op("hflip")), (A.VerticalFlip(p=1), Op("vflip"))]  # fmt: skip
    for album, op in cases:
        ref = A.Compose([album], seed=0)(image=image, mask=mask)
        item = {"image": torch.from_numpy(image), "mask": torch.from_numpy(mask),
                "aug_seed": 0}  # fmt: skip
        out = DeviceAugment([op])(device_collate([item]))
        assert torch.equal(
            (out["image"][0] * 255).round().byte(), torch.from_numpy(ref["image"]).permute(2, 0, 1)
        )
        assert torch.equal(out["mask"][0, 0], torch.from_numpy(ref["mask"]))
    t = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    for angle in (7.0, -9.5):
        rot = A.Rotate(limit=(angle, angle), interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST,
                       border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=1)  # fmt: skip
        ref = A.Compose([rot], seed=0)(image=image, mask=mask)
        ref_image = torch.from_numpy(ref["image"]).permute(2, 0, 1).float() / 255
        assert (_rotate(t, torch.tensor([angle]), bilinear=True)[0] - ref_image).abs().max() < 2.5 / 255
        assert (_rotate(t, torch.tensor([-angle]), bilinear=True)[0] - ref_image).abs().max() > 10 / 255
        masked = _rotate(torch.from_numpy(mask)[None, None], torch.tensor([angle]), bilinear=False)[0, 0]
        assert (masked != torch.from_numpy(ref["mask"])).float().mean() < 0.01


def test_image_and_mask_stay_aligned_through_crop_flip_and_rotation() -> None:
    """The mask is 1 where the source column is ≥ 20; after augmentation it must still mark exactly the
    pixels whose column channel says ≥ 20 (1-pixel tolerance at the edge, zeros where rotation fills)."""
    h, w = 36, 48
    image = coord_image(h, w)
    mask = (np.arange(w)[None, :].repeat(h, 0) >= 20).astype(np.float32)
    outputs = device_outputs("br2net", image, mask, size=24, rotate=10)
    bad = total = 0
    for o in outputs:
        col = (o["image"][1] * 255 - 10) / 4
        filled = o["image"][2] * 255 < 0.5  # all four neighbours outside the rotated crop: mask 0 too
        clear = ((col - 19.5).abs() > 1.0) & (o["image"][2] * 255 > 199.5)  # not blended with the fill
        bad += int(((col >= 19.5) != (o["mask"][0] > 0.5))[clear].sum()) + int(
            (o["mask"][0][filled] != 0).sum()
        )
        total += int(clear.sum())
    assert total > 0.5 * N * 24 * 24 and bad == 0


def test_samples_of_mixed_sizes_travel_flat_uint8_and_crops_stay_in_their_own_image() -> None:
    worker, augment = DeviceAugment.split(build_transform("br2net", size=10, rotate=0))
    items = []
    for i, (h, w) in enumerate([(10, 30), (28, 12), (15, 15), (10, 10)] * 8):
        worker.set_random_seed(i)
        image = coord_image(h, w)
        image[..., 2] = 100 + i  # which sample a pixel belongs to
        items.append(worker({"image": image, "mask": np.ones((h, w), np.float32)}))
    batch = device_collate(items)
    sizes = [h * w for h, w in [(10, 30), (28, 12), (15, 15), (10, 10)] * 8]
    assert batch["image"].dtype == batch["mask"].dtype == torch.uint8  # binary masks: one byte a pixel
    assert batch["image"].shape == (3 * sum(sizes),) and batch["mask"].shape == (sum(sizes),)  # no padding
    out = augment(batch)
    assert out["image"].shape == (32, 3, 10, 10) and out["mask"].dtype == torch.float32
    owner = (out["image"][:, 2] * 255).round()
    assert torch.equal(owner, (100 + torch.arange(32.0)).view(32, 1, 1).expand(32, 10, 10))
    assert torch.all(out["mask"] == 1)
    assert torch.equal(out["image"], augment(device_collate(items))["image"])  # the seeds decide
    reseeded = [{**item, "aug_seed": item["aug_seed"] + 1000} for item in items]
    assert not torch.equal(out["image"], augment(device_collate(reseeded))["image"])


def test_what_has_no_device_form_is_refused() -> None:
    small = {"image": torch.zeros(6, 6, 3, dtype=torch.uint8), "aug_seed": 0}
    with pytest.raises(DataError, match="smaller than the 8x8 crop"):
        DeviceAugment([Op("crop", size=(8, 8))])(device_collate([small]))
    with pytest.raises(DataError, match="need a square size"):
        DeviceAugment([Op("rot90", ks=(1,))])(device_collate([{**small, "image": torch.zeros(4, 6, 3)}]))
    with pytest.raises(DataError, match="does not crop"):
        DeviceAugment([Op("hflip")])(device_collate([small, {**small, "image": torch.zeros(7, 6, 3)}]))
