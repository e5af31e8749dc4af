"""Score models on the CUHK-TR-1 validation split and print the evidence table of the released weights.

    python benchmarks/val_table.py --root ../shared/data/cuhk-tr1 fpn_resnet10t.synthetic fpn_resnet10t.cuhk \
        RUN/checkpoints/best.pt --json val.json --overlays docs/images/val

Not a test. Rows: the all-blur constant map, then every model reference given (anything ``load_model``
accepts), each with MAE, F and IoU under ``ddffnet``, ``ddffnet_iou``, ``sg_cvpr21`` and ``br2net_maxf``.
Images are scored at their native size, one at a time, as ``eval.py`` does. ``--overlays`` writes a few
image | ground truth | prediction strips for readers to look at (local only: CUHK images stay out of the
repository); ``--showcase PHOTOS --showcase-out DIR`` writes photo | prediction strips for photographs that
may be committed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from dbdzoo.data import create_dataset
from dbdzoo.hub import load_model
from dbdzoo.metrics import DBDEvaluator
from dbdzoo.metrics.table import table_header, table_row

PRESETS = ("ddffnet", "ddffnet_iou", "sg_cvpr21", "br2net_maxf")
OVERLAY_NAMES = 4


def score(predict, dataset) -> dict[str, dict[str, float]]:
    """Every preset's metrics for ``predict(x) -> prob`` over ``dataset``."""
    ev = DBDEvaluator(presets=list(PRESETS))
    for i in range(len(dataset)):
        item = dataset[i]
        x = torch.as_tensor(item["image"]).permute(2, 0, 1)[None].float() / 255.0
        gt = torch.as_tensor(item["mask"]).float().view(1, 1, *x.shape[-2:])
        with torch.inference_mode():
            ev.update(predict(x), gt, [item["meta"]["name"]])
    return ev.compute()


def latency_ms(model: torch.nn.Module, repeats: int = 5) -> float:
    """Median wall time of ``predict_tensor`` on one 640×427 photo (after one warm-up call)."""
    x = torch.rand(1, 3, 427, 640, generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        model.predict_tensor(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict_tensor(x)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def row(label: str, metrics: dict[str, dict[str, float]]) -> str:
    cells = [f"{metrics[p]['MAE']:.3f} / {metrics[p]['F']:.3f} / {metrics[p]['IoU']:.3f}" for p in PRESETS]
    return table_row([label, *cells])


def prediction_tiles(models: dict[str, torch.nn.Module], img: np.ndarray) -> list[np.ndarray]:
    """Each model's blur map of ``img`` (H×W×3 uint8) as a grey RGB tile (white = blurred)."""
    x = torch.as_tensor(img).permute(2, 0, 1)[None].float() / 255.0
    tiles = []
    for model in models.values():
        with torch.inference_mode():
            prob = model.predict_tensor(x)[0, 0].numpy()
        tiles.append(np.repeat((prob * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2))
    return tiles


def save_strip(tiles: list[np.ndarray], path: Path) -> None:
    """The tiles side by side at half size."""
    from PIL import Image

    strip = np.concatenate(tiles, axis=1)
    h, w = strip.shape[:2]
    Image.fromarray(strip).resize((w // 2, h // 2), Image.BILINEAR).save(path, optimize=True)


def write_overlays(models: dict[str, torch.nn.Module], dataset, out: Path) -> None:
    """One PNG per image: photo, ground truth, then each model's blur map (white = blurred)."""
    out.mkdir(parents=True, exist_ok=True)
    picks = np.linspace(0, len(dataset) - 1, OVERLAY_NAMES).round().astype(int)
    for i in picks:
        item = dataset[int(i)]
        img = np.asarray(item["image"])
        truth = np.repeat((np.asarray(item["mask"]) * 255).astype(np.uint8)[..., None], 3, axis=2)
        save_strip([img, truth, *prediction_tiles(models, img)], out / f"{item['meta']['name']}.png")


def write_showcase(models: dict[str, torch.nn.Module], photos: list[Path], out: Path) -> None:
    """photo | each model's blur map, for photographs that may be committed (no ground truth needed)."""
    from dbdzoo.data.io import read_rgb

    out.mkdir(parents=True, exist_ok=True)
    for path in photos:
        img = read_rgb(path)
        save_strip([img, *prediction_tiles(models, img)], out / f"{path.stem}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("refs", nargs="*", help="model references (name.tag, checkpoint, .safetensors ...)")
    parser.add_argument("--root", required=True, help="CUHK root (image/ + gt/) holding the 604 train images")
    parser.add_argument("--scheme", default="btbnet_val80")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--overlays", type=Path, default=None, help="folder for a few val overlays")
    parser.add_argument("--showcase", type=Path, nargs="+", default=None, help="photos for --showcase-out")
    parser.add_argument("--showcase-out", type=Path, default=None, help="folder for photo | map strips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--latency", action="store_true", help="also time one 640×427 photo per model (idle machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = create_dataset("cuhk", root=args.root, split="val", scheme=args.scheme)
    results = {"all-blur constant": score(lambda x: torch.ones_like(x[:, :1]), dataset)}
    models = {}
    for ref in args.refs:
        models[ref] = load_model(ref).eval()
        results[ref] = score(models[ref].predict_tensor, dataset)
    print(f"CUHK-TR-1 val ({args.scheme}, {len(dataset)} images, native size): MAE / F / IoU")
    print(table_header(["model", *PRESETS]))
    for label, metrics in results.items():
        print(row(label, metrics), flush=True)
    if args.latency:
        print(f"\nCPU latency of one 640×427 photo ({args.threads} threads, median of 5):")
    for ref, model in models.items() if args.latency else ():
        ms = latency_ms(model)
        results[ref]["latency_ms_640x427"] = ms
        print(f"  {ref}: {ms:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.showcase and args.showcase_out and models:
        write_showcase(models, args.showcase, args.showcase_out)
    if args.overlays and models:
        write_overlays(models, dataset, args.overlays)


if __name__ == "__main__":
    main()
