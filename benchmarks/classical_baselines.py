"""Time the classical methods (HiFST, LBP) on 640×427 images, CPU or CUDA; prints median, spread, img/s.

    .venv/bin/python benchmarks/classical_baselines.py --threads 1 --repeats 3
    .venv/bin/python benchmarks/classical_baselines.py --image ../shared/data/cuhk-tr1/image/out_of_focus0001.jpg
    .venv/bin/python benchmarks/classical_baselines.py --device cuda --batch 16 --repeats 5
    .venv/bin/python benchmarks/classical_baselines.py --models lbp --model-option matting_solver=direct

Goals (issue 24): HiFST ≤ 10 s, LBP ≤ 0.5 s per 640×427 image on a 2-core CPU; ≥ 50 img/s on a GPU
(``--device cuda``: one untimed warm-up batch first, then ``--repeats`` timed batches of ``--batch``
copies of the image, synchronised). The machine may be shared: the spread (min–max over repeats) and
the thread count are printed with every median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import dbdzoo


def _image(path: str | None, size: tuple[int, int]) -> torch.Tensor:
    if path:
        from PIL import Image

        arr = np.asarray(Image.open(path).convert("RGB"))
    else:  # sharp texture on the left, defocused on the right: pure noise would give LBP a flat map
        import cv2

        w, h = size
        rng = np.random.default_rng(0)
        arr = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), (0, 0), 0.8)
        arr[:, w // 2 :] = cv2.GaussianBlur(arr, (0, 0), 4)[:, w // 2 :]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    if not (w.isdigit() and h.isdigit()) or min(int(w), int(h)) < 24:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT of at least 24 each, got {text!r}")
    return int(w), int(h)


def _options(models: list[str], pairs: list[str]) -> dict:
    """``--model-option`` pairs as keyword arguments, checked against every model timed (the hub's check)."""
    from dbdzoo.hub.errors import HubError
    from dbdzoo.hub.rebuild import check_model_config
    from dbdzoo.key_values import parse_key_values

    try:
        options = parse_key_values(pairs, "--model-option")
        for name in models:
            check_model_config({"name": name, **options}, source="--models, --model-option")
    except (ValueError, HubError) as exc:
        raise SystemExit(f"classical_baselines: {exc}") from None
    return options


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="hifst,lbp")
    p.add_argument("--image", default=None, help="an RGB image (default: a synthetic one of --size)")
    p.add_argument("--size", type=_size, default=(640, 427), help="the synthetic image's WIDTHxHEIGHT")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--batch", type=int, default=1, help="images per forward call (GPU throughput)")
    p.add_argument("--stages", action="store_true", help="LBP: also time the sharpness metric alone")
    p.add_argument(
        "--model-option", action="append", default=[], metavar="KEY=VALUE",
        help="a model option for every model timed (YAML value), e.g. matting_solver=direct; repeatable",
    )  # fmt: skip
    args = p.parse_args()
    options = _options(args.models.split(","), args.model_option)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.batch < 1:
        raise SystemExit(f"classical_baselines: --batch must be ≥ 1, got {args.batch}")
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"classical_baselines: --device {args.device} but torch sees no CUDA device")
    x = _image(args.image, args.size).to(args.device).expand(args.batch, -1, -1, -1).contiguous()
    where = torch.cuda.get_device_name(args.device) if cuda else f"cpu, threads {torch.get_num_threads()}"
    print(f"input {tuple(x.shape)}, torch {torch.__version__}, {where}")
    for name in args.models.split(","):
        try:
            model = dbdzoo.create_model(name, **options).to(args.device).eval()
        except ValueError as exc:  # a bad option value: the model's own one-line message
            raise SystemExit(f"classical_baselines: {exc}") from None
        label = " ".join([name, *args.model_option])
        runs = {label: lambda m=model: m(x)}
        if args.stages and name == "lbp":
            runs["lbp sharpness (3 scales)"] = lambda m=model: m.sharpness_maps(x)
        for label, fn in runs.items():
            if cuda:  # warm-up: kernels, allocator
                with torch.inference_mode():
                    fn()
                torch.cuda.synchronize()
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                with torch.inference_mode():
                    fn()
                if cuda:
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            med = statistics.median(times)
            print(
                f"{label:<28} median {med:7.3f} s  min {min(times):7.3f}  max {max(times):7.3f}"
                f"  ({args.batch} img/call: {args.batch / med:.1f} img/s)"
            )


if __name__ == "__main__":
    main()
