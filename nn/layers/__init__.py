"""Keras-like layers: Dense, Conv2D, Conv1D, MaxPooling2D, AveragePooling2D,
GlobalAveragePooling2D, Flatten, Dropout, Activation; SimpleRNN, SeedRNN, LSTM, GRU,
Bidirectional; Masking, GlobalAveragePooling1D, StatisticsPooling1D, AttentionPooling1D;
BatchNormalization; Concatenate and Add (joins of a functional model). Each holds
``params`` and ``grads`` (and ``state``, non-trainable) and calls ``nn.functional`` /
``nn.kernels`` through ``nn.backend``."""

from nn.layers.base import Layer
from nn.layers.bidirectional import Bidirectional
from nn.layers.conv import Conv1D, Conv2D
from nn.layers.core import Activation, Dropout, Flatten, GradientReversal
from nn.layers.dense import Dense
from nn.layers.merge import Add, Concatenate
from nn.layers.normalization import BatchNormalization
from nn.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from nn.layers.recurrent import GRU, LSTM, SeedRNN, SimpleRNN
from nn.layers.temporal import (
    AttentionPooling1D,
    GlobalAveragePooling1D,
    Masking,
    StatisticsPooling1D,
)

__all__ = [
    "Layer",
    "Dense",
    "Conv2D",
    "Conv1D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Dropout",
    "Activation",
    "SimpleRNN",
    "SeedRNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "Masking",
    "GlobalAveragePooling1D",
    "StatisticsPooling1D",
    "AttentionPooling1D",
    "BatchNormalization",
    "Concatenate",
    "Add",
    "GradientReversal",
]

LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (
        Dense,
        Conv2D,
        Conv1D,
        MaxPooling2D,
        AveragePooling2D,
        GlobalAveragePooling2D,
        Flatten,
        Dropout,
        Activation,
        SimpleRNN,
        SeedRNN,
        LSTM,
        GRU,
        Bidirectional,
        Masking,
        GlobalAveragePooling1D,
        StatisticsPooling1D,
        AttentionPooling1D,
        BatchNormalization,
        Concatenate,
        Add,
        GradientReversal,
    )
}
