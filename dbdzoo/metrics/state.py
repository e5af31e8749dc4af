"""The accumulators of one DBD preset, with named rows.

Each block is one float64 tensor, so ranks combine a preset with a handful of ``all_reduce`` calls;
the NamedTuples below name its rows. Write a block with ``block += torch.stack(Head(p=..., ...))``
(keywords fix the order) and read it with ``Head(*block)`` (row views: ``add_``/``zero_`` on a
field changes the block).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from dbdzoo.metrics.presets import Preset, Threshold


class Count(NamedTuple):
    """Images seen, images scored (not skipped), images with an empty positive class, sum of MAEs."""

    n_images: Tensor
    n_scored: Tensor
    n_empty: Tensor
    mae_sum: Tensor


class Head(NamedTuple):
    """At the preset's single threshold: sums of per-image P, R, F, IoU, threshold; pooled counts."""

    p: Tensor
    r: Tensor
    f: Tensor
    iou: Tensor
    thr: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    tn: Tensor


class Best(NamedTuple):
    """Sums over images of P, R, F, IoU and threshold at each image's best-F threshold."""

    p: Tensor
    r: Tensor
    f: Tensor
    iou: Tensor
    thr: Tensor


class Group(NamedTuple):
    """``pooled_per_batch``: sums of closed groups' P, R, F, IoU and their number; the open group's counts."""

    p: Tensor
    r: Tensor
    f: Tensor
    iou: Tensor
    n_groups: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    n_open: Tensor


class Curve(NamedTuple):
    """Per sweep threshold: sums of per-image P, R, F, IoU, FPR; pooled TP, FP, FN, TN."""

    p: Tensor
    r: Tensor
    f: Tensor
    iou: Tensor
    fpr: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    tn: Tensor


_BLOCKS = ("best", "count", "curve", "group", "head")


@dataclass
class PresetState:
    """Accumulators of one preset; ``curve`` thresholds are the preset's sweep or an auxiliary one."""

    preset: Preset
    curve_threshold: Threshold
    best: Tensor  # rows of Best
    count: Tensor  # rows of Count
    curve: Tensor  # rows of Curve, one column per threshold
    group: Tensor  # rows of Group
    head: Tensor  # rows of Head

    @classmethod
    def zeros(cls, preset: Preset, num_thresholds: int, device: torch.device) -> PresetState:
        sweep = preset.threshold if preset.threshold.kind == "sweep" else Threshold.sweep(num_thresholds)

        def z(layout: type[tuple], *cols: int) -> Tensor:
            return torch.zeros(len(layout._fields), *cols, dtype=torch.float64, device=device)  # type: ignore[attr-defined]

        return cls(preset, sweep, z(Best), z(Count), z(Curve, sweep.n), z(Group), z(Head))

    def tensors(self) -> list[Tensor]:
        """The blocks in a fixed order (alphabetical, as ``state_tensors`` has always listed them)."""
        return [getattr(self, name) for name in _BLOCKS]

    def cpu(self) -> PresetState:
        """The same state with its blocks on the CPU (for summarising; no copy if already there)."""
        return replace(self, **{name: getattr(self, name).cpu() for name in _BLOCKS})

    def thresholds01(self) -> np.ndarray:
        """Curve thresholds in [0, 1] units, for reports and plots."""
        t = self.curve_threshold
        return (np.arange(t.start, t.start + t.n, dtype=np.float64) / t.denom).clip(0, None)
