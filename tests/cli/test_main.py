"""The ``dbdzoo`` dispatcher: usage, unknown and missing subcommands, list and info."""

from __future__ import annotations

import json

import pytest
import torch

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import cli, create_model
from dbdzoo.hub import save_pretrained


def test_usage_and_unknown_command(capsys):
    assert cli.main([]) == 2
    assert "predict" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_missing_subcommand_module_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(cli.SUBCOMMANDS, "bench", "dbdzoo.cli.module_that_does_not_exist")
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'bench' command is not available" in err[0]


def test_list_and_info(tmp_path, capsys):
    assert cli.main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "fpn" in listing and listing["fpn"] == []
    torch.manual_seed(0)
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8), tmp_path / "m")
    assert cli.main(["info", str(tmp_path / "m"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["backbone"] == "tiny_vgg" and info["params"] > 0 and info["task"] == "dbd"
    assert cli.main(["info"]) == 1
    assert "needs a model reference" in capsys.readouterr().err


def test_debug_flag_shows_the_exception():
    with pytest.raises(Exception, match="unknown model reference"):
        cli.main(["info", "nothing_like_this", "--debug"])
