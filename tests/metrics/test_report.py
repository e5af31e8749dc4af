"""Result files and plots."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import torch

from dbdzoo.metrics import DBDEvaluator, get_preset, plot_curves, write_report


def _results():
    custom = replace(get_preset("ddffnet"), name="ddffnet_320", eval_size=320)
    out, curves = {}, None
    for ds in ("cuhk", "dut"):
        ev = DBDEvaluator(["br2net_maxf", "zhao_fmax", custom])
        ev.update(torch.rand(2, 1, 12, 12), (torch.rand(2, 1, 12, 12) > 0.5).float())
        out[ds], curves = ev.compute(), ev.curves()
    return out, curves, custom


def test_write_report_files_and_rows(tmp_path):
    results, _, custom = _results()
    table = write_report(results, tmp_path, presets_info={"ddffnet_320": custom})
    for f in ("results.md", "results.csv", "results.json"):
        assert (tmp_path / f).stat().st_size > 0
    rows = list(csv.DictReader((tmp_path / "results.csv").read_text().splitlines()))
    assert len(rows) == 6
    zhao = next(r for r in rows if r["dataset"] == "dut" and r["preset"] == "zhao_fmax")
    assert zhao["positive"] == "in_focus" and zhao["eval_size"] == "native"
    assert float(zhao["F"]) == results["dut"]["zhao_fmax"]["F"]
    assert next(r for r in rows if r["preset"] == "ddffnet_320")["eval_size"] == "320"
    assert "MAE" in rows[0] and float(rows[0]["MAE"]) >= 0
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["presets"]["br2net_maxf"]["positive"] == "blur"
    assert payload["results"]["cuhk"]["br2net_maxf"]["F"] == results["cuhk"]["br2net_maxf"]["F"]
    assert table.count("\n") == 7 and "| cuhk | br2net_maxf | blur | native |" in table
    md = (tmp_path / "results.md").read_text()
    assert "not comparable" in md and "MLDBD" in md


def test_plot_curves_writes_pngs(tmp_path):
    _, curves, _ = _results()
    paths = plot_curves(curves, tmp_path / "plots", prefix="dut_", title="dut")
    assert [p.name for p in paths] == ["dut_pr_curves.png", "dut_f_threshold.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
