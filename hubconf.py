"""torch.hub entry points: one per registered dbdzoo model, each ``dbdzoo.create_model`` under that name.

    model = torch.hub.load("<owner>/dbdzoo", "fpn", weights=None, backbone="resnet18")       # untrained
    model = torch.hub.load("<owner>/dbdzoo", "fpn_resnet10t", weights="DEFAULT")            # released weights
    model = torch.hub.load("<owner>/dbdzoo", "fpn_resnet10t", weights="synthetic")          # a weights tag
    model = torch.hub.load("/path/to/dbdzoo", "fpn", source="local", weights="run/best.pt")  # offline

``weights`` is a weights tag (``"DEFAULT"`` or ``pretrained=True`` = the default), or a file, folder, URL or
Hub repo id holding that model's weights; ``None`` builds the network untrained (``pretrained_backbone=True``
then loads the backbone's ImageNet weights). Other keyword arguments go to the model factory.
"""

from dbdzoo.models import MODELS as _MODELS
from dbdzoo.zoo import create_model as _create_model
from dbdzoo.zoo import list_models as _list_models

dependencies = ["torch", "torchvision", "timm", "safetensors", "huggingface_hub"]


def _entry_point(name: str):
    """``dbdzoo.create_model(name, **kwargs)`` under the model's name (torch.hub lists public callables)."""

    def entry(**kwargs):
        return _create_model(name, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"dbdzoo `{name}`: {(_MODELS.get(name).__doc__ or '').strip()}\n\n{_create_model.__doc__}"
    return entry


globals().update({_name: _entry_point(_name) for _name in _list_models()})
