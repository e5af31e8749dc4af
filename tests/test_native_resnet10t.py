"""The native ResNet-10-T is timm's ``resnet10t`` features, module for module, and inference needs no timm."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from helpers.child import run_child

from dbdzoo.backbones import TimmBackbone, create_backbone
from dbdzoo.backbones.resnet10t import ResNet10TFeatures, supports

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("out_indices", "stem_pool"), [(None, False), ((1, 2, 3, 4), False), ((0, 1), True), ((2,), False)]
)
def test_same_keys_init_and_outputs_as_timm(out_indices, stem_pool) -> None:
    torch.manual_seed(3)
    ref = TimmBackbone("resnet10t", out_indices=out_indices, stem_pool=stem_pool)
    after_ref = torch.rand(4)
    torch.manual_seed(3)
    ours = ResNet10TFeatures(out_indices=out_indices, stem_pool=stem_pool)
    after_ours = torch.rand(4)
    # same seeded initialisation, and the random stream left where timm leaves it (the decoder's init)
    torch.testing.assert_close(after_ours, after_ref, rtol=0, atol=0)
    ref_state, our_state = ref.state_dict(), ours.state_dict()
    assert list(our_state) == list(ref_state)
    for key, value in ref_state.items():
        torch.testing.assert_close(our_state[key], value, rtol=0, atol=0, msg=key)
    assert (ours.channels, ours.strides, ours.taps) == (ref.channels, ref.strides, ref.taps)
    with torch.no_grad():  # random weights and BN statistics, so every layer matters
        for p in list(ours.parameters()) + [b for b in ours.buffers() if b.is_floating_point()]:
            p.copy_(torch.rand_like(p) * 0.5 + 0.25)
    ref.load_state_dict(ours.state_dict())
    x = torch.rand(2, 3, 70, 93)  # odd sizes: ceil-mode shortcut pools
    for train in (False, True):
        ref.train(train), ours.train(train)
        with torch.no_grad():
            for a, b in zip(ours(x), ref(x), strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_registry_picks_native_only_for_options_it_builds_the_same() -> None:
    assert isinstance(create_backbone("timm:resnet10t", out_indices=(1, 2, 3, 4)), ResNet10TFeatures)
    plain = create_backbone("resnet10t")  # the registry family: stem max-pooled to stride 4
    assert isinstance(plain, ResNet10TFeatures) and plain.strides == (4, 4, 8, 16, 32)
    assert isinstance(create_backbone("timm:resnet10t", output_stride=16), TimmBackbone)
    assert isinstance(create_backbone("timm:resnet10t", out_indices=(-1,)), TimmBackbone)
    assert not supports(out_indices=(3, 1)) and not supports(weights="x.safetensors")
    with pytest.raises(ValueError, match=r"resnet10t: out_indices=\(5,\): expected increasing levels"):
        ResNet10TFeatures(out_indices=(5,))


def test_default_model_and_predict_import_no_timm(tmp_path) -> None:
    """Nor torchvision, OpenCV, albumentations, Hydra, the Hub client, the engine or the data layer."""
    code = (
        "import atexit, gc\n"  # runs after predict's own exit handler (last registered, first run)
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count()))\n"
        "import sys, numpy as np, dbdzoo\n"
        "m = dbdzoo.load_model('fpn_resnet10t')\n"
        "m.predict(np.zeros((40, 56, 3), np.uint8))\n"
        "from dbdzoo.cli import main\n"
        f"assert main(['predict', {str(tmp_path / 'x.png')!r}, '--out', {str(tmp_path / 'out')!r}]) == 0\n"
        "heavy = ('timm', 'torchvision', 'torch._dynamo', 'albumentations', 'cv2', 'hydra', 'omegaconf',\n"
        "         'huggingface_hub', 'dbdzoo.engine', 'dbdzoo.data')\n"
        "print(__import__('json').dumps(sorted(h for h in heavy if h in sys.modules)))\n"
    )
    from PIL import Image

    Image.new("RGB", (64, 48), (90, 120, 30)).save(tmp_path / "x.png")
    proc = run_child([sys.executable, "-c", code], cwd=REPO, timeout=240)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == []
    assert int(lines[-1].split(":")[1]) > 10_000  # exit skips collecting torch's objects (gc.freeze)
    assert (tmp_path / "out" / "x_blur.png").is_file()
