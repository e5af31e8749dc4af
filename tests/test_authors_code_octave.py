"""``benchmarks/authors_code_octave.py`` where Octave is absent (as in CI): its refusals, one line each before
anything runs, and the UGM patch it compiles. What it measures is pinned where Octave exists: the authors'
LBP maps it produced are stored and checked by ``tests/models/test_lbp_pipeline_oracle.py``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]
SCRIPT = [sys.executable, "benchmarks/authors_code_octave.py"]


def _module():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import authors_code_octave
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return authors_code_octave


def test_ugm_sources_get_a_64_bit_dims_declaration_in_mexfunction() -> None:
    patch = _module().patched_ugm_source
    infer = '#include "UGM_common.h"\nvoid mexFunction(int n)\n{\n    int n, e, maxState, dims[3],\n    iter;\n}\n'
    got = patch(infer, "UGM_Infer_LBPC.c")
    assert got.count("dims[") == 1 and "int n, e, maxState, \n    iter;" in got
    assert got.index("{ mwSize dims[3];") == got.index("{")  # declared at the top of mexFunction
    edges = "void mexFunction(int n) {\n\tint n,\n\t\t\tdims[2], *V, *E;\n}\n"
    assert (
        patch(edges, "UGM_makeEdgeVEC.c")
        == "void mexFunction(int n) { mwSize dims[3];\n\tint n,\n\t\t\t *V, *E;\n}\n"
    )


def test_a_ugm_without_the_declaration_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match=r"UGM_Infer_LBPC\.c: no 'int \.\.\. dims\[k\],' declaration"):
        _module().patched_ugm_source("void mexFunction(void) { mwSize dims[3]; }", "UGM_Infer_LBPC.c")


def _refusal(args: list[str], env: dict[str, str] | None = None) -> str:
    proc = run_child([*SCRIPT, *args], cwd=REPO, timeout=60, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    return lines[0]


def _photo(path: Path) -> Path:
    """A 64×48 RGB PNG, its right half blurred (LBP and HiFST then both have something to find)."""
    import cv2
    import numpy as np

    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    img[:, 32:] = cv2.GaussianBlur(img, (0, 0), 4)[:, 32:]
    cv2.imwrite(str(path), img)
    return path


def test_refusals_name_what_is_missing(tmp_path) -> None:
    image = _photo(tmp_path / "photo.png")
    assert _refusal(["--image", str(image)]) == (
        "authors_code_octave: give --hifst and/or --lbp (the authors' checkouts)"
    )
    assert _refusal(["--lbp", str(tmp_path), "--image", str(image)]) == (
        f"authors_code_octave: {tmp_path}: no demo.m there (not the authors' checkout?)"
    )
    (tmp_path / "demo.m").write_text("% stand-in\n")
    assert _refusal(["--lbp", str(tmp_path), "--image", str(image)]) == (
        f"authors_code_octave: {tmp_path}: no UGM/UGM_Infer_LBPC.c there (not the authors' checkout?)"
    )
    assert _refusal(["--lbp", str(tmp_path), "--image", str(image), "--repeats", "0"]) == (
        "authors_code_octave: --threads and --repeats must be ≥ 1, got 1, 0"
    )
    (tmp_path / "HiFST.m").write_text("% stand-in\n")
    missing = tmp_path / "nowhere.jpg"
    assert _refusal(["--hifst", str(tmp_path), "--image", str(missing)]) == (
        f"authors_code_octave: --image {missing}: no such file"
    )
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert _refusal(["--hifst", str(tmp_path), "--image", str(broken)]).startswith(
        f"authors_code_octave: --image {broken}: not a readable image ("
    )


def test_missing_octave_is_refused_with_what_to_install(tmp_path) -> None:
    (tmp_path / "HiFST.m").write_text("% stand-in\n")
    image = _photo(tmp_path / "photo.png")
    env = {**os.environ, "PATH": str(tmp_path)}  # no octave-cli on it; the interpreter is called by its path
    assert _refusal(["--hifst", str(tmp_path), "--image", str(image)], env=env) == (
        "authors_code_octave: octave-cli not found (apt-get install octave octave-image liboctave-dev)"
    )


def _checkout(env: str, default: str, marker: str) -> Path:
    root = Path(os.environ.get(env, REPO.parent / default))
    if not (root / marker).is_file() or not shutil.which("octave-cli") or not shutil.which("mkoctfile"):
        pytest.skip(
            f"needs Octave with its image package and the authors' checkout at ../{default} (or ${env})"
        )
    return root


@pytest.mark.parametrize("methods", [("hifst", "lbp"), ("hifst",), ("lbp",)], ids="+".join)
def test_runs_as_documented_where_octave_and_the_checkouts_exist(methods, tmp_path) -> None:
    """The three documented forms (docs/benchmarks.md both, each card its own) on a small image."""
    where = {"hifst": ("DBDZOO_HIFST_CHECKOUT", "HiFST", "HiFST.m"),
             "lbp": ("DBDZOO_LBP_CHECKOUT", "defocus_segmentation", "demo.m")}  # fmt: skip
    cmd = [*SCRIPT]
    for method in methods:
        cmd += [f"--{method}", str(_checkout(*where[method]))]
    cmd += ["--image", str(_photo(tmp_path / "photo.png")), "--threads", "1", "--repeats", "1"]
    proc = run_child(cmd, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:]}
    assert set(rows) == set(methods) and proc.stdout.startswith("photo.png 64×48, 1 thread(s)")
    if "lbp" in rows:
        assert float(rows["lbp"][-2]) < 1e-5  # max |Δ| of the final maps
    if "hifst" in rows:
        assert float(rows["hifst"][-1]) < 1e-3  # mean |Δ| at 8 bits: a level on a few pixels at most
