"""The model classes a model file can name, filled by the classes themselves.

``nn.serialization`` rebuilds a model from the class its file names (``"Sequential"``)
without importing ``nn.models``: a model class registers itself here when its module is
imported (``@register_model``), and importing the package ``nn`` imports them all. So the
arrows go one way: ``models`` -> ``serialization`` (to save) and ``serialization`` ->
``registry`` (to load), never back.
"""

from __future__ import annotations

__all__ = ["register_model", "model_class", "MODEL_CLASSES"]

MODEL_CLASSES: dict[str, type] = {}
"""class name -> model class; the names a model file's architecture may give."""


def register_model(cls: type) -> type:
    """Class decorator: let model files name ``cls`` by its class name."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def model_class(name: str) -> type:
    """The registered model class ``name``; KeyError names the classes there are."""
    try:
        return MODEL_CLASSES[name]
    except KeyError:
        known = ", ".join(sorted(MODEL_CLASSES)) or "none (import nn first)"
        raise KeyError(f"no model class {name!r}; the registered ones are {known}") from None
