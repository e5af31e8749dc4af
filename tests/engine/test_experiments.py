"""Every experiment file composes and fast-runs two steps with a tiny backbone on synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dbdzoo.bench.tiny import tiny_model_config, tiny_objective_config
from dbdzoo.engine import train

EXPERIMENTS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "configs" / "experiment").glob("*.yaml")
)


def _synthetic_like(spec: dict | None, seed: int) -> dict | None:
    """The same dataset spec on the built-in renderer: keeps the recipe's transform, drops the files."""
    if not spec:
        return spec
    out = {
        "name": "synthetic",
        "split": spec.get("split", "train") if spec.get("split") in ("train", "val") else "train",
        "length": 8,
        "size": 48,
        "seed": seed,
    }
    if spec.get("transform"):
        out["transform"] = dict(spec["transform"])
        if out["transform"].get("size"):
            # keep the recipe, shrink its crop/resize, and keep whether the real size is a multiple of 16
            # (BR2Net/DeFusionNet train on 300² crops, which no network stride divides)
            out["transform"]["size"] = 32 if out["transform"]["size"] % 16 == 0 else 50
    return out


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_fast_runs(experiment: str, compose_overrides, tmp_path) -> None:
    cfg = compose_overrides([f"experiment={experiment}"], tmp_path / "run")
    if OmegaConf.is_missing(
        cfg.trainer, "init_from"
    ):  # stage 2 of a two-stage recipe: the user names stage 1
        assert experiment.removesuffix("_gpu").endswith("_synthetic_cuhk")
    cfg.trainer.init_from = None  # weights of the real architecture cannot initialise the tiny stand-in
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["optim"]["lr"] > 0  # (the model it names: test_run_folder_and_config_checks)
    if experiment.endswith("_gpu"):  # one-GPU recipes: the optimised path and a parallel input pipeline
        tr = resolved["trainer"]
        assert (tr["device"], tr["precision"], tr["channels_last"]) == ("cuda", "bf16", True)
        assert tr["deterministic"] == "off"  # deterministic cuDNN algorithms cost speed on the fast path
        assert resolved["data"]["num_workers"] > 1
    cfg.model = tiny_model_config(resolved["model"])
    cfg.objective = tiny_objective_config(resolved["model"]["name"], resolved.get("objective"))
    data = resolved["data"]
    if data.get("domains"):
        data["domains"] = {k: _synthetic_like(v, i) for i, (k, v) in enumerate(data["domains"].items())}
    else:
        data["train"] = _synthetic_like(data["train"], 0)
    data["val"] = {"name": "synthetic", "split": "val", "length": 2, "size": 32, "seed": 0}
    data.update(batch_size=2, num_workers=0, val_batch_size=2)
    cfg.data = data
    cfg.trainer.update(
        max_steps=2, val_every=2, ckpt_every=2, compile=False, device="cpu"
    )  # *_gpu recipes too
    cfg.logger.update(tensorboard=False, log_every=1)
    results = train(cfg)
    maes = [v for k, v in results.items() if k.endswith("/MAE")]
    assert maes and all(v == v for v in maes)  # validation reported MAE, and never NaN
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
