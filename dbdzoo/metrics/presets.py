"""Named F-measure protocols ("presets") for defocus blur detection.

Published DBD numbers were produced by at least eight different evaluation scripts that disagree on
the positive class, the threshold rule, ``>`` versus ``>=``, how images are aggregated, how the GT is
binarised and at which resolution. A :class:`Preset` records every one of those switches so that a
number in a dbdzoo table can always be traced to the protocol (and repository) that defines it.
Numbers produced by different presets are **not comparable with each other**.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from dbdzoo.registry import Registry

Positive = Literal["blur", "in_focus"]
Compare = Literal["ge", "gt"]
Aggregate = Literal[
    "per_image_mean", "pooled", "pooled_per_batch", "meanPR_then_max", "mean_of_per_image_max"
]
SINGLE_AGGREGATES = ("per_image_mean", "pooled", "pooled_per_batch")
SWEEP_AGGREGATES = ("per_image_mean", "pooled", "meanPR_then_max", "mean_of_per_image_max")
RESIZE_MODES = ("bilinear", "nearest", "bicubic")


@dataclass(frozen=True)
class Threshold:
    """How a continuous map becomes binary.

    ``adaptive``: one threshold per image, ``min(k * mean(map), cap)``.
    ``fixed``: the constant ``t``.
    ``sweep``: ``n`` thresholds ``(start + i) / denom`` for ``i = 0 .. n-1`` (exact fractions, so a map
    value stored as ``j/255`` compares *equal* to the threshold ``j/255``).

    All values are in [0, 1] map units; presets with ``pred_scale="uint8"`` rescale them by 255.
    """

    kind: Literal["adaptive", "fixed", "sweep"]
    k: float = 1.5
    cap: float = 1.0
    t: float = 0.5
    n: int = 256
    start: int = 0
    denom: int = 255

    @staticmethod
    def adaptive(k: float = 1.5, cap: float = 1.0) -> Threshold:
        return Threshold("adaptive", k=k, cap=cap)

    @staticmethod
    def fixed(t: float) -> Threshold:
        return Threshold("fixed", t=t)

    @staticmethod
    def sweep(n: int = 256, start: int = 0, denom: int | None = None) -> Threshold:
        """``n`` thresholds ``(start+i)/denom``; ``denom`` defaults to ``start+n-1`` (ending at 1)."""
        return Threshold("sweep", n=n, start=start, denom=denom if denom is not None else start + n - 1)

    def describe(self) -> str:
        if self.kind == "adaptive":
            return f"adaptive min({self.k:g}*mean, {self.cap:g})"
        if self.kind == "fixed":
            return f"fixed {self.t:g}"
        last = self.start + self.n - 1
        return f"sweep {self.n}: {self.start}/{self.denom}..{last}/{self.denom}"


@dataclass(frozen=True)
class Preset:
    """Every switch of one F-measure protocol (docs/metrics.md); build your own or use :data:`PRESETS`.

    Attributes:
        name: registry key shown in every table.
        positive: class scored as positive. ``in_focus`` maps pred -> 1-pred and gt -> 1-gt first.
        threshold: threshold rule, see :class:`Threshold`.
        compare: ``ge`` (map >= t) or ``gt`` (map > t) when binarising the prediction.
        aggregate: how images are combined; see docs/metrics.md.
        group_size: images per group for ``pooled_per_batch`` (consecutive, in update order).
        gt_binarize: ``(op, value)`` with op ``gt``/``ge`` applied to the (flipped) GT in [0, 1], or
            ``"adaptive"``: the GT is quantised and thresholded with the *prediction's* rule
            (``threshold.k``, ``cap``, ``compare``, ``pred_scale``) - the depth-distillation/EVP rule.
        pred_norm: ``none``, ``max`` (map / max(map); all-zero stays zero) or ``minmax`` (constant maps
            are left unchanged, as PySODMetrics does).
        pred_scale: ``float`` or ``uint8`` (``floor(255*p)`` as ``np.uint8(p*255)`` does; thresholds
            and the adaptive cap are then in 0..255 units).
        eval_size: ``"native"`` (GT resolution; the prediction is resized to it) or an int square side.
        resize: interpolation for the prediction; ``gt_resize`` for the GT when ``eval_size`` is an int.
        empty_gt: ``zero`` (score as is: P = R = F = 0 under 0/0 := 0), ``invert`` (invert binarised GT
            and map, MLDBD) or ``skip`` (drop from F/P/R, still counted and in MAE).
        eps: R3Net-style smoothing P = (TP+eps)/(TP+FP+eps), R = (TP+eps)/(TP+FN+eps); 0 = exact
            ratios with 0/0 := 0.
        mae_gt: ``soft`` (GT as given) or ``binary`` (GT binarised with ``gt_binarize``) for MAE.
        auc: ``pr`` (area under the precision-recall curve) or ``f_vs_threshold`` (area under the
            F-threshold curve on [0, 1], MLDBD ``evaluate.m``).
        source: repository/file or paper that used the protocol.
        description: one sentence for tables and docs.
    """

    name: str
    positive: Positive = "blur"
    threshold: Threshold = field(default_factory=lambda: Threshold.adaptive(1.5))
    compare: Compare = "ge"
    aggregate: Aggregate = "per_image_mean"
    group_size: int = 4
    gt_binarize: tuple[str, float] | str = ("gt", 0.5)
    pred_norm: Literal["none", "max", "minmax"] = "none"
    pred_scale: Literal["float", "uint8"] = "float"
    eval_size: Literal["native"] | int = "native"
    resize: Literal["bilinear", "nearest", "bicubic"] = "bilinear"
    gt_resize: Literal["bilinear", "nearest", "bicubic"] = "bilinear"
    empty_gt: Literal["zero", "invert", "skip"] = "zero"
    eps: float = 0.0
    mae_gt: Literal["soft", "binary"] = "soft"
    auc: Literal["pr", "f_vs_threshold"] = "pr"
    source: str = "dbdzoo"
    description: str = ""

    def __post_init__(self) -> None:
        def bad(what: str, value: object, valid: tuple) -> None:
            if value not in valid:
                raise ValueError(
                    f"preset {self.name!r}: {what}={value!r}; valid: {', '.join(map(str, valid))}"
                )

        bad("positive", self.positive, ("blur", "in_focus"))
        bad("compare", self.compare, ("ge", "gt"))
        bad("threshold.kind", self.threshold.kind, ("adaptive", "fixed", "sweep"))
        valid_agg = SWEEP_AGGREGATES if self.threshold.kind == "sweep" else SINGLE_AGGREGATES
        bad(f"aggregate (with a {self.threshold.kind} threshold)", self.aggregate, valid_agg)
        bad("pred_norm", self.pred_norm, ("none", "max", "minmax"))
        bad("pred_scale", self.pred_scale, ("float", "uint8"))
        bad("resize", self.resize, RESIZE_MODES)
        bad("gt_resize", self.gt_resize, RESIZE_MODES)
        bad("empty_gt", self.empty_gt, ("zero", "invert", "skip"))
        bad("mae_gt", self.mae_gt, ("soft", "binary"))
        bad("auc", self.auc, ("pr", "f_vs_threshold"))
        if self.eval_size != "native" and not (isinstance(self.eval_size, int) and self.eval_size > 0):
            raise ValueError(f"preset {self.name!r}: eval_size must be 'native' or a positive int")
        if self.gt_binarize != "adaptive":
            op, _ = self.gt_binarize
            bad("gt_binarize op", op, ("gt", "ge"))
        elif self.threshold.kind != "adaptive":
            raise ValueError(f"preset {self.name!r}: gt_binarize='adaptive' needs an adaptive threshold")
        if self.group_size < 1:
            raise ValueError(f"preset {self.name!r}: group_size must be >= 1")

    @property
    def unit(self) -> float:
        """Map units: 255 for uint8-quantised presets, else 1."""
        return 255.0 if self.pred_scale == "uint8" else 1.0

    def gt_rule(self) -> str:
        if self.gt_binarize == "adaptive":
            return "adaptive (pred rule)"
        op, value = self.gt_binarize
        return f"{'>' if op == 'gt' else '>='} {value:g}"

    def describe(self) -> str:
        """One line naming every switch, for logs and table footers."""
        agg = self.aggregate + (f"({self.group_size})" if self.aggregate == "pooled_per_batch" else "")
        return (
            f"{self.name}: positive={self.positive}, threshold={self.threshold.describe()} "
            f"({'>=' if self.compare == 'ge' else '>'}), aggregate={agg}, GT {self.gt_rule()}, "
            f"norm={self.pred_norm}, scale={self.pred_scale}, size={self.eval_size} ({self.resize}), "
            f"empty_gt={self.empty_gt}, source={self.source}"
        )

    def as_row(self) -> dict[str, object]:
        """Flat dict for CSV/JSON reports."""
        row = asdict(self)
        row["threshold"] = self.threshold.describe()
        row["gt_binarize"] = self.gt_rule()
        return row


PRESETS: Registry = Registry("metric preset")


def get_preset(name: str | Preset) -> Preset:
    """Return a preset by name (or pass a :class:`Preset` through)."""
    return name if isinstance(name, Preset) else PRESETS.get(name)()


def list_presets(pattern: str = "*") -> list[str]:
    """Sorted preset names matching an fnmatch ``pattern``."""
    return PRESETS.names(pattern)
