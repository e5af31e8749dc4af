"""PR and F-threshold plots that stay readable with many presets.

Presets that score different classes are not comparable, so each positive class gets its own panel
(blur = 1 on the left, in-focus on the right). Presets whose curves coincide (``br2net_maxf`` and
``ddffnet`` share one curve on most data) stay visible through distinct dash patterns and markers, and
every curve marks its F-max point; the legend names the class, the aggregation and F-max.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

from .presets import PRESETS, get_preset

_STYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _info(name: str) -> tuple[str, str]:
    """(positive class, aggregation) of a preset; custom names are treated as blur-class curves."""
    if name in PRESETS:
        preset = get_preset(name)
        return preset.positive, preset.aggregate
    return "blur", "custom"


_KINDS = {
    "pr": ("recall", "precision", "Recall", "Precision"),
    "f": ("threshold", "f", "Threshold", "F-measure (β²=0.3)"),
}


def curve_figure(curves: Mapping[str, Mapping[str, np.ndarray]], kind: str = "pr", title: str = ""):
    """A matplotlib figure of ``kind`` ``pr`` or ``f`` curves: one panel per positive class."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    xk, yk, xl, yl = _KINDS[kind]
    classes = sorted({_info(n)[0] for n in curves}, key=lambda c: c != "blur") or ["blur"]
    fig, axes = plt.subplots(1, len(classes), figsize=(5.5 * len(classes), 4.6), dpi=100, squeeze=False)
    for ax, positive in zip(axes[0], classes, strict=True):
        names = [n for n in curves if _info(n)[0] == positive]
        for i, name in enumerate(names):
            c = curves[name]
            x, y, f = np.asarray(c[xk]), np.asarray(c[yk]), np.asarray(c["f"])
            best = int(np.nanargmax(f)) if f.size and np.isfinite(f).any() else None
            fmax = f"F-max {f[best]:.3f}" if best is not None else "F-max -"
            (line,) = ax.plot(x, y, linestyle=_STYLES[i % len(_STYLES)], linewidth=2.2 - 0.3 * (i % 4),
                              label=f"{name} ({_info(name)[1]}; {fmax})")  # fmt: skip
            if best is not None:
                ax.plot(x[best], y[best], marker=_MARKERS[i % len(_MARKERS)], color=line.get_color(),
                        markersize=7, markeredgecolor="black", linestyle="none")  # fmt: skip
        label = "blur = positive (1 = out of focus)" if positive == "blur" else "in-focus = positive"
        ax.set(xlabel=xl, ylabel=yl, xlim=(0, 1), ylim=(0, 1.02))
        ax.set_title(f"{title + ': ' if title else ''}{label}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(
            fontsize=7, loc="lower left", title="preset (aggregation; marker = F-max)", title_fontsize=7
        )
    fig.tight_layout()
    return fig


def plot_curves(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    out_dir: str | Path,
    prefix: str = "",
    title: str = "",
    write_file: Callable[[Path, Callable[[Path], object]], object] | None = None,
) -> list[Path]:
    """Save ``{prefix}pr_curves.png`` and ``{prefix}f_threshold.png`` (matplotlib, Agg backend).

    Args:
        curves: ``{preset: {"threshold", "precision", "recall", "f"}}`` from :meth:`DBDEvaluator.curves`.
        out_dir: created if missing.
        prefix: file-name prefix, e.g. the dataset name plus ``"_"``.
        title: figure title (e.g. dataset and model).
        write_file: ``write_file(path, fill)`` creates each file through ``fill(path_to_write)``; the
            engine passes ``dbdzoo.files.atomic_write`` so a full disk never leaves a torn PNG.

    Returns:
        The two written paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write = write_file or (lambda target, fill: fill(target))
    paths = [out / f"{prefix}pr_curves.png", out / f"{prefix}f_threshold.png"]
    for path, kind in zip(paths, ("pr", "f"), strict=True):
        fig = curve_figure(curves, kind, title)
        try:
            write(path, partial(_save_png, fig))
        finally:
            plt.close(fig)
    return paths


def _save_png(fig, target: Path) -> None:  # noqa: ANN001 (a matplotlib Figure)
    fig.savefig(target, format="png")
