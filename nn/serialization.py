"""Model files: one ``.npz`` with the weights and a JSON description. Never pickle.

    weights/<i>/<name>   every layer's parameters, as they are
    state/<i>/<name>     every layer's non-trainable state (BatchNormalization's moving
                         mean and variance), as it is
    __model__            a JSON string (a 0-d unicode array, so np.load(allow_pickle=False)
                         reads it): format tag and version, library version, architecture,
                         compile settings, free metadata (label names, feature config, CMVN
                         statistics...), and the SHA-256 of all weights and state

Writes are atomic (a temporary file replaced in one step). Loading checks the format tag, the
checksum, every layer and every weight and state shape, and says in one message what is
wrong: a truncated file, a file that is not a model, a model edited after it was saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["save_model", "load_model", "ModelFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "ser-course-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the problem."""


def _library_version() -> str:
    try:
        from importlib.metadata import version

        return version("ser-course")
    except Exception:  # running from a source tree that is not installed
        return "unknown"


def _weights(model) -> dict[str, np.ndarray]:
    """Parameters and state, under the keys the file stores them (both are checksummed)."""
    return {
        **{
            f"weights/{i}/{name}": p
            for i, layer in enumerate(model.layers)
            for name, p in layer.params.items()
        },
        **{
            f"state/{i}/{name}": s
            for i, layer in enumerate(model.layers)
            for name, s in layer.state.items()
        },
    }


def _checksum(weights: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(weights):
        h.update(key.encode())
        h.update(str(weights[key].dtype).encode() + str(weights[key].shape).encode())
        h.update(np.ascontiguousarray(weights[key]).tobytes())
    return h.hexdigest()


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def save_model(model, path) -> Path:
    """Write ``model`` (built) to ``path`` (.npz added if missing), atomically."""
    if not model.built:
        raise ValueError("only a built model can be saved: give the first layer an input_shape")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    weights = _weights(model)
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "architecture": model.get_config(),
        "compile": None
        if model.loss is None
        else {
            "loss": model.loss,
            "metrics": model.metrics,
            "optimizer": model.optimizer.get_config(),
        },
        "metadata": _jsonable(model.metadata),
        "weights_sha256": _checksum(weights),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __model__=np.array(json.dumps(description)), **weights)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path):
    """Read a model written by ``save_model``; every problem is a ``ModelFileError``."""
    from nn.layers import LAYER_CLASSES
    from nn.models import Sequential

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise ModelFileError(
            f"{path}: not a readable .npz model file (truncated or corrupt: {err})"
        ) from err
    if "__model__" not in arrays:
        raise ModelFileError(f"{path}: an .npz file, but not a model saved by this library")
    try:
        description = json.loads(str(arrays.pop("__model__")))
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: the model description is not valid JSON ({err})") from err
    if description.get("format") != FORMAT:
        raise ModelFileError(f"{path}: format {description.get('format')!r} is not {FORMAT!r}")
    if description.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {description.get('format_version')} "
            f"is not supported (this library reads version {FORMAT_VERSION})"
        )
    if _checksum(arrays) != description.get("weights_sha256"):
        raise ModelFileError(
            f"{path}: the weights do not match their checksum; the file was "
            "modified or damaged after it was saved"
        )
    arch = description["architecture"]
    try:
        model = Sequential(seed=arch["seed"], dtype=arch["dtype"], name=arch["name"])
        for spec in arch["layers"]:
            cls = LAYER_CLASSES.get(spec["class"])
            if cls is None:
                raise ModelFileError(f"{path}: unknown layer class {spec['class']!r}")
            config = dict(spec["config"])
            config.pop("input_shape", None)
            model.add(cls(**config))
        model.build(arch["input_shape"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(
            f"{path}: the architecture description is incomplete or invalid ({err})"
        ) from err
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            key = f"weights/{i}/{name}"
            if key not in arrays:
                raise ModelFileError(f"{path}: weight {key} of layer {layer.name!r} is missing")
            if arrays[key].shape != param.shape:
                raise ModelFileError(
                    f"{path}: weight {key} of layer {layer.name!r} has shape "
                    f"{arrays[key].shape}, the layer needs {param.shape}"
                )
            layer.params[name] = arrays[key].astype(param.dtype)
        for name, value in layer.state.items():
            key = f"state/{i}/{name}"
            if key not in arrays:
                raise ModelFileError(f"{path}: state {key} of layer {layer.name!r} is missing")
            if arrays[key].shape != value.shape:
                raise ModelFileError(
                    f"{path}: state {key} of layer {layer.name!r} has shape "
                    f"{arrays[key].shape}, the layer needs {value.shape}"
                )
            layer.state[name] = arrays[key].astype(value.dtype)
        layer.zero_grad()
    compiled = description.get("compile")
    if compiled:
        model.compile(
            optimizer=compiled["optimizer"], loss=compiled["loss"], metrics=compiled["metrics"]
        )
    model.metadata = description.get("metadata") or {}
    return model
