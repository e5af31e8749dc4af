"""The weights dbdzoo ships inside the package (``dbdzoo/weights/``), registered like torchvision's weights enums.

Every entry pins its file by SHA-256 and size and says what it is: architecture, parameter count, the
experiment file that reproduces it from a clean checkout, its wall time on the machine that trained it,
the training data (with CUHK's research-use note) and its metrics on the CUHK-TR-1 validation split
(``btbnet_val80``), each labelled with the preset (protocol) that measured it. The 100 CUHK-TE-1 test
images were never used to train or select these weights. Numbers: docs/benchmarks.md ("Released weights").
"""

from __future__ import annotations

from .weights import WeightsEntry, register_weights

#: What ``dbdzoo predict`` without ``--model`` and ``create_model(..., pretrained=True)`` use.
BEST = "fpn_resnet10t.cuhk"

RESEARCH_USE_NOTE = (
    "trained on the CUHK blur detection dataset (Shi, Xu, Jia, CVPR 2014), which states no licence: "
    "research use only"
)
_MACHINE = "2-core x86-64 CPU (no GPU), torch 2.14.1, fp32"
_SPLIT = "cuhk_val80"  # metrics keys: f"{_SPLIT}/{preset}" = CUHK-TR-1 val (80 images, native size)


def _metrics(rows: dict[str, tuple[float, float, float]]) -> dict[str, dict[str, float]]:
    """``{preset: (MAE, F, IoU)}`` → ``{"cuhk_val80/<preset>": {"MAE", "F", "IoU"}}``."""
    return {f"{_SPLIT}/{p}": {"MAE": m, "F": f, "IoU": i} for p, (m, f, i) in rows.items()}


_COMMON = {
    "params": 5_280_061,
    "norm_preset": "imagenet_rgb",
    "native_positive": "blur",
    "precision": "fp16 storage (loaded as fp32)",
    "input": "RGB float in [0, 1], any size (predict pads to a multiple of 32); output logit, 1 = blurred",
    "machine": _MACHINE,
}

register_weights(
    "fpn_resnet10t",
    "synthetic",
    WeightsEntry(
        url=None,
        file="fpn_resnet10t.synthetic.safetensors",
        sha256="49db87af60f8ae0b878459733c05d1c04c8feb12e4d61b41688dce9f51f5ead9",
        size=10586034,
        meta={
            **_COMMON,
            "dataset": "synthetic thin-lens renders only (no real label used): procedural textures and "
            "public-domain/CC0 photographs (Kodak, scikit-image, Library of Congress)",
            "recipe": "experiment=fpn_resnet10t_synthetic",
            "wall_time": "22 min 48 s on the 2-core CPU: 1200 steps x 8 renders at 128^2, 8.2 img/s median",
            "license": "MIT (weights); the texture photographs are public domain or CC0",
            "metrics": _metrics(
                {
                    "ddffnet": (0.2516, 0.8192, 0.7162),
                    "ddffnet_iou": (0.2516, 0.8314, 0.7266),
                    "sg_cvpr21": (0.2511, 0.6826, 0.5094),
                    "br2net_maxf": (0.2516, 0.8521, 0.6775),
                }
            ),
        },
    ),
)

register_weights(
    "fpn_resnet10t",
    "cuhk",
    WeightsEntry(
        url=None,
        file="fpn_resnet10t.cuhk.safetensors",
        sha256="5e298d8391599557dcce0b87bc614ec7432e7e5e257a686c31159c7824b4f154",
        size=10586034,
        meta={
            **_COMMON,
            "dataset": "fpn_resnet10t.synthetic, fine-tuned on CUHK-TR-1 (524 images of the btbnet_val80 "
            "scheme); selected by MAE on its 80 val images",
            "recipe": "experiment=fpn_resnet10t_cuhk",
            "wall_time": "20 min 38 s on the 2-core CPU for the CUHK stage (800 steps x 8 crops at 224^2, 5.9 img/s median), after the 22 min 48 s of fpn_resnet10t.synthetic",
            "license": f"MIT (weights); {RESEARCH_USE_NOTE}",
            "metrics": _metrics(
                {
                    "ddffnet": (0.1909, 0.8919, 0.7995),
                    "ddffnet_iou": (0.1909, 0.9006, 0.8072),
                    "sg_cvpr21": (0.1901, 0.7416, 0.6120),
                    "br2net_maxf": (0.1909, 0.9080, 0.7687),
                }
            ),
        },
    ),
    default=True,
)
