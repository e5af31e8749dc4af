"""Procedural dead-leaves scenes: textured occluding shapes at random depths in front of a tilted plane.

Layout parameters (shape positions, sizes, depths, colours) come from a CPU generator so a seed gives the
same scene on any device; pixel noise comes from a generator on the rendering device, for speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class SceneConfig:
    """Ranges of the procedural scene (depths in millimetres)."""

    shapes: tuple[int, int] = (3, 10)
    near_mm: float = 400.0
    plane_mm: tuple[float, float] = (2000.0, 20000.0)
    plane_tilt: float = 0.7
    radius: tuple[float, float] = (0.06, 0.45)  # fraction of the short image side; power law r^-3 between
    # Std of fine-grained detail (per-pixel noise, 1-2 px grain) added to every procedural texture. Smooth
    # gradients and low-frequency noise carry no defocus cue at all; real surfaces almost always have
    # some fine texture, and without it a detector cannot learn from the synthetic data.
    detail: float = 0.08
    # With a texture pool (``texture_dir``): the share of textures taken from it, and the side of the random
    # square crop as a fraction of the photo's side (1.0 = the whole photo, the original behaviour).
    texture_prob: float = 0.7
    texture_crop: tuple[float, float] = (1.0, 1.0)


def _u(gen: torch.Generator, lo: float = 0.0, hi: float = 1.0, n: int | None = None) -> torch.Tensor | float:
    x = torch.rand(n if n is not None else 1, generator=gen, dtype=torch.float64) * (hi - lo) + lo
    return x if n is not None else float(x)


def _log_u(gen: torch.Generator, lo: float, hi: float, n: int | None = None):
    v = _u(gen, math.log(lo), math.log(hi), n)
    return v.exp() if isinstance(v, torch.Tensor) else math.exp(v)


def fbm_noise(
    n: int, h: int, w: int, gen: torch.Generator, exponent: torch.Tensor, *, device, dtype
) -> torch.Tensor:
    """Zero-mean, unit-std 1/f^exponent-like noise (sum of upsampled white-noise octaves), n×1×H×W."""
    out = torch.zeros(n, 1, h, w, device=device, dtype=dtype)
    exponent = exponent.to(device=device, dtype=dtype).view(n, 1, 1, 1)
    g = 4
    while g < 2 * max(h, w):
        gh, gw = max(2, math.ceil(g * h / max(h, w))), max(2, math.ceil(g * w / max(h, w)))
        z = torch.randn(n, 1, gh, gw, generator=gen, device=device, dtype=dtype)
        out += F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False) * (g / 4.0) ** (-exponent)
        g *= 2
    out -= out.mean(dim=(2, 3), keepdim=True)
    return out / out.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)


def texture_from_params(
    kind: torch.Tensor,
    c1: torch.Tensor,
    c2: torch.Tensor,
    freq: torch.Tensor,
    phase: torch.Tensor,
    angle: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """Pure part of ``textures`` (shared with the batched device renderer): parameters → n×3×H×W.

    ``kind`` < 0.6 is 1/f noise, < 0.8 stripes, else a gradient, each between colours ``c1`` and ``c2``
    (n×3×1×1); ``noise`` is n×1×H×W unit noise on the output device. Not clamped (grain comes next).
    """
    n, _, h, w = noise.shape
    device, dtype = noise.device, noise.dtype
    y = torch.linspace(-0.5, 0.5, h, device=device, dtype=dtype).view(1, 1, h, 1)
    x = torch.linspace(-0.5, 0.5, w, device=device, dtype=dtype).view(1, 1, 1, w)
    ramp = x * angle.cos().to(device, dtype).view(n, 1, 1, 1) + y * angle.sin().to(device, dtype).view(
        n, 1, 1, 1
    )
    stripes = torch.sin(
        6.283 * freq.to(device, dtype).view(n, 1, 1, 1) * ramp + phase.to(device, dtype).view(n, 1, 1, 1)
    )
    k = kind.to(device).view(n, 1, 1, 1)
    t = torch.where(
        k < 0.6,
        0.5 + 0.22 * noise,
        torch.where(k < 0.8, 0.5 + 0.4 * stripes + 0.08 * noise, 0.5 + ramp + 0.1 * noise),
    )
    return c1.to(device, dtype) + (c2 - c1).to(device, dtype) * t.clamp(0.0, 1.0)


def add_grain(tex: torch.Tensor, amp: torch.Tensor, grain: torch.Tensor) -> torch.Tensor:
    """Fine 1–2 px grain (white noise ``grain`` n×1×H×W, half of it box-smoothed) of amplitude ``amp``."""
    grain = 0.5 * grain + 0.5 * F.avg_pool2d(grain, 3, stride=1, padding=1, count_include_pad=False) * 3
    return tex + amp * grain


def textures(
    n: int,
    h: int,
    w: int,
    gen: torch.Generator,
    dgen: torch.Generator,
    *,
    device,
    dtype,
    pool: torch.Tensor | None = None,
    detail: float = 0.0,
    pool_prob: float = 0.7,
    pool_crop: tuple[float, float] = (1.0, 1.0),
) -> torch.Tensor:
    """n colour textures in [0, 1]: 1/f noise, stripes or gradients between two colours, or user crops.

    ``detail`` adds per-texture fine grain (std ``detail`` times a random factor in [0.5, 1.5]).
    ``pool_prob`` of the textures are crops of the pool images, of side ``pool_crop`` × the image side.
    """
    kind = torch.rand(n, generator=gen)
    c1, c2 = torch.rand(n, 3, 1, 1, generator=gen), torch.rand(n, 3, 1, 1, generator=gen)
    exponent = 0.6 + 0.8 * torch.rand(n, generator=gen)
    freq, phase, angle = (
        2 + 38 * torch.rand(n, generator=gen),
        6.283 * torch.rand(n, generator=gen),
        3.1416 * torch.rand(n, generator=gen),
    )
    noise = fbm_noise(n, h, w, dgen, exponent, device=device, dtype=dtype)
    tex = texture_from_params(kind, c1, c2, freq, phase, angle, noise)
    if detail > 0:
        amp = detail * (0.5 + torch.rand(n, generator=gen)).to(device, dtype).view(n, 1, 1, 1)
        tex = add_grain(tex, amp, torch.randn(n, 1, h, w, generator=dgen, device=device, dtype=dtype))
    if pool is not None and len(pool):
        use = torch.rand(n, generator=gen) < pool_prob  # mix user textures with procedural ones
        pick = torch.randint(len(pool), (n,), generator=gen)
        for i in torch.nonzero(use).flatten().tolist():
            src = pool[int(pick[i])].to(device=device, dtype=dtype)[None]
            if pool_crop != (1.0, 1.0):  # a random square window: photo detail at many scales
                side = src.shape[-1]
                c = max(8, int(side * (pool_crop[0] + (pool_crop[1] - pool_crop[0]) * _u(gen))))
                y0, x0 = int(_u(gen) * (side - c + 1)), int(_u(gen) * (side - c + 1))
                src = src[..., y0 : y0 + c, x0 : x0 + c]
                if _u(gen) < 0.5:
                    src = src.flip(-1)
            tex[i] = F.interpolate(src, size=(h, w), mode="bilinear", align_corners=False)[0]
    return tex.clamp(0.0, 1.0)


def shape_masks(k: int, h: int, w: int, gen: torch.Generator, cfg: SceneConfig, *, device) -> torch.Tensor:
    """k boolean masks (discs, ellipses, convex polygons), dead-leaves power-law sizes, k×1×H×W."""
    s = min(h, w)
    rmin, rmax = cfg.radius[0] * s, cfg.radius[1] * s
    u = torch.rand(k, generator=gen, dtype=torch.float64)
    radius = (rmin**-2 - u * (rmin**-2 - rmax**-2)) ** -0.5  # inverse CDF of p(r) ∝ r^-3
    cy, cx = torch.rand(k, generator=gen) * h, torch.rand(k, generator=gen) * w
    kind, theta = torch.rand(k, generator=gen), torch.rand(k, generator=gen) * math.pi
    aspect = 0.35 + 0.65 * torch.rand(k, generator=gen)
    yy = torch.arange(h, device=device, dtype=torch.float32).view(1, h, 1) + 0.5
    xx = torch.arange(w, device=device, dtype=torch.float32).view(1, 1, w) + 0.5
    masks = torch.zeros(k, 1, h, w, dtype=torch.bool, device=device)
    for i in range(k):
        dy, dx = yy - float(cy[i]), xx - float(cx[i])
        r = float(radius[i])
        if kind[i] < 0.6:  # disc or ellipse
            c, sn = math.cos(float(theta[i])), math.sin(float(theta[i]))
            a, b = r, r * (1.0 if kind[i] < 0.3 else float(aspect[i]))
            masks[i, 0] = (((dx * c + dy * sn) / a) ** 2 + ((-dx * sn + dy * c) / b) ** 2 <= 1.0)[0]
        else:  # convex polygon: sorted angles, vertices on a jittered circle
            nv = int(torch.randint(3, 8, (1,), generator=gen))
            ang = torch.sort(torch.rand(nv, generator=gen) * 2 * math.pi).values
            rad = r * (0.7 + 0.3 * torch.rand(nv, generator=gen))
            vx, vy = (rad * ang.cos()).tolist(), (rad * ang.sin()).tolist()
            inside = torch.ones(1, h, w, dtype=torch.bool, device=device)
            for j in range(nv):
                x0, y0, x1, y1 = vx[j], vy[j], vx[(j + 1) % nv], vy[(j + 1) % nv]
                inside &= (x1 - x0) * (dy - y0) - (y1 - y0) * (dx - x0) >= 0
            masks[i, 0] = inside[0]
    return masks


def procedural_scene(
    h: int,
    w: int,
    gen: torch.Generator,
    dgen: torch.Generator,
    cfg: SceneConfig,
    *,
    device,
    dtype,
    pool: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One scene: ``plane_depth`` 1×H×W, ``plane_tex`` 3×H×W, ``masks`` K×1×H×W, ``depths`` K, ``tex`` K×3×H×W.

    Shapes are sorted far to near and are all nearer than the nearest point of the plane.
    """
    z0 = _log_u(gen, *cfg.plane_mm)
    tilt, phi = _u(gen, -cfg.plane_tilt, cfg.plane_tilt), _u(gen, 0.0, 2 * math.pi)
    y = torch.linspace(-1, 1, h, device=device, dtype=torch.float64).view(h, 1)
    x = torch.linspace(-1, 1, w, device=device, dtype=torch.float64).view(1, w)
    plane = z0 * torch.exp(tilt * (x * math.cos(phi) + y * math.sin(phi)))
    k = int(torch.randint(cfg.shapes[0], cfg.shapes[1] + 1, (1,), generator=gen))
    far = max(cfg.near_mm * 1.05, float(plane.min()) * 0.95)
    depths = torch.sort(_log_u(gen, cfg.near_mm, far, k), descending=True).values
    tex = textures(
        k + 1,
        h,
        w,
        gen,
        dgen,
        device=device,
        dtype=dtype,
        pool=pool,
        detail=cfg.detail,
        pool_prob=cfg.texture_prob,
        pool_crop=tuple(cfg.texture_crop),
    )
    return {
        "plane_depth": plane.to(dtype)[None],
        "plane_tex": tex[0],
        "masks": shape_masks(k, h, w, gen, cfg, device=device),
        "depths": depths,
        "tex": tex[1:],
    }


def smooth_depth(
    h: int, w: int, gen: torch.Generator, dgen: torch.Generator, cfg: SceneConfig, *, device, dtype
) -> torch.Tensor:
    """A random smooth depth map (tilted plane × low-frequency relief), 1×H×W, for user images without depth."""
    z0 = _log_u(gen, cfg.near_mm * 3, cfg.plane_mm[1])
    tilt, phi = _u(gen, -1.2, 1.2), _u(gen, 0.0, 2 * math.pi)
    y = torch.linspace(-1, 1, h, device=device, dtype=dtype).view(h, 1)
    x = torch.linspace(-1, 1, w, device=device, dtype=dtype).view(1, w)
    relief = F.interpolate(
        torch.randn(1, 1, 3, 3, generator=dgen, device=device, dtype=dtype),
        size=(h, w),
        mode="bicubic",
        align_corners=True,
    )[0, 0]
    return (z0 * torch.exp(tilt * (x * math.cos(phi) + y * math.sin(phi)) + 0.3 * relief))[None]
