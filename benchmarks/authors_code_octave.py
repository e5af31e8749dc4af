"""The authors' own MATLAB code for HiFST and LBP, run in GNU Octave: its time, and its map against dbdzoo's.

No running time of either method's reference code was found in print (docs/benchmarks.md, classical
baselines), so it is measured: both codes run unchanged in Octave ≥ 7 with its image package. Neither is
in this repository (no licence stated): pass checkouts of isalirezag/HiFST and xinario/defocus_segmentation.

    apt-get install octave octave-image liboctave-dev
    .venv/bin/python benchmarks/authors_code_octave.py --hifst ../HiFST --lbp ../defocus_segmentation \\
        --image ../shared/data/cuhk-tr1/image/out_of_focus0004.jpg --threads 1

What Octave needs, written to a temporary folder (the checkouts stay as they are):
- ``HiFST.m``: three shims with MATLAB's documented behaviour, for what Octave's image package 2.14 lacks
  (``imgaussfilt``, ``dctmtx``) or does differently (its ``imgradient`` refuses a double image outside [0, 1]).
- LBP's ``demo.m`` pipeline: UGM's two mex files compiled for Octave from patched copies: the checkout
  lacks UGM's ``UGM_common.h`` (the mex code calls only its ``absDif``) and declares the dimensions passed
  to ``mxCreateNumericArray`` as ``int``, where Octave's ``mwSize`` is 64-bit.

The image is decoded once by PIL and handed to Octave as PNG, so both sides see the same pixels. Printed per
method: Octave's seconds (around the authors' calls only), dbdzoo's (median of ``--repeats``, the same
threads), and max / mean |Δ| between the maps (1 = sharp; HiFST's rounded to 8 bits, as it is published).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHIMS = {
    "imgaussfilt.m": """function out = imgaussfilt(im, sigma)
n = 2 * ceil(2 * sigma) + 1;  % MATLAB's default filter size; replicate padding; the input's class
out = imfilter(im, fspecial('gaussian', [n n], sigma), 'replicate');
end
""",
    "dctmtx.m": """function d = dctmtx(n)
[c, r] = meshgrid(0:n-1);  % the orthonormal DCT-II matrix
d = sqrt(2 / n) * cos(pi * (2 * c + 1) .* r / (2 * n));
d(1, :) = 1 / sqrt(n);
end
""",
    "imgradient.m": """function g = imgradient(im)
h = fspecial('sobel');  % MATLAB's default (Sobel), replicate padding, any range
g = hypot(imfilter(im, h', 'replicate'), imfilter(im, h, 'replicate'));
end
""",
}
HIFST_DRIVER = """pkg load image
args = argv(); addpath(args{1}); addpath(args{2});
im = imread(args{3}); t = tic; [~, final_map] = HiFST(im, 1, 0); seconds = toc(t);
fid = fopen([args{3} '.f64'], 'w'); fwrite(fid, final_map, 'double'); fclose(fid);
printf('SECONDS 1 %.3f\\n', seconds);
"""
# demo.m's four calls per image; our UGM mex files first on the path
LBP_DRIVER = """pkg load image
args = argv(); addpath(args{1}); addpath([args{1} '/UGM']); addpath(args{2});
for k = 3:numel(args)
  im = imread(args{k}); t = tic;
  f.scale1 = localSharpScoreLBP(im, 11, 0.016);
  f.scale2 = localSharpScoreLBP(im, 15, 0.016);
  f.scale3 = localSharpScoreLBP(im, 21, 0.016);
  final_map = multiScaleBlurInferenceFull(f, 0.5); seconds = toc(t);
  fid = fopen([args{k} '.f64'], 'w'); fwrite(fid, final_map, 'double'); fclose(fid);
  printf('SECONDS %d %.3f\\n', k - 2, seconds);
end
"""
UGM_COMMON = "static double absDif(double a, double b) { return a > b ? a - b : b - a; }\n"
UGM_MEX = ("UGM_Infer_LBPC.c", "UGM_makeEdgeVEC.c")


def _last_error(stderr: str) -> str:
    """The line that says what went wrong: Octave 7 ends every failure with an "ignoring ... exception" line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln and "ignoring const execution_exception" not in ln]
    return (errors or lines or ["(no output)"])[0]


def patched_ugm_source(code: str, name: str) -> str:
    """One UGM mex source with its ``int dims[k]`` declaration replaced by an ``mwSize`` one."""
    code, found = re.subn(r"\bdims\[\d\],", "", code, count=1)
    if found != 1 or "{" not in code:
        raise SystemExit(
            f"authors_code_octave: {name}: no 'int ... dims[k],' declaration to patch (another UGM?)"
        )
    return code.replace("{", "{ mwSize dims[3];", 1)  # the first brace opens mexFunction


def build_ugm(authors: Path, work: Path) -> Path:
    """UGM's two mex files compiled for Octave in ``work/UGM`` (see the module docstring)."""
    ugm = work / "UGM"
    ugm.mkdir()
    (ugm / "UGM_common.h").write_text(UGM_COMMON)
    for name in UGM_MEX:
        (ugm / name).write_text(patched_ugm_source((authors / "UGM" / name).read_text(), name))
        done = subprocess.run(["mkoctfile", "--mex", name], cwd=ugm, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"authors_code_octave: mkoctfile {name}: {_last_error(done.stderr)}")
    return ugm


def _octave(work: Path, driver: str, args: list[str], images: dict[str, np.ndarray]) -> dict:
    """Write the images as PNG, run the driver on them, read back each map (H×W float64) and its seconds."""
    paths = {name: work / f"{name}.png" for name in images}
    for name, rgb in images.items():
        Image.fromarray(rgb).save(paths[name])
    (work / "driver.m").write_text(driver)
    cmd = ["octave-cli", "--no-gui", "driver.m", *args, *map(str, paths.values())]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    seconds = dict(re.findall(r"SECONDS (\d+) ([\d.]+)", done.stdout))  # by the image's place in the call
    if done.returncode or len(seconds) != len(images):
        raise SystemExit(f"authors_code_octave: Octave stopped: {_last_error(done.stderr)}")
    out = {}
    for name, rgb in images.items():
        h, w = rgb.shape[:2]
        out[name] = (np.fromfile(f"{paths[name]}.f64").reshape(w, h).T, float(seconds[str(len(out) + 1)]))
    return out


def run_lbp_demo(authors: Path, images: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, float]]:
    """``demo.m``'s ``final_map`` (1 = sharp) and Octave's seconds per image."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        return _octave(work, LBP_DRIVER, [str(authors), str(build_ugm(authors, work))], images)


def run_hifst(authors: Path, images: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, float]]:
    """``HiFST(im, 1, 0)``'s ``FinalMap`` (1 = sharp, not yet min-max scaled) and Octave's seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp), {}
        (work / "shims").mkdir()
        for name, code in SHIMS.items():
            (work / "shims" / name).write_text(code)
        for name, rgb in images.items():  # the driver takes one image
            out |= _octave(work, HIFST_DRIVER, [str(authors), str(work / "shims")], {name: rgb})
        return out


