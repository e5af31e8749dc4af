"""Convert the authors' TensorLayer checkpoint ``DMENet_BDCS.npz`` to dbdzoo's ``dmenet``.

The official ``main.py`` (codeslake/DMENet) saves with ``tl.files.save_npz_dict`` and loads the
release with ``load_and_assign_npz_dict``: one array per TF variable, keyed by its name
(``main_net/defocus_net/encoder/conv1_1/W_conv2d:0``, ``…/decoder/u3/b1/beta:0``). Ordered files are
read too: ``np.savez(*arrays)`` (keys ``arr_0…arr_N``) and ``tl.files.save_npz`` (one pickled
``params`` list; needs ``allow_pickle=True``). Ordered arrays are matched by the order in which the
official ``VGG19_down`` and ``UNet_up`` create their variables, which ``official_layers`` lists.

Per layer: TensorLayer ``Conv2d`` → a kernel H×W×in×out (transposed to out×in×H×W) and a bias, named
``W_conv2d``/``b_conv2d`` by ``Conv2dLayer`` and older ``Conv2d``, but ``kernel``/``bias`` by the
``tf.layers.Conv2D`` that ``Conv2d`` wraps in TensorLayer 1.11.1, which DMENet pins (both are read, a
doubled ``conv1_1/conv1_1/kernel`` scope too); ``BatchNormLayer`` → ``beta``, ``gamma`` (only when
built with a γ initialiser; DMENet's are not), ``moving_mean``, ``moving_variance``. The training
graph also creates an unused encoder head (``conv6_1``, ``c_logits_*``), the calibration net, the
discriminator and the perceptual VGG; those arrays are skipped and reported in ``notes``. Never redistribute the checkpoint (AGPL/POSTECH).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import CONVERTERS, Converted

# The official weights expect Caffe-style input; their encoder came from the Caffe-derived vgg19.npy.
# The released model was trained on the original SYNDOF labels (CoC/15), hence sigma_units="coc15".
OFFICIAL_CONFIG = {
    "norm_preset": "caffe_bgr",
    "bn_affine_scale": False,
    "upsample": "nearest",
    "sigma_units": "coc15",
}
TRAINING_HEAD_ARRAYS = 8  # conv6_1 (W, b), c_logits_1 conv (W, b), c_logits_1 dense (W, b), c_logits_2 (W, b)


def official_layers(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """``(TF scope, "conv" | "bn", module)`` for every layer of ``model``, in the official creation order."""
    layers: list[tuple[str, str, nn.Module]] = []
    vgg = model.backbone
    for b, start in enumerate(vgg.block_starts):
        convs = [m for m in vgg.features[start : vgg.tap_indices[b] + 1] if isinstance(m, nn.Conv2d)]
        layers += [(f"encoder/conv{b + 1}_{i + 1}", "conv", conv) for i, conv in enumerate(convs)]

    def unit(scope: str, c: str, bn: str, block: nn.Module) -> None:
        layers.extend(
            [(f"decoder/{scope}/{c}", "conv", block.conv), (f"decoder/{scope}/{bn}", "bn", block.norm)]
        )

    def aux(scope: str, head: nn.Module) -> None:
        unit(scope, "c1", "b1", head.hidden)
        layers.extend(
            [(f"decoder/{scope}/c2", "conv", head.out), (f"decoder/{scope}/b2", "bn", head.out_norm)]
        )

    aux("u4_aux", model.aux_heads[0])
    for i, (name, stage) in enumerate(zip(("u3", "u2", "u1"), model.stages, strict=True)):
        for j, block in enumerate(stage):
            unit(name, f"c{j + 1}", f"b{j + 1}", block)
        aux(f"{name}_aux", model.aux_heads[i + 1])
    unit("u0", "c_init", "b_init", model.full_res)
    aux("u0_aux", model.aux_heads[4])
    for i, block in enumerate(model.refine):
        unit("u0", f"c_res{i}", f"b_res{i}", block.shortcut)
        unit("u0", f"c{i}_1", f"b{i}_1", block.body[0])
        unit("u0", f"c{i}_2", f"b{i}_2", block.body[1])
    unit("uf", "c1", "b1", model.head[0])
    unit("uf", "c2", "b2", model.head[1])
    layers.append(("decoder/uf/c3", "conv", model.head[2]))
    return layers


#: TensorLayer 1.11 ``Conv2d`` wraps ``tf.layers.Conv2D``, whose variables are ``kernel``/``bias``.
CONV_ALIASES = {"W_conv2d": "kernel", "b_conv2d": "bias"}


def layer_variables(kind: str, module: nn.Module) -> list[tuple[str, str]]:
    """``(TF variable, dbdzoo tensor)`` pairs of one layer, in TensorLayer's creation order."""
    if kind == "conv":
        return [("W_conv2d", "weight"), ("b_conv2d", "bias")]
    gamma = [("gamma", "weight")] if module.weight is not None else []
    return [("beta", "bias"), *gamma, ("moving_mean", "running_mean"), ("moving_variance", "running_var")]


def _to_torch(array: np.ndarray, tf_var: str) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array)).float()
    return tensor.permute(3, 2, 0, 1).contiguous() if tf_var == "W_conv2d" else tensor


