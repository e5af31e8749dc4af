"""What a step asks of the device, counted at the dispatcher: host reads, dtype casts, layout copies.

Timing on a shared CPU says little about a GPU; these counts do not depend on the machine. A host read
(``aten::_local_scalar_dense``: ``.item()``, ``bool(t)``, ``float(t)``) is a device-to-host sync on a GPU;
casts and layout copies are memory traffic the fp32 path does not have. The tally sees every aten call
of the eager forward, objective and backward (autograd's backward ops included), not compiled graphs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
#: ops whose result size depends on the data: they read back to the host as ``.item()`` does
_DATA_DEPENDENT = {"nonzero", "masked_select", "unique", "_unique2", "repeat_interleave"}


def layout(t: torch.Tensor) -> str:
    """``NCHW``, ``NHWC`` or ``strided`` for 4-d tensors with more than one channel, else ``-``."""
    if t.ndim != 4 or t.shape[1] == 1:
        return "-"
    if t.is_contiguous():
        return "NCHW"
    return "NHWC" if t.is_contiguous(memory_format=torch.channels_last) else "strided"


class OpTally(TorchDispatchMode):
    """Context manager counting host reads, casts and layout copies of the aten calls inside it.

    Attributes:
        host_reads: calls that copy a tensor value to the host (a device sync on a GPU).
        casts: dtype conversions, keyed ``"bf16->fp32"``; ``cast_bytes`` their written bytes and
            ``cast_shapes`` their output shapes.
        layout_copies: copies that change NCHW↔NHWC or make a strided tensor dense.
        ops: every aten op name with its call count (``upsample_bilinear2d_backward.bf16`` etc.).
    """

    def __init__(self) -> None:
        super().__init__()
        self.host_reads = 0
        self.casts: Counter[str] = Counter()
        self.cast_bytes = 0
        self.cast_shapes: Counter[tuple[int, ...]] = Counter()
        self.layout_copies = 0
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        dtype = _short(first.dtype) if first is not None else "-"
        self.ops[f"{name}.{dtype}"] += 1
        if name == "_local_scalar_dense" or name in _DATA_DEPENDENT:
            self.host_reads += 1
        elif name == "_to_copy" and first is not None and isinstance(out, torch.Tensor):
            if out.dtype != first.dtype:
                self.casts[f"{_short(first.dtype)}->{_short(out.dtype)}"] += 1
                self.cast_bytes += out.numel() * out.element_size()
                self.cast_shapes[tuple(out.shape)] += 1
            if layout(first) != layout(out):
                self.layout_copies += 1
        elif name in {"clone", "contiguous"} and first is not None and isinstance(out, torch.Tensor):
            self.layout_copies += int(layout(first) != layout(out))
        elif name == "copy_" and first is not None and isinstance(args[1], torch.Tensor):
            self.layout_copies += int(layout(first) != layout(args[1]))
        return out

    def summary(self) -> dict[str, Any]:
        """Plain numbers for JSON reports."""
        return {
            "host_reads": self.host_reads,
            "casts": sum(self.casts.values()),
            "cast_mib": round(self.cast_bytes / 2**20, 3),
            "layout_copies": self.layout_copies,
            "bf16_upsample_backward": sum(
                n for k, n in self.ops.items() if k.startswith("upsample_bilinear2d_backward.bf16")
            ),
        }


def _short(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype)[6:])


def cuda_syncs(fn) -> int:
    """Synchronising CUDA calls made by ``fn()``, counted with torch's sync debug mode (CUDA only)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)
