"""nn: a from-scratch deep-learning library (NumPy + Numba). It never imports features or ser.

    from nn import Input, Model          # the functional API (nn.graph, nn.functional_model)
    from nn.models import Sequential     # the document's way (P2)

Importing the package imports the model classes, which register themselves in
``nn.registry``: that is how ``nn.serialization`` finds the class a model file names
without importing them itself.
"""

from nn import models as _models  # noqa: F401  (registers Sequential in nn.registry)
from nn.functional_model import Model
from nn.graph import Input

__all__ = ["Input", "Model"]
