"""The weights shipped inside the package: every access path works offline, hashes are enforced, outputs are
pinned to a stored reference, and ``dbdzoo predict`` without ``--model`` uses the best of them.

Regenerate the reference after retraining a weight: ``python tests/hub/test_released_weights.py``.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

import dbdzoo
from dbdzoo.cli import main as cli_main
from dbdzoo.data.synthetic import gaussian_blur
from dbdzoo.hub import WEIGHTS, IntegrityError, load_model
from dbdzoo.hub import packaged as packaged_mod
from dbdzoo.hub.released import BEST, RESEARCH_USE_NOTE

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).with_name("released_reference.json")
SHIPPED = sorted(
    (model, tag) for model, tags in WEIGHTS.items() for tag, e in tags.items() if e.file and tag != "default"
)
PIXELS = ((0, 0), (20, 33), (47, 95), (31, 60))  # (y, x) probed in the 48×96 reference image


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Shipped weights never touch the network: any connection attempt fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a released-weights path tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def reference_image() -> torch.Tensor:
    """A fixed 48×96 image, sharp texture on the left and the same texture blurred (σ 3) on the right."""
    g = torch.Generator().manual_seed(20261201)
    noise = torch.rand(1, 3, 48, 96, generator=g)
    blurred = gaussian_blur(noise, 3.0)
    return torch.cat([noise[..., :48], 0.25 + 0.5 * blurred[..., 48:] / blurred.amax()], dim=-1)


def fingerprint(model: torch.nn.Module) -> dict[str, float | list[float]]:
    with torch.inference_mode():
        prob = model.predict_tensor(reference_image())[0, 0]
    return {"mean": float(prob.mean()), "pixels": [float(prob[y, x]) for y, x in PIXELS]}


def test_something_is_shipped_and_the_default_is_the_best():
    assert SHIPPED == [("fpn_resnet10t", "cuhk"), ("fpn_resnet10t", "synthetic")]
    model, _, tag = BEST.partition(".")
    assert WEIGHTS[model]["default"] is WEIGHTS[model][tag]
    assert sum(e.size for _, tags in WEIGHTS.items() for t, e in tags.items() if t != "default") <= 30e6
    assert dbdzoo.list_models(pretrained=True) == ["fpn_resnet10t.cuhk", "fpn_resnet10t.synthetic"]
    assert dbdzoo.list_models("*10t*", pretrained=True) == dbdzoo.list_models(pretrained=True)
    assert dbdzoo.list_models("br2net*", pretrained=True) == []


@pytest.mark.parametrize(("model", "tag"), SHIPPED)
def test_shipped_file_matches_its_entry_and_metadata(model, tag):
    entry = WEIGHTS[model][tag]
    path = packaged_mod.packaged_path(entry)  # verifies size and SHA-256
    assert path.stat().st_size == entry.size and path.name == entry.file
    net = load_model(f"{model}.{tag}")
    assert sum(p.numel() for p in net.parameters()) == 5_280_061  # the architecture is the registry's
    assert not net.training and net.pretrained_tag == tag
    assert net.working_max_side == entry.working_max_side == 640  # the scale of the CUHK images
    assert not {"params", "norm_preset", "native_positive", "working_max_side"} & set(entry.meta)
    meta = entry.meta
    assert meta["recipe"].startswith("experiment=") and "wall_time" in meta
    for preset in ("ddffnet", "ddffnet_iou", "sg_cvpr21", "br2net_maxf"):
        scores = meta["metrics"][f"cuhk_val80/{preset}"]
        assert 0 < scores["MAE"] < 0.5 and 0.5 < scores["F"] <= 1 and 0.5 < scores["IoU"] <= 1
    if "CUHK" in meta["dataset"]:
        assert meta["license"].endswith(RESEARCH_USE_NOTE)
    else:
        assert "real label" in meta["dataset"]


@pytest.mark.parametrize(("model", "tag"), SHIPPED)
def test_outputs_on_a_fixed_image_match_the_stored_reference(model, tag):
    stored = json.loads(REFERENCE.read_text())[f"{model}.{tag}"]
    got = fingerprint(load_model(f"{model}.{tag}"))
    assert got["mean"] == pytest.approx(stored["mean"], abs=2e-3)
    assert got["pixels"] == pytest.approx(stored["pixels"], abs=5e-3)


def test_every_access_path_gives_the_same_network():
    x = reference_image()
    ref = load_model("fpn_resnet10t.cuhk").predict_tensor(x)
    others = [
        dbdzoo.create_model("fpn_resnet10t", pretrained=True),
        dbdzoo.create_model("fpn_resnet10t", weights="cuhk"),
        dbdzoo.create_model("fpn_resnet10t.cuhk"),
        dbdzoo.load_model("fpn_resnet10t:cuhk"),
        dbdzoo.load_model("fpn_resnet10t"),
        torch.hub.load(str(REPO), "fpn_resnet10t", source="local", trust_repo=True, weights="cuhk"),
        torch.hub.load(str(REPO), "fpn_resnet10t", source="local", trust_repo=True, pretrained=True),
    ]
    for net in others:
        torch.testing.assert_close(net.eval().predict_tensor(x), ref, rtol=0, atol=0)
    synthetic = torch.hub.load(
        str(REPO), "fpn_resnet10t", source="local", trust_repo=True, weights="synthetic"
    )
    assert not torch.equal(synthetic.predict_tensor(x), ref)
    with pytest.raises(ValueError, match="either in the name"):
        dbdzoo.create_model("fpn_resnet10t.cuhk", weights="synthetic")
    assert dbdzoo.create_model("fpn_resnet10t").training  # untrained unless asked


def test_predict_on_a_fresh_pretrained_model_accepts_a_photo_array():
    net = dbdzoo.create_model("fpn_resnet10t", pretrained=True)
    photo = (reference_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[:45, :91]
    prob = net.predict(photo)
    assert prob.shape == (45, 91) and prob.min() >= 0 and prob.max() <= 1


def test_a_tampered_weights_file_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "weights"
    shutil.copytree(packaged_mod.weights_dir(), fake)
    entry = WEIGHTS["fpn_resnet10t"]["cuhk"]
    blob = bytearray((fake / entry.file).read_bytes())
    blob[-1] ^= 0xFF  # same size, different content
    (fake / entry.file).write_bytes(bytes(blob))
    monkeypatch.setattr(packaged_mod, "weights_dir", lambda: fake)
    with pytest.raises(IntegrityError) as err:
        load_model("fpn_resnet10t.cuhk")
    message = str(err.value)
    assert str(fake / entry.file) in message and entry.sha256 in message
    assert packaged_mod.sha256_of(fake / entry.file) in message and "\n" not in message
    assert cli_main(["info", "fpn_resnet10t.cuhk"]) == 1
    err_line = capsys.readouterr().err.strip()
    assert err_line.count("\n") == 0 and entry.sha256 in err_line


def test_predict_without_model_uses_the_best_released_weights(tmp_path, monkeypatch, capsys):
    from PIL import Image

    photo = (reference_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    assert cli_main(["predict", "photo.jpg"]) == 0  # exactly as a user types it
    assert "fpn_resnet10t.cuhk" in capsys.readouterr().err
    blur = np.asarray(Image.open(tmp_path / "predictions" / "photo_blur.png"))
    assert blur.shape == (48, 96) and blur.dtype == np.uint8
    expected = load_model(BEST).predict(np.asarray(Image.open(tmp_path / "photo.jpg").convert("RGB")))
    assert np.abs(blur / 255.0 - expected).max() <= 1 / 255 + 1e-6


def test_info_and_list_describe_the_released_weights(capsys):
    assert cli_main(["info", "fpn_resnet10t.cuhk"]) == 0
    out = capsys.readouterr().out
    entry = WEIGHTS["fpn_resnet10t"]["cuhk"]
    assert entry.sha256 in out and "cuhk_val80/ddffnet" in out and "research use only" in out
    assert cli_main(["info", "fpn_resnet10t.cuhk", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)  # the architecture's facts come from the model itself
    assert report["params"] == 5_280_061 and report["norm_preset"] == "imagenet_rgb"
    assert report["working_max_side"] == 640 and report["native_positive"] == "blur"
    assert cli_main(["list", "--pretrained"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["fpn_resnet10t.cuhk", "fpn_resnet10t.synthetic"]


def _python_block(md: Path, after: str) -> str:
    """The first ```python block after the heading ``after`` in a Markdown file."""
    text = md.read_text()
    rest = text[text.index(after) :]
    return rest.split("```python\n", 1)[1].split("```", 1)[0]


def test_documented_python_snippets_run_as_written(tmp_path, monkeypatch):
    from PIL import Image

    photo = (reference_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    scope: dict = {"photo": photo}
    exec(_python_block(REPO / "README.md", "## Pretrained weights"), scope)  # noqa: S102
    assert scope["blur"].shape == (48, 96) and scope["model"].pretrained_tag == "cuhk"
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(_python_block(REPO / "docs" / "models" / "fpn.md", "## Released weights"), scope)  # noqa: S102
    assert (
        scope["blur"].shape == (48, 96) and 0 <= float(scope["blur"].min()) <= float(scope["blur"].max()) <= 1
    )


def test_documented_cli_lines_run_as_typed(tmp_path, monkeypatch, capsys):
    import shlex

    from PIL import Image

    text = (REPO / "README.md").read_text()
    block = text[text.index("## Pretrained weights") :].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert [line.split()[:2] for line in lines] == [
        ["dbdzoo", "predict"],
        ["dbdzoo", "list"],
        ["dbdzoo", "info"],
    ]
    photo = (reference_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    for line in lines:
        assert cli_main(shlex.split(line)[1:]) == 0, line
    assert (tmp_path / "predictions" / "photo_overlay.png").is_file()


def test_release_tool_writes_a_verified_fp16_file(tmp_path):
    from safetensors import safe_open

    from dbdzoo.hub.release import release_file

    net = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()
    net.working_max_side = 96  # as if trained on 96-px images: the release must keep it
    dbdzoo.hub.save_pretrained(net, tmp_path / "run")
    info = release_file(tmp_path / "run", tmp_path / "out" / "fpn.tiny.safetensors")
    out = tmp_path / "out" / "fpn.tiny.safetensors"
    assert info["sha256"] == packaged_mod.sha256_of(out) and info["size"] == out.stat().st_size
    assert info["params"] == sum(p.numel() for p in net.parameters())
    assert out.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600
    with safe_open(str(out), framework="pt") as f:
        names = list(f.keys())  # noqa: SIM118 (safe_open has no __iter__)
        dtypes = {f.get_tensor(k).dtype for k in names if f.get_tensor(k).is_floating_point()}
    assert dtypes == {torch.float16}
    back = load_model(str(out))
    assert info["working_max_side"] == back.working_max_side == 96
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(back(x).logits, net.half().float()(x).logits, rtol=0, atol=1e-5)


if __name__ == "__main__":  # regenerate the stored reference (after retraining a released weight)
    torch.set_num_threads(1)
    REFERENCE.write_text(
        json.dumps({f"{m}.{t}": fingerprint(load_model(f"{m}.{t}")) for m, t in SHIPPED}, indent=2) + "\n"
    )
    print(f"wrote {REFERENCE}")
