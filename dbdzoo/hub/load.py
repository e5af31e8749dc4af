"""``load_model(ref)``: one entry point for every place trained weights come from (registry name, file, folder, URL or Hub repo)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from .checkpoint import (
    architecture_config,
    build_model,
    load_state_strict,
    read_safetensors,
    read_sidecar,
    read_torch_checkpoint,
)
from .download import download
from .errors import CheckpointFormatError, ModelReferenceError
from .hf import from_pretrained, load_folder
from .packaged import packaged_path
from .weights import WEIGHTS, default_tag, get_weights

_TORCH_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin"}
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


_WEIGHT_SUFFIXES = {".safetensors", *_TORCH_SUFFIXES}


class WeightsFileNotFoundError(ModelReferenceError, FileNotFoundError):
    """A reference shaped like a path (separator, ``./``, ``~``, weights suffix) names no existing file."""


def _is_url(ref: str) -> bool:
    return urlparse(ref).scheme in {"http", "https"}


def looks_like_path(ref: str) -> bool:
    """A local path, never a Hub id: a weights suffix, a leading ``.``/``/``/``~``, ``\\`` or two ``/``.

    ``org/name`` stays a Hub id; ``runs/last.safetensors`` or ``./model`` must not wait on Hub retries.
    """
    if _is_url(ref) or ref.startswith("hf-hub:"):
        return False
    return (
        Path(ref).suffix.lower() in _WEIGHT_SUFFIXES
        or ref.startswith((".", "/", "~"))
        or "\\" in ref
        or os.sep != "/"
        and os.sep in ref
        or ref.count("/") >= 2
    )


def check_path_exists(ref: str) -> None:
    """``file not found: <ref>`` at once for a path-shaped reference that does not exist."""
    if looks_like_path(ref) and not Path(ref).expanduser().exists():
        raise WeightsFileNotFoundError(f"file not found: {ref}")


def split_reference(ref: str) -> tuple[str, str]:
    """``"name:tag"`` or timm's ``"name.tag"`` → (name, tag); anything else → (ref, "")."""
    from ..models import list_models

    if _is_url(ref) or ref.startswith("hf-hub:") or Path(ref).exists():
        return ref, ""
    name, sep, tag = ref.partition(":")
    if sep:
        return name, tag
    name, sep, tag = ref.partition(".")
    if sep and name in list_models() and tag and "/" not in tag:
        return name, tag
    return ref, ""


