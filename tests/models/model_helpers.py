"""Inputs and measurements shared by the model tests (a module: conftest cannot be imported by name)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dbdzoo.losses import build_objective, default_objective


def half_blurred_batch(n: int = 4, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random textures box-blurred (5×5) on the left or right half; mask = the blurred half (blur = 1)."""
    g = torch.Generator().manual_seed(seed)
    texture = torch.rand(n, 3, size, size, generator=g)
    blurred = F.avg_pool2d(F.pad(texture, (2, 2, 2, 2), mode="reflect"), 5, stride=1)
    cols = torch.arange(size).view(1, 1, 1, size)
    left = (torch.arange(n) % 2 == 1).view(n, 1, 1, 1)
    mask = (
        torch.where(left, cols < size // 2, cols >= size // 2).float().expand(n, 1, size, size).contiguous()
    )
    return {"image": texture * (1 - mask) + blurred * mask, "mask": mask}


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps for backward (unique storages, weights excluded)."""
    weights = {p.data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in weights:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(storages.values())


def assert_compile_and_export_match_eager(model: torch.nn.Module, x: torch.Tensor, rtol: float = 1e-4,
                                          atol: float = 1e-5):  # fmt: skip
    """``torch.compile(fullgraph, eager backend)`` and strict ``torch.export`` give eager's logits, every side
    output and every extra; returns the eager output for model-specific checks."""
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="eager")(x)
        exported = torch.export.export(model, (x,), strict=True).module()(x)
    for out in (compiled, exported):
        torch.testing.assert_close(out.logits, eager.logits, rtol=rtol, atol=atol)
        assert len(out.aux) == len(eager.aux) and out.extras.keys() == eager.extras.keys()
        for a, b in zip(out.aux, eager.aux, strict=True):
            torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
        for key, value in eager.extras.items():
            torch.testing.assert_close(out.extras[key], value, rtol=rtol, atol=atol, msg=key)
    return eager


def train_losses(model: torch.nn.Module, batch: dict, steps: int = 30, lr: float = 2e-3) -> list[float]:
    """Losses of ``steps`` Adam steps of the model's own objective on one fixed batch."""
    objective = objective_for(model)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = objective(model, batch)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def assert_same_outputs_and_gradients(plain: torch.nn.Module, other: torch.nn.Module, batch: dict) -> None:
    """``other`` (e.g. with activation checkpointing) computes what ``plain`` does, forward and backward."""
    other.load_state_dict(plain.state_dict())
    results = []
    for model in (plain, other):
        out = model(batch["image"])
        objective_for(model)(model, batch)["loss"].backward()
        results.append((out, {n: p.grad for n, p in model.named_parameters()}))
    (out_a, grads_a), (out_b, grads_b) = results
    torch.testing.assert_close(out_a.logits, out_b.logits)
    for a, b in zip(out_a.aux, out_b.aux, strict=True):
        torch.testing.assert_close(a, b)
    for name, grad in grads_a.items():
        torch.testing.assert_close(grad, grads_b[name], rtol=1e-5, atol=1e-6, msg=name)


def objective_for(model, **options):
    """The model's paper objective (``configs/objective/<model>.yaml`` defaults) with ``options`` changed."""
    return build_objective({**default_objective(model.config["name"]), **options}, model)
