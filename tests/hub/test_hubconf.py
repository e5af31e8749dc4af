"""torch.hub entry points from hubconf.py, loaded with source="local" (no network)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import list_models
from dbdzoo.hub import save_pretrained
from dbdzoo.models.fpn import FPN

REPO = Path(__file__).resolve().parents[2]


def test_every_registered_model_is_an_entry_point():
    spec = importlib.util.spec_from_file_location("dbdzoo_hubconf", REPO / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    # what torch.hub.list reports: public callables of the module
    entries = sorted(n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_"))
    assert entries == list_models()
    assert all(importlib.util.find_spec(dep) for dep in hubconf.dependencies)
    assert "fpn" in (hubconf.fpn.__doc__ or "")


def test_torch_hub_load_local_untrained_and_with_weights(tmp_path):
    model = torch.hub.load(
        str(REPO), "fpn", source="local", trust_repo=True, backbone="tiny_vgg", decoder_channels=8
    )
    assert isinstance(model, FPN) and model.config["backbone"] == "tiny_vgg"
    save_pretrained(model.eval(), tmp_path / "w")
    loaded = torch.hub.load(str(REPO), "fpn", source="local", trust_repo=True, weights=str(tmp_path / "w"))
    x = torch.rand(1, 3, 32, 64)
    torch.testing.assert_close(loaded(x).logits, model(x).logits, rtol=0, atol=0)
