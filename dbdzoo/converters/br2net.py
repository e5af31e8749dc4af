"""Convert the authors' BR2Net checkpoints (and the Torch7 ResNeXt-101 backbone file) to dbdzoo names.

Two inputs are recognised by their keys:

* a state dict saved by the official ``train.py`` (``torch.save(net.state_dict(), 'CA_6000.pth')``):
  ``layer0…layer4`` from R3Net's ResNeXt wrapper (``layer0 = net[:4]``, ``layer1 = net[4]``, which the
  official ``resnext/config.py`` path points to; the BDRAR-style wrapper ``layer0 = net[:3]``,
  ``layer1 = net[3:5]`` is accepted too and selects ``layer0_tap='stem'``), ``CAlayer{k}.0.conv_du.
  {0,2}``, ``predictL2H{k}`` and ``predictH2L{k}``; an optional ``module.`` prefix is dropped;
* the Torch7-converted ``resnext_101_32x4d.pth`` (an ``nn.Sequential`` with numeric names ``0``,
  ``1``, ``4``…``7``, ``10.1``) that the official code loads as its ImageNet initialisation. The
  result then holds only ``backbone.*`` tensors (load with ``strict=False``) and says so in ``notes``.

Inside a Torch7 bottleneck ``{block}.0`` is the ``LambdaMap`` of the residual branch (``0``) and the
shortcut (``1``); the branch is ``Sequential(Sequential(conv1, bn1, relu, conv2, bn2, relu), conv3,
bn3)``, hence the index table ``BLOCK_PARTS``.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..backbones import read_state_dict
from . import CONVERTERS, Converted

# Torch7 bottleneck path (after ``{block}.0.``) → timm Bottleneck module name
BLOCK_PARTS = {
    "0.0.0": "conv1",
    "0.0.1": "bn1",
    "0.0.3": "conv2",
    "0.0.4": "bn2",
    "0.1": "conv3",
    "0.2": "bn3",
    "1.0": "downsample.0",
    "1.1": "downsample.1",
}
# Top-level index of the Torch7 nn.Sequential → official BR2Net attribute
TORCH7_TOP = {"0": "layer0.0", "1": "layer0.1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
TORCH7_HEAD = "10.1."  # the ImageNet classifier, unused by BR2Net
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")

_STEM = re.compile(r"^layer0\.(0|1)\.(\w+)$")
_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.0\.(\d(?:\.\d)*)\.(\w+)$")
_ATTENTION = re.compile(r"^CAlayer([0-4])\.0\.conv_du\.(0|2)\.(weight|bias)$")
_HEADS = re.compile(r"^predict(L2H|H2L)([0-4])\.(.+)$")


def official_to_dbdzoo(key: str) -> str | None:
    """dbdzoo name of one official BR2Net key (R3Net layout), or ``None`` if dbdzoo has no slot for it."""
    if m := _STEM.match(key):
        return f"backbone.body.{'conv1' if m[1] == '0' else 'bn1'}.{m[2]}"
    if m := _BLOCK.match(key):
        part = BLOCK_PARTS.get(m[3])
        return None if part is None else f"backbone.body.layer{m[1]}.{m[2]}.{part}.{m[4]}"
    if m := _ATTENTION.match(key):
        return f"attention.{m[1]}.{'fc1' if m[2] == '0' else 'fc2'}.{m[3]}"
    if m := _HEADS.match(key):
        stream = "low_to_high" if m[1] == "L2H" else "high_to_low"
        return f"{stream}.{m[2]}.{m[3]}"
    return None


def is_bdrar_layout(keys) -> bool:
    """``layer1 = Sequential(maxpool, blocks)``: its conv1/bn1/conv2/bn2 keys have eight parts, not seven."""
    return any(k.startswith("layer1.1.") and k.count(".") == 7 for k in keys)


def torch7_to_official(key: str) -> str | None:
    """Official BR2Net name of a key of the Torch7 ``resnext_101_32x4d.pth`` (``None`` for the classifier)."""
    if key.startswith(TORCH7_HEAD):
        return None
    top, _, rest = key.partition(".")
    if top not in TORCH7_TOP:
        raise KeyError(f"unexpected key {key!r} in a Torch7 ResNeXt-101 file")
    return f"{TORCH7_TOP[top]}.{rest}"


def _reference_state(config: dict) -> dict[str, torch.Tensor]:
    """Our model's state dict on the meta device: names and shapes only, nothing allocated."""
    from ..models import br2net as _br2net  # noqa: F401  (registers the model)
    from ..models import build_model

    with torch.device("meta"):
        return build_model("br2net", **config).state_dict()


