"""Keras-like layers: Dense, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dropout,
Activation. Each holds ``params`` and ``grads`` and calls ``nn.functional`` / ``nn.kernels``
through ``nn.backend``."""

from nn.layers.base import Layer
from nn.layers.conv import Conv2D
from nn.layers.core import Activation, Dropout, Flatten
from nn.layers.dense import Dense
from nn.layers.pooling import AveragePooling2D, MaxPooling2D

__all__ = [
    "Layer",
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dropout",
    "Activation",
]

LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (Dense, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dropout, Activation)
}
