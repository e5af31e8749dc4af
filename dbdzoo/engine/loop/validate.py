"""Validation during training: blur maps → metric presets, reduced across ranks."""

from __future__ import annotations

from itertools import islice
from typing import Any

import torch

from ...models import DBDModel
from ..dist import DistContext, all_reduce_sum
from ..loaders import to_device
from ..precision import autocast_context


class AllBlur(torch.nn.Module):
    """The constant "everything is out of focus" map: the floor a trained model's F must clear."""

    def predict_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x[:, :1], dtype=torch.float32)


@torch.no_grad()
def validate(
    model: DBDModel,
    loader: Any,
    ctx: DistContext,
    presets: list[str],
    precision: str = "fp32",
    max_batches: int | None = None,
) -> dict[str, float]:
    """Score ``model`` on ``loader``; returns flat ``{"<preset>/<metric>": value}`` identical on all ranks."""
    from ...metrics import DBDEvaluator

    evaluator = DBDEvaluator(presets=list(presets), device=ctx.device)
    was_training = model.training
    model.eval()
    try:
        for batch in islice(loader, max_batches):
            batch = to_device(batch, ctx.device)
            with autocast_context(ctx.device, precision):
                pred = model.predict_tensor(batch["image"])
            names = batch.get("meta", {}).get("name")
            evaluator.update(pred.float(), batch["mask"], names=list(names) if names is not None else None)
    finally:
        model.train(was_training)
    all_reduce_sum(evaluator.state_tensors())
    return {
        f"{preset}/{metric}": float(value)
        for preset, metrics in evaluator.compute().items()
        for metric, value in metrics.items()
    }
