"""The Hydra entry points as users type them: defaults, debug runs, resume=auto, run records, one-line errors."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from helpers.child import run_child
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dbdzoo.engine.checkpoint import load_checkpoint
from dbdzoo.engine.entry import config_dir, main
from dbdzoo.engine.provenance import file_sha256

# appended to documented commands so they finish in seconds (tiny images and network, two steps)
TINY = [
    "debug=fast",
    "model.backbone=tiny_vgg",
    "model.decoder_channels=8",
    "data.train.size=32",
    "data.train.length=8",
    "data.val.size=32",
    "data.val.length=4",
]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def _train(command: str, tmp_path: Path, run: str, *extra: str, tiny: bool = True) -> Path:
    """Run a documented ``python train.py ...`` line in-process through the real Hydra app."""
    argv = shlex.split(command)[2:]  # drop "python train.py"
    run_dir = tmp_path / "outputs" / "train" / "runs" / run
    fast = TINY if tiny else ["debug=fast"]
    main("train", [*argv, *fast, *extra, f"paths.log_dir={tmp_path / 'outputs'}", f"hydra.run.dir={run_dir}"])
    return run_dir


def test_no_experiment_by_default_so_model_groups_compose_cleanly() -> None:
    """``experiment: quickstart`` used to be a default and leaked ``decoder_channels`` into every model."""
    plain = _compose([])
    assert plain.model.decoder_channels == 64 and plain.trainer.max_steps == 1000  # the groups as written
    quick = _compose(["experiment=quickstart"])
    assert quick.model.decoder_channels == 32 and quick.trainer.max_steps == 300
    for name in ("br2net", "btbnet", "cenet", "defusionnet", "dmenet"):
        cfg = _compose([f"model={name}"])
        written = OmegaConf.load(config_dir() / "model" / f"{name}.yaml")
        assert set(cfg.model) == set(written), f"model={name}: keys leaked in from elsewhere"


def test_debug_fast_shrinks_any_run() -> None:
    cfg = _compose(["experiment=quickstart", "debug=fast"])
    assert cfg.trainer.max_steps == 2 and cfg.data.num_workers == 0 and not cfg.logger.tensorboard


def test_quickstart_as_documented_writes_log_run_record_and_baseline(tmp_path, capsys) -> None:
    run = _train("python train.py experiment=quickstart", tmp_path, "quick")
    out = capsys.readouterr().out
    assert "all-blur constant" in out  # the floor the model's F must clear
    log = (run / "train.log").read_text()
    assert "training fpn" in log and "all-blur constant" in log and "release weights:" in log
    record = json.loads((run / "run.json").read_text())
    assert record["experiment"] == "quickstart" and record["versions"]["torch"]
    assert record["data"]["main"]["name"] == "synthetic" and record["data"]["val"]["split"] == "val"
    assert record["release_sha256"] == file_sha256(run / "checkpoints" / "last.safetensors")


def test_resume_auto_continues_the_latest_run_of_the_same_experiment(tmp_path, capsys) -> None:
    first = _train("python train.py experiment=quickstart", tmp_path, "a")
    capsys.readouterr()
    second = _train("python train.py experiment=quickstart resume=auto", tmp_path, "b", "trainer.max_steps=3")
    assert f"resumed from {first / 'checkpoints' / 'last.pt'} at step 2" in capsys.readouterr().out
    assert load_checkpoint(second / "checkpoints" / "last.pt")["global_step"] == 3
    _train("python train.py resume=auto", tmp_path, "c")  # another experiment (none): starts afresh
    assert "starting from scratch" in capsys.readouterr().out


def test_resume_auto_of_a_finished_run_says_so_and_leaves_no_new_folder(tmp_path, capsys) -> None:
    first = _train("python train.py experiment=quickstart", tmp_path, "a")  # debug=fast: 2 of 2 steps
    capsys.readouterr()
    again = _train("python train.py experiment=quickstart resume=auto", tmp_path, "b")
    out = capsys.readouterr().out
    assert f"resume=auto: {first / 'checkpoints' / 'last.pt'} already reached trainer.max_steps=2" in out
    assert not again.exists()  # no empty run folder left behind
    assert load_checkpoint(first / "checkpoints" / "last.pt")["global_step"] == 2  # untouched


def _error_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_eval_precision_error_names_the_eval_key(tmp_path, capsys) -> None:
    """eval's switch is the top-level ``precision``, not the trainer's."""
    with pytest.raises(SystemExit):
        main("eval", ["model_ref=fpn_resnet10t", "datasets={synthetic: {length: 2, size: 32}}",
                      "presets=[br2net_maxf]", "precision=bf32", f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert _error_lines(capsys)[0] == "eval: error: precision='bf32'; expected fp32, bf16 or fp16"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.precision=fp8",
            "train: error: config trainer.precision='fp8': expected one of fp32, bf16, fp16",
        ),
        ("data=cuhk", "train: error: data.train.root='/nonexistent/CUHK' does not exist"),
        ("resume=/nonexistent/last.pt", "train: error: resume='/nonexistent/last.pt': no such checkpoint"),
        (
            "data=folder data.train.positive=null",
            "train: error: data.train.positive=None: declare what white means in the masks",
        ),
    ],
)
def test_user_errors_are_one_line_naming_the_key(override, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _train(f"python train.py {override} paths.data_dir=/nonexistent", tmp_path, "bad", tiny=False)
    assert exit_info.value.code == 1
    lines = _error_lines(capsys)
    assert lines[0].startswith(message) and lines[1:] == ["(set HYDRA_FULL_ERROR=1 for the full traceback)"]
    assert message in (tmp_path / "outputs" / "train" / "runs" / "bad" / "train.log").read_text()


def test_hydra_full_error_shows_the_exception(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ValueError, match="trainer.precision='fp8'"):
        _train("python train.py trainer.precision=fp8", tmp_path, "bad")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_eval_device_error_names_the_eval_key(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main("eval", ["model_ref=fpn", "device=cuda", f"hydra.run.dir={tmp_path}"])
    assert _error_lines(capsys)[0] == (
        "eval: error: device='cuda' asks for 1 GPU(s) but this machine has 0; set device=cpu (or auto)"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.precision=fp8",
            "train: error: config trainer.precision='fp8': expected one of fp32, bf16, fp16",
        ),
        ("model.pretrained_backbone=true", "model.pretrained_backbone=false on the command line"),  # offline
    ],
)
def test_python_train_py_prints_one_line_for_a_user_error(override, message, tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = run_child(
        [sys.executable, "train.py", override, "debug=fast", f"hydra.run.dir={tmp_path / 'run'}"],
        env=env,
        timeout=240,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("train: error: ") and message in lines[0], proc.stderr
    assert lines[1] == "(set HYDRA_FULL_ERROR=1 for the full traceback)"


def test_dbdzoo_train_subcommand_and_python_m_dbdzoo(tmp_path, capsys) -> None:
    from dbdzoo import cli

    run = tmp_path / "run"
    assert cli.main(["train", "experiment=quickstart", *TINY, f"hydra.run.dir={run}"]) == 0
    assert (run / "checkpoints" / "last.safetensors").is_file()
    proc = run_child([sys.executable, "-m", "dbdzoo", "--help"], cwd=tmp_path, timeout=240)
    assert proc.returncode == 0 and "train" in proc.stdout and "eval" in proc.stdout


def test_missing_tensorboard_is_said_not_skipped_silently(tmp_path, monkeypatch, capsys) -> None:
    from dbdzoo.engine.logger import MetricLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    MetricLogger(tmp_path, tensorboard=True).close()
    assert "tensorboard is not installed" in capsys.readouterr().out
