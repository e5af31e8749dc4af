"""``dbdzoo export``: ONNX (dynamo exporter, dynamic batch/height/width) or a ``torch.export`` ``.pt2``.

The exported graph is the eval path only: RGB in [0, 1] → the output map (blur probability; DMENet: the
normalised defocus map), B×1×H×W. It pads to the network's stride and crops back inside the graph, so the
exported model accepts any size, like ``model.predict``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import CLIError

HELP = "Export a model's eval path (image → blur probability map) to ONNX or torch.export."
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}
_MAX_INLINE_BYTES = 1_800_000_000  # ONNX protobufs cap at 2 GB; larger models need external data


class ProbabilityMap(nn.Module):
    """Eval wrapper: pad to the stride (replicate), run, post-process, crop back to the input size."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        multiple = self.model.input_multiple
        x = F.pad(image, (0, (-width) % multiple, 0, (-height) % multiple), mode="replicate")
        out = self.model.forward_normalized(self.model.normalize(x))  # skips the eager-only shape check
        prob = self.model.postprocess(out.logits)
        # crop by gathering rows and columns: a slice would make torch.export guard on "was anything padded?"
        rows = torch.arange(height, device=prob.device)
        cols = torch.arange(width, device=prob.device)
        return prob.index_select(2, rows).index_select(3, cols)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dbdzoo export``."""
    parser.add_argument(
        "--model",
        default=None,
        help="name[:tag], file, save_pretrained folder, URL or org/name "
        "(default: the released weights `dbdzoo predict` uses)",
    )
    parser.add_argument("--weights", default=None, help="weights tag or file for a registry name")
    parser.add_argument("--format", choices=("onnx", "torch-export"), default="onnx")
    parser.add_argument(
        "--out", default=None, type=Path, help="output file (default: <model>.onnx or <model>.pt2 here)"
    )
    parser.add_argument("--height", type=int, default=320, help="example input height")
    parser.add_argument("--width", type=int, default=320, help="example input width")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    parser.add_argument("--check", action="store_true", help="compare against eager at an unseen shape")
    parser.add_argument(
        "--static-size", action="store_true", help="fix height/width to the example (dynamic batch only)"
    )


def example_input(height: int, width: int) -> torch.Tensor:
    """Batch 2: size-1 dimensions get specialised and a dynamic batch then fails (torch.export specialises size-1 dimensions)."""
    return torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0))


def unseen_input(height: int, width: int, dynamic_size: bool = True) -> torch.Tensor:
    """Another batch and (for dynamic sizes) an odd size off the stride grid: every dynamic axis moves."""
    size = (height + 17, width + 33) if dynamic_size else (height, width)
    return torch.rand(3, 3, *size, generator=torch.Generator().manual_seed(1))


def export_onnx(
    wrapper: nn.Module, x: torch.Tensor, out: Path, opset: int | None = None, dynamic_size: bool = True
) -> Path:
    """Write ``out`` with one input ``image`` and one output ``blur`` (dynamic batch, height, width)."""
    axes = DYNAMIC_AXES if dynamic_size else {0: DYNAMIC_AXES[0]}
    big = sum(p.numel() * p.element_size() for p in wrapper.parameters()) > _MAX_INLINE_BYTES
    torch.onnx.export(
        wrapper,
        (x,),
        str(out),
        dynamo=True,
        input_names=["image"],
        output_names=["blur"],
        dynamic_shapes={"image": axes},
        opset_version=opset,
        external_data=big,
        verbose=False,
    )
    return out


def export_metadata(model: nn.Module, dynamic_size: bool) -> dict[str, str]:
    """What a consumer of the exported file needs without dbdzoo: model, polarity, input contract."""
    import json

    from .. import __version__

    config = getattr(model, "config", {}) or {}
    task = getattr(model, "task", "dbd")
    output = (
        "blur: float32 B×1×H×W probability that a pixel is out of focus (1 = blurred, 0 = in focus)"
        if task == "dbd"
        else "blur: float32 B×1×H×W normalised defocus map (0 = in focus); see the model card for σ in px"
    )
    return {
        "dbdzoo_version": __version__,
        "model_name": str(config.get("name", type(model).__name__)),
        "model_config": json.dumps(config, default=str, sort_keys=True),
        "weights_source": str(getattr(model, "load_source", "")),
        "task": task,
        "polarity": "1 = out of focus (blur); the paper's native class: "
        + str(getattr(model, "native_positive", "blur")),
        "input": "image: float32 B×3×H×W RGB in [0, 1] (normalisation is inside the graph); "
        + ("any H×W (padded to the stride and cropped back inside)" if dynamic_size else "fixed H×W"),
        "output": output,
    }


def add_onnx_metadata(out: Path, metadata: dict[str, str]) -> None:
    """Store ``metadata`` as the ONNX model's ``metadata_props`` (external weight files stay as they are)."""
    import onnx

    proto = onnx.load(str(out), load_external_data=False)
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(out))


