"""``btbcrl``: multi-stream BTBNet with side outputs and cascaded residual refinement (TPAMI 2020).

W. Zhao, F. Zhao, D. Wang, H. Lu, "Defocus Blur Detection via Multi-Stream Bottom-Top-Bottom Network",
TPAMI 42(8), 2020. No official code is public: the streams are BTBNet's plus 1×1 side heads after steps
1-3; CRLNet (cascaded residual learning) restores detail from the smallest to the largest scale. Layer
choices are our assumptions, each a config option listed in docs/models/btbcrl.md.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import resize_to
from .btb_stream import MultiStreamDBD, conv_relu_stack
from .output import ModelOutput
from .registry import register_model

#: probabilities are clamped to [eps, 1 - eps] before ``logit`` in ``crl_space="prob"``.
PROB_EPS = 1e-4


class ResidualBlock(nn.Sequential):
    """One CRLNet stage RB_j: 3 × (conv3×3 + ReLU) → conv3×3 → the residual R_j (1 channel)."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__(*conv_relu_stack(in_channels, width, 3), nn.Conv2d(width, 1, 3, padding=1))


class BTBCRL(MultiStreamDBD):
    """Streams with side outputs → CRLNet: M_j = U + RB_j(U, D_j, image_j), U = upsampled M_{j+1}.

    The cascade runs from the smallest to the largest scale (sorted, so ``scales`` may come in any
    order). Outputs: ``aux`` = for each stream in ``scales`` order [S_1 … S_{steps-1}, D_s] at that
    stream's resolution, then the intermediate cascade maps M from the second-smallest scale up, each at
    its stream's resolution; ``logits`` = M at the largest scale, resized to the input. Its paper
    objective resizes the target to each side map (``objective.aux_resize=target``: area average, i.e.
    "GT resized to scale j").

    Args:
        side_heads: side outputs after every top-bottom step but the last (S_1…S_3).
        crl_space: ``logit`` (residuals added to logits) or ``prob`` (added to probabilities, clamped).
        crl_image_input: give every stage the normalised image at its scale.
        crl_width: width of the stages' 3×3 convs.
        **kwargs: the stream options of ``MultiStreamDBD``.
    """

    stages = ("joint", "streams", "crl")

    def __init__(
        self,
        *,
        side_heads: bool = True,
        crl_space: str = "logit",
        crl_image_input: bool = True,
        crl_width: int = 64,
        **kwargs,
    ) -> None:
        super().__init__(side_heads=side_heads, **kwargs)
        if crl_space not in {"logit", "prob"}:
            raise ValueError(f"crl_space={crl_space!r}; expected 'logit' or 'prob'")
        self.crl_space = crl_space
        self.crl_image_input = crl_image_input
        #: stream indices from the smallest to the largest scale.
        self.cascade_order = tuple(sorted(range(len(self.scales)), key=lambda i: self.scales[i]))
        in_channels = 2 + 3 * crl_image_input
        self.crl = nn.ModuleList(ResidualBlock(in_channels, crl_width) for _ in self.cascade_order[1:])

    def refine(
        self, block: nn.Module, coarse: torch.Tensor, stream_map: torch.Tensor, image: torch.Tensor
    ) -> torch.Tensor:
        """One cascade stage: upsample the coarser result, add the residual predicted by ``block``."""
        up = resize_to(coarse, stream_map)
        if self.crl_space == "prob":
            up, stream_map = torch.sigmoid(up), torch.sigmoid(stream_map)
        residual = block(
            torch.cat([up, stream_map, image] if self.crl_image_input else [up, stream_map], dim=1)
        )
        if self.crl_space == "prob":
            return torch.logit((up + residual).clamp(PROB_EPS, 1 - PROB_EPS))
        return up + residual

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        inputs = self.scaled_inputs(x)
        per_stream = self.run_streams(inputs)
        aux = [m for maps in per_stream for m in maps]
        merged = per_stream[self.cascade_order[0]][-1]
        cascade = []
        for block, i in zip(self.crl, self.cascade_order[1:], strict=True):
            merged = self.refine(block, merged, per_stream[i][-1], inputs[i])
            cascade.append(merged)
        if cascade:
            aux += cascade[:-1]
        else:  # one stream: its final map is the output, not a side output
            aux = aux[:-1]
        return ModelOutput(logits=resize_to(merged, x, float_output=True), aux=aux, extras={})

    def output_roles(self) -> tuple[str, list[str]]:
        per_stream = len(self.streams[0].side_heads) + 1
        n_crl = len(self.crl)
        stream_roles = ["streams"] * (per_stream * len(self.scales) - (n_crl == 0))
        return ("crl" if n_crl else "streams"), stream_roles + ["crl"] * max(n_crl - 1, 0)

    def stage_modules(self) -> dict[str, list[nn.Module]]:
        return {"streams": [self.streams], "crl": [self.crl]}


@register_model
def btbcrl(**kwargs) -> BTBCRL:
    """BTBCRL: three BTBNet streams with side heads and CRLNet; defaults are the model card's (docs/models/btbcrl.md).

    Options: ``BTBCRL``'s (side heads, CRLNet) and the stream options of ``MultiStreamDBD``.
    """
    return BTBCRL(**kwargs)
