"""Missing files named at once (issue 22.3), empty/truncated checkpoints and bad configs in one line (22.4, 25.5)."""

from __future__ import annotations

import json

import huggingface_hub
import pytest
import torch

import dbdzoo
from dbdzoo.cli import main as cli_main
from dbdzoo.hub import hf
from dbdzoo.hub.errors import CheckpointFormatError, DownloadError
from dbdzoo.hub.reference import WeightsFileNotFoundError

TINY = {"backbone": "tiny_vgg", "decoder_channels": 8}


@pytest.fixture
def no_hub(monkeypatch):
    """Any Hub request fails the test: a path-shaped reference must never reach huggingface_hub."""
    calls: list[tuple] = []

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append((args, kwargs))
        raise AssertionError(f"hf_hub_download called with {args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    return calls


@pytest.mark.parametrize(
    "ref", ["runs/last.safetensors", "last.pt", "./runs/model", "outputs/train/runs/x/checkpoints/best.pt"]
)
def test_a_missing_path_is_file_not_found_at_once(ref, no_hub) -> None:
    with pytest.raises(WeightsFileNotFoundError, match=rf"^file not found: {ref}$"):
        dbdzoo.load_model(ref)
    with pytest.raises(FileNotFoundError, match=rf"^file not found: {ref}$"):
        dbdzoo.load_model("fpn", weights=ref)
    assert not no_hub


def test_a_hub_id_that_is_not_cached_fails_fast_when_the_hub_is_unreachable(monkeypatch) -> None:
    asked: list[bool] = []

    def download(repo_id, filename, **kw):  # noqa: ANN001, ANN003, ANN202
        asked.append(bool(kw.get("local_files_only")))
        raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        hf, "hub_unreachable", lambda endpoint, timeout=3.0: "OSError: network is unreachable"
    )
    with pytest.raises(DownloadError, match=r"'someorg/somemodel' is not cached and .* is unreachable"):
        dbdzoo.load_model("someorg/somemodel")
    assert asked and all(asked)  # only cache look-ups: no request that retries for half a minute


def _checkpoint(tmp_path):
    model = dbdzoo.create_model("fpn", **TINY)
    path = tmp_path / "last.pt"
    torch.save({"model_config": model.config, "model": model.state_dict()}, path)
    return path


def test_empty_and_truncated_checkpoints_name_the_file_and_its_size(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointFormatError, match=rf"^{empty}: empty file \(0 bytes\)"):
        dbdzoo.load_model(empty)
    whole = _checkpoint(tmp_path).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        CheckpointFormatError, match=rf"^{cut}: corrupt or truncated checkpoint \({len(whole) // 2} bytes"
    ):
        dbdzoo.load_model(cut)
    empty_st = tmp_path / "empty.safetensors"
    empty_st.write_bytes(b"")
    with pytest.raises(CheckpointFormatError, match=r"empty\.safetensors: empty file \(0 bytes\)"):
        dbdzoo.load_model(empty_st)
    assert cli_main(["info", str(empty)]) != 0
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and "empty.pt: empty file (0 bytes)" in err[0], err


@pytest.mark.parametrize("value", [10**7, -1, "64"])
def test_a_weights_folder_config_is_checked_before_anything_is_built(tmp_path, monkeypatch, value) -> None:
    folder = dbdzoo.hub.save_pretrained(dbdzoo.create_model("fpn", **TINY), tmp_path / "folder")
    doc = json.loads((folder / "config.json").read_text())
    doc["model_config"]["decoder_channels"] = value
    (folder / "config.json").write_text(json.dumps(doc))
    monkeypatch.setattr("dbdzoo.models.build_model", lambda *a, **k: pytest.fail("built before the check"))
    with pytest.raises(
        CheckpointFormatError, match=rf"config\.json: decoder_channels={value!r}: expected an integer"
    ):
        dbdzoo.load_model(folder)