def convert_state_dict(state: dict[str, torch.Tensor], config: dict | None = None) -> Converted:
    """Rename an official BR2Net (or Torch7 ResNeXt) state dict and check it against ``br2net(**config)``."""
    config = dict(config or {})
    state = {k.removeprefix("module."): v for k, v in state.items()}
    notes: list[str] = []
    backbone_only = (
        not any(k.startswith(("predict", "CAlayer", "layer0.")) for k in state) and "0.weight" in state
    )
    if backbone_only:
        dropped = [k for k in state if k.startswith(TORCH7_HEAD)]
        state = {torch7_to_official(k): v for k, v in state.items() if not k.startswith(TORCH7_HEAD)}
        notes.append(
            "Torch7 resnext_101_32x4d.pth: backbone tensors only; load with strict=False "
            f"(dropped the ImageNet classifier: {', '.join(dropped) or 'none'})"
        )
    if not any(k.startswith("CAlayer") for k in state) and not backbone_only:
        config.setdefault("channel_attention", False)
        notes.append(
            "no CAlayer tensors: the repository's earlier model.py; built with channel_attention=False"
        )
    bdrar = is_bdrar_layout(state)
    if bdrar:  # layer0 = stem without max-pool (stride 2); move layer1's blocks up one level
        state = {
            ("layer1." + k[len("layer1.1.") :] if k.startswith("layer1.1.") else k): v
            for k, v in state.items()
        }
        config.setdefault("layer0_tap", "stem")
        notes.append("BDRAR-style wrapper (max-pool inside layer1): built with layer0_tap='stem' (stride 2)")
    reference = _reference_state(config)
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        new = official_to_dbdzoo(key)
        if new is None or new not in reference:
            unknown.append(key)
            continue
        if new in out:
            raise ValueError(f"two official tensors map to {new!r} (second: {key!r})")
        out[new] = value.detach().clone()
    if unknown:
        raise ValueError(f"{len(unknown)} official tensors have no dbdzoo slot: {', '.join(unknown[:8])}")
    added = []
    for key in reference:  # BN step counters appeared in PyTorch 0.4.1; older files lack them
        has_stats = key.rsplit(".", 1)[0] + ".running_mean" in out
        if key.endswith("num_batches_tracked") and key not in out and has_stats:
            out[key] = torch.zeros((), dtype=torch.long)
            added.append(key)
    if added:
        notes.append(f"filled {len(added)} num_batches_tracked counters missing from the PyTorch 0.4 file")
    expected = {k for k in reference if (not backbone_only) or k.startswith("backbone.")}
    missing = sorted(expected - set(out))
    if missing:
        raise ValueError(f"{len(missing)} dbdzoo tensors not found in the file: {', '.join(missing[:8])}")
    bad = [k for k, v in out.items() if tuple(v.shape) != tuple(reference[k].shape)]
    if bad:
        raise ValueError(f"shape mismatch for {', '.join(bad[:8])}")
    return Converted(model="br2net", config=config, state_dict=out, notes=notes)


@CONVERTERS.register("br2net")
def convert(path: str | Path, **config) -> Converted:
    """Convert an official BR2Net checkpoint (``CA_6000.pth``) or the Torch7 ResNeXt-101 backbone file.

    Args:
        path: ``.pth`` state dict (read with ``weights_only=True``) or ``.safetensors``.
        **config: ``br2net`` factory options the checkpoint was trained with (default: the paper's).
    """
    return convert_state_dict(read_state_dict(path), config)
