"""The registered presets: every published DBD protocol (docs/metrics.md lists their sources) plus a few generic ones.

Each factory returns a frozen :class:`Preset`; the docstring says what the original code did so the
choice of switches can be audited. Polarity note: switches are stated in the frame of the *scored*
class (after the ``in_focus`` flip), which is how the original scripts applied them.
"""

from __future__ import annotations

from dbdzoo.metrics.presets import PRESETS, Preset, Threshold


@PRESETS.register("sg_cvpr21")
def sg_cvpr21() -> Preset:
    """shangcai1/SG ``eval.py``: per image ``map >= min(1.5*mean, 1)``, GT > 0.1, mean of per-image P/R/F.

    The map is resized to 320x320 with PIL's default filter (bicubic); sklearn's zero_division gives
    P = R = 0 and the script sets F = 0, so an empty GT scores 0. MAE uses the binarised GT.
    """
    return Preset(
        name="sg_cvpr21", positive="in_focus", threshold=Threshold.adaptive(1.5, 1.0), compare="ge",
        aggregate="per_image_mean", gt_binarize=("gt", 0.1), eval_size=320, resize="bicubic",
        gt_resize="bilinear", empty_gt="zero", mae_gt="binary", source="shangcai1/SG eval.py (CVPR'21)",
        description="per-image adaptive 1.5*mean (>=) on in-focus, mean of per-image F, 320x320",
    )  # fmt: skip


@PRESETS.register("dd_eccv20")
def dd_eccv20() -> Preset:
    """vinthony/depth-distillation ``eval.ipynb``: uint8 maps, ``> min(1.5*mean, 255)`` on pred *and* GT.

    Counts are pooled over every pixel of the dataset (sklearn on the concatenation). Binarising a
    binary GT with this rule empties any GT with >= 2/3 positive pixels (reproduced on purpose).
    MAE: per image, continuous prediction against the soft GT. Bilinear upsampling to GT size.
    """
    return Preset(
        name="dd_eccv20", positive="in_focus", threshold=Threshold.adaptive(1.5, 1.0), compare="gt",
        aggregate="pooled", gt_binarize="adaptive", pred_scale="uint8", eval_size="native",
        resize="bilinear", empty_gt="zero", mae_gt="soft",
        source="vinthony/depth-distillation eval.ipynb (ECCV'20)",
        description="adaptive 1.5*mean (>) on uint8 pred and GT, TP/FP/FN pooled over the dataset",
    )  # fmt: skip


@PRESETS.register("evp_cvpr23")
def evp_cvpr23() -> Preset:
    """NiFangBaAGe/Explicit-Visual-Prompt ``utils.calc_fmeasure``: the DD rule pooled per batch of 4.

    Each test batch (4 images, 320x320, torchvision bilinear resize of image and GT) gives one pooled
    F; the reported number is the mean over batches. dbdzoo groups consecutive images in update order
    (a short last group counts as one group).
    """
    return Preset(
        name="evp_cvpr23", positive="in_focus", threshold=Threshold.adaptive(1.5, 1.0), compare="gt",
        aggregate="pooled_per_batch", group_size=4, gt_binarize="adaptive", pred_scale="uint8",
        eval_size=320, resize="bilinear", gt_resize="bilinear", empty_gt="zero", mae_gt="soft",
        source="NiFangBaAGe/Explicit-Visual-Prompt utils.calc_fmeasure (CVPR'23)",
        description="DD rule, pooled per consecutive group of 4 images, mean over groups, 320x320",
    )  # fmt: skip


@PRESETS.register("br2net_maxf")
def br2net_maxf() -> Preset:
    """ChangTang/BR2Net ``misc.py`` (R3Net style): 256 thresholds t/255 with ``>``, GT > 0.5.

    Maps are 8-bit PNGs (ToPILImage truncates, hence ``uint8``); P = (TP+1e-4)/(TP+FP+1e-4) and
    R = (TP+1e-4)/(TP+FN+1e-4) per image, averaged over images per threshold, F from the means, max.
    The smoothing makes an empty GT score R = 1 (and P = 1 where the map is empty too).
    """
    return Preset(
        name="br2net_maxf", positive="blur", threshold=Threshold.sweep(256, 0, 255), compare="gt",
        aggregate="meanPR_then_max", gt_binarize=("gt", 0.5), pred_scale="uint8", eval_size="native",
        resize="bilinear", empty_gt="zero", eps=1e-4, mae_gt="soft",
        source="ChangTang/BR2Net misc.py (R3Net-style)",
        description="max over 256 thresholds (>) of F(mean P, mean R), blur class, native size",
    )  # fmt: skip


@PRESETS.register("zhao_fmax")
def zhao_fmax() -> Preset:
    """wdzhao123/MLDBD ``Fmeasure_calu.m``: map / max, thresholds i/255 (i = 1..255), ``>=``, GT >= 0.1.

    Each image takes its own best threshold (optimistic); P, R, F at that threshold are averaged.
    Ties pick the lowest threshold. Empty GT: GT and map are both inverted. Map resized with MATLAB
    ``imresize`` (bicubic) to GT size.
    """
    return Preset(
        name="zhao_fmax", positive="in_focus", threshold=Threshold.sweep(255, 1, 255), compare="ge",
        aggregate="mean_of_per_image_max", gt_binarize=("ge", 0.1), pred_norm="max", eval_size="native",
        resize="bicubic", empty_gt="invert", mae_gt="soft",
        source="wdzhao123/MLDBD evaluate_dbd/subcode/Fmeasure_calu.m (TMM'23, also APL)",
        description="mean over images of each image's best-threshold F, map/max, in-focus class",
    )  # fmt: skip


