"""``load_model(ref)``: one entry point for every place trained weights come from, a short dispatch over
the kinds of reference (``reference.py``): registered name(.tag), local file or folder, URL, Hub repo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .checkpoint import WeightsFile, read_weights_file
from .download import download
from .errors import CheckpointFormatError, ModelReferenceError
from .hf import hub_folder, read_folder
from .packaged import packaged_path
from .rebuild import model_from_config, model_from_weights
from .reference import Kind, reference_kind, weights_kind
from .weights import WEIGHTS, WeightsEntry, default_tag, get_weights


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
        The model, eval mode, with ``config`` (re-savable), ``load_source`` (where the weights came from)
        and ``working_max_side`` (the scale ``predict`` runs at) set.
    """
    from ..models import split_model_name

    ref = os.fspath(ref)
    if device is None and torch.device(map_location).type != "cpu":
        device = map_location  # tensors are always read on the CPU first; this only says where they end up
    kind = reference_kind(ref)
    if kind == "name":
        name, tag = split_model_name(ref)
        if tag is not None and weights is not None:
            raise ModelReferenceError(
                f"give the weights either as {ref!r} or as weights={weights!r}, not both"
            )
        choice = tag if tag is not None else weights
        model = load_named(name, None if choice is None else os.fspath(choice), sha256, ema, model_kwargs)
    elif weights is not None:
        raise ModelReferenceError(f"weights= needs a registered model name as ref, got {ref!r}")
    else:
        model = load_source(ref, kind, None, sha256, ema, model_kwargs)
    return model.to(device) if device is not None else model


def load_named(
    name: str, choice: str | None, sha256: str | None, ema: bool | None, overrides: dict[str, Any]
) -> torch.nn.Module:
    """Model ``name`` with the weights ``choice`` names: a registered tag (``None`` = the default) or a source."""
    from ..models import is_trainable

    kind = "tag" if choice is None else weights_kind(choice)
    if kind != "tag":
        return load_source(choice, kind, name, sha256, ema, overrides)
    if choice is None and not WEIGHTS.get(name) and not is_trainable(name):  # classical: nothing to load
        try:  # a bad option is the caller's reference, not a file's fault
            model = model_from_config({"name": name, **overrides}, f"{name} (classical method)")
        except CheckpointFormatError as exc:
            raise ModelReferenceError(str(exc)) from None
        model.load_source = f"{name} (classical method, no weights)"
        return model.eval()
    entry = get_weights(name, choice)
    tag = choice if choice and choice.lower() != "default" else default_tag(name)
    model = model_from_weights(
        _read_entry(name, entry, ema), f"{name}.{tag} ({entry.source})", name, overrides
    )
    model.load_source, model.pretrained_tag = entry.source, tag
    return model


def load_source(
    source: str,
    kind: Kind,
    name: str | None,
    sha256: str | None,
    ema: bool | None,
    overrides: dict[str, Any],
) -> torch.nn.Module:
    """The network in a file, folder, URL or Hub repo (checked to be ``name`` when one is given)."""
    if kind == "url":
        registered = _registered_url(source)  # a pinned URL is always verified against its entry
        found = (
            _read_entry(*registered, ema)
            if registered
            else read_weights_file(download(source, sha256=sha256).path, ema)
        )
    elif kind == "hf":
        found = read_folder(hub_folder(source))
    else:
        path = Path(source).expanduser()
        found = read_folder(path) if path.is_dir() else read_weights_file(path, ema)
    return model_from_weights(found, source, name, overrides)


def _read_entry(name: str, entry: WeightsEntry, ema: bool | None) -> WeightsFile:
    """A registered entry's file (shipped, or downloaded and verified) with the entry's own facts on top."""
    if entry.file is not None:
        path = packaged_path(entry)
    else:
        path = download(entry.url, sha256=entry.sha256, size=entry.size, file_name=entry.file_name).path
    found = read_weights_file(path, ema)
    config = {"name": name, **entry.config} if entry.config else found.config
    return WeightsFile(found.state, config, entry.working_max_side or found.working_max_side)


def _registered_url(url: str) -> tuple[str, WeightsEntry] | None:
    """``(model, entry)`` of the registered weights with this URL, if any."""
    for model, tags in WEIGHTS.items():
        for entry in tags.values():
            if entry.url is not None and entry.url == url:
                return model, entry
    return None
