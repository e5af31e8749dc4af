"""Counter-based random numbers for the batched device renderer: draw i of sample j hashes (key_j, name, i).

A ``torch.Generator`` is a sequential stream: drawing a whole batch from one ties every sample to its
batch (size, position, rank). Hashing a per-sample key with a draw name and a counter instead makes every
per-sample parameter (layout, depths, σ, PSF, camera) a pure function of that sample's key, identical in
any batch, on any rank and on any device (integer arithmetic is exact everywhere), with one vectorised op
per named draw. Pixel noise is not drawn this way (too many values): it comes from a batch generator.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import torch

_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor | int, c: int) -> torch.Tensor | int:
    """(x · c) mod 2³² for 0 ≤ x < 2³² held in int64, in 16-bit halves of c so nothing overflows."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def _mix32(x: torch.Tensor | int) -> torch.Tensor | int:
    """lowbias32 (C. Wellons' hash prospector): a 32-bit bijection with near-ideal avalanche."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


class SampleDraws:
    """Per-sample uniform draws keyed by 63-bit sample keys (e.g. ``render.sample_seed(base, index)``).

    Every call names its draw, so adding or skipping one draw never shifts another: the same (key, name,
    shape) always gives the same numbers. ``plan`` (a previous instance's ``used``) computes all those
    draws in one hashing pass up front (a few dozen device ops instead of a few dozen per draw); the
    numbers are the same either way.
    """

    def __init__(
        self, keys: Sequence[int], device: torch.device | str, plan: dict[str, tuple[int, ...]] | None = None
    ) -> None:
        self.device = torch.device(device)
        halves = [v for k in keys for v in (int(k) & _M32, (int(k) >> 32) & _M32)]
        self._keys = upload(halves, self.device).view(len(keys), 2)
        self.batch = len(keys)
        self.used: dict[str, tuple[int, ...]] = {}
        self._ready = self._hash(plan) if plan else {}

    def uniform(self, name: str, *shape: int) -> torch.Tensor:
        """B×``shape`` float32 uniforms in [0, 1) (24 random bits each)."""
        self.used[name] = shape
        if self._ready.get(name, (None,))[0] == shape:
            return self._ready[name][1]
        return self._hash({name: shape})[name][1]

    def _hash(self, plan: dict[str, tuple[int, ...]]) -> dict[str, tuple[tuple[int, ...], torch.Tensor]]:
        """Element i of draw ``name`` of sample j: mix(mix(base(j, name) + i·φ) ^ salt(name)) → [0, 1)."""
        sizes = [math.prod(shape) for shape in plan.values()]
        salts = [_mix32(zlib.crc32(name.encode()) & _M32) for name in plan]
        salt = upload([v for v, n in zip(salts, sizes, strict=True) for _ in range(n)], self.device)
        counter = upload([i for n in sizes for i in range(n)], self.device)
        lo, hi = self._keys[:, :1], self._keys[:, 1:]
        base = _mix32(lo ^ _mix32(hi ^ salt))  # B×total: one independent stream per (sample, name)
        h = _mix32(_mix32((base + _mul32(counter, 0x9E3779B9)) & _M32) ^ salt)
        u = (h >> 8).to(torch.float32) * 2.0**-24
        parts = u.split(sizes, dim=1)
        return {
            name: (shape, part.view(self.batch, *shape))
            for (name, shape), part in zip(plan.items(), parts, strict=True)
        }

    def range(self, name: str, lo: float, hi: float, *shape: int) -> torch.Tensor:
        """Uniform in [lo, hi)."""
        return lo + (hi - lo) * self.uniform(name, *shape)

    def log_range(self, name: str, lo: float, hi: float, *shape: int) -> torch.Tensor:
        """Log-uniform in [lo, hi) (the worker's ``_log_u``)."""
        return torch.exp(self.range(name, math.log(lo), math.log(hi), *shape))

    def integers(self, name: str, lo: int, hi: int, *shape: int) -> torch.Tensor:
        """Integers uniform in [lo, hi) as int64 (``torch.randint(lo, hi)``)."""
        return (lo + (self.uniform(name, *shape) * (hi - lo)).floor().clamp_max(hi - lo - 1)).long()


def upload(values: Sequence[int] | Sequence[float], device: torch.device | str) -> torch.Tensor:
    """A host list as a device tensor without stalling the device queue (pinned, asynchronous on CUDA)."""
    t = torch.tensor(values)
    if torch.device(device).type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
