"""PR plots: one panel per positive class, every preset visible, F-max marked and named."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from dbdzoo.metrics import DBDEvaluator
from dbdzoo.metrics.plots import curve_figure


def _curves():
    torch.manual_seed(0)
    ev = DBDEvaluator(["br2net_maxf", "ddffnet", "ddffnet_iou", "sg_cvpr21", "zhao_fmax"])
    ev.update(torch.rand(3, 1, 16, 16), (torch.rand(3, 1, 16, 16) > 0.5).float())
    return ev.curves()


def test_classes_get_their_own_panel_and_every_preset_is_visible() -> None:
    fig = curve_figure(_curves(), "pr", title="cuhk")
    blur, in_focus = fig.axes
    assert "blur = positive" in blur.get_title() and "in-focus = positive" in in_focus.get_title()
    blur_labels = [t.get_text() for t in blur.get_legend().get_texts()]
    assert [label.split()[0] for label in blur_labels] == ["br2net_maxf", "ddffnet", "ddffnet_iou"]
    assert all("F-max 0." in label for label in blur_labels)
    in_focus_labels = [t.get_text() for t in in_focus.get_legend().get_texts()]
    assert [label.split()[0] for label in in_focus_labels] == ["sg_cvpr21", "zhao_fmax"]
    assert "(meanPR_then_max; F-max" in blur_labels[0]  # the aggregation is named
    curves = [ln for ln in blur.get_lines() if ln.get_linestyle() != "None"]
    assert len({ln.get_linestyle() for ln in curves}) == len(curves)  # coinciding curves stay distinct
    markers = [ln for ln in blur.get_lines() if ln.get_linestyle() == "None"]
    assert len(markers) == 3 and all(len(m.get_xdata()) == 1 for m in markers)  # one F-max point each
    plt.close(fig)