@PRESETS.register("zhao_pr_auc")
def zhao_pr_auc() -> Preset:
    """MLDBD/APL ``performCalcu.m`` + ``evaluate.m``: 21 thresholds 0, 0.05, ..., 1 with ``>=``.

    Mean P and mean R per threshold, F from the means (``mFmeasureWF``); ``evaluate.m`` prints
    ``trapz(0:.05:1, F)`` as "auc", i.e. the area under the F-threshold curve, which is this preset's
    AUC. Headline F is the max of that curve. Empty GT: inverted (``Pre_Recall_hitRate.m``).
    """
    return Preset(
        name="zhao_pr_auc", positive="in_focus", threshold=Threshold.sweep(21, 0, 20), compare="ge",
        aggregate="meanPR_then_max", gt_binarize=("ge", 0.1), pred_norm="max", eval_size="native",
        resize="bicubic", empty_gt="invert", mae_gt="soft", auc="f_vs_threshold",
        source="wdzhao123/MLDBD evaluate_dbd performCalcu.m, evaluate.m (also APL)",
        description="21-threshold F(mean P, mean R) curve; AUC = area under F vs threshold",
    )  # fmt: skip


@PRESETS.register("ddffnet")
def ddffnet() -> Preset:
    """yuxinjin-whu/D-DFFNet ``test1.py``: in-focus map >= 0.5, GT >= 0.5, then both inverted.

    Scoring the blur class of ``focus >= 0.5`` means blur = ``focus < 0.5`` = ``blur_prob > 0.5``; hence
    ``compare="gt"`` and GT ``> 0.5`` in the canonical (blur) frame. Per-image F (sklearn: empty GT ->
    0), mean over images. MAE against the binarised GT. Nearest resize to GT size (the script skips
    mismatched sizes instead).
    """
    return Preset(
        name="ddffnet", positive="blur", threshold=Threshold.fixed(0.5), compare="gt",
        aggregate="per_image_mean", gt_binarize=("gt", 0.5), eval_size="native", resize="nearest",
        empty_gt="zero", mae_gt="binary", source="yuxinjin-whu/D-DFFNet test1.py (ECCV'22)",
        description="fixed threshold 0.5 on the blur class, mean of per-image F",
    )  # fmt: skip


@PRESETS.register("ddffnet_iou")
def ddffnet_iou() -> Preset:
    """D-DFFNet ``test_iou.py``: ``focus > 0.5`` inverted, i.e. blur = ``blur_prob >= 0.5``; IoU pooled.

    GT likewise ``>= 0.5`` in the blur frame. Nearest resize (EBD is scored at 320: use a copy of this
    preset with ``eval_size=320``; binarising before resizing, as the script does, equals nearest
    resizing afterwards). Headline is ``IoU``; ``F`` is the pooled F at the same threshold.
    """
    return Preset(
        name="ddffnet_iou", positive="blur", threshold=Threshold.fixed(0.5), compare="ge",
        aggregate="pooled", gt_binarize=("ge", 0.5), eval_size="native", resize="nearest",
        gt_resize="nearest", empty_gt="zero", mae_gt="binary", source="yuxinjin-whu/D-DFFNet test_iou.py",
        description="IoU of the blur class at 0.5 pooled over the dataset",
    )  # fmt: skip


def _adaptive(k: float) -> Preset:
    return Preset(
        name=f"adaptive_f{round(k * 10)}", positive="blur", threshold=Threshold.adaptive(k, 1.0), compare="ge",
        aggregate="per_image_mean", gt_binarize=("gt", 0.5), empty_gt="zero", mae_gt="soft",
        source="dbdzoo generic (SOD convention; SG uses k=1.5, PySODMetrics k=2)",
        description=f"per-image adaptive min({k:g}*mean, 1) (>=) on the blur class, mean of per-image F",
    )  # fmt: skip


@PRESETS.register("adaptive_f15")
def adaptive_f15() -> Preset:
    """Per-image adaptive threshold 1.5 x mean on the blur class (SG's rule in dbdzoo polarity)."""
    return _adaptive(1.5)


@PRESETS.register("adaptive_f20")
def adaptive_f20() -> Preset:
    """Per-image adaptive threshold 2 x mean on the blur class (PySODMetrics' adaptive F rule)."""
    return _adaptive(2.0)


@PRESETS.register("mean_f")
def mean_f() -> Preset:
    """Mean F: per-image F at 256 thresholds k/255 (uint8 map, ``>=``), mean over images, then mean
    over thresholds: PySODMetrics' meanF convention (``normalize=False``), not verified against the library."""
    return Preset(
        name="mean_f", positive="blur", threshold=Threshold.sweep(256, 0, 255), compare="ge",
        aggregate="per_image_mean", gt_binarize=("gt", 0.5), pred_scale="uint8", empty_gt="zero",
        source="dbdzoo generic (PySODMetrics meanF convention)",
        description="mean over 256 thresholds of the image-averaged F curve, blur class",
    )  # fmt: skip


@PRESETS.register("pr_auc")
def pr_auc() -> Preset:
    """Area under the image-averaged PR curve (256 thresholds k/255, ``>=``), trapezoid rule; F is the
    max of F(mean P, mean R)."""
    return Preset(
        name="pr_auc", positive="blur", threshold=Threshold.sweep(256, 0, 255), compare="ge",
        aggregate="meanPR_then_max", gt_binarize=("gt", 0.5), empty_gt="zero", auc="pr",
        source="dbdzoo generic", description="area under the mean PR curve (256 thresholds), blur class",
    )  # fmt: skip
