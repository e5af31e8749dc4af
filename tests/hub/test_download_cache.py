"""Download-cache traps: cut responses without Content-Length, HTML pages served with 200, corrupted
cached copies without a hash, malformed hashes, cache file modes (local HTTP server only)."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import numpy as np
import pytest
import torch
from hub_helpers import hub_cache, local_server, safetensors_bytes, tiny_fpn

from dbdzoo.hub import IntegrityError, UnverifiedDownloadWarning, download
from dbdzoo.hub.errors import HashFormatError, UnreadableFileError

# fixtures shared with the other download tests (bodies in hub_helpers)
server = pytest.fixture(name="server")(local_server)
hub_dir = pytest.fixture(name="hub_dir")(hub_cache)
tiny = pytest.fixture(name="tiny", scope="module")(tiny_fpn)


def _torch_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save({"model_config": dict(model.config), "model": model.state_dict()}, buf)
    return buf.getvalue()


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, w=np.arange(5000, dtype=np.float32), b=np.ones(3, np.float32))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["safetensors", "pt", "npz"])
def test_truncated_response_without_content_length_is_never_cached(server, hub_dir, tiny, tmp_path, kind):
    bodies = {"safetensors": lambda: safetensors_bytes(tiny, tmp_path), "pt": lambda: _torch_bytes(tiny)}
    body = bodies.get(kind, _npz_bytes)()
    url = server.add(f"/cut/model.{kind}", body, cut=True)
    with pytest.raises(UnreadableFileError, match="truncated") as info:
        download(url, progress=False)
    assert "\n" not in str(info.value) and url in str(info.value) and "deleted" in str(info.value)
    assert not any(hub_dir.iterdir())  # neither under the final name nor as a leftover part file
    server.add(f"/cut/model.{kind}", body)  # the server recovers: the whole file is fetched and cached
    with pytest.warns(UnverifiedDownloadWarning):
        got = download(url, progress=False)
    assert got.path.read_bytes() == body and server.hits[f"/cut/model.{kind}"] == 2


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_html_error_page_served_with_200_is_refused(server, hub_dir, content_type):
    page = b"\n<!DOCTYPE html><html><head><title>Rate limit exceeded</title></head><body>429</body></html>"
    url = server.add("/release/model.safetensors", page, content_type=content_type)
    with pytest.raises(UnreadableFileError, match="HTML page"):
        download(url, progress=False)
    assert not any(hub_dir.iterdir())
    with pytest.raises(IntegrityError, match="HTML page"):  # pinned: the hash fails and says why
        download(url, sha256="a" * 64, progress=False)
    assert not any(hub_dir.iterdir())


def test_unknown_format_without_a_hash_is_refused_but_a_pinned_one_is_kept(server, hub_dir):
    url = server.add("/w/free.bin", b"abc")
    with pytest.raises(UnreadableFileError, match="not a recognised weights format"):
        download(url, progress=False)
    assert not any(hub_dir.iterdir())
    got = download(url, sha256=hashlib.sha256(b"abc").hexdigest(), progress=False)
    assert got.path.read_bytes() == b"abc"


@pytest.mark.parametrize("damage", ["truncate", "html", "zero"])
def test_unreadable_cached_copy_without_hash_is_fetched_again(server, hub_dir, tiny, tmp_path, damage):
    body = safetensors_bytes(tiny, tmp_path)
    url = server.add("/w/cached.safetensors", body)
    with pytest.warns(UnverifiedDownloadWarning):
        first = download(url, progress=False)
    bad = {"truncate": body[: len(body) - 7], "html": b"<html>502 Bad Gateway</html>", "zero": b""}[damage]
    first.path.write_bytes(bad)
    with pytest.warns(UnverifiedDownloadWarning):
        again = download(url, progress=False)
    assert again.path == first.path and not again.from_cache and again.path.read_bytes() == body
    assert server.hits["/w/cached.safetensors"] == 2
    assert download(url, progress=False).from_cache  # an intact copy is still reused


@pytest.mark.parametrize(
    "bad", ["abc", "g" * 64, "a" * 63, "a" * 65, " " + "a" * 64, "sha256:" + "a" * 64, 123, b"a" * 64]
)
def test_hash_format_is_checked_before_downloading(server, hub_dir, bad):
    url = server.add("/w/any.bin", b"abc")
    with pytest.raises(HashFormatError, match="expected 64 hexadecimal characters") as info:
        download(url, sha256=bad, progress=False)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert server.hits["/w/any.bin"] == 0
    digest = hashlib.sha256(b"abc").hexdigest().upper()  # upper-case hex is a valid digest
    assert download(url, sha256=digest, progress=False).sha256 == digest.lower()


def test_cached_files_get_normal_permissions(server, hub_dir):
    url = server.add("/w/perm.bin", b"abc")
    old = os.umask(0o022)
    try:
        path = download(url, sha256=hashlib.sha256(b"abc").hexdigest(), progress=False).path
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
