"""The weights dbdzoo ships inside the package (``dbdzoo/weights/``), registered like torchvision's weights enums.

Every entry pins its file by SHA-256 and size and says what it is: architecture, parameter count, the
experiment file and exact commands that reproduce it, the machine, wall time and steps that trained it,
the training data (with CUHK's research-use note) and its metrics on the CUHK-TR-1 validation split
(``btbnet_val80``, the only split used to select weights), each labelled with the preset (protocol) that
measured it. The CUHK-TE-1 numbers (``cuhk_te1/...``) were measured independently by the people who hold
the 100 test images back; they were never used to train or select. Numbers: docs/benchmarks.md.
"""

from __future__ import annotations

from .weights import WeightsEntry, register_weights

#: What ``dbdzoo predict`` without ``--model`` and ``create_model(..., pretrained=True)`` use.
BEST = "fpn_resnet10t.cuhk"

RESEARCH_USE_NOTE = (
    "trained on the CUHK blur detection dataset (Shi, Xu, Jia, CVPR 2014), which states no licence: "
    "research use only"
)
_MACHINE = "1x NVIDIA H200 (torch 2.11.0+cu130, timm 1.0.29), bf16 autocast, channels_last, 14 loader workers"
_SPLIT = "cuhk_val80"  # metrics keys: f"{_SPLIT}/{preset}" = CUHK-TR-1 val (80 images, native size)
_TEST = "cuhk_te1 (measured independently)"  # the 100 held-back CUHK-TE-1 images, D-DFFNet protocol
_COMMIT = "77531ab"


def _metrics(rows: dict[str, tuple[float, float, float]]) -> dict[str, dict[str, float]]:
    """``{preset: (MAE, F, IoU)}`` → ``{"cuhk_val80/<preset>": {"MAE", "F", "IoU"}}``."""
    return {f"{_SPLIT}/{p}": {"MAE": m, "F": f, "IoU": i} for p, (m, f, i) in rows.items()}


def _test_metrics(mae: float, f: float, iou: float) -> dict[str, dict[str, float]]:
    return {f"{_TEST}/ddffnet": {"MAE": mae, "F": f, "IoU": iou}}


#: The architecture (FPN on ResNet-10-T, 5.28 M parameters, ImageNet normalisation inside, blur = 1) is
#: the registered ``fpn_resnet10t`` (models/fpn.py), recorded in each file's embedded config; these entries
#: hold only what is true of the weights.
_COMMON = {
    "precision": "fp16 storage (loaded as fp32)",
    "device": _MACHINE,
    "code": f"dbdzoo commit {_COMMIT}; released by `python -m dbdzoo.hub.release` from the run checkpoint",
}
_SYNTHETIC_COMMAND = (
    "python train.py experiment=fpn_resnet10t_synthetic trainer.device=cuda trainer.precision=bf16 "
    "trainer.channels_last=true data.num_workers=14 data.batch_size=16 validate_at_end=false "
    "trainer.max_steps=3500 trainer.val_every=3500 trainer.ckpt_every=500 data.train.length=60000 "
    "data.train.size=128 data.val.size=128 paths.photos_dir=PHOTOS"
)
_CUHK_COMMAND = (
    "python train.py experiment=fpn_resnet10t_cuhk trainer.device=cuda trainer.precision=bf16 "
    "trainer.channels_last=true data.num_workers=14 data.batch_size=16 validate_at_end=false "
    "trainer.max_steps=6000 trainer.val_every=1000 trainer.ckpt_every=1000 "
    "trainer.init_from=fpn_resnet10t.synthetic.h200.safetensors paths.cuhk_dir=CUHK"
)

register_weights(
    "fpn_resnet10t",
    "synthetic",
    WeightsEntry(
        url=None,
        file="fpn_resnet10t.synthetic.safetensors",
        sha256="3a2471284ca2da3a75ab38a045a03bb97167339b82540fff0dc13a43420b256a",
        size=10586074,
        working_max_side=640,  # long side (px) of the CUHK images it learnt from
        meta={
            **_COMMON,
            "dataset": "synthetic thin-lens renders only (no real label used): procedural textures and "
            "public-domain/CC0 photographs (Kodak, scikit-image, Library of Congress), re-encoded as JPEG q92",
            "recipe": "experiment=fpn_resnet10t_synthetic_gpu",
            "command": _SYNTHETIC_COMMAND + "  # stopped by a wall-clock limit; = trainer.stop_after=2077",
            "steps": "2077 of a 3500-step poly schedule, batch 16 renders at 128^2 (last step released)",
            "wall_time": "140 s on the H200 (about 290 img/s, input-bound)",
            "license": "MIT (weights); the texture photographs are public domain or CC0",
            "metrics": {
                **_metrics(
                    {
                        "ddffnet": (0.2261, 0.8306, 0.7028),
                        "ddffnet_iou": (0.2261, 0.8565, 0.7210),
                        "sg_cvpr21": (0.2242, 0.6537, 0.5131),
                        "br2net_maxf": (0.2261, 0.8601, 0.6796),
                        "zhao_fmax": (0.2258, 0.7785, 0.6274),
                    }
                ),
                **_test_metrics(0.148, 0.914, 0.841),
            },
            "cpu_path": "experiment=fpn_resnet10t_synthetic on a 2-core CPU: 1200 steps x 8 in 22 min 48 s, "
            "cuhk_val80/ddffnet MAE 0.252 F 0.819 IoU 0.716 (the weights shipped before these)",
        },
    ),
)

register_weights(
    "fpn_resnet10t",
    "cuhk",
    WeightsEntry(
        url=None,
        file="fpn_resnet10t.cuhk.safetensors",
        sha256="cb750a0d058ccf78fbc2ee90586f1f9e29461b096b550fde548742385400dac8",
        size=10586074,
        working_max_side=640,  # long side (px) of the CUHK images it learnt from
        meta={
            **_COMMON,
            "dataset": "fpn_resnet10t.synthetic, fine-tuned on CUHK-TR-1 (524 images of the btbnet_val80 "
            "scheme, JPEGs re-encoded at quality 85 for transit to the GPU); selected by MAE on its 80 val "
            "images (best.pt, step 2000)",
            "recipe": "experiment=fpn_resnet10t_cuhk_gpu",
            "command": _CUHK_COMMAND + "  # stopped at step 2179; best.pt (step 2000) released",
            "steps": "2000 of a 6000-step poly schedule, batch 16 crops at 224^2, after the 2077 synthetic steps",
            "wall_time": "190 s on the H200 for the CUHK stage (about 200 img/s, input-bound), after the 140 s "
            "of fpn_resnet10t.synthetic",
            "license": f"MIT (weights); {RESEARCH_USE_NOTE}",
            "metrics": {
                **_metrics(
                    {
                        "ddffnet": (0.1591, 0.8944, 0.8192),
                        "ddffnet_iou": (0.1591, 0.9053, 0.8268),
                        "sg_cvpr21": (0.1591, 0.7837, 0.6620),
                        "br2net_maxf": (0.1591, 0.9162, 0.7933),
                        "zhao_fmax": (0.1578, 0.8720, 0.7632),
                    }
                ),
                **_test_metrics(0.088, 0.949, 0.919),
            },
            "cpu_path": "experiment=fpn_resnet10t_cuhk on a 2-core CPU: 800 steps x 8 in 20 min 38 s, "
            "cuhk_val80/ddffnet MAE 0.191 F 0.892 IoU 0.800 (the weights shipped before these)",
        },
    ),
    default=True,
)
