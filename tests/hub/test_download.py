"""Downloads, cache reuse, hash checks and URL/registry loading against a local HTTP server (no internet)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

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
from dbdzoo.hub.hf import save_weights
from dbdzoo.models import create_model


class _Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``truncate`` paths promise more bytes than they send."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                server.hits[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                extra = 1000 if self.path in server.truncate else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if extra else body)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def add(self, path: str, body: bytes, truncate: bool = False) -> str:
        self.files[path] = body
        if truncate:
            self.truncate.add(path)
        return self.url + path


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DBDZOO_OFFLINE", raising=False)
    srv = _Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def hub_dir(tmp_path):
    """Point the torch hub cache at a temporary folder for the test."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "torch_hub"))
    yield tmp_path / "torch_hub" / "checkpoints"
    torch.hub.set_dir(old)


@pytest.fixture
def clean_weights():
    saved = {k: dict(v) for k, v in WEIGHTS.items()}
    yield
    WEIGHTS.clear()
    WEIGHTS.update(saved)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()


def _safetensors_bytes(model, tmp_path) -> bytes:
    path = tmp_path / "w.safetensors"
    save_weights(model, path, dict(model.config))
    return path.read_bytes()


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


def test_unpinned_download_reports_hash_and_http_errors_are_clear(server, hub_dir, monkeypatch):
    url = server.add("/w/free.bin", b"abc")
    with pytest.warns(UnverifiedDownloadWarning, match=hashlib.sha256(b"abc").hexdigest()):
        download(url, progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url + "/missing.bin", progress=False)
    monkeypatch.setenv("DBDZOO_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline"):
        download(server.url + "/w/other.bin", progress=False)
    assert server.hits["/w/other.bin"] == 0


def test_load_model_from_url_and_registered_tag(server, hub_dir, clean_weights, tiny, tmp_path):
    body = _safetensors_bytes(tiny, tmp_path)
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
