"""L1 and L2 weight penalties (the document's Q3), with Keras's definitions.

L1(l):  penalty = l * sum |W|        gradient  l * sign(W)
L2(l):  penalty = l * sum W^2        gradient  2 l W          (no 1/2, as Keras)
"""

from __future__ import annotations

import numpy as np

__all__ = ["L1", "L2", "get"]


class L1:
    def __init__(self, l1: float = 0.01):
        self.l1 = float(l1)

    def __call__(self, w):
        return self.l1 * float(np.sum(np.abs(w)))

    def gradient(self, w):
        return self.l1 * np.sign(w)

    def get_config(self):
        return {"class": "L1", "l1": self.l1}


class L2:
    def __init__(self, l2: float = 0.01):
        self.l2 = float(l2)

    def __call__(self, w):
        return self.l2 * float(np.sum(w * w))

    def gradient(self, w):
        return 2.0 * self.l2 * w

    def get_config(self):
        return {"class": "L2", "l2": self.l2}


def get(spec):
    """None, an L1/L2 object, "l1"/"l2" (factor 0.01), or a config dict from a saved model."""
    if spec is None or isinstance(spec, L1 | L2):
        return spec
    if isinstance(spec, str) and spec.lower() in ("l1", "l2"):
        return L1() if spec.lower() == "l1" else L2()
    if isinstance(spec, dict) and spec.get("class") in ("L1", "L2"):
        cls = L1 if spec["class"] == "L1" else L2
        return cls(spec.get("l1", spec.get("l2")))
    raise ValueError(f"unknown regularizer {spec!r}; use L1(...), L2(...), 'l1' or 'l2'")
