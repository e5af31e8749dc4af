"""Importing dbdzoo and building its data pipeline opens no network connection.

albumentations asks PyPI for a newer version on import unless ``NO_ALBUMENTATIONS_UPDATE`` is set;
``dbdzoo/__init__.py`` sets it (keeping a user's own value). Each check runs in a fresh interpreter whose
socket entry points record every call and refuse it, so nothing leaves the machine either way.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, socket, sys
from pathlib import Path

calls = []

def refuse(name, real):
    def call(*args, **kwargs):
        calls.append(f"{name}{args[1:] if name.startswith('socket.') else args}"[:200])
        raise OSError(f"test_no_network: {name} refused")
    return call

for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
    setattr(socket, name, refuse(name, getattr(socket, name)))
for name in ("connect", "connect_ex"):
    setattr(socket.socket, name, refuse(f"socket.{name}", getattr(socket.socket, name)))

import dbdzoo  # noqa: E402
import numpy as np  # noqa: E402
from dbdzoo.data import DataError, build_transform, create_dataset, list_datasets  # noqa: E402

try:
    build_transform("?")
except DataError as exc:  # the message lists every recipe, so new recipes are covered too
    recipes = [r.strip() for r in str(exc).split("valid:")[1].split(",")]
transforms = {r: build_transform(r) for r in recipes}

folder = Path(sys.argv[1])
for sub in ("images", "masks"):
    (folder / sub).mkdir(parents=True)
import cv2  # noqa: E402
cv2.imwrite(str(folder / "images" / "a.png"), np.full((40, 48, 3), 128, np.uint8))
cv2.imwrite(str(folder / "masks" / "a.png"), np.zeros((40, 48), np.uint8))

built, refused = {}, {}
options = {"synthetic": {"length": 2, "size": 32}, "folder": {"positive": "blur"}}
for name in list_datasets():
    root = folder if name in ("folder", "unlabelled") else None
    try:  # readers without their files must fail with a DataError, not reach for the network
        dataset = create_dataset(name, root=root, transform=build_transform("none"), **options.get(name, {}))
    except DataError as exc:
        refused[name] = str(exc).splitlines()[0]
        continue
    built[name] = sorted(dataset[0])  # one item through the pipeline
print(json.dumps({
    "calls": calls, "recipes": sorted(transforms), "built": built, "refused": sorted(refused),
    "env": os.environ.get("NO_ALBUMENTATIONS_UPDATE"),
}))
"""


def _run_child(tmp_path: Path, env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    if env_value is not None:
        env["NO_ALBUMENTATIONS_UPDATE"] = env_value
    proc = run_child([sys.executable, "-c", CHILD, str(tmp_path / "folder")], cwd=REPO, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_transforms_and_datasets_open_no_socket(tmp_path) -> None:
    report = _run_child(tmp_path, env_value=None)
    assert report["calls"] == []
    assert report["env"] == "1"
    assert {"br2net", "zhao320", "dmenet", "eval_resize", "eval_native", "synthetic", "none"} <= set(
        report["recipes"]
    )
    assert {"synthetic", "folder", "unlabelled"} <= set(report["built"])  # built and read one item each
    assert "image" in report["built"]["synthetic"] and "mask" in report["built"]["folder"]
    assert "cuhk" in report["refused"]  # a benchmark reader without its files says so, offline


def test_a_users_own_setting_is_kept_and_the_recorder_sees_the_update_check(tmp_path) -> None:
    report = _run_child(tmp_path, env_value="0")
    assert report["env"] == "0"  # not overridden by dbdzoo
    # With the check left on, albumentations asks PyPI: proof that the recorder catches what it looks for.
    assert report["calls"] and any("pypi.org" in call for call in report["calls"]), report["calls"]
