"""``evaluate``: scoring folders of precomputed maps and models, with reports, plots and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dbdzoo.engine import evaluate


def _tree(root: Path, n: int = 3, size: tuple[int, int] = (24, 32)) -> list[np.ndarray]:
    """A ``folder`` dataset (images/ + masks/, white = blur) and its masks."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    masks = []
    for i in range(n):
        mask = np.zeros(size, np.uint8)
        mask[:, : size[1] // (i + 2)] = 255
        cv2.imwrite(str(root / "images" / f"im{i}.png"), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), mask)
        masks.append(mask)
    return masks


def _cfg(tmp_path: Path, data: Path, preds: Path, **extra) -> dict:
    return {
        "paths": {"output_dir": str(tmp_path / "eval_run")},
        "model_ref": None,
        "predictions": str(preds),
        "datasets": {"mine": {"name": "folder", "root": str(data), "split": "all", "positive": "blur"}},
        "presets": ["br2net_maxf", "ddffnet", "sg_cvpr21"],
        "device": "cpu",
        "plots": True,
        **extra,
    }


def test_perfect_prediction_maps_in_mixed_formats_score_one(tmp_path) -> None:
    masks = _tree(tmp_path / "data")
    preds = tmp_path / "preds"
    preds.mkdir()
    cv2.imwrite(str(preds / "im0.png"), masks[0])  # 8-bit
    cv2.imwrite(str(preds / "im1.png"), masks[1].astype(np.uint16) * 257)  # 16-bit
    cv2.imwrite(str(preds / "im2.bmp"), np.dstack([masks[2]] * 3))  # colour
    results = evaluate(_cfg(tmp_path, tmp_path / "data", preds, structure=True))
    assert results["mine"]["structure"]["S"] == pytest.approx(1.0, abs=1e-6)
    for preset in ("br2net_maxf", "ddffnet"):
        assert results["mine"][preset]["F"] == pytest.approx(1.0, abs=1e-3)
        assert results["mine"][preset]["MAE"] == pytest.approx(0.0, abs=1e-6)
        assert results["mine"][preset]["n_images"] == 3
    run = tmp_path / "eval_run"
    assert "br2net_maxf" in (run / "results.md").read_text()
    assert json.loads((run / "results.json").read_text())["results"]["mine"]["ddffnet"]["F"] > 0.99
    assert (run / "results.csv").read_text().startswith("dataset,preset,positive,eval_size")
    assert (run / "plots" / "mine_pr_curves.png").stat().st_size > 1000


def test_in_focus_polarity_predictions_are_flipped(tmp_path) -> None:
    masks = _tree(tmp_path / "data")
    preds = tmp_path / "preds" / "mine"  # per-dataset sub-folder is preferred when present
    preds.mkdir(parents=True)
    for i, m in enumerate(masks):
        cv2.imwrite(str(preds / f"im{i}.png"), 255 - m)
    results = evaluate(_cfg(tmp_path, tmp_path / "data", tmp_path / "preds", prediction_polarity="in_focus"))
    assert results["mine"]["ddffnet"]["F"] == pytest.approx(1.0, abs=1e-3)


def test_missing_predictions_are_listed_or_counted(tmp_path) -> None:
    masks = _tree(tmp_path / "data")
    preds = tmp_path / "preds"
    preds.mkdir()
    cv2.imwrite(str(preds / "im0.png"), masks[0])
    with pytest.raises(FileNotFoundError, match=r"2 prediction\(s\) missing for dataset mine .*im1, im2"):
        evaluate(_cfg(tmp_path, tmp_path / "data", preds))
    results = evaluate(_cfg(tmp_path, tmp_path / "data", preds, skip_missing=True))
    assert results["mine"]["ddffnet"]["n_missing"] == 2 and results["mine"]["ddffnet"]["n_images"] == 1


def test_nan_prediction_names_the_image(tmp_path) -> None:
    _tree(tmp_path / "data", n=1)
    preds = tmp_path / "preds"
    preds.mkdir()
    np.save(preds / "im0.npy", np.full((24, 32), np.nan, np.float32))
    with pytest.raises(ValueError, match="im0"):
        evaluate(_cfg(tmp_path, tmp_path / "data", preds))


def test_exactly_one_source_is_required(tmp_path) -> None:
    with pytest.raises(ValueError, match="exactly one of model_ref"):
        evaluate(
            {"paths": {"output_dir": str(tmp_path)}, "model_ref": None, "predictions": None, "datasets": {}}
        )


