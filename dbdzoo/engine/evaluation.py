"""``evaluate(cfg)``: score a model, or a folder of any method's prediction maps, on several datasets.

Every number is produced by a named metric preset (docs/metrics.md), so a table says which paper's
protocol it follows. Results go to the run directory as Markdown + CSV + JSON with PR / F-threshold
plots, and the table is printed at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .builders import build_dataset, check_dataset_root
from .dist import resolve_device
from .eval_data import find_prediction, index_predictions, iterate_items, resolve_datasets
from .logger import progress_enabled
from .provenance import data_roots, model_record, versions
from .runtime import seed_everything
from .validate import autocast_context

__all__ = ["evaluate", "index_predictions", "read_prediction", "read_sigma_prediction"]


def _image_tensor(image: Any) -> torch.Tensor:
    """1×3×H×W float in [0, 1] from a dataset item's image (uint8 array or float tensor)."""
    if isinstance(image, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    return image[None].float() if image.ndim == 3 else image.float()


def _mask_tensor(mask: Any) -> torch.Tensor:
    mask = torch.as_tensor(np.asarray(mask) if isinstance(mask, np.ndarray) else mask).float()
    while mask.ndim < 4:
        mask = mask[None]
    return mask


def read_prediction(path: Path) -> torch.Tensor:
    """A prediction map as 1×1×H×W float in [0, 1]: 8/16-bit, grey or colour images, or ``.npy``."""
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False).astype(np.float32)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f"{path}: cannot be read as an image")
        if arr.ndim == 3:
            arr = cv2.cvtColor(arr[..., :3], cv2.COLOR_BGR2GRAY)
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype, 1.0)
        arr = arr.astype(np.float32) / scale
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel map, got shape {arr.shape}")
    return torch.from_numpy(arr)[None, None]


def read_sigma_prediction(path: Path) -> torch.Tensor:
    """A σ map in pixels as 1×1×H×W: ``.npy`` (px) or dbdzoo's 16-bit PNG (1/1000 px, see ``_save_map``)."""
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False).astype(np.float32)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None or arr.dtype != np.uint16 or arr.ndim != 2:
            raise ValueError(
                f"{path}: expected a single-channel 16-bit PNG of σ in 1/1000 px (or a .npy in px)"
            )
        arr = arr.astype(np.float32) / 1000.0
    return torch.from_numpy(arr)[None, None]


def _save_map(
    out_dir: Path, name: str, prob: torch.Tensor, sigma: torch.Tensor | None, sigma_format: str
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / f"{name}.png"), (prob.clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8))
    if sigma is not None:
        s = sigma.float().cpu().numpy()
        if sigma_format == "npy":
            np.save(out_dir / f"{name}_sigma.npy", s)
        else:  # 16-bit PNG in 1/1000 px, the SYNDOF-style fixed-point encoding with more precision
            cv2.imwrite(
                str(out_dir / f"{name}_sigma.png"), np.clip(s * 1000, 0, 65535).round().astype(np.uint16)
            )


