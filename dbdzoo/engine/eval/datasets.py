"""What ``eval.py`` scores: dataset specs from ``configs/data`` groups or inline, and prediction files.

``datasets`` accepts the forms users of lightning-hydra-template expect (docs/metrics.md "Evaluate"):

- ``null``: the synthetic validation set (``configs/data/synthetic.yaml``);
- a group name or list of names, ``datasets=[cuhk,dut]``: each group's ``val`` spec, with roots under
  ``paths.data_dir``;
- a mapping ``'datasets={cuhk: {root: /data/CUHK}}'``: a key naming a group starts from its ``val`` spec and
  the given keys override it; any other key needs a full spec
  ``{mine: {name: folder, root: /data/mine, split: all, positive: blur}}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

PRED_EXTS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")


def data_groups() -> list[str]:
    """Names of the ``configs/data`` groups."""
    from ..config import config_dir

    return sorted(p.stem for p in (config_dir() / "data").glob("*.yaml"))


def group_val_spec(group: str, paths: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``val`` spec of ``configs/data/<group>.yaml`` with ``${paths.*}`` resolved against ``paths``."""
    from ..config import config_dir

    file = config_dir() / "data" / f"{group}.yaml"
    if not file.is_file():
        raise ValueError(
            f"datasets: {group!r} is not a configs/data group (choose from {', '.join(data_groups())}) "
            "and has no inline spec; write 'datasets={" + group + ": {name: ..., root: ..., split: ...}}'"
        )
    default_paths = OmegaConf.load(config_dir() / "paths" / "default.yaml")
    default_paths.output_dir = None  # ${hydra:...} is not needed to locate data
    root = OmegaConf.create({"paths": default_paths, "data": OmegaConf.load(file)})
    if paths:
        given = OmegaConf.to_container(paths) if OmegaConf.is_config(paths) else dict(paths)
        given = {k: v for k, v in given.items() if v is not None and k != "output_dir"}
        root.paths = OmegaConf.merge(root.paths, given)
    if not root.data.get("val"):
        raise ValueError(f"datasets: configs/data/{group}.yaml has no val spec to evaluate on")
    return OmegaConf.to_container(root.data.val, resolve=True)  # type: ignore[return-value]


def resolve_datasets(datasets: Any, paths: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``{key: dataset spec}`` from any of the accepted ``datasets`` forms (module docstring)."""
    if datasets is None:
        datasets = ["synthetic"]
    if isinstance(datasets, str):
        datasets = [datasets]
    out: dict[str, dict[str, Any]] = {}
    if isinstance(datasets, Mapping):
        for key, spec in datasets.items():
            out[str(key)] = check_spec(str(key), _spec_for(str(key), spec, paths))
        return out
    if not isinstance(datasets, Sequence):
        raise ValueError(f"datasets={datasets!r}: expected a group name, a list of names or a mapping")
    for item in datasets:
        if isinstance(item, str):
            out[item] = group_val_spec(item, paths)
        elif isinstance(item, Mapping) and item.get("name"):
            key = str(item.get("key") or item["name"])
            out[key] = check_spec(key, {k: v for k, v in item.items() if k != "key"})
        else:
            raise ValueError(
                f"datasets entry {item!r}: expected a configs/data group name or a spec with a name"
            )
    return out


def check_spec(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Refuse a key the dataset's reader does not take, with training's "did you mean" hint.

    Without it a typo such as ``gt_treshold:`` in an inline spec reached the reader as a stray keyword.
    """
    from ...data.base import DATASETS
    from ...registry import accepted_options, did_you_mean

    reader = str(spec.get("name", ""))
    if reader not in DATASETS:  # unknown names and compositions (cuhk+dut) are the reader factory's to judge
        return spec
    accepted = accepted_options(DATASETS.get(reader))
    if accepted is None:
        return spec
    for option in sorted(set(spec) - {"name", "transform"} - accepted):
        hint = did_you_mean(option, accepted, prefix=f"datasets.{key}.")
        raise ValueError(f"datasets.{key}.{option}: not an argument of dataset {reader!r}{hint}")
    return spec


def _spec_for(key: str, spec: Any, paths: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = dict(spec or {})
    if key in data_groups() and spec.get("name") in (None, _group_name(key, paths)):
        return {**group_val_spec(key, paths), **spec}
    if not spec.get("name"):
        raise ValueError(
            f"datasets.{key}: not a configs/data group, so it needs a full spec with a name, e.g. "
            f"'datasets={{{key}: {{name: folder, root: /data/{key}, split: all, positive: blur}}}}'"
        )
    return spec


def _group_name(group: str, paths: Mapping[str, Any] | None) -> str | None:
    return group_val_spec(group, paths).get("name")


def index_predictions(folder: Path, dataset_key: str) -> dict[str, Path]:
    """Name → file for ``folder/<dataset_key>/*`` when that exists, else ``folder/*``."""
    root = folder / dataset_key if (folder / dataset_key).is_dir() else folder
    if not root.is_dir():
        raise FileNotFoundError(f"predictions={str(folder)!r}: folder {root} does not exist")
    return {p.stem: p for p in sorted(root.iterdir()) if p.suffix.lower() in PRED_EXTS}


def find_prediction(files: Mapping[str, Path], name: str) -> Path | None:
    """The map for a ground-truth image: ``<stem>.png``, or what ``dbdzoo predict`` writes for it.

    ``dbdzoo predict`` names maps ``<stem>_blur.png`` and, when two inputs share a stem, keeps the
    image suffix (``<stem>_jpg_blur.png``); both read back here, so predict → eval round-trips.
    """
    path = Path(name)
    suffix = path.suffix[1:].lower()
    for key in (path.stem, f"{path.stem}_blur", *([f"{path.stem}_{suffix}_blur"] if suffix else [])):
        if key in files:
            return files[key]
    return None


def _as_list(batch: list[Any]) -> list[Any]:
    return batch


def iterate_items(dataset: Any, batch_size: int, num_workers: int) -> Iterator[list[dict[str, Any]]]:
    """Items in order, ``batch_size`` at a time, decoded by ``num_workers`` DataLoader workers."""
    from torch.utils.data import DataLoader

    if batch_size < 1 or num_workers < 0:
        raise ValueError(f"batch_size={batch_size} / num_workers={num_workers}: expected ≥ 1 / ≥ 0")
    yield from DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_as_list
    )
