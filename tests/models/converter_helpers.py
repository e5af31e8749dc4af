"""Synthetic DMENet TensorLayer arrays from the official TF scopes (shared by the converter tests)."""

from __future__ import annotations

import numpy as np


def official_dmenet_variables(c: tuple[int, ...], vgg_convs: tuple[int, ...]) -> list[tuple[str, tuple]]:
    """TF variable names and shapes in the order ``VGG19_down`` + ``UNet_up`` create them (β-only BN)."""
    out: list[tuple[str, tuple]] = []
    ch = 3
    for b, n in enumerate(vgg_convs):
        for i in range(n):
            out += [
                (f"encoder/conv{b + 1}_{i + 1}/W_conv2d", (3, 3, ch, c[b])),
                (f"encoder/conv{b + 1}_{i + 1}/b_conv2d", (c[b],)),
            ]
            ch = c[b]

    def conv(scope, k, cin, cout):
        out.extend([(f"decoder/{scope}/W_conv2d", (k, k, cin, cout)), (f"decoder/{scope}/b_conv2d", (cout,))])

    def bn(scope, ch):
        out.extend((f"decoder/{scope}/{v}", (ch,)) for v in ("beta", "moving_mean", "moving_variance"))

    def aux(name, cin):
        (
            conv(f"{name}/c1", 3, cin, cin // 2),
            bn(f"{name}/b1", cin // 2),
            conv(f"{name}/c2", 3, cin // 2, 1),
            bn(f"{name}/b2", 1),
        )

    aux("u4_aux", c[4])
    widths = {"u3": (c[4] + c[3], c[2]), "u2": (2 * c[2], c[1]), "u1": (2 * c[1], c[0])}
    for name, (cin, w) in widths.items():
        for j in range(3):
            conv(f"{name}/c{j + 1}", 3, cin if j == 0 else w, w), bn(f"{name}/b{j + 1}", w)
        aux(f"{name}_aux", w)
    conv("u0/c_init", 3, 2 * c[0], c[0]), bn("u0/b_init", c[0])
    aux("u0_aux", c[0])
    for i in range(7):
        conv(f"u0/c_res{i}", 1, c[0], c[0]), bn(f"u0/b_res{i}", c[0])
        conv(f"u0/c{i}_1", 3, c[0], c[0]), bn(f"u0/b{i}_1", c[0])
        conv(f"u0/c{i}_2", 3, c[0], c[0]), bn(f"u0/b{i}_2", c[0])
    conv("uf/c1", 3, c[0], c[0]), bn("uf/b1", c[0]), conv("uf/c2", 3, c[0], c[0] // 2), bn("uf/b2", c[0] // 2)
    conv("uf/c3", 3, c[0] // 2, 1)
    return out


TINY = {"c": (8, 16, 16, 32, 32), "vgg_convs": (2, 2, 2, 2, 2)}


def training_head(c5: int) -> list[np.ndarray]:
    """The unused training-only encoder head (conv6_1, c_logits_1 conv + dense, c_logits_2) for 32×32 crops."""
    shapes = [(3, 3, c5, 64), (64,), (2, 2, 64, 512), (512,), (512, 512), (512,), (512, 1), (1,)]
    return [np.zeros(s, np.float32) for s in shapes]


def dmenet_variable_arrays() -> list[tuple[str, np.ndarray]]:
    """Seeded random arrays for ``official_dmenet_variables(**TINY)`` (positive moving variances)."""
    rng = np.random.default_rng(0)
    arrays = []
    for name, shape in official_dmenet_variables(**TINY):
        value = rng.standard_normal(shape).astype(np.float32)
        arrays.append((name, np.abs(value) + 0.5 if name.endswith("moving_variance") else value))
    return arrays