def _read_file(path: Path, ema: bool | None) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Tensors and config (embedded, sidecar or none) of a weights file, chosen by suffix then by content."""
    if path.suffix == ".safetensors":
        state, config = read_safetensors(path)
    elif path.suffix in _TORCH_SUFFIXES:
        state, config = read_torch_checkpoint(path, ema=ema)
    else:
        with open(path, "rb") as f:
            head = f.read(4)
        # torch checkpoints are zip files (PK..); anything else is tried as safetensors
        state, config = read_torch_checkpoint(path, ema) if head.startswith(b"PK") else read_safetensors(path)
    return state, config or read_sidecar(path)


def _entry_for_url(url: str) -> tuple[str | None, int | None, dict | None]:
    """sha256, size and config of a registered entry with this URL, so pinned URLs are always verified."""
    for tags in WEIGHTS.values():
        for entry in tags.values():
            if entry.url is not None and entry.url == url:
                return entry.sha256, entry.size, entry.config
    return None, None, None


def _finish(model: torch.nn.Module, device: str | torch.device | None, source: str) -> torch.nn.Module:
    model.load_source = source  # where the weights came from, for logs and reports
    if device is not None:
        model.to(device)
    return model.eval()


def _from_state(
    state: dict[str, torch.Tensor],
    config: dict[str, Any] | None,
    source: str,
    name: str | None,
    overrides: dict,
) -> torch.nn.Module:
    """Build the architecture (file config, else registry name + overrides) and load ``state`` strictly."""
    if config is None:
        if name is None:
            raise CheckpointFormatError(
                f"{source} carries no model config; name the architecture: "
                "load_model('<model name>', weights=...)"
            )
        config = {"name": name}
    elif name is not None and config.get("name") != name:
        raise CheckpointFormatError(f"{source} holds a {config.get('name')!r} model, not {name!r}")
    config = {**config, **overrides}
    model = build_model(config, source)
    load_state_strict(model, state, source)
    model.config = architecture_config(config)
    return model


def _load_source(
    source: str, *, name: str | None, sha256: str | None, ema: bool | None, overrides: dict
) -> torch.nn.Module:
    """A path, folder, URL or hub id as the weights of ``name`` (or of whatever the file says)."""
    check_path_exists(source)
    if _is_url(source):
        pinned, size, entry_config = _entry_for_url(source)
        got = download(source, sha256=sha256 or pinned, size=size)
        state, config = _read_file(got.path, ema)
        return _from_state(state, entry_config or config, source, name, overrides)
    path = Path(source).expanduser()
    if path.is_dir():
        if overrides:  # same files as load_folder, but the architecture is changed before loading
            state, config = read_safetensors(path / "model.safetensors")
            return _from_state(state, read_sidecar(path / "config") or config, str(path), name, overrides)
        model = load_folder(path)
        if name is not None and model.config.get("name") != name:
            raise CheckpointFormatError(f"{path} holds a {model.config.get('name')!r} model, not {name!r}")
        return model
    if path.is_file():
        state, config = _read_file(path, ema)
        return _from_state(state, config, str(path), name, overrides)
    repo = source.removeprefix("hf-hub:")
    if source.startswith("hf-hub:") or _HF_ID.match(source):
        model = from_pretrained(repo)
        if name is not None and model.config.get("name") != name:
            raise CheckpointFormatError(
                f"hub repo {repo!r} holds a {model.config.get('name')!r} model, not {name!r}"
            )
        return model
    raise ModelReferenceError(
        f"weights {source!r}: no such file or folder, and not a URL or Hugging Face repo id"
    )


def load_model(
    ref: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    map_location: str | torch.device = "cpu",
    sha256: str | None = None,
    ema: bool | None = None,
    **model_kwargs: Any,
) -> torch.nn.Module:
    """Load a trained dbdzoo network, in eval mode.

    Args:
        ref: one of
            - a registry name, optionally with a weights tag: ``"fpn_resnet10t"`` (its default weights),
              ``"fpn_resnet10t.cuhk"`` (timm style) or ``"fpn_resnet10t:cuhk"``;
            - a local ``.safetensors`` (config in its metadata or a ``.json`` sidecar with ``model_config``),
              a training checkpoint ``.pt`` (``{"model_config", "model", "ema"?}``; read with
              ``weights_only=True``), or a ``save_pretrained`` folder;
            - an http(s) URL of such a file (verified against ``sha256`` or a registered entry; otherwise
              its hash is reported);
            - a Hugging Face repo id, ``org/name`` or ``hf-hub:org/name``.
        weights: with a registry name: a weights tag, or a file/folder/URL/repo holding that model's weights.
        device: move the model there after loading.
        map_location: where the weights end up when ``device`` is not given (they are read on the CPU).
        sha256: expected digest of a URL download.
        ema: training checkpoints: ``None`` prefers EMA weights, ``True`` requires, ``False`` skips them.
        **model_kwargs: architecture overrides for files that carry no config (or to change one).

    Returns:
        The model, eval mode, ``model.config`` set (re-savable), ``model.load_source`` naming the source.
    """
    from ..models import create_model, list_models

    if device is None and torch.device(map_location).type != "cpu":
        device = map_location  # tensors are always read on the CPU first; this only says where they end up
    ref = os.fspath(ref)
    check_path_exists(ref)
    name, tag = split_reference(ref)
    if name in list_models() and not Path(ref).exists():
        if tag and weights is not None:
            raise ModelReferenceError(
                f"give the weights either as {ref!r} or as weights={weights!r}, not both"
            )
        choice = tag or (os.fspath(weights) if weights is not None else None)
        is_source = choice is not None and (
            _is_url(choice) or Path(choice).expanduser().exists() or "/" in choice or looks_like_path(choice)
        )
        if is_source:
            model = _load_source(choice, name=name, sha256=sha256, ema=ema, overrides=model_kwargs)
            return _finish(model, device, choice)
        if choice is None and not WEIGHTS.get(name) and not _trainable(name):  # classical: nothing to load
            return _finish(
                create_model(name, **model_kwargs), device, f"{name} (classical method, no weights)"
            )
        entry = get_weights(name, choice)
        if entry.file is not None:
            path = packaged_path(entry)
        else:
            path = download(entry.url, sha256=entry.sha256, size=entry.size, file_name=entry.file_name).path
        state, config = _read_file(path, ema)
        config = {"name": name, **entry.config} if entry.config else config
        label = f"{name}.{choice or default_tag(name) or 'default'} ({entry.source})"
        model = _from_state(state, config, label, name, model_kwargs)
        model.pretrained_tag = choice if choice and choice.lower() != "default" else default_tag(name)
        model.working_max_side = entry.meta.get("working_max_side")  # the scale predict runs at
        return _finish(model, device, entry.source)
    if weights is not None:
        raise ModelReferenceError(f"weights= needs a registered model name as ref, got {ref!r}")
    if not (
        _is_url(ref) or Path(ref).expanduser().exists() or ref.startswith("hf-hub:") or _HF_ID.match(ref)
    ):
        raise ModelReferenceError(
            f"unknown model reference {ref!r}: not a registered model "
            f"({', '.join(list_models()) or 'none'}), "
            "not an existing file or folder, not an http(s) URL, not a Hugging Face repo id (org/name)"
        )
    return _finish(_load_source(ref, name=None, sha256=sha256, ema=ema, overrides=model_kwargs), device, ref)


def _trainable(name: str) -> bool:
    """Whether ``name`` learns weights (networks) or is a parameter-free classical method (HiFST, LBP)."""
    from ..models import MODELS
    from ..registry import returned_class

    return bool(getattr(returned_class(MODELS.get(name)), "trainable", True))
