"""``btbnet``: multi-stream bottom-top-bottom FCN with fusion and recurrent refinement (CVPR 2018).

W. Zhao, F. Zhao, D. Wang, H. Lu, "Defocus Blur Detection via Multi-Stream Bottom-Top-Bottom Fully
Convolutional Network", CVPR 2018. No official code is public: the streams follow the reviews (pool-free
VGG16, conv + ReLU on both inputs of every top-bottom sum); FNet and RRNet layer choices are our
assumptions, each a config option listed in docs/models/btbnet.md.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import resize_to
from .btb_stream import MultiStreamDBD, conv_relu_stack
from .output import ModelOutput
from .registry import register_model


class FusionNet(nn.Sequential):
    """FNet: the stream logits, concatenated → 2 × (conv3×3 + ReLU) → conv1×1 → fused logit D_F."""

    def __init__(self, num_maps: int, width: int = 64) -> None:
        super().__init__(*conv_relu_stack(num_maps, width, 2), nn.Conv2d(width, 1, 1))


class RecurrentRefiner(nn.Module):
    """RRNet: (image, sigmoid of the previous map) → 3 × (conv3×3 + ReLU) → conv1×1 → a new logit.

    A direct prediction, not a residual (residual refinement arrives with BTBCRL); the same weights
    run at every iteration.
    """

    def __init__(self, image_input: bool = True, width: int = 64) -> None:
        super().__init__()
        self.image_input = image_input
        self.body = nn.Sequential(*conv_relu_stack(1 + 3 * image_input, width, 3), nn.Conv2d(width, 1, 1))

    def forward(self, prev_logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        prob = torch.sigmoid(prev_logits)
        return self.body(torch.cat([image, prob], dim=1) if self.image_input else prob)


class BTBNet(MultiStreamDBD):
    """Streams at several scales → FNet → ``rr_iters`` × RRNet.

    Outputs: ``aux`` = [D_1 … D_S (stream logits in ``scales`` order), D_F, R_1 … R_{T-1}], all
    resized bilinearly to the input; ``logits`` = R_T (D_F when ``rr_iters`` = 0).

    Args:
        fnet_width: width of FNet's two 3×3 convs.
        rr_iters: RRNet iterations T (weights shared across them).
        rr_image_input: feed the normalised image to RRNet besides the previous map.
        rr_width: width of RRNet's three 3×3 convs.
        **kwargs: the stream options of ``MultiStreamDBD`` (without side heads: BTBNet has none).
    """

    stages = ("joint", "streams", "fnet", "rrnet")

    def __init__(
        self,
        *,
        fnet_width: int = 64,
        rr_iters: int = 3,
        rr_image_input: bool = True,
        rr_width: int = 64,
        **kwargs,
    ) -> None:
        if kwargs.get("side_heads"):
            raise ValueError("side_heads=True: BTBNet has no side heads (BTBCRL adds them: model=btbcrl)")
        super().__init__(**{**kwargs, "side_heads": False})
        if rr_iters < 0:
            raise ValueError(f"rr_iters={rr_iters}; expected 0 (no refinement) or more")
        self.rr_iters = rr_iters
        self.fnet = FusionNet(len(self.scales), fnet_width)
        self.rrnet = RecurrentRefiner(rr_image_input, rr_width)

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        stream_maps = [resize_to(maps[-1], x) for maps in self.run_streams(self.scaled_inputs(x))]
        chain = [self.fnet(torch.cat(stream_maps, dim=1))]
        for _ in range(self.rr_iters):
            chain.append(self.rrnet(chain[-1], x))
        return ModelOutput(logits=chain[-1], aux=[*stream_maps, *chain[:-1]], extras={})

    def output_roles(self) -> tuple[str, list[str]]:
        chain_roles = ["fnet"] + ["rrnet"] * self.rr_iters
        return chain_roles[-1], ["streams"] * len(self.scales) + chain_roles[:-1]

    def stage_modules(self) -> dict[str, list[nn.Module]]:
        return {"streams": [self.streams], "fnet": [self.fnet], "rrnet": [self.rrnet]}


@register_model
def btbnet(**kwargs) -> BTBNet:
    """BTBNet "3S + FNet + RRNet" on pool-free VGG16; defaults are the model card's (docs/models/btbnet.md).

    Options: ``BTBNet``'s (FNet, RRNet) and the stream options of ``MultiStreamDBD``.
    """
    return BTBNet(**kwargs)