def _find(tails: dict[str, str], scope: str, tf_var: str) -> str | None:
    """Full key of ``scope/tf_var`` under either TensorLayer conv naming (``W_conv2d`` or ``kernel``)."""
    names = [tf_var, CONV_ALIASES[tf_var]] if tf_var in CONV_ALIASES else [tf_var]
    found = [tails[f"{scope}/{n}"] for n in names if f"{scope}/{n}" in tails]
    if len(found) > 1:
        raise ValueError(f"the file has both {' and '.join(found)}; expected one TensorLayer layout")
    return found[0] if found else None


def _read_npz(
    path: str | Path, allow_pickle: bool
) -> tuple[dict[str, np.ndarray] | None, list[np.ndarray] | None]:
    """(named arrays, None) for save_npz_dict files, (None, ordered arrays) for ordered ones."""
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        if keys == ["params"]:
            if not allow_pickle:
                raise ValueError(
                    f"{path} was written by tl.files.save_npz (a pickled list); pass allow_pickle=True only "
                    "for a file you trust, or re-save it with np.savez(*arrays)"
                )
        elif all(k.startswith("arr_") and k[4:].isdigit() for k in keys):
            return None, [npz[k] for k in sorted(keys, key=lambda k: int(k[4:]))]
        else:
            return {k.removesuffix(":0"): npz[k] for k in keys}, None
    with np.load(path, allow_pickle=True) as npz:
        return None, list(npz["params"])


def _named_lookup(named: dict[str, np.ndarray]) -> dict[str, str]:
    """Map ``encoder/…`` / ``decoder/…`` tails to full keys (prefixes like ``main_net/defocus_net/`` vary)."""
    tails: dict[str, str] = {}
    for key in named:
        for marker in ("encoder/", "decoder/"):
            at = key.rfind(marker)
            if at == 0 or (at > 0 and key[at - 1] == "/"):
                tail = key[at:]
                parts = tail.split("/")
                if len(parts) >= 4 and parts[-2] == parts[-3]:  # tf.layers under a same-named scope
                    tail = "/".join(parts[:-2] + parts[-1:])
                tails[tail] = key
    return tails


def convert_arrays(
    named: dict[str, np.ndarray] | None, ordered: list[np.ndarray] | None, config: dict | None = None
) -> Converted:
    """Build a dbdzoo ``dmenet`` state dict from named or ordered TensorLayer arrays."""
    from ..models import build_model
    from ..models import dmenet as _dmenet  # noqa: F401  (registers the model)

    config = {**OFFICIAL_CONFIG, **(config or {})}
    notes: list[str] = []
    if named is not None and any(k.endswith("/gamma") and "/decoder/" in f"/{k}" for k in named):
        config["bn_affine_scale"] = True
        notes.append("the file has BN gamma tensors: built with bn_affine_scale=True")
    with torch.device("meta"):
        model = build_model("dmenet", **config)
    names = {id(m): n for n, m in model.named_modules()}
    reference = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    tails = _named_lookup(named) if named is not None else {}
    position = skipped = 0
    for scope, kind, module in official_layers(model):
        at_decoder = ordered is not None and scope == "decoder/u4_aux/c1" and position < len(ordered)
        if at_decoder and ordered[position].shape[-1] != module.out_channels:  # training-only encoder head
            position += TRAINING_HEAD_ARRAYS
            skipped = TRAINING_HEAD_ARRAYS
            notes.append(
                f"skipped the training-only encoder head (conv6_1, c_logits_*): {TRAINING_HEAD_ARRAYS} arrays"
            )
        for tf_var, ours in layer_variables(kind, module):
            key = f"{names[id(module)]}.{ours}"
            if named is not None:
                full = _find(tails, scope, tf_var)
                if full is None:
                    alias = f" or {scope}/{CONV_ALIASES[tf_var]}" if tf_var in CONV_ALIASES else ""
                    raise ValueError(f"the file has no tensor for {scope}/{tf_var}{alias} (dbdzoo {key})")
                array = named[full]
            else:
                if position >= len(ordered):
                    raise ValueError(f"the file ends before {scope}/{tf_var} (array {position})")
                array = ordered[position]
                position += 1
            tensor = _to_torch(array, tf_var)
            if tuple(tensor.shape) != tuple(reference[key].shape):
                where = scope if named is not None else f"{scope} (array {position - 1})"
                raise ValueError(
                    f"{where}/{tf_var}: shape {tuple(array.shape)} does not fit {key} {tuple(reference[key].shape)}"
                )
            out[key] = tensor
    for key in reference:
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(set(reference) - set(out))
    if missing:  # every layer is listed in official_layers; this guards against model changes
        raise ValueError(f"dbdzoo tensors not covered by the official layer list: {', '.join(missing[:8])}")
    used = len(out) - sum(k.endswith("num_batches_tracked") for k in out)
    total = len(named) if named is not None else len(ordered)
    if total > used + skipped:
        notes.append(
            f"ignored {total - used - skipped} arrays (calibration net, discriminator, perceptual VGG, optimiser)"
        )
    return Converted(model="dmenet", config=config, state_dict=out, notes=notes)


@CONVERTERS.register("dmenet")
def convert(path: str | Path, allow_pickle: bool = False, **config) -> Converted:
    """Convert ``DMENet_BDCS.npz`` (or any TensorLayer DMENet npz) into a ``dmenet`` state dict.

    Args:
        path: the ``.npz`` file.
        allow_pickle: accept ``tl.files.save_npz`` files, whose array list is pickled.
        **config: ``dmenet`` options; defaults to the official ones (``caffe_bgr`` input, β-only BN,
            nearest upsampling, ``sigma_units="coc15"``).
    """
    named, ordered = _read_npz(path, allow_pickle)
    return convert_arrays(named, ordered, config)
