"""Forward + backward of the FPN decoder's building blocks per precision and layout (issue 20 diagnosis).

The FPNs trained slower in bf16 + channels_last than in fp32 on an H200 while their inference got
faster. These cases isolate the suspects at the shapes of a 320² batch of 8: bilinear upsampling of
1-channel side logits to the input (the deep-supervision loss), of 64-channel pyramid levels (the
decoder), the 64→1 heads and a ConvBNReLU. ``bf16_via_fp32`` is ``models.blocks.resize_to``'s fp32 route.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.blocks import ConvBNAct, resize_to
from .timing import time_call

#: case -> (channels, input side as a fraction of ``size``, output side as a fraction of ``size``)
UPSAMPLE_CASES = {
    "upsample 1ch x32 (side logit -> input)": (1, 1 / 32, 1.0),
    "upsample 1ch x4 (fused logit -> input)": (1, 1 / 4, 1.0),
    "upsample 64ch x8 (pyramid -> 1/4, fuse)": (64, 1 / 32, 1 / 4),
    "upsample 64ch x2 (top-down)": (64, 1 / 8, 1 / 4),
}
LAYOUTS = {"fp32": (torch.float32, False), "bf16": (torch.bfloat16, False), "bf16_cl": (torch.bfloat16, True)}


def _fwd_bwd(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, params=()) -> Callable[[], None]:
    def run() -> None:
        out = fn(x)
        torch.autograd.grad(out, [x, *params], torch.ones_like(out))

    return run


def _input(batch: int, c: int, side: int, dtype, cl: bool, device) -> torch.Tensor:
    x = torch.randn(batch, c, side, side, device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format).requires_grad_()


def bench_ops(
    device: torch.device, *, size: int = 320, batch: int = 8, warmup: int = 3, iters: int = 10
) -> list[dict[str, Any]]:
    """Median forward+backward milliseconds of each case in each precision/layout."""
    rows = []
    for case, (c, fin, fout) in UPSAMPLE_CASES.items():
        side_in, side_out = max(1, round(size * fin)), max(2, round(size * fout))
        row: dict[str, Any] = {"case": case, "shape": [batch, c, side_in, side_in], "out": side_out}
        out = (side_out, side_out)
        for name, (dtype, cl) in LAYOUTS.items():
            x = _input(batch, c, side_in, dtype, cl, device)
            plain = _fwd_bwd(partial(F.interpolate, size=out, mode="bilinear", align_corners=False), x)
            row[name] = time_call(plain, device, warmup=warmup, iters=iters)["median_ms"]
            if dtype == torch.bfloat16:
                routed = _fwd_bwd(partial(resize_to, ref=out), x)
                row[f"{name}_via_fp32"] = time_call(routed, device, warmup=warmup, iters=iters)["median_ms"]
        rows.append(row)
    side = max(2, size // 4)
    blocks: dict[str, Callable[[], nn.Module]] = {
        "head conv 64->1 1x1": lambda: nn.Conv2d(64, 1, 1),
        "ConvBNReLU 64->64 3x3": lambda: ConvBNAct(64, 64),
    }
    for case, make in blocks.items():
        row = {"case": case, "shape": [batch, 64, side, side], "out": side}
        for name, (dtype, cl) in LAYOUTS.items():
            fmt = torch.channels_last if cl else torch.contiguous_format
            module = make().to(device).to(memory_format=fmt).train()
            x = _input(batch, 64, side, torch.float32, cl, device)

            def fn(t: torch.Tensor, m: nn.Module = module, d: torch.dtype = dtype) -> torch.Tensor:
                with torch.autocast(device.type, dtype=d, enabled=d != torch.float32):
                    return m(t)

            run = _fwd_bwd(fn, x, list(module.parameters()))
            row[name] = time_call(run, device, warmup=warmup, iters=iters)["median_ms"]
        rows.append(row)
    return rows
