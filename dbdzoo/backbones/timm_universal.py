"""One adapter over timm ``features_only`` models, in the spirit of smp's ``timm_universal.py``.

timm is imported when a model is built, not with this module: it pulls in torchvision and
``torch._dynamo`` (seconds), which inference on the natively written ResNet-10-T never needs.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .base import Backbone
from .weights import hub_weights_file, load_strict, read_state_dict

# Licence-checked default weight tags: timm's own default for resnext101_32x4d is the CC-BY-NC
# fb_ssl_yfcc100m tag, so the MIT-friendly gluon weights (BR2Net's ImageNet choice) are pinned here.
DEFAULT_TAGS = {
    "resnext101_32x4d": "resnext101_32x4d.gluon_in1k",
    "resnext50_32x4d": "resnext50_32x4d.a1h_in1k",
}


def _complete_state(name: str, state: dict, source: str, kwargs: dict) -> dict:
    """Check ``state`` strictly against the full timm model; a missing classifier head is allowed."""
    import timm

    full = timm.create_model(name, pretrained=False, **kwargs)
    own = full.state_dict()
    head = full.pretrained_cfg.get("classifier")
    heads = [head] if isinstance(head, str) else list(head or [])
    state = dict(state)
    for key in own:
        if any(key.startswith(h + ".") for h in heads):
            state.setdefault(key, own[key])  # headless files are fine: features_only drops the head
    load_strict(full, state, source)
    return full.state_dict()


class TimmBackbone(Backbone):
    """Any timm model as a list of feature maps with ``channels``/``strides``/``taps``.

    Args:
        model_name: timm architecture name (e.g. ``resnext101_32x4d``).
        out_indices: feature levels to return (default: all).
        pretrained: load timm's published weights (through the local HF cache; fails fast offline).
        weights: local ``.safetensors``/``.pth`` state dict of the full timm model (no network).
        stem_pool: apply the ResNet 3×3/2 max-pool to the stride-2 stem feature, giving the stride-4
            ``layer0`` of the original ResNet papers (BR2Net taps it there).
        **kwargs: passed to ``timm.create_model`` (e.g. ``output_stride``); keys this adapter owns
            cannot be overridden.
    """

    def __init__(
        self,
        model_name: str,
        *,
        out_indices: tuple[int, ...] | None = None,
        pretrained: bool = False,
        weights: str | os.PathLike | None = None,
        stem_pool: bool = False,
        **kwargs,
    ) -> None:
        import timm

        super().__init__()
        owned = {"features_only", "out_indices", "pretrained", "pretrained_cfg_overlay"}
        if clash := owned & set(kwargs):
            raise ValueError(f"TimmBackbone sets {sorted(clash)} itself; remove them from the arguments")
        create = dict(kwargs)
        if out_indices is not None:
            create["out_indices"] = tuple(out_indices)
        state = None
        if weights is not None:
            state = _complete_state(model_name, read_state_dict(weights), str(weights), kwargs)
        elif pretrained:
            tag = model_name if "." in model_name else DEFAULT_TAGS.get(model_name, model_name)
            cfg = timm.models.get_pretrained_cfg(tag)
            repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
            if not repo:
                raise ValueError(f"timm model {tag!r} has no Hugging Face weights; pass weights=PATH")
            state = _complete_state(model_name, read_state_dict(hub_weights_file(repo)), repo, kwargs)
        if state is None:
            self.body = timm.create_model(model_name, features_only=True, pretrained=False, **create)
        else:  # timm builds the full model, loads strictly, then wraps it as features
            overlay = dict(state_dict=state)
            self.body = timm.create_model(
                model_name, features_only=True, pretrained=True, pretrained_cfg_overlay=overlay, **create
            )
        info = self.body.feature_info
        self.channels = tuple(info.channels())
        strides = list(info.reduction())
        self.taps = tuple(info.module_name())
        self.stem_pool = stem_pool and strides[0] == 2
        if self.stem_pool:
            strides[0] = 4
            self.taps = (self.taps[0] + "+maxpool",) + self.taps[1:]
        self.strides = tuple(strides)
        self.model_name = model_name

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = list(self.body(x))
        if self.stem_pool:
            feats[0] = F.max_pool2d(feats[0], kernel_size=3, stride=2, padding=1)
        return feats
