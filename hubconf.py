"""torch.hub entry points: one per registered dbdzoo model.

    model = torch.hub.load("<owner>/dbdzoo", "fpn", weights=None, backbone="resnet18")       # untrained
    model = torch.hub.load("<owner>/dbdzoo", "fpn_resnet10t", weights="DEFAULT")            # released weights
    model = torch.hub.load("<owner>/dbdzoo", "fpn_resnet10t", weights="synthetic")          # a weights tag
    model = torch.hub.load("/path/to/dbdzoo", "fpn", source="local", weights="run/best.pt")  # offline

``weights`` is a weights tag (``"DEFAULT"`` or ``pretrained=True`` = the default), or a file, folder, URL or Hub repo id holding
that model's weights; ``None`` builds the network untrained (``pretrained_backbone=True`` then loads the
backbone's ImageNet weights). Other keyword arguments go to the model factory.
"""

from dbdzoo.models import list_models as _list_models

dependencies = ["torch", "torchvision", "timm", "safetensors", "huggingface_hub"]


def _entry_point(name: str):
    """A module-level callable for ``name``; torch.hub lists public callables of this file."""

    def entry(*, weights: str | None = None, pretrained: bool = False, **kwargs):
        if weights is None and pretrained:
            weights = "DEFAULT"
        if weights is None:
            from dbdzoo.models import create_model

            return create_model(name, **kwargs)
        from dbdzoo.hub import load_model

        return load_model(name, weights=weights, **kwargs)

    from dbdzoo.models import MODELS

    factory_doc = (MODELS.get(name).__doc__ or "").strip()
    entry.__name__ = entry.__qualname__ = name
    args = "weights: tag | file | folder | URL | repo id | None (untrained); other kwargs go to the factory."
    entry.__doc__ = f"dbdzoo `{name}`: {factory_doc}\n\n{args}"
    return entry


globals().update({_name: _entry_point(_name) for _name in _list_models()})
