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

from .builders import build_dataset
from .dist import resolve_device
from .logger import progress_enabled
from .validate import autocast_context

_PRED_EXTS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")


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


def index_predictions(folder: Path, dataset_key: str) -> dict[str, Path]:
    """Stem → file for ``folder/<dataset_key>/*`` when that exists, else ``folder/*``."""
    root = folder / dataset_key if (folder / dataset_key).is_dir() else folder
    if not root.is_dir():
        raise FileNotFoundError(f"prediction folder {root} does not exist")
    return {p.stem: p for p in sorted(root.iterdir()) if p.suffix.lower() in _PRED_EXTS}


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


def evaluate(cfg: DictConfig | dict) -> dict[str, dict[str, dict[str, float]]]:
    """Evaluate per ``configs/eval.yaml``; returns ``{dataset: {preset: {metric: value}}}``."""
    from ..metrics import DBDEvaluator, DMEEvaluator, StructureEvaluator, plot_curves, write_report

    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    if (config.get("model_ref") is None) == (config.get("predictions") is None):
        raise ValueError("set exactly one of model_ref=<model reference> or predictions=<folder of maps>")
    device = resolve_device(config.get("device", "auto"))
    run_dir = Path(config["paths"]["output_dir"])
    model = None
    if config.get("model_ref") is not None:
        from ..hub import load_model

        model = load_model(config["model_ref"], weights=config.get("weights"), device=device).eval()
    pred_dir = Path(config["predictions"]) if config.get("predictions") else None
    results: dict[str, dict[str, dict[str, float]]] = {}
    for key, spec in config["datasets"].items():
        dataset = build_dataset(spec)
        evaluator = DBDEvaluator(presets=list(config["presets"]), device=device)
        dme = DMEEvaluator(config["dme_protocol"]) if config.get("dme_protocol") else None
        structure = StructureEvaluator() if config.get("structure") else None  # S, E, weighted F (blur class)
        files = index_predictions(pred_dir, key) if pred_dir is not None else {}
        missing: list[str] = []
        scored = False
        seen: set[str] = set()
        repeated = 0  # a reader with on_error=skip substitutes the next sample: never score one twice
        bar = tqdm(range(len(dataset)), desc=key, disable=not progress_enabled(True), dynamic_ncols=True)
        for i in bar:
            item = dataset[i]
            name = str(item["meta"]["name"])
            if name in seen:
                repeated += 1
                continue
            seen.add(name)
            sigma = None
            if model is not None:
                x = _image_tensor(item["image"]).to(device)
                size = config.get("infer_size")  # the Zhao-lab protocol: infer at 320², resize back
                xin = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) if size else x
                with autocast_context(device, config.get("precision", "fp32")):
                    prob = model.predict_tensor(xin).float()
                if size:
                    prob = F.interpolate(prob, size=x.shape[-2:], mode="bilinear", align_corners=False).clamp(
                        0, 1
                    )
                if dme is not None and hasattr(model, "sigma"):
                    sigma = model.sigma(prob)
            else:
                stem = Path(name).stem
                if stem not in files and not (dme is not None and f"{stem}_sigma" in files):
                    missing.append(stem)
                    continue
                prob = read_prediction(files[stem]).to(device) if stem in files else None  # σ-only folders
                if prob is not None and config.get("prediction_polarity", "blur") == "in_focus":
                    prob = 1 - prob
            if "mask" in item and prob is not None:
                scored = True
                evaluator.update(prob, _mask_tensor(item["mask"]).to(device), names=[name])
                if structure is not None:
                    structure.update(prob, _mask_tensor(item["mask"]).to(device), names=[name])
            if dme is not None and "defocus" in item:
                if sigma is None and model is None:  # precomputed maps: σ lives in <stem>_sigma.npy/png
                    key_sigma = f"{Path(name).stem}_sigma"
                    if key_sigma not in files:
                        raise FileNotFoundError(
                            f"{pred_dir}: no {key_sigma}.npy/.png for the σ metrics of {name}"
                        )
                    sigma = read_sigma_prediction(files[key_sigma]).to(device)
                if sigma is None:
                    raise ValueError(
                        f"dme_protocol is set but {type(model).__name__} has no sigma() conversion"
                    )
                pred_sigma = sigma
                valid = item.get("defocus_valid")
                dme.update(
                    pred_sigma,
                    _mask_tensor(item["defocus"]),
                    None if valid is None else _mask_tensor(valid),
                    names=[name],
                )
            if config.get("save_maps") and prob is not None:
                _save_map(
                    run_dir / "maps" / key,
                    Path(name).stem,
                    prob[0, 0],
                    None if sigma is None else sigma[0, 0],
                    config.get("sigma_format", "png16"),
                )
        if missing and not config.get("skip_missing", False):
            raise FileNotFoundError(
                f"{len(missing)} prediction(s) missing for dataset {key} in {pred_dir}: {', '.join(missing[:20])}"
                + (" …" if len(missing) > 20 else "")
                + " (set skip_missing=true to score the rest and report the count)"
            )
        results[key] = evaluator.compute() if scored else {}
        skipped = max(len(getattr(dataset, "skipped", None) or {}), repeated)  # unreadable or unpaired files
        for metrics in results[key].values():
            if missing:
                metrics["n_missing"] = float(len(missing))
            if skipped:
                metrics["n_skipped"] = float(skipped)
        if dme is not None:
            results[key][f"dme_{config['dme_protocol']}"] = dme.compute()
        if structure is not None and scored:
            results[key]["structure"] = structure.compute()
        if config.get("plots", True) and scored:
            plot_curves(evaluator.curves(), run_dir / "plots", prefix=f"{key}_", title=key)
    extras = {"structure": {"positive": "blur", "eval_size": "native"}}
    if config.get("dme_protocol"):
        extras[f"dme_{config['dme_protocol']}"] = {"positive": "σ", "eval_size": "native"}
    table = write_report(results, run_dir, presets_info=extras)
    print(table)
    print(f"results: {run_dir / 'results.md'} (+ .csv, .json); plots: {run_dir / 'plots'}")
    return results
