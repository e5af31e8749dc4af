"""What produced a run's numbers: versions, model reference and weights hash, data roots, presets.

Written into ``results.json`` (eval) and ``run.json`` (train) so a number found months later still says
which weights, data and code made it.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

_PACKAGES = ("dbdzoo", "torch", "torchvision", "timm", "numpy", "albumentations", "hydra-core", "omegaconf")


def versions() -> dict[str, str]:
    """Python, platform, CUDA and the versions of the packages that change numbers."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["cuda"] = torch.version.cuda or "none"
    return out


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over the state dict (names, dtypes, shapes, bytes): identifies weights from any source."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def weights_file(source: str | None) -> Path | None:
    """The local weights file behind a load source (a file, or a save_pretrained folder), if any."""
    if not source:
        return None
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / "model.safetensors"
    return path if path.is_file() else None


def model_record(model: torch.nn.Module, ref: Any, weights: Any) -> dict[str, Any]:
    """Reference as given, where the weights came from, their SHA-256 and the architecture config."""
    source = getattr(model, "load_source", None)
    file = weights_file(source)
    return {
        "model_ref": None if ref is None else str(ref),
        "weights": None if weights is None else str(weights),
        "load_source": source,
        "weights_file": None if file is None else str(file),
        "weights_sha256": None if file is None else file_sha256(file),
        "state_dict_sha256": state_sha256(model),
        "config": getattr(model, "config", None),
    }


def data_roots(specs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{key: {name, root, split}}`` of every dataset spec."""
    return {k: {f: s.get(f) for f in ("name", "root", "split")} for k, s in specs.items()}


def write_run_record(run_dir: str | Path, **fields: Any) -> Path:
    """Merge ``fields`` into ``<run_dir>/run.json`` (created with the versions on first call)."""
    import json

    path = Path(run_dir) / "run.json"
    record = json.loads(path.read_text()) if path.is_file() else {"versions": versions()}
    record.update(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str))
    return path
