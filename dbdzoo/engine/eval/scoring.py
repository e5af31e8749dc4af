"""What one evaluation dataset accumulates: the metric evaluators, saved maps, missing and repeated items."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ...data.io import write_sigma_png
from ...files import DiskFullError, atomic_write
from .sources import Prediction


def mask_tensor(mask: Any) -> torch.Tensor:
    mask = torch.as_tensor(np.asarray(mask) if isinstance(mask, np.ndarray) else mask).float()
    while mask.ndim < 4:
        mask = mask[None]
    return mask


def save_maps(
    out_dir: Path, name: str, prob: torch.Tensor, sigma: torch.Tensor | None, sigma_format: str
) -> None:
    """``<name>.png`` (8-bit blur probability) and optionally ``<name>_sigma.npy|png`` (σ in px).

    Written atomically: ``cv2.imwrite`` returns False on a full disk instead of raising, which left
    truncated maps behind without a word.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", (prob.clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8))
    if not ok:
        raise ValueError(f"{out_dir / name}.png: OpenCV could not encode the map")
    atomic_write(out_dir / f"{name}.png", lambda tmp: tmp.write_bytes(png.tobytes()))
    if sigma is not None:
        s = sigma.float().cpu().numpy()
        if sigma_format == "npy":
            atomic_write(out_dir / f"{name}_sigma.npy", lambda tmp: _save_npy(tmp, s))
        else:
            atomic_write(out_dir / f"{name}_sigma.png", lambda tmp: _write_sigma_png(tmp, s))


def _save_npy(tmp: Path, array: np.ndarray) -> None:
    with open(tmp, "wb") as f:  # np.save(path) would append ".npy" to the temporary name
        np.save(f, array)


def _write_sigma_png(tmp: Path, array: np.ndarray) -> None:
    png = tmp.with_name(tmp.name + ".png")  # the writer picks its codec from the suffix
    try:
        write_sigma_png(png, array)
        png.replace(tmp)
    finally:
        png.unlink(missing_ok=True)


class DatasetScore:
    """The scorers of one dataset: F-measure presets, optional structure and defocus-map metrics."""

    def __init__(self, key: str, config: dict, device: torch.device) -> None:
        from ...metrics import DBDEvaluator, DMEEvaluator, StructureEvaluator

        self.key, self.config, self.device = key, config, device
        self.evaluator = DBDEvaluator(presets=list(config["presets"]), device=device)
        self.dme = DMEEvaluator(config["dme_protocol"]) if config.get("dme_protocol") else None
        self.structure = StructureEvaluator() if config.get("structure") else None  # S, E, wF (blur class)
        self.seen: set[str] = set()
        self.repeated = 0  # a reader with on_error=skip substitutes the next sample: never score one twice
        self.scored = False

    def fresh(self, batch: list[dict]) -> list[dict]:
        """The items of a batch not scored yet."""
        out = []
        for item in batch:
            name = str(item["meta"]["name"])
            if name in self.seen:
                self.repeated += 1
                continue
            self.seen.add(name)
            out.append(item)
        return out

    def add(self, item: dict, pred: Prediction, run_dir: Path) -> None:
        """Score one item's maps; optionally save them under ``<run dir>/maps/<dataset>``."""
        if pred.prob is None and pred.sigma is None:
            return  # missing: the folder source lists it
        name = str(item["meta"]["name"])
        if "mask" in item and pred.prob is not None:
            self.scored = True
            mask = mask_tensor(item["mask"]).to(self.device)
            self.evaluator.update(pred.prob, mask, names=[name])
            if self.structure is not None:
                self.structure.update(pred.prob, mask, names=[name])
        if self.dme is not None and pred.sigma is not None and "defocus" in item:
            valid = item.get("defocus_valid")
            self.dme.update(
                pred.sigma,
                mask_tensor(item["defocus"]),
                None if valid is None else mask_tensor(valid),
                names=[name],
            )
        if self.config.get("save_maps") and pred.prob is not None:
            save_maps(
                run_dir / "maps" / self.key,
                Path(name).stem,
                pred.prob[0, 0],
                None if pred.sigma is None else pred.sigma[0, 0],
                self.config.get("sigma_format", "png16"),
            )

    def finish(self, dataset: Any, run_dir: Path, missing: list[str]) -> dict[str, dict[str, float]]:
        """``{preset: metrics}`` with ``n_missing`` / ``n_skipped``; the plots come later (``write_plots``)."""
        if missing and not self.config.get("skip_missing", False):
            shown = ", ".join(missing[:20]) + (" …" if len(missing) > 20 else "")
            raise FileNotFoundError(
                f"{len(missing)} prediction(s) missing for dataset {self.key} in "
                f"{self.config['predictions']}: {shown} (set skip_missing=true to score the rest and report the count)"
            )
        result = self.evaluator.compute() if self.scored else {}
        skipped = max(len(getattr(dataset, "skipped", None) or {}), self.repeated)  # unreadable, unpaired
        for metrics in result.values():
            if missing:
                metrics["n_missing"] = float(len(missing))
            if skipped:
                metrics["n_skipped"] = float(skipped)
        if self.dme is not None:
            result[f"dme_{self.config['dme_protocol']}"] = self.dme.compute()
        if self.structure is not None and self.scored:
            result["structure"] = self.structure.compute()
        return result

    def write_plots(self, run_dir: Path) -> None:
        """PR / F-threshold plots, after the table is printed and the result files are written."""
        from ...metrics import plot_curves

        if self.config.get("plots", True) and self.scored:
            folder = run_dir / "plots"
            try:
                plot_curves(
                    self.evaluator.curves(),
                    folder,
                    prefix=f"{self.key}_",
                    title=self.key,
                    write_file=atomic_write,
                )
            except OSError as exc:  # matplotlib names no file; say which folder failed
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskFullError(
                        f"no space left on device: {folder} (plots of {self.key})", folder
                    ) from None
                raise