def test_model_reference_is_loaded_and_maps_saved(tmp_path) -> None:
    import dbdzoo
    from dbdzoo.hub import save_release

    _tree(tmp_path / "data", n=2)
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    weights = save_release(model, model.config, tmp_path / "fpn.safetensors")
    cfg = _cfg(tmp_path, tmp_path / "data", tmp_path, save_maps=True)
    cfg.update(model_ref=str(weights), predictions=None)
    results = evaluate(cfg)
    assert results["mine"]["br2net_maxf"]["n_images"] == 2
    saved = cv2.imread(str(tmp_path / "eval_run" / "maps" / "mine" / "im0.png"), cv2.IMREAD_UNCHANGED)
    assert (
        saved.shape == (24, 32) and saved.dtype == np.uint8
    )  # native size, although 24×32 is not a multiple of 16
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "data" / "images" / "im0.png")), cv2.COLOR_BGR2RGB)
    expected = model.predict(image)
    np.testing.assert_allclose(saved / 255.0, expected, atol=1 / 255 + 1e-6)


def test_sigma_prediction_folders_are_scored_with_the_dme_protocol(tmp_path) -> None:
    """σ maps of any method (``<stem>_sigma.npy`` in px, or dbdzoo's 16-bit PNG) against σ ground truth."""
    rng = np.random.default_rng(0)
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "masks").mkdir()
    (tmp_path / "data" / "sigma").mkdir()
    preds = tmp_path / "preds"
    preds.mkdir()
    for i in range(2):
        sigma = rng.uniform(0, 3, (16, 16)).astype(np.float32)
        cv2.imwrite(
            str(tmp_path / "data" / "images" / f"s{i}.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        )
        cv2.imwrite(str(tmp_path / "data" / "masks" / f"s{i}.png"), ((sigma > 1) * 255).astype(np.uint8))
        np.save(tmp_path / "data" / "sigma" / f"s{i}.npy", sigma)
        if i == 0:
            np.save(preds / "s0_sigma.npy", sigma + 0.5)  # off by 0.5 px everywhere
        else:
            cv2.imwrite(str(preds / "s1_sigma.png"), np.round((sigma + 0.5) * 1000).astype(np.uint16))
    cfg = _cfg(tmp_path, tmp_path / "data", preds, dme_protocol="rtf")
    results = evaluate(cfg)
    dme = results["mine"]["dme_rtf"]
    assert dme["n_images"] == 2
    assert 0 < dme["MAE"] <= 0.5 / 3.275 + 1e-3  # |Δσ| = 0.5 px, less where clipping at 3.275 px applies


def test_infer_size_runs_the_model_at_320_and_resizes_back(tmp_path) -> None:
    import torch
    import torch.nn.functional as F

    import dbdzoo
    from dbdzoo.hub import save_release

    _tree(tmp_path / "data", n=1, size=(24, 40))
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()
    weights = save_release(model, model.config, tmp_path / "fpn.safetensors")
    cfg = _cfg(tmp_path, tmp_path / "data", tmp_path, save_maps=True, infer_size=64)
    cfg.update(model_ref=str(weights), predictions=None)
    evaluate(cfg)
    saved = cv2.imread(str(tmp_path / "eval_run" / "maps" / "mine" / "im0.png"), cv2.IMREAD_UNCHANGED)
    assert saved.shape == (24, 40)  # resized back to the native size
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "data" / "images" / "im0.png")), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    small = model.predict_tensor(F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False))
    expected = F.interpolate(small, size=(24, 40), mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(saved / 255.0, expected, atol=1 / 255 + 1e-6)


def test_unreadable_images_skipped_on_request_are_counted_not_scored_twice(tmp_path) -> None:
    masks = _tree(tmp_path / "data", n=3)
    (tmp_path / "data" / "images" / "im1.png").write_bytes(b"not a png")  # corrupt
    preds = tmp_path / "preds"
    preds.mkdir()
    for i, m in enumerate(masks):
        cv2.imwrite(str(preds / f"im{i}.png"), m)
    cfg = _cfg(tmp_path, tmp_path / "data", preds)
    with pytest.raises(Exception, match="im1"):
        evaluate(cfg)
    cfg["datasets"]["mine"]["on_error"] = "skip"
    results = evaluate(cfg)
    assert results["mine"]["ddffnet"]["n_images"] == 2 and results["mine"]["ddffnet"]["n_skipped"] == 1
