"""Does a ground truth agree with the image? Empty/full masks and a sharpness cue for inverted polarity.

The cue is deliberately simple: local high-frequency energy (|Laplacian| of the grey image, averaged in
a 15×15 box) is compared between the pixels labelled blurred and those labelled in focus, each eroded by
a few pixels so the sharp object's own outline does not count for the background. A blurred region is
smoother than an in-focus one, so the ratio blurred/in-focus (90th percentiles) is normally below 1.

Measured on the 604 CUHK-TR-1 pairs: the two known inverted ground truths score 13.5
(``out_of_focus0508``) and 4.1 (``0509``); the highest correct pair scores 2.3 (an in-focus, textureless
shirt in front of sharp-edged posters, ``0701``), the next 1.5. ``POLARITY_RATIO = 3`` flags exactly the
two, and does so for 26 of 27 variants tried (box 9–25, erosion 5–15, 75th–95th percentile).
"""

from __future__ import annotations

import cv2
import numpy as np

#: blurred/in-focus energy ratio above which a pair is flagged as possibly inverted.
POLARITY_RATIO = 3.0
#: images are compared at this longer side at most (CUHK size), so the windows mean the same everywhere.
MAX_SIDE = 640
BOX = 15
ERODE = 5
#: each region needs this many pixels after erosion for the cue to be trusted.
MIN_PIXELS = 256


def coverage_warning(mask: np.ndarray) -> str | None:
    """``"all-background"`` / ``"all-blur"`` text when the binary mask has a single class, else ``None``."""
    blurred = mask > 0.5
    if not blurred.any():
        return "all-background ground truth (no blurred pixel): wrong value range or an all-sharp image?"
    if blurred.all():
        return (
            "all-blur ground truth (no in-focus pixel): wrong value range, polarity or a fully blurred image?"
        )
    return None


def blur_sharpness_ratio(image: np.ndarray, mask: np.ndarray) -> float | None:
    """High-frequency energy of the blurred-labelled region over the in-focus one (``None``: too small).

    ``image`` is H×W×3 (uint8 or float in [0, 1]) and ``mask`` H×W in the canonical polarity (1 = blurred).
    """
    grey = np.asarray(image, dtype=np.float32)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    if np.asarray(image).dtype == np.uint8:
        grey = grey / 255.0
    blurred = (np.asarray(mask) > 0.5).astype(np.uint8)
    scale = MAX_SIDE / max(grey.shape)
    if scale < 1:
        size = (round(grey.shape[1] * scale), round(grey.shape[0] * scale))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        blurred = cv2.resize(blurred, size, interpolation=cv2.INTER_NEAREST)
    kernel = np.ones((ERODE, ERODE), np.uint8)
    inside_blur = cv2.erode(blurred, kernel) > 0
    inside_sharp = cv2.erode(1 - blurred, kernel) > 0
    if inside_blur.sum() < MIN_PIXELS or inside_sharp.sum() < MIN_PIXELS:
        return None
    energy = cv2.blur(np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3)), (BOX, BOX))
    sharp = float(np.percentile(energy[inside_sharp], 90))
    return float(np.percentile(energy[inside_blur], 90)) / max(sharp, 1e-6)


def polarity_warning(image: np.ndarray, mask: np.ndarray) -> str | None:
    """A warning when the region labelled blurred is clearly sharper than the one labelled in focus."""
    ratio = blur_sharpness_ratio(image, mask)
    if ratio is None or ratio <= POLARITY_RATIO:
        return None
    return (
        f"polarity disagrees with the image: the region labelled blurred is {ratio:.1f}x sharper than the "
        f"in-focus one (limit {POLARITY_RATIO:g}); inverted ground truth?"
    )
