"""Batched procedural scene layout for the device renderer: every sample's plane, shapes and masks at once.

Same distributions as ``scene.py`` (dead-leaves shapes in front of a tilted plane), drawn from per-sample
keyed draws (``SampleDraws``) instead of per-sample generators. Shapes are padded to the config's largest
count with a validity flag, so all samples of a batch share one tensor shape; invalid shapes have empty
masks. Shape counts are drawn on the host (the same numbers as on the device: integer hashing) because
they set tensor sizes, and host values need no device synchronisation.
"""

from __future__ import annotations

import math

import torch

from .device_draws import SampleDraws
from .scene import SceneConfig

MAX_VERTICES = 7  # convex polygons have 3–7 vertices (scene.shape_masks)


def shape_counts(host: SampleDraws, cfg: SceneConfig) -> list[int]:
    """Number of shapes of each sample (``randint(shapes[0], shapes[1] + 1)``), drawn on the host."""
    return host.integers("shape_count", cfg.shapes[0], cfg.shapes[1] + 1, 1)[:, 0].tolist()


def plane_depth(d: SampleDraws, h: int, w: int, cfg: SceneConfig) -> torch.Tensor:
    """Tilted background planes z0 · exp(tilt · (x cos φ + y sin φ)), B×1×H×W in mm."""
    z0 = d.log_range("plane_z0", *cfg.plane_mm, 1).view(-1, 1, 1, 1)
    tilt = d.range("plane_tilt", -cfg.plane_tilt, cfg.plane_tilt, 1).view(-1, 1, 1, 1)
    phi = d.range("plane_phi", 0.0, 2 * math.pi, 1).view(-1, 1, 1, 1)
    y = torch.linspace(-1, 1, h, device=d.device).view(1, 1, h, 1)
    x = torch.linspace(-1, 1, w, device=d.device).view(1, 1, 1, w)
    return z0 * torch.exp(tilt * (x * phi.cos() + y * phi.sin()))


def shape_depths(d: SampleDraws, plane: torch.Tensor, valid: torch.Tensor, cfg: SceneConfig) -> torch.Tensor:
    """Log-uniform depths between ``near_mm`` and just in front of the plane, sorted far to near (B×K).

    Valid shapes come first (padding gets depth −1), as ``procedural_scene`` sorts its k shapes.
    """
    near = cfg.near_mm
    far = torch.clamp_min(plane.amin(dim=(1, 2, 3)) * 0.95, near * 1.05).view(-1, 1)
    u = d.uniform("shape_depth", valid.shape[1])
    z = torch.exp(math.log(near) + (far.log() - math.log(near)) * u)
    return torch.sort(torch.where(valid, z, -1.0), dim=1, descending=True).values


def shape_masks(d: SampleDraws, valid: torch.Tensor, h: int, w: int, cfg: SceneConfig) -> torch.Tensor:
    """Boolean masks B×K×H×W: discs, ellipses (60 %) or convex polygons, dead-leaves radii p(r) ∝ r⁻³."""
    k = valid.shape[1]
    s = min(h, w)
    rmin, rmax = cfg.radius[0] * s, cfg.radius[1] * s
    u = d.uniform("shape_radius", k)
    radius = (rmin**-2 - u * (rmin**-2 - rmax**-2)) ** -0.5
    cy, cx = d.uniform("shape_cy", k) * h, d.uniform("shape_cx", k) * w
    kind, theta = d.uniform("shape_kind", k), d.uniform("shape_theta", k) * math.pi
    aspect = 0.35 + 0.65 * d.uniform("shape_aspect", k)
    yy = torch.arange(h, device=d.device, dtype=torch.float32).view(1, 1, h, 1) + 0.5
    xx = torch.arange(w, device=d.device, dtype=torch.float32).view(1, 1, 1, w) + 0.5
    dy, dx = yy - cy[..., None, None], xx - cx[..., None, None]
    c, sn = theta.cos()[..., None, None], theta.sin()[..., None, None]
    a = radius[..., None, None]
    b = a * torch.where(kind < 0.3, 1.0, aspect)[..., None, None]
    ellipse = ((dx * c + dy * sn) / a) ** 2 + ((-dx * sn + dy * c) / b) ** 2 <= 1.0
    polygon = _polygons(d, radius, dx, dy)
    return torch.where((kind < 0.6)[..., None, None], ellipse, polygon) & valid[..., None, None]


def _polygons(d: SampleDraws, radius: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Convex polygons with 3–7 vertices at sorted random angles on a jittered circle (B×K×H×W)."""
    b, k = radius.shape
    nv = d.integers("poly_count", 3, MAX_VERTICES + 1, k)
    slot = torch.arange(MAX_VERTICES, device=d.device)
    angle = d.uniform("poly_angle", k, MAX_VERTICES) * (2 * math.pi)
    angle = torch.sort(torch.where(slot < nv[..., None], angle, math.inf), dim=-1).values
    rad = radius[..., None] * (0.7 + 0.3 * d.uniform("poly_radius", k, MAX_VERTICES))
    # padding slots repeat the last vertex: their edges are degenerate (always "inside") and the last
    # padded vertex closes the polygon to vertex 0 exactly as the real last vertex would
    last = torch.minimum(slot, nv[..., None] - 1)
    angle, rad = angle.gather(-1, last), rad.gather(-1, last)
    vx, vy = (rad * angle.cos())[..., None, None, :], (rad * angle.sin())[..., None, None, :]
    inside = torch.ones(dx.shape[:2] + (dy.shape[2], dx.shape[3]), dtype=torch.bool, device=d.device)
    for j in range(MAX_VERTICES):
        x0, y0 = vx[..., j], vy[..., j]
        x1, y1 = vx[..., (j + 1) % MAX_VERTICES], vy[..., (j + 1) % MAX_VERTICES]
        inside &= (x1 - x0) * (dy - y0) - (y1 - y0) * (dx - x0) >= 0
    return inside
