"""Released dbdzoo weights shipped inside the package (fp16 ``.safetensors``; registry: ``dbdzoo.hub.released``)."""
