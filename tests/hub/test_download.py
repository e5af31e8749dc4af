"""Downloads, cache reuse, hash checks and URL/registry loading against a local HTTP server (no internet)."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
from hub_helpers import hub_cache, local_server, safetensors_bytes, tiny_fpn

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo.hub import (
    WEIGHTS,
    CheckpointFormatError,
    DownloadError,
    IntegrityError,
    UnverifiedDownloadWarning,
    WeightsEntry,
    download,
    load_model,
    register_weights,
)

# fixtures shared with the other download tests (bodies in hub_helpers)
server = pytest.fixture(name="server")(local_server)
hub_dir = pytest.fixture(name="hub_dir")(hub_cache)
tiny = pytest.fixture(name="tiny", scope="module")(tiny_fpn)


@pytest.fixture
def clean_weights():
    saved = {k: dict(v) for k, v in WEIGHTS.items()}
    yield
    WEIGHTS.clear()
    WEIGHTS.update(saved)


def test_download_verifies_and_reuses_cache(server, hub_dir):
    body = b"dbdzoo" * 1000
    digest = hashlib.sha256(body).hexdigest()
    url = server.add("/w/model.bin", body)
    first = download(url, sha256=digest, size=len(body), progress=False)
    assert first.path.read_bytes() == body and not first.from_cache and first.path.parent == hub_dir
    assert first.path.name == f"model-{digest[:8]}.bin"
    second = download(url, sha256=digest, size=len(body), progress=False)
    assert second.from_cache and second.path == first.path
    assert server.hits["/w/model.bin"] == 1  # the second call never reached the server


def test_hash_mismatch_deletes_file_and_names_both_hashes(server, hub_dir):
    url = server.add("/w/bad.bin", b"tampered bytes")
    wrong = "0" * 64
    with pytest.raises(IntegrityError) as info:
        download(url, sha256=wrong, progress=False)
    actual = hashlib.sha256(b"tampered bytes").hexdigest()
    assert wrong in str(info.value) and actual in str(info.value) and "deleted" in str(info.value)
    assert not any(hub_dir.iterdir())  # neither the file nor a partial download is left behind


def test_corrupt_cached_copy_is_replaced(server, hub_dir):
    body = b"good weights"
    digest = hashlib.sha256(body).hexdigest()
    url = server.add("/w/good.bin", body)
    path = download(url, sha256=digest, progress=False).path
    path.write_bytes(b"bit rot")
    again = download(url, sha256=digest, progress=False)
    assert again.path.read_bytes() == body and not again.from_cache and server.hits["/w/good.bin"] == 2


def test_truncated_transfer_and_wrong_size_fail(server, hub_dir):
    url = server.add("/w/cut.bin", b"x" * 4000, truncate=True)
    with pytest.raises(DownloadError, match="truncated"):
        download(url, progress=False)
    url = server.add("/w/short.bin", b"x" * 100)
    with pytest.raises(IntegrityError, match="expected 200 bytes, got 100"):
        download(url, size=200, progress=False)
    assert not any(hub_dir.iterdir())


def test_unpinned_download_reports_hash_and_http_errors_are_clear(
    server, hub_dir, monkeypatch, tiny, tmp_path
):
    body = safetensors_bytes(tiny, tmp_path)
    url = server.add("/w/free.safetensors", body)
    with pytest.warns(UnverifiedDownloadWarning, match=hashlib.sha256(body).hexdigest()):
        download(url, progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url + "/missing.bin", progress=False)
    monkeypatch.setenv("DBDZOO_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline"):
        download(server.url + "/w/other.bin", progress=False)
    assert server.hits["/w/other.bin"] == 0


def test_load_model_from_url_and_registered_tag(server, hub_dir, clean_weights, tiny, tmp_path):
    body = safetensors_bytes(tiny, tmp_path)
    digest = hashlib.sha256(body).hexdigest()
    url = server.add("/release/fpn_tiny.safetensors", body)
    x = torch.rand(2, 3, 64, 64)
    want = tiny(x).logits

    with pytest.warns(UnverifiedDownloadWarning):
        from_url = load_model(url)
    torch.testing.assert_close(from_url(x).logits, want, rtol=0, atol=0)

    entry = WeightsEntry(
        url=url, sha256=digest, size=len(body), meta={"license": "MIT", "dataset": "synthetic"}
    )
    register_weights("fpn", "tiny_test", entry, default=True)
    by_tag = load_model("fpn:tiny_test")
    by_default = load_model("fpn")
    by_kwarg = load_model("fpn", weights="tiny_test")
    for model in (by_tag, by_default, by_kwarg):
        torch.testing.assert_close(model(x).logits, want, rtol=0, atol=0)
        assert not model.training
    assert server.hits["/release/fpn_tiny.safetensors"] == 2  # unpinned name + pinned name, then cache only


def test_registered_but_corrupt_file_gives_clear_error(server, hub_dir, clean_weights):
    garbage = b"\x00\x01not a safetensors header" * 10
    url = server.add("/release/broken.safetensors", garbage)
    entry = WeightsEntry(url=url, sha256=hashlib.sha256(garbage).hexdigest(), size=len(garbage))
    register_weights("fpn", "broken", entry)
    with pytest.raises(CheckpointFormatError, match="not a valid .safetensors"):
        load_model("fpn:broken")


def test_url_of_torch_checkpoint_is_loaded_weights_only(server, hub_dir, tiny):
    buf = io.BytesIO()
    torch.save({"model_config": dict(tiny.config), "model": tiny.state_dict()}, buf)
    body = buf.getvalue()
    url = server.add("/ckpt/best.pt", body)
    model = load_model(url, sha256=hashlib.sha256(body).hexdigest())
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(model(x).logits, tiny(x).logits, rtol=0, atol=0)