def check_onnx(
    wrapper: nn.Module, out: Path, x: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-5
) -> float:
    """ONNX checker, then onnxruntime vs eager at ``x``; returns the max abs difference or raises."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(out))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    with torch.inference_mode():
        want = wrapper(x).numpy()
    if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        raise CLIError(f"onnxruntime output differs from eager at {tuple(x.shape)}: max |diff| {diff:.3g}")
    return float(np.abs(got - want).max())


def export_program(wrapper: nn.Module, x: torch.Tensor, out: Path, dynamic_size: bool = True) -> Path:
    """``torch.export`` with automatic dynamic batch/height/width, saved as a ``.pt2`` archive."""
    auto = torch.export.Dim.AUTO
    axes = {0: auto, 2: auto, 3: auto} if dynamic_size else {0: auto}
    program = torch.export.export(wrapper, (x,), dynamic_shapes={"image": axes})
    torch.export.save(program, str(out))
    return out


def check_program(
    wrapper: nn.Module, out: Path, x: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-5
) -> float:
    """Reload the archive and compare with eager at ``x``."""
    module = torch.export.load(str(out)).module()
    with torch.inference_mode():
        got, want = module(x), wrapper(x)
    if got.shape != want.shape or not torch.allclose(got, want, rtol=rtol, atol=atol):
        raise CLIError(f"torch.export program differs from eager at {tuple(x.shape)}")
    return float((got - want).abs().max())


def run(args: argparse.Namespace) -> int:
    """Export (and optionally check) the model; returns 0."""
    from ..hub import load_model

    if args.height < 1 or args.width < 1:
        raise CLIError("--height and --width must be positive")
    if args.format == "onnx":
        try:
            import onnxscript  # noqa: F401  (the dynamo exporter needs it)
        except ImportError:
            raise CLIError("ONNX export needs the onnx extra: pip install 'dbdzoo[onnx]'") from None
    if args.model is None:
        if args.weights is not None:
            raise CLIError("--weights needs --model (the registry name the weights belong to)")
        from ..hub.released import BEST

        args.model = BEST
    if args.out is None:  # fpn_resnet10t.cuhk → fpn_resnet10t.cuhk.onnx; a file or folder → its name
        base = Path(str(args.model).rstrip("/")).name.removesuffix(".safetensors").replace(":", ".")
        args.out = Path(f"{base}.{'onnx' if args.format == 'onnx' else 'pt2'}")
    model = load_model(args.model, weights=args.weights, device="cpu")
    wrapper = ProbabilityMap(model).eval()
    x = example_input(args.height, args.width)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def export(dynamic_size: bool) -> None:
        if args.format == "onnx":
            export_onnx(wrapper, x, args.out, args.opset, dynamic_size)
        else:
            export_program(wrapper, x, args.out, dynamic_size)

    dynamic_size = not args.static_size
    try:
        export(dynamic_size)
    except Exception as exc:  # e.g. Python round() on symbolic sizes in multi-scale networks
        if not dynamic_size:
            raise
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # the exporter colours its messages
        reason = (text.splitlines() or [type(exc).__name__])[0][:200]
        print(
            f"dbdzoo export: dynamic height/width failed ({type(exc).__name__}: {reason}); exporting for a "
            f"fixed {args.height}×{args.width} input with a dynamic batch (--static-size skips this attempt)",
            file=sys.stderr,
        )
        dynamic_size = False
        export(dynamic_size)
    if args.format == "onnx":
        add_onnx_metadata(args.out, export_metadata(model, dynamic_size))
    print(f"dbdzoo export: wrote {args.out}", file=sys.stderr)
    if args.check:
        probe = unseen_input(args.height, args.width, dynamic_size)
        diff = (check_onnx if args.format == "onnx" else check_program)(wrapper, args.out, probe)
        print(f"dbdzoo export: check passed at {tuple(probe.shape)} (max |diff| {diff:.2e})", file=sys.stderr)
    return 0
