"""Input-pipeline measurements: synthetic renderer and DataLoader throughput on a real-format folder."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from .timing import time_call


def bench_renderer(
    device: torch.device, *, batch: int = 16, size: int = 320, warmup: int = 1, iters: int = 3
) -> dict[str, Any]:
    """Images/s of the batched thin-lens renderer at ``size``²."""
    from ..data import render_defocus

    counter = iter(range(10**9))
    t = time_call(
        lambda: render_defocus(batch, size, size, generator=next(counter), device=device),
        device,
        warmup=warmup,
        iters=iters,
    )
    return {
        "batch": batch,
        "size": size,
        "batch_ms": t["median_ms"],
        "images_per_s": batch / (t["median_ms"] / 1e3),
    }


def write_folder_dataset(root: Path, n: int, size: tuple[int, int] = (480, 640), seed: int = 0) -> Path:
    """``images/*.jpg`` + ``masks/*.png`` of textured noise: a real on-disk format for loader timing."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3), dtype=np.uint8), (0, 0), 2)
        cv2.imwrite(str(root / "images" / f"{i:04d}.jpg"), img)
        cv2.imwrite(str(root / "masks" / f"{i:04d}.png"), (rng.random(size) > 0.5).astype(np.uint8) * 255)
    return root


def bench_loader(
    *,
    workers: int = 2,
    n_images: int = 64,
    batch: int = 8,
    recipe: str = "br2net",
    size: int = 300,
    root: str | None = None,
) -> dict[str, Any]:
    """Images/s through ``DataLoader`` (decode + augmentation + collate) with ``workers`` processes."""
    from ..data import build_transform, collate, create_dataset, seed_worker

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(root) if root else write_folder_dataset(Path(tmp), n_images)
        ds = create_dataset(
            "folder", root=str(folder), positive="blur", transform=build_transform(recipe, size=size)
        )
        loader = DataLoader(
            ds,
            batch_size=batch,
            num_workers=workers,
            worker_init_fn=seed_worker,
            collate_fn=collate,  # as the training loader (engine.loaders.make_loader)
            persistent_workers=False,
            drop_last=True,
        )
        next(iter(loader))  # import and worker start-up are not throughput
        t0 = time.perf_counter()
        n = sum(b["image"].shape[0] for b in loader)
        elapsed = time.perf_counter() - t0
    return {"workers": workers, "batch": batch, "recipe": recipe, "images": n, "images_per_s": n / elapsed}
