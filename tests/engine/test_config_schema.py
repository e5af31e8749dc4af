"""The typed schemas (engine/config/sections.py) against the YAML groups and bad values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dbdzoo.engine.config.schema import check_against, check_train_config
from dbdzoo.engine.config.sections import LoggerSchema, PathsSchema, TrainerSchema, TrainSchema

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    ("schema", "file"),
    [(TrainerSchema, "trainer/default.yaml"), (LoggerSchema, "logger/default.yaml"),
     (PathsSchema, "paths/default.yaml")],
)  # fmt: skip
def test_each_schema_types_exactly_the_keys_its_default_file_sets(schema, file) -> None:
    declared = set(OmegaConf.load(CONFIGS / file)) - {"defaults"}
    assert {f.name for f in dataclasses.fields(schema)} == declared


def test_every_experiment_and_data_group_fits_the_schema(compose_overrides, tmp_path) -> None:
    experiments = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
    groups = sorted(p.stem for p in (CONFIGS / "data").glob("[a-z]*.yaml"))
    overrides = [[f"experiment={e}"] for e in experiments] + [[f"data={g}"] for g in groups]
    for override in overrides:
        config = OmegaConf.to_container(compose_overrides(override, tmp_path), resolve=True)
        check_against(TrainSchema, config, "")  # raises with the key on a mismatch


def test_the_check_reads_no_yaml_file(compose_overrides, tmp_path, monkeypatch) -> None:
    config = OmegaConf.to_container(compose_overrides(["debug=fast"], tmp_path), resolve=True)

    def refuse(*args, **kwargs):
        raise AssertionError("check_train_config read a config file")

    monkeypatch.setattr(OmegaConf, "load", refuse)
    check_train_config(config)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"data": {"batch_sise": 2}},
            r"^config data\.batch_sise: unknown key .*; did you mean data\.batch_size\?$",
        ),
        ({"trainer": {"compile": 0}}, r"^config trainer\.compile=0: expected one of False, True, default"),
        (
            {"trainer": {"val_batches": 0}},
            r"^config trainer\.val_batches=0: expected a positive integer or null$",
        ),
        ({"trainer": {"ema": 0.99}}, r"^config trainer\.ema=0\.99: expected a mapping$"),
        ({"optim": {"lr": -1.0, "momentum": 0.9}}, r"^config optim\.lr=-1\.0: expected a positive number$"),
        (
            {"sched": {"name": "poly", "warmup_steps": -5}},
            r"^config sched\.warmup_steps=-5: expected a non-negative",
        ),
        ({"logger": {"progress_bar": "yes"}}, r"^config logger\.progress_bar='yes': expected true or false$"),
        (
            {"trainer": {"precision": "fp8"}},
            r"^config trainer\.precision='fp8': expected one of fp32, bf16, fp16$",
        ),
        (
            {"trainer": {"compile": "fast"}},
            r"expected one of False, True, default, reduce-overhead, max-autotune,",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_key(config, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_against(TrainSchema, config, "")


def test_every_schema_field_has_words_for_its_message() -> None:
    from typing import get_type_hints

    from dbdzoo.engine.config.schema import expected

    def walk(schema: type) -> None:
        hints = get_type_hints(schema)
        for f in dataclasses.fields(schema):
            assert expected(f, hints[f.name]), f"{schema.__name__}.{f.name}"  # a TypeError names a gap
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name])

    walk(TrainSchema)


def test_open_sections_leave_their_options_to_the_factories() -> None:
    check_against(TrainSchema, {"optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "model": {"x": 1}}, "")
