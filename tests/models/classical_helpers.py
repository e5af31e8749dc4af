"""What every classical method's tests share: a half-defocused test image and the contract checks."""

from __future__ import annotations

import numpy as np
import torch


def half_blurred(h: int, w: int, kernel: int, passes: int) -> np.ndarray:
    """Random texture, its right half box-blurred ``passes`` times per axis with a ``kernel``-wide box."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (h, w, 3)).astype(np.float32)
    k, pad = np.ones(kernel) / kernel, kernel // 2
    right = img[:, w // 2 :]
    for axis in (0, 1) * passes:
        right = np.apply_along_axis(
            lambda v: np.convolve(np.pad(v, pad, mode="edge"), k, "valid"), axis, right
        )
    img[:, w // 2 :] = right
    return img.astype(np.uint8)


def check_contract(model, img: np.ndarray, sharp_until: int, blurred_from: int):  # noqa: ANN001, ANN201
    """No parameters, blurred half called blurred, deterministic, finite logits, batched = one by one.

    Returns ``(prob, out)``: the predicted map of ``img`` and the output of the batch (img, img flipped).
    """
    h, w = img.shape[:2]
    assert sum(p.numel() for p in model.parameters()) == 0 and model.trainable is False
    prob = model.predict(img)
    assert prob.shape == img.shape[:2] and prob.dtype == np.float32
    assert prob[:, blurred_from:].mean() > prob[:, :sharp_until].mean() + 0.3  # the blurred half is blurred
    np.testing.assert_array_equal(prob, model.predict(img))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    out = model(torch.cat([x, x.flip(-1)]))
    assert out.logits.shape == (2, 1, h, w) and torch.isfinite(out.logits).all() and out.aux == []
    torch.testing.assert_close(out.logits[1:], model(x.flip(-1)).logits)
    return prob, out
