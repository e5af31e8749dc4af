"""Hugging Face Hub folders: ``save_pretrained(model, dir)``, ``from_pretrained(ref)``, ``push_to_hub(model, repo)``.

Plain functions, not methods: ``DBDModel`` does not inherit ``PyTorchModelHubMixin`` because its
``from_pretrained`` loads with ``strict=False`` and its config is the ``__init__`` kwargs of one class,
while dbdzoo rebuilds any registered network from ``model.config`` and loads strictly; overriding all of
its hooks would need the hub inside ``models/`` (and huggingface_hub on every import). A saved folder
holds ``config.json`` (``{"model_config": {...}, "working_max_side", "dbdzoo_version", "task", ...}``),
``model.safetensors`` (config and working scale are also in its metadata, so the file alone is enough)
and ``README.md``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_write
from .checkpoint import WeightsFile, config_from_json, read_safetensors, working_max_side_of
from .errors import CheckpointFormatError, DownloadError, HubError
from .rebuild import check_model_config, model_from_weights, rebuild_config
from .writer import save_release

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"


def saved_config(model: torch.nn.Module) -> dict[str, Any]:
    """``model.config`` checked and stripped of pretrained switches, ready to be written."""
    config = getattr(model, "config", None)
    if not config or "name" not in config:
        raise HubError(
            f"{type(model).__name__} has no model.config; build it with dbdzoo.create_model(name, ...) so "
            "the architecture can be rebuilt from the saved folder"
        )
    clean = rebuild_config(config)
    json.dumps(clean)  # configs must be plain JSON; fail here, not when loading
    return clean


def model_card(
    model: torch.nn.Module, config: dict[str, Any], *, metrics=None, dataset=None, notes=()
) -> str:
    """A README with Hub front matter, a three-line load snippet and what the weights are."""
    name = config["name"]
    params = sum(p.numel() for p in model.parameters())
    lines = [
        "---",
        "library_name: dbdzoo",
        "license: mit",
        "pipeline_tag: image-segmentation",
        "tags: [dbdzoo, defocus-blur-detection, pytorch, " + name + "]",
    ]
    if dataset:
        lines.append(
            f"datasets: [{dataset}]" if isinstance(dataset, str) else f"datasets: {json.dumps(dataset)}"
        )
    lines += ["---", "", f"# dbdzoo `{name}`", ""]
    dme = getattr(model, "task", "dbd") == "dme"
    task = "defocus map estimation" if dme else "defocus blur detection"
    output = "normalised defocus map" if dme else "blur probability"
    native = getattr(model, "native_positive", "blur")
    lines += [
        f"Task: {task}. Output: {output} (1 = out of focus; the paper's native positive was `{native}`).",
        f"Parameters: {params:,}. Input: RGB in [0, 1]; normalisation is inside the model.",
        "",
        "```python",
        "import dbdzoo",
        'model = dbdzoo.load_model("<this repo id or folder>")',
        "blur = model.predict(rgb_uint8_image)  # H×W float32 in [0, 1]",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(config, indent=2, sort_keys=True),
        "```",
    ]
    if metrics:
        lines += ["", "## Metrics", "", "```json", json.dumps(metrics, indent=2, sort_keys=True), "```"]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def save_pretrained(
    model: torch.nn.Module,
    save_directory: str | os.PathLike,
    *,
    metrics: dict | None = None,
    dataset: str | list[str] | None = None,
    notes: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` into ``save_directory``.

    Args:
        model: a network built by ``create_model`` (its ``config`` describes the architecture).
        save_directory: folder, created if missing.
        metrics: optional metrics for the card, keyed by dataset/preset.
        dataset: training data named in the card.
        notes: extra lines for the card (e.g. converter notes).

    Returns:
        The folder.
    """
    from .. import __version__

    config = saved_config(model)
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "model_config": config,
        "dbdzoo_version": __version__,
        "task": getattr(model, "task", "dbd"),
        "native_positive": getattr(model, "native_positive", "blur"),
        "library_name": "dbdzoo",
    }
    side = getattr(model, "working_max_side", None)
    if side is not None:  # the scale predict runs at: what the weights were trained at (models/scale.py)
        doc["working_max_side"] = side
    if metrics:
        doc["metrics"] = metrics
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / CONFIG_NAME, lambda tmp: tmp.write_text(text))  # never a torn config.json
    save_release(model, config, folder / WEIGHTS_NAME, working_max_side=side)
    card = model_card(model, config, metrics=metrics, dataset=dataset, notes=notes)
    atomic_write(folder / CARD_NAME, lambda tmp: tmp.write_text(card))
    return folder


