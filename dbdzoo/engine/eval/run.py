"""``evaluate(cfg)``: score a model, or a folder of any method's prediction maps, on several datasets.

Every number is produced by a named metric preset (docs/metrics.md), so a table says which paper's
protocol it follows. The maps come from a source (``sources``: a model or a folder), the scorers
(``scoring``) accumulate them per dataset. Results go to the run directory as Markdown + CSV +
JSON with PR / F-threshold plots; the table is printed before any of them is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ...files import atomic_write
from ...progress import ProgressLog
from ..builders import build_dataset
from ..config.checks import check_dataset_root
from ..dist import resolve_device
from ..logger import progress_enabled
from ..provenance import data_roots, model_record, versions
from ..runtime import seed_everything
from .datasets import index_predictions, iterate_items, resolve_datasets
from .scoring import DatasetScore
from .sources import FolderSource, ModelSource

__all__ = ["evaluate"]


def model_options(config: dict[str, Any]) -> dict[str, Any]:
    """``model_options``: arguments for the model ``model_ref`` names (a classical method's settings)."""
    options = config.get("model_options")
    if options is None:
        return {}
    if config.get("model_ref") is None:
        raise ValueError("model_options applies to model_ref=<model reference>, not to predictions=<folder>")
    if not isinstance(options, dict):
        raise ValueError(
            f"model_options={options!r}: expected a mapping of argument names to values, "
            "e.g. 'model_options={code: cpp}'"
        )
    return options


def evaluate(cfg: DictConfig | dict) -> dict[str, dict[str, dict[str, float]]]:
    """Evaluate per ``configs/eval.yaml``; returns ``{dataset: {preset: {metric: value}}}``."""
    from ...metrics import write_report

    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    if (config.get("model_ref") is None) == (config.get("predictions") is None):
        raise ValueError("set exactly one of model_ref=<model reference> or predictions=<folder of maps>")
    options = model_options(config)
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
        from ...hub import load_model

        model = load_model(
            config["model_ref"], weights=config.get("weights"), device=device, **options
        ).eval()
    batch_size, workers = int(config.get("batch_size") or 1), int(config.get("num_workers") or 0)
    results: dict[str, dict[str, dict[str, float]]] = {}
    scores: list[DatasetScore] = []
    for key, dataset in datasets.items():
        if model is not None:
            source = ModelSource(model, config, device)
        else:
            source = FolderSource(index[key], config, device)
        score = DatasetScore(key, config, device)
        bar = tqdm(total=len(dataset), desc=key, disable=not progress_enabled(True), dynamic_ncols=True)
        log = ProgressLog(len(dataset), f"eval {key}")
        for batch in iterate_items(dataset, batch_size, workers):
            bar.update(len(batch))
            log.update(len(batch))  # tqdm is silent when stderr is piped; this prints a line every 5 s
            items = score.fresh(batch)
            for item, pred in zip(items, source.predict(items), strict=True):
                score.add(item, pred, run_dir)
        bar.close()
        log.close()
        results[key] = score.finish(dataset, run_dir, source.missing)
        scores.append(score)
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
        "max_side": config.get("max_side", "auto"),
        "versions": versions(),
    }
    # the table first, then whole files: a full disk costs the files, never the numbers
    write_report(results, run_dir, presets_info=extras, run=run, show=print, write_file=atomic_write)
    for score in scores:
        score.write_plots(run_dir)
    print(f"results: {run_dir / 'results.md'} (+ .csv, .json); plots: {run_dir / 'plots'}")
    return results