def _predict_batch(model: Any, images: list[torch.Tensor], config: dict, device: torch.device) -> list:
    """Blur probabilities (1×1×H×W each) for a list of 1×3×H×W images; equal sizes run as one batch."""
    size = config.get("infer_size")  # the Zhao-lab protocol: infer at 320², resize back
    groups = [images] if size or len({im.shape for im in images}) == 1 else [[im] for im in images]
    out: list[torch.Tensor] = []
    for group in groups:
        x = torch.cat(
            [
                F.interpolate(im, size=(size, size), mode="bilinear", align_corners=False) if size else im
                for im in group
            ]
        ).to(device)
        with autocast_context(device, config.get("precision", "fp32")):
            prob = model.predict_tensor(x).float()
        for im, p in zip(group, prob.split(1), strict=True):
            if size:
                p = F.interpolate(p, size=im.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
            out.append(p)
    return out


class _DatasetScore:
    """What one dataset accumulates: the evaluators, and which maps were missing or items repeated."""

    def __init__(self, key: str, config: dict, device: torch.device, files: dict[str, Path]) -> None:
        from ..metrics import DBDEvaluator, DMEEvaluator, StructureEvaluator

        self.key, self.config, self.device, self.files = key, config, device, files
        self.evaluator = DBDEvaluator(presets=list(config["presets"]), device=device)
        self.dme = DMEEvaluator(config["dme_protocol"]) if config.get("dme_protocol") else None
        self.structure = StructureEvaluator() if config.get("structure") else None  # S, E, wF (blur class)
        self.missing: list[str] = []
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

    def _has_sigma_file(self, name: str) -> bool:
        return self.dme is not None and f"{Path(name).stem}_sigma" in self.files

    def read_maps(self, items: list[dict]) -> list[torch.Tensor | None]:
        """Precomputed maps in canonical polarity; ``None`` (and listed as missing) where there is none."""
        maps: list[torch.Tensor | None] = []
        for item in items:
            name = str(item["meta"]["name"])
            found = find_prediction(self.files, name)
            if found is None and not self._has_sigma_file(name):
                self.missing.append(Path(name).stem)
            prob = None if found is None else read_prediction(found).to(self.device)
            if prob is not None and self.config.get("prediction_polarity", "blur") == "in_focus":
                prob = 1 - prob
            maps.append(prob)
        return maps

    def add(self, item: dict, prob: torch.Tensor | None, model: Any, run_dir: Path) -> None:
        """Score one item's map (and σ map for ``dme_protocol``); optionally save the maps."""
        name = str(item["meta"]["name"])
        if prob is None and not self._has_sigma_file(name):
            return  # missing, listed by read_maps
        sigma = None
        if model is not None and self.dme is not None and hasattr(model, "sigma"):
            sigma = model.sigma(prob)
        if "mask" in item and prob is not None:
            self.scored = True
            mask = _mask_tensor(item["mask"]).to(self.device)
            self.evaluator.update(prob, mask, names=[name])
            if self.structure is not None:
                self.structure.update(prob, mask, names=[name])
        if self.dme is not None and "defocus" in item:
            if sigma is None and model is None:  # precomputed maps: σ lives in <stem>_sigma.npy/png
                key_sigma = f"{Path(name).stem}_sigma"
                if key_sigma not in self.files:
                    raise FileNotFoundError(
                        f"{self.config['predictions']}: no {key_sigma}.npy/.png for the σ metrics of {name}"
                    )
                sigma = read_sigma_prediction(self.files[key_sigma]).to(self.device)
            if sigma is None:
                raise ValueError(f"dme_protocol is set but {type(model).__name__} has no sigma() conversion")
            valid = item.get("defocus_valid")
            self.dme.update(
                sigma,
                _mask_tensor(item["defocus"]),
                None if valid is None else _mask_tensor(valid),
                names=[name],
            )
        if self.config.get("save_maps") and prob is not None:
            _save_map(
                run_dir / "maps" / self.key,
                Path(name).stem,
                prob[0, 0],
                None if sigma is None else sigma[0, 0],
                self.config.get("sigma_format", "png16"),
            )

    def finish(self, dataset: Any, run_dir: Path) -> dict[str, dict[str, float]]:
        """``{preset: metrics}`` with ``n_missing`` / ``n_skipped``; writes the plots."""
        from ..metrics import plot_curves

        if self.missing and not self.config.get("skip_missing", False):
            shown = ", ".join(self.missing[:20]) + (" …" if len(self.missing) > 20 else "")
            raise FileNotFoundError(
                f"{len(self.missing)} prediction(s) missing for dataset {self.key} in "
                f"{self.config['predictions']}: {shown} (set skip_missing=true to score the rest and report the count)"
            )
        result = self.evaluator.compute() if self.scored else {}
        skipped = max(len(getattr(dataset, "skipped", None) or {}), self.repeated)  # unreadable, unpaired
        for metrics in result.values():
            if self.missing:
                metrics["n_missing"] = float(len(self.missing))
            if skipped:
                metrics["n_skipped"] = float(skipped)
        if self.dme is not None:
            result[f"dme_{self.config['dme_protocol']}"] = self.dme.compute()
        if self.structure is not None and self.scored:
            result["structure"] = self.structure.compute()
        if self.config.get("plots", True) and self.scored:
            plot_curves(self.evaluator.curves(), run_dir / "plots", prefix=f"{self.key}_", title=self.key)
        return result


def evaluate(cfg: DictConfig | dict) -> dict[str, dict[str, dict[str, float]]]:
    """Evaluate per ``configs/eval.yaml``; returns ``{dataset: {preset: {metric: value}}}``."""
    from ..metrics import write_report

    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    if (config.get("model_ref") is None) == (config.get("predictions") is None):
        raise ValueError("set exactly one of model_ref=<model reference> or predictions=<folder of maps>")
    seed_everything(int(config.get("seed") or 0))
    device = resolve_device(config.get("device", "auto"), key="device")
    run_dir = Path(config["paths"]["output_dir"])
    specs = resolve_datasets(config.get("datasets"), config.get("paths"))
    datasets = {}
    for key, spec in specs.items():  # every dataset error before the (slow) model load
        check_dataset_root(spec, f"datasets.{key}")
        datasets[key] = build_dataset(spec)
    pred_dir = Path(config["predictions"]) if config.get("predictions") else None
    index = {key: index_predictions(pred_dir, key) for key in specs} if pred_dir is not None else {}
    model = None
    if config.get("model_ref") is not None:
        from ..hub import load_model

        model = load_model(config["model_ref"], weights=config.get("weights"), device=device).eval()
    batch_size, workers = int(config.get("batch_size") or 1), int(config.get("num_workers") or 0)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for key, dataset in datasets.items():
        score = _DatasetScore(key, config, device, index.get(key, {}))
        bar = tqdm(total=len(dataset), desc=key, disable=not progress_enabled(True), dynamic_ncols=True)
        for batch in iterate_items(dataset, batch_size, workers):
            bar.update(len(batch))
            items = score.fresh(batch)
            if model is not None:
                maps = _predict_batch(model, [_image_tensor(it["image"]) for it in items], config, device)
            else:
                maps = score.read_maps(items)
            for item, prob in zip(items, maps, strict=True):
                score.add(item, prob, model, run_dir)
        bar.close()
        results[key] = score.finish(dataset, run_dir)
    extras = {"structure": {"positive": "blur", "eval_size": "native"}}
    if config.get("dme_protocol"):
        extras[f"dme_{config['dme_protocol']}"] = {"positive": "σ", "eval_size": "native"}
    run = {
        "model": model_record(model, config.get("model_ref"), config.get("weights")) if model else None,
        "predictions": None if pred_dir is None else str(pred_dir),
        "prediction_polarity": None if pred_dir is None else config.get("prediction_polarity", "blur"),
        "datasets": data_roots(specs),
        "presets": list(config["presets"]),
        "infer_size": config.get("infer_size"),
        "versions": versions(),
    }
    table = write_report(results, run_dir, presets_info=extras, run=run)
    print(table)
    print(f"results: {run_dir / 'results.md'} (+ .csv, .json); plots: {run_dir / 'plots'}")
    return results
