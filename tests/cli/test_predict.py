"""``dbdzoo predict`` on generated images of odd sizes, modes and EXIF orientations; bad-input handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.cli import main
from dbdzoo.hub import load_model, save_pretrained
from dbdzoo.models import MODELS
from dbdzoo.models.fpn import FPN


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "fpn_tiny"
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval(), folder)
    return folder


def _rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(_rgb(97, 131, 0)).save(root / "a.png")
    Image.fromarray(_rgb(97, 131, 1)).save(root / "b.png")  # same size as a.png: batched together
    Image.fromarray(_rgb(50, 64, 2)[..., 0]).save(root / "sub" / "grey.jpg")
    Image.fromarray(np.dstack([_rgb(33, 45, 3), np.full((33, 45), 128, np.uint8)])).save(root / "rgba.png")
    Image.fromarray(np.arange(29 * 31, dtype=np.uint16).reshape(29, 31) * 70).save(root / "deep16.png")
    # stored 40 wide × 24 high, top half white; EXIF 6 = rotate 90° clockwise → 24 × 40, white on the right
    stored = np.zeros((24, 40, 3), np.uint8)
    stored[:12] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    return root, tmp_path / "rotated.jpg"


def test_predict_writes_maps_at_input_size(saved, images, tmp_path):
    root, rotated = images
    out = tmp_path / "out"
    args = [root, rotated, "--model", saved, "--out", out, "-r", "--threshold", "0.5", "--overlay"]
    assert main(["predict", *map(str, args), "--batch-size", "2", "--device", "cpu"]) == 0
    expected = {"a": (97, 131), "b": (97, 131), "sub/grey": (50, 64), "rgba": (33, 45), "deep16": (29, 31)}
    expected["rotated"] = (40, 24)
    for stem, (h, w) in expected.items():
        blur = np.asarray(Image.open(out / f"{stem}_blur.png"))
        mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
        over = np.asarray(Image.open(out / f"{stem}_overlay.png"))
        assert blur.shape == (h, w) and blur.dtype == np.uint8 and mask.shape == (h, w)
        assert set(np.unique(mask)) <= {0, 255} and over.shape == (h, w, 3)
    # the overlay is drawn on the EXIF-rotated image: white (green > 0) on the right half only
    green = np.asarray(Image.open(out / "rotated_overlay.png"))[..., 1].astype(int)
    assert green[:, 16:].mean() > 80 and green[:, :8].mean() < 20
    # the written map equals model.predict on the same pixels (8-bit quantisation aside)
    model = load_model(str(saved))
    want = model.predict(np.array(Image.open(root / "a.png").convert("RGB")))
    got = np.asarray(Image.open(out / "a_blur.png")).astype(np.float32) / 255
    assert np.abs(got - want).max() <= 0.5 / 255 + 1e-6


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if "predict:" in line or "error" in line]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_bad_inputs_give_one_line_and_nonzero_exit(saved, tmp_path, capsys):
    out = str(tmp_path / "out")
    (tmp_path / "notes.png").write_text("this is not an image")
    assert main(["predict", str(tmp_path / "notes.png"), "--model", str(saved), "--out", out]) == 1
    assert "not an image" in _one_error_line(capsys)

    Image.fromarray(_rgb(64, 64, 5)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert main(["predict", str(tmp_path / "cut.png"), "--model", str(saved), "--out", out]) == 1
    assert "cut.png" in _one_error_line(capsys)

    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "--model", str(saved), "--out", out]) == 1
    assert "no images" in _one_error_line(capsys)

    assert main(["predict", str(tmp_path / "full.png"), "--model", "no_such_model", "--out", out]) == 1
    assert "unknown model reference" in _one_error_line(capsys)

    with pytest.raises(Exception, match="not an image"):  # --debug: the real exception with its traceback
        main(["predict", str(tmp_path / "notes.png"), "--model", str(saved), "--out", out, "--debug"])


class _TinyDME(FPN):
    """A defocus-map stand-in: FPN with task "dme" and a σ helper (σ_max = 7 px)."""

    task = "dme"

    def sigma(self, normalised: torch.Tensor) -> torch.Tensor:
        return normalised * 7.0


def tiny_dme_for_tests(**kwargs) -> _TinyDME:
    return _TinyDME(**kwargs)


def test_sigma_maps_for_defocus_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MODELS._entries, "tiny_dme_for_tests", tiny_dme_for_tests)
    folder = tmp_path / "dme"
    save_pretrained(
        create_model("tiny_dme_for_tests", backbone="tiny_vgg", decoder_channels=8).eval(), folder
    )
    Image.fromarray(_rgb(45, 70, 6)).save(tmp_path / "scene.png")
    for fmt in ("npy", "png16"):
        out = tmp_path / fmt
        assert (
            main(
                [
                    "predict",
                    str(tmp_path / "scene.png"),
                    "--model",
                    str(folder),
                    "--out",
                    str(out),
                    "--sigma",
                    fmt,
                ]
            )
            == 0
        )
    blur = np.asarray(Image.open(tmp_path / "npy" / "scene_blur.png")).astype(np.float32) / 255
    sigma = np.load(tmp_path / "npy" / "scene_sigma.npy")
    png16 = np.asarray(Image.open(tmp_path / "png16" / "scene_sigma.png")).astype(np.float32) / 1000
    assert sigma.shape == png16.shape == (45, 70) and sigma.min() >= 0 and sigma.max() <= 7
    np.testing.assert_allclose(sigma, blur * 7, atol=7 / 255)
    np.testing.assert_allclose(png16, sigma, atol=1 / 1000)
    saved_dbd = tmp_path / "dbd"
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8), saved_dbd)
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(tmp_path / "scene.png"),
                "--model",
                str(saved_dbd),
                "--out",
                str(tmp_path / "o"),
                "--sigma",
                "npy",
            ]
        )
        == 0
    )
    assert "--sigma skipped" in capsys.readouterr().err and not (tmp_path / "o" / "scene_sigma.npy").exists()


def test_same_named_inputs_from_different_folders_are_refused_not_overwritten(tmp_path):
    from dbdzoo.cli import CLIError
    from dbdzoo.cli.predict import collect_inputs

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.fromarray(_rgb(8, 8, 0)).save(tmp_path / sub / "img.jpg")
    with pytest.raises(CLIError, match=r"written twice, e\.g\. img_jpg_blur\.png"):
        collect_inputs([str(tmp_path / "a" / "img.jpg"), str(tmp_path / "b" / "img.jpg")], False)
    kept = collect_inputs([str(tmp_path)], True)  # the parent folder keeps them apart
    assert sorted(str(stem) for _, stem in kept) == ["a/img", "b/img"]
