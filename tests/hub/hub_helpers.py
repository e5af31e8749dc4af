"""A local HTTP server and the fixture bodies shared by the download tests (127.0.0.1 only, no internet).

A module, not a conftest: each test file binds the bodies with ``pytest.fixture(name=...)``.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.hub import save_release


class LocalServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``truncate`` paths promise more bytes than they send;
    ``cut`` paths send half the body with no Content-Length and close (indistinguishable from a whole file)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.cut: set[str] = set()
        self.types: dict[str, str] = {}
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
                if self.path in server.types:
                    self.send_header("Content-Type", server.types[self.path])
                if self.path in server.cut:  # HTTP/1.0: the closed connection ends the body
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    return
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

    def add(
        self,
        path: str,
        body: bytes,
        truncate: bool = False,
        cut: bool = False,
        content_type: str | None = None,
    ) -> str:
        self.files[path] = body
        for flag, where in ((truncate, self.truncate), (cut, self.cut)):
            (where.add if flag else where.discard)(path)
        if content_type is not None:
            self.types[path] = content_type
        return self.url + path


def local_server(monkeypatch):
    """Fixture body: a started ``LocalServer`` with proxies and offline switches cleared."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DBDZOO_OFFLINE", raising=False)
    srv = LocalServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def hub_cache(tmp_path):
    """Fixture body: point the torch hub cache at a temporary folder for the test."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "torch_hub"))
    yield tmp_path / "torch_hub" / "checkpoints"
    torch.hub.set_dir(old)


def tiny_fpn():
    """Fixture body: a seeded tiny FPN in eval mode."""
    torch.manual_seed(0)
    return create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()


def safetensors_bytes(model, tmp_path) -> bytes:
    """The bytes of ``model`` saved as a dbdzoo ``.safetensors`` file (config in its metadata)."""
    path = tmp_path / "w.safetensors"
    save_release(model, dict(model.config), path)
    return path.read_bytes()