def provenance(checkout: Path) -> str:
    """``<checkout> @ <commit>, <Octave version>``: what a stored reference was made with."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
    )
    version = subprocess.run(["octave-cli", "--version"], capture_output=True, text=True).stdout.splitlines()
    return f"{checkout.name} @ {commit.stdout.strip() or '?'}, {version[0] if version else 'Octave ?'}"


def _dbdzoo(method: str, rgb: np.ndarray, repeats: int) -> tuple[np.ndarray, float]:
    """dbdzoo's map (1 = sharp, the authors' polarity) and its median seconds."""
    import torch

    import dbdzoo

    model = dbdzoo.create_model(method)
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            blur = model(x).extras["probability"]
            times.append(time.perf_counter() - start)
    return 1 - blur[0, 0].double().numpy(), statistics.median(times)


def _eight_bits(x: np.ndarray) -> np.ndarray:
    """``imwrite(mat2gray(x))`` read back: the form HiFST's maps are published in."""
    import torch

    from dbdzoo.models.classical.base import min_max, round_half_up

    return (round_half_up(min_max(torch.from_numpy(x)) * 255) / 255).numpy()


def check_checkouts(hifst: Path | None, lbp: Path | None, who: str = "authors_code_octave") -> None:
    """One line naming what is missing from the authors' checkouts given (at least one must be)."""
    checks = [(hifst, "HiFST.m"), *((lbp, need) for need in ("demo.m", *(f"UGM/{c}" for c in UGM_MEX)))]
    if not any(root for root, _ in checks):
        raise SystemExit(f"{who}: give --hifst and/or --lbp (the authors' checkouts)")
    for root, needed in checks:
        if root and not (root / needed).is_file():
            raise SystemExit(f"{who}: {root}: no {needed} there (not the authors' checkout?)")


def check_tools(lbp: bool, who: str = "authors_code_octave") -> None:
    """Octave, and its mex compiler where UGM must be built, on PATH."""
    for tool in ["octave-cli"] + (["mkoctfile"] if lbp else []):
        if shutil.which(tool) is None:
            raise SystemExit(f"{who}: {tool} not found (apt-get install octave octave-image liboctave-dev)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hifst", type=Path, help="checkout of isalirezag/HiFST")
    parser.add_argument("--lbp", type=Path, help="checkout of xinario/defocus_segmentation")
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1, help="for dbdzoo and Octave's BLAS (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="dbdzoo timings; the median is printed")
    args = parser.parse_args()
    if args.threads < 1 or args.repeats < 1:
        raise SystemExit(
            f"authors_code_octave: --threads and --repeats must be ≥ 1, got {args.threads}, {args.repeats}"
        )
    check_checkouts(args.hifst, args.lbp)
    if not args.image.is_file():
        raise SystemExit(f"authors_code_octave: --image {args.image}: no such file")
    try:
        rgb = np.asarray(Image.open(args.image).convert("RGB"))
    except OSError as exc:  # PIL's UnidentifiedImageError included
        raise SystemExit(f"authors_code_octave: --image {args.image}: not a readable image ({exc})") from None
    check_tools(args.lbp is not None)
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    rows = []
    for method, root, run in (("hifst", args.hifst, run_hifst), ("lbp", args.lbp, run_lbp_demo)):
        if root is None:
            continue
        theirs, octave_s = run(root.resolve(), {"image": rgb})["image"]
        ours, ours_s = _dbdzoo(method, rgb, args.repeats)
        if method == "hifst":  # published as mat2gray(FinalMap) in 8 bits
            theirs, ours = _eight_bits(theirs), _eight_bits(ours)
        diff = np.abs(theirs - ours)
        rows.append((method, octave_s, ours_s, diff.max(), diff.mean()))
    print(f"{args.image.name} {rgb.shape[1]}×{rgb.shape[0]}, {args.threads} thread(s)")
    print(
        f"{'method':8} {'Octave (authors)':>17} {'dbdzoo':>9} {'speed-up':>9} {'max |Δ|':>9} {'mean |Δ|':>9}"
    )
    for method, octave_s, ours_s, worst, mean in rows:
        print(
            f"{method:8} {octave_s:15.1f} s {ours_s:7.2f} s {octave_s / ours_s:8.0f}× {worst:9.1e} {mean:9.1e}"
        )


if __name__ == "__main__":
    main()