def read_folder(folder: str | os.PathLike) -> WeightsFile:
    """Tensors, config and working scale of a ``save_pretrained`` folder; ``config.json`` is checked first.

    The config is checked before the weights are read or the network is allocated.
    """
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointFormatError(
            f"{folder}: no {WEIGHTS_NAME}; is this a folder written by save_pretrained?"
        )
    config_file = folder / CONFIG_NAME
    if not config_file.is_file():
        found = read_safetensors(weights)
        if found.config is None:
            raise CheckpointFormatError(f"{folder}: no {CONFIG_NAME} and no config in {WEIGHTS_NAME}")
        return found
    try:
        doc = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointFormatError(f"{config_file}: invalid JSON ({exc})") from exc
    config = config_from_json(doc, config_file)
    check_model_config(rebuild_config(config), str(config_file))
    side = working_max_side_of(doc.get("working_max_side"), config_file) if isinstance(doc, dict) else None
    found = read_safetensors(weights)
    return WeightsFile(found.state, config, side or found.working_max_side)


def from_pretrained(
    ref: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> torch.nn.Module:
    """Load a ``save_pretrained`` folder or a Hub repo id (``org/name``, optional ``hf-hub:`` prefix).

    Works offline from a local folder, or from the warm Hugging Face cache with ``HF_HUB_OFFLINE=1`` or
    ``local_files_only=True``. Never downloads backbone ImageNet weights.
    """
    ref = str(ref)
    folder = ref if Path(ref).is_dir() else hub_folder(ref, revision, cache_dir, local_files_only, token)
    return model_from_weights(read_folder(folder), ref)


def hub_folder(
    ref: str,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Path:
    """The local (cached) copy of a Hub repo's ``config.json`` + ``model.safetensors``, fetched if needed."""
    repo_id = ref.removeprefix("hf-hub:")
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.utils import logging as hf_logging

    offline = local_files_only or constants.HF_HUB_OFFLINE
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its retry warnings would bury the one line we report
    try:
        kw = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token)
        if not offline and not _cached(repo_id, kw):
            problem = hub_unreachable(constants.ENDPOINT)
            if problem:  # huggingface_hub would retry for ~25 s, then blame the cache
                raise DownloadError(
                    f"Hugging Face repo {repo_id!r} is not cached and {constants.ENDPOINT} is unreachable "
                    f"({problem}); check the network or pass a local save_pretrained folder"
                )
        config_path = hf_hub_download(repo_id, CONFIG_NAME, **kw)
        hf_hub_download(repo_id, WEIGHTS_NAME, **kw)
    except DownloadError:
        raise
    except Exception as exc:  # huggingface_hub's error types move between versions; report them uniformly
        kind = type(exc).__name__
        if offline or "OfflineModeIsEnabled" in kind:
            raise DownloadError(
                f"Hugging Face repo {repo_id!r} is not in the local cache and offline mode is on "
                "(HF_HUB_OFFLINE); "
                "download it on a connected machine first, or pass a local save_pretrained folder"
            ) from exc
        if "LocalEntryNotFound" in kind:
            raise DownloadError(
                f"Hugging Face repo {repo_id!r} is not cached and the Hub is unreachable; check the network "
                "or pass a local save_pretrained folder"
            ) from exc
        if "RepositoryNotFound" in kind or "RevisionNotFound" in kind or "EntryNotFound" in kind:
            raise DownloadError(
                f"Hugging Face repo {repo_id!r} (revision {revision or 'main'}) has no dbdzoo model: {kind}"
            ) from exc
        raise DownloadError(f"could not fetch {repo_id!r} from the Hugging Face Hub ({kind}: {exc})") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    return Path(config_path).parent


def _cached(repo_id: str, kw: dict) -> bool:
    """Whether both files of ``repo_id`` are in the local cache (no network)."""
    from huggingface_hub import hf_hub_download

    try:
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            hf_hub_download(repo_id, name, **{**kw, "local_files_only": True})
    except Exception:  # noqa: BLE001 (any miss means "ask the Hub")
        return False
    return True


def hub_unreachable(endpoint: str, timeout: float = 3.0) -> str | None:
    """Why ``endpoint``'s host cannot be reached within ``timeout`` seconds (DNS or TCP), or None."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def push_to_hub(
    model: torch.nn.Module,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload dbdzoo model",
    revision: str | None = None,
    **save_kwargs: Any,
) -> str:
    """``save_pretrained`` into a temporary folder and upload it; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, **save_kwargs)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=tmp, commit_message=commit_message, revision=revision
        )
    return str(getattr(info, "commit_url", info))
