"""``eval.py`` as documented: dataset groups and inline specs, predict → eval, batched loading, run records."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dbdzoo
from dbdzoo.engine.entry import main
from dbdzoo.engine.eval.datasets import find_prediction, resolve_datasets
from dbdzoo.engine.provenance import file_sha256


def _eval(command: str, tmp_path: Path, run: str = "eval", **subs: Path) -> dict:
    """Run a documented ``python eval.py ...`` line (``/data`` etc. replaced by test folders) in-process."""
    for placeholder, real in subs.items():
        command = command.replace(f"/{placeholder}", str(real))
    run_dir = tmp_path / run
    main("eval", [*shlex.split(command)[2:], "device=cpu", "plots=false", f"hydra.run.dir={run_dir}"])
    return json.loads((run_dir / "results.json").read_text())


def _folder(root: Path, n: int = 3, size: tuple[int, int] = (24, 32)) -> None:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        mask = np.zeros(size, np.uint8)
        mask[:, : size[1] // (i + 2)] = 255
        cv2.imwrite(str(root / "images" / f"im{i}.jpg"), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), mask)


@pytest.fixture
def weights(tmp_path) -> Path:
    torch.manual_seed(0)
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    dbdzoo.hub.save_pretrained(model, tmp_path / "model")
    return tmp_path / "model"


def _cuhk(root: Path) -> None:
    (root / "CUHK" / "image").mkdir(parents=True)
    (root / "CUHK" / "gt").mkdir()


def test_documented_dataset_forms_compose_and_resolve(tmp_path) -> None:
    from hydra import compose, initialize_config_dir

    from dbdzoo.engine.config import config_dir

    forms = {
        "python eval.py model_ref=fpn datasets=[cuhk,dut] paths.data_dir=/data": ["cuhk", "dut"],
        "python eval.py model_ref=fpn 'datasets={cuhk: {root: /data/CUHK}}' skip_missing=true": ["cuhk"],
        "python eval.py model_ref=fpn 'datasets={cuhk: {name: cuhk, root: /data/CUHK, split: test}}'": [
            "cuhk"
        ],
    }
    for command, keys in forms.items():
        argv = shlex.split(command.replace("/data", str(tmp_path)))[2:]
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name="eval", overrides=argv)
        specs = resolve_datasets(cfg.datasets, cfg.paths)
        assert list(specs) == keys, command
        cuhk = specs["cuhk"]
        assert cuhk["root"] == f"{tmp_path}/CUHK" and cuhk["split"] == "test", command
        assert cuhk["transform"] == {"recipe": "eval_native"}  # the group's val recipe is kept
    assert resolve_datasets(None)["synthetic"]["split"] == "val"
    with pytest.raises(ValueError, match="'cuhk_test' is not a configs/data group"):
        resolve_datasets(["cuhk_test"])
    with pytest.raises(ValueError, match="datasets.mine: not a configs/data group, so it needs a full spec"):
        resolve_datasets({"mine": {"root": "/x"}})


def test_group_with_overrides_scores_a_model_and_records_it(tmp_path, weights) -> None:
    out = _eval(
        "python eval.py model_ref=/model 'datasets={synthetic: {length: 4, size: 32}}' presets=[br2net_maxf]",
        tmp_path,
        model=weights,
    )
    assert out["results"]["synthetic"]["br2net_maxf"]["n_images"] == 4
    run = out["run"]
    assert run["model"]["weights_sha256"] == file_sha256(weights / "model.safetensors")
    assert run["model"]["config"]["backbone"] == "tiny_vgg" and run["presets"] == ["br2net_maxf"]
    assert run["datasets"]["synthetic"]["split"] == "val" and run["versions"]["dbdzoo"]
    assert "br2net_maxf" in (tmp_path / "eval" / "eval.log").read_text()


def test_predict_then_eval_round_trips(tmp_path, weights, capsys) -> None:
    from dbdzoo import cli

    data = tmp_path / "mine"
    _folder(data)
    assert (
        cli.main(["predict", str(data / "images"), "--model", str(weights), "--out", str(tmp_path / "preds")])
        == 0
    )
    spec = "'datasets={mine: {name: folder, root: /mine, split: all, positive: blur}}'"
    from_maps = _eval(
        f"python eval.py predictions=/preds {spec}", tmp_path, "a", mine=data, preds=tmp_path / "preds"
    )
    direct = _eval(f"python eval.py model_ref=/model {spec}", tmp_path, "b", mine=data, model=weights)
    for preset in ("br2net_maxf", "ddffnet"):
        a, b = from_maps["results"]["mine"][preset], direct["results"]["mine"][preset]
        assert a["n_images"] == 3
        assert a["MAE"] == pytest.approx(b["MAE"], abs=1 / 255)  # the PNGs are 8-bit


def test_batched_loading_with_workers_gives_the_same_numbers(tmp_path, weights) -> None:
    data = tmp_path / "mine"
    _folder(data, n=4)
    spec = "'datasets={mine: {name: folder, root: /mine, split: all, positive: blur}}'"
    one = _eval(f"python eval.py model_ref=/model {spec}", tmp_path, "one", mine=data, model=weights)
    four = _eval(
        f"python eval.py model_ref=/model {spec} batch_size=3 num_workers=1",
        tmp_path,
        "b",
        mine=data,
        model=weights,
    )
    for preset, metrics in one["results"]["mine"].items():
        for key, value in metrics.items():
            assert four["results"]["mine"][preset][key] == pytest.approx(value, abs=1e-5), (preset, key)


def test_folder_without_positive_fails_before_the_model_loads(tmp_path, monkeypatch, capsys) -> None:
    import dbdzoo.hub

    data = tmp_path / "mine"
    _folder(data, n=1)
    monkeypatch.setattr(dbdzoo.hub, "load_model", lambda *a, **k: pytest.fail("model loaded first"))
    with pytest.raises(SystemExit):
        _eval(
            "python eval.py model_ref=x 'datasets={mine: {name: folder, root: /mine, split: all}}'",
            tmp_path,
            mine=data,
        )
    first = capsys.readouterr().err.splitlines()[0]
    assert first == (
        "eval: error: datasets.mine.positive=None: declare what white means in the masks, "
        "datasets.mine.positive=blur or datasets.mine.positive=in_focus"
    )


def test_missing_root_names_the_dataset_key(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        _eval(
            "python eval.py model_ref=fpn datasets=[cuhk] paths.data_dir=/data",
            tmp_path,
            data=tmp_path / "none",
        )
    assert capsys.readouterr().err.startswith(
        f"eval: error: datasets.cuhk.root='{tmp_path}/none/CUHK' does not exist"
    )


def test_prediction_names_written_by_dbdzoo_predict_are_found() -> None:
    files = {"a": Path("a.png"), "b_blur": Path("b_blur.png"), "c_jpg_blur": Path("c_jpg_blur.png")}
    assert find_prediction(files, "a.jpg") == Path("a.png")
    assert find_prediction(files, "b.jpg") == Path("b_blur.png")
    assert find_prediction(files, "c.jpg") == Path("c_jpg_blur.png")
    assert find_prediction(files, "d.jpg") is None


def test_documented_eval_commands_run_as_typed(tmp_path, monkeypatch) -> None:
    """docs/metrics.md "Evaluate": dbdzoo predict, then eval of those maps; an inline folder spec."""
    from dbdzoo import cli
    from dbdzoo.data import load_split_list
    from dbdzoo.hub import save_release

    monkeypatch.chdir(tmp_path)  # runs/last.safetensors and predictions/ are relative to the user's folder
    data = tmp_path / "data"
    for i, stem in enumerate(load_split_list("cuhk_btbnet_test")):  # the 100 CUHK test images, tiny
        rng = np.random.default_rng(i)
        (data / "CUHK" / "image").mkdir(parents=True, exist_ok=True)
        (data / "CUHK" / "gt").mkdir(exist_ok=True)
        cv2.imwrite(
            str(data / "CUHK" / "image" / f"{stem}.jpg"), rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        )
        cv2.imwrite(
            str(data / "CUHK" / "gt" / f"{stem}.png"),
            np.where(np.arange(16) < 5, 255, 0).astype(np.uint8)[None].repeat(12, 0),
        )
    _folder(data / "mine")
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    (tmp_path / "runs").mkdir()
    save_release(model, model.config, tmp_path / "runs" / "last.safetensors")
    assert (
        cli.main(
            ["predict", f"{data}/CUHK/image", "--out", "predictions", "--model", "runs/last.safetensors"]
        )
        == 0
    )
    run = _eval(
        "python eval.py predictions=predictions 'datasets={cuhk: {root: /data/CUHK}}' skip_missing=true",
        tmp_path,
        "maps",
        data=data,
    )
    assert (
        run["results"]["cuhk"]["br2net_maxf"]["n_images"] == 100
        and "n_missing" not in run["results"]["cuhk"]["br2net_maxf"]
    )
    run = _eval(
        "python eval.py model_ref=runs/last.safetensors 'datasets={mine: {name: folder, root: /data/mine, split: all, positive: blur}}'",
        tmp_path,
        "model",
        data=data,
    )
    assert run["results"]["mine"]["ddffnet"]["n_images"] == 3
    assert run["run"]["model"]["weights_sha256"] == file_sha256(tmp_path / "runs" / "last.safetensors")
