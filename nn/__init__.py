"""nn: a from-scratch deep-learning library (NumPy + Numba). It never imports features or ser.

Importing the package imports ``nn.models``, whose model classes register themselves in
``nn.registry``: that is how ``nn.serialization`` finds the class a model file names
without importing ``nn.models`` itself.
"""

from nn import models as _models  # noqa: F401  (registers Sequential in nn.registry)
