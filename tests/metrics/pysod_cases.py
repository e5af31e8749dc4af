"""Test maps for the PySODMetrics oracle, built from a counter-based hash (numpy only, no torch).

``make_pysod_reference.py`` runs PySODMetrics on these maps in its own environment and stores the
scores; ``test_pysod_oracle.py`` rebuilds the same maps here and compares dbdzoo with them. The hash
(splitmix64 on uint64 arrays) gives the same maps on every numpy version, unlike a seeded RNG stream,
so only the scores need to be stored. Shapes are not square, so a swapped H/W would show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Case = tuple[str, np.ndarray, np.ndarray]  # name, pred (float64 in [0, 1]), gt (bool)


def uniform(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Values in [0, 1) from splitmix64 of (seed, pixel index): identical on every platform."""
    n = shape[0] * shape[1]
    golden = np.uint64(0x9E3779B97F4A7C15)
    x = (
        np.arange(n, dtype=np.uint64) + np.full(n, seed, dtype=np.uint64) * golden
    ) + golden  # wraps mod 2**64
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(11)).astype(np.float64) / 2.0**53).reshape(shape)


def disk(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


def box_blur(x: np.ndarray, k: int) -> np.ndarray:
    """Mean over a (2k+1)² window (edge-replicated): a smooth prediction."""
    p = np.pad(x.astype(np.float64), k, mode="edge")
    c = p.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0)))
    n = 2 * k + 1
    h, w = x.shape
    return (c[n : n + h, n : n + w] - c[:h, n : n + w] - c[n : n + h, :w] + c[:h, :w]) / (n * n)


def noisy(g: np.ndarray, seed: int, amp: float = 0.3) -> np.ndarray:
    return np.clip(0.6 * g + 0.2 + amp * (2 * uniform(seed, g.shape) - 1), 0, 1)


def _blob(seed: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    u = uniform(1000 + seed, (1, 3))[0]
    g = disk(h, w, 2 + u[0] * (h - 4), 2 + u[1] * (w - 4), 2 + u[2] * min(h, w) / 3)
    return noisy(g, seed), g


def _cases() -> list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]]:
    sizes = ((24, 32), (31, 17), (20, 20), (13, 29))
    out: list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = []
    for i in range(8):
        h, w = sizes[i % 4]
        out.append((f"noisy_blob_{i}", lambda i=i, h=h, w=w: _blob(i, h, w)))

    def smooth() -> tuple[np.ndarray, np.ndarray]:
        g = disk(24, 32, 10, 14, 7) | disk(24, 32, 18, 26, 4)
        return np.clip(box_blur(g, 2) * 0.9 + 0.05, 0, 1), g

    def border_rect() -> tuple[np.ndarray, np.ndarray]:
        g = np.zeros((22, 30), bool)
        g[:9, 18:] = True  # touches the top and right borders (zero padding of the 7x7 filter)
        return noisy(g, 11), g

    def constant_fg() -> tuple[np.ndarray, np.ndarray]:  # weighted-F ties cannot matter
        g = disk(19, 27, 9, 12, 5)
        return np.where(g, 0.7, uniform(12, g.shape)), g

    def uint8_levels() -> tuple[np.ndarray, np.ndarray]:  # pred stored as k/255, as PNG maps are
        pred, g = _blob(13, 24, 32)
        return np.round(pred * 255) / 255, g

    def thin_lines() -> tuple[np.ndarray, np.ndarray]:
        g = np.zeros((25, 33), bool)
        g[5, 3:30] = g[6:22, 16] = g[20, 4:12] = True
        return noisy(g, 14), g

    def empty_gt() -> tuple[np.ndarray, np.ndarray]:
        return uniform(15, (17, 23)), np.zeros((17, 23), bool)

    def full_gt() -> tuple[np.ndarray, np.ndarray]:
        return uniform(16, (17, 23)), np.ones((17, 23), bool)

    def one_pixel_gt() -> tuple[np.ndarray, np.ndarray]:
        g = np.zeros((18, 26), bool)
        g[7, 11] = True
        return noisy(g, 17), g

    def constant_half() -> tuple[np.ndarray, np.ndarray]:
        g = disk(21, 15, 10, 7, 5)
        return np.full(g.shape, 0.5), g

    def all_zero_pred() -> tuple[np.ndarray, np.ndarray]:
        g = disk(21, 15, 8, 6, 4)
        return np.zeros(g.shape), g

    def perfect() -> tuple[np.ndarray, np.ndarray]:
        g = disk(16, 28, 8, 9, 6)
        return g.astype(np.float64), g

    def inverted() -> tuple[np.ndarray, np.ndarray]:
        g = disk(16, 28, 7, 19, 5)
        return 1.0 - g, g

    out += [
        ("smooth", smooth),
        ("border_rect", border_rect),
        ("constant_fg", constant_fg),
        ("uint8_levels", uint8_levels),
        ("thin_lines", thin_lines),
        ("empty_gt", empty_gt),
        ("full_gt", full_gt),
        ("one_pixel_gt", one_pixel_gt),
        ("constant_half", constant_half),
        ("all_zero_pred", all_zero_pred),
        ("perfect", perfect),
        ("inverted", inverted),
    ]
    return out


def cases() -> list[Case]:
    """Every oracle case as (name, pred, gt)."""
    return [(name, *make()) for name, make in _cases()]


def last_row_gt() -> Case:
    """Foreground only in the last row: its centroid leaves empty quadrants (PySODMetrics: NaN)."""
    g = np.zeros((12, 20), bool)
    g[-1, 4:15] = True
    return "last_row_gt", noisy(g, 18), g
