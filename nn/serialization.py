"""Model files: one ``.npz`` with the weights and a JSON description. Never pickle.

    weights/<i>/<name>   every layer's parameters, as they are
    state/<i>/<name>     every layer's non-trainable state (BatchNormalization's moving
                         mean and variance), as it is
    __model__            a JSON string (a 0-d unicode array, so np.load(allow_pickle=False)
                         reads it): format tag and version, library version, architecture,
                         compile settings, free metadata (label names, feature config, CMVN
                         statistics...) and a SHA-256 checksum

Format versions. This library writes version 2 and reads versions 1 and 2.

- Version 2: ``sha256`` covers the whole description (every field but itself, as canonical
  JSON: sorted keys, no spaces) *and* every weight and state array (name, dtype, shape and
  bytes, in name order). An edited label, layer or compile setting is caught as surely as an
  edited weight.
- Version 1 (written by earlier releases): ``weights_sha256`` covers the arrays only. Such
  files still load, so old models keep working; an edit to their JSON is caught only when it
  makes the description invalid (the checks below), not when it is merely different.

Writes are atomic (a temporary file replaced in one step), and a model whose weights are
NaN or infinite (training diverged) is refused, never written.

Loading never trusts the file: everything is checked before anything large is allocated,
and every problem is one ``ModelFileError`` naming the file and what is wrong
(docs/reliability.md, "Model files"). In order:

1. the zip directory: only the members above, stored or deflated, each at most
   ``MAX_MEMBER_BYTES`` uncompressed and ``MAX_TOTAL_BYTES`` in all, ``MAX_MEMBERS`` at most;
2. each member's .npy header (dtype and shape, read without the data): weights and state
   float32 or float64, their shape times item size equal to the member's size, and
   ``__model__`` a unicode string of at most ``MAX_DESCRIPTION_BYTES``;
3. the JSON: nesting at most ``MAX_JSON_DEPTH`` deep, a dict with the expected keys and
   types, known layer classes, a known loss and optimizer;
4. the layers, built one at a time under a parameter budget of the values the file stores
   for each (``nn.layers.base.parameter_budget``): a description claiming a Dense of 10^12
   units is refused before its kernel exists; then every stored shape is compared with the
   layer's;
5. only then the data: read, checked finite, and checksummed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

__all__ = [
    "save_model",
    "write_model",
    "load_model",
    "ModelFileError",
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "MAX_DESCRIPTION_BYTES",
    "MAX_MEMBERS",
    "MAX_LAYERS",
    "MAX_JSON_DEPTH",
]

FORMAT = "ser-course-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

MAX_MEMBER_BYTES = 512 * 2**20
"""The largest array a model file may hold, uncompressed (512 MiB: 134 million float32
values, about a thousand times the document's CNN). A member claiming more is refused from
the zip directory, before a byte of it is decompressed, so a small file cannot expand into
gigabytes (a deflated member of zeros shrinks about a thousand times)."""

MAX_TOTAL_BYTES = 2 * 2**30
"""The most all members together may hold, uncompressed (2 GiB)."""

MAX_DESCRIPTION_BYTES = 16 * 2**20
"""The largest ``__model__`` member (16 MiB of UCS-4 text: 4 million characters). Real
descriptions are a few kilobytes; this bounds what ``json.loads`` is given."""

MAX_MEMBERS = 10_000
"""The most members a model file may have (three per layer is typical)."""

MAX_LAYERS = 1_000
"""The most layers a description may list."""

MAX_JSON_DEPTH = 32
"""The deepest nesting of lists and objects in a description (real ones reach 6)."""

MAX_NPY_HEADER_BYTES = 10_000
"""The largest .npy header read (numpy's own default limit)."""

BUILD_SLACK = 2**20
"""How many values more than the file stores for it a layer may ask for while it is built.
It lets a small mismatch be reported exactly ("has shape (5,), the layer needs (4,)"); the
layers are compared one at a time, so at most one layer ever overshoots, by at most this."""

_ARRAY_MEMBER = re.compile(r"(weights|state)/(\d+)/(.+)\.npy")
_LOSSES = (
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "mse",
)
_OPTIMIZERS = ("Adam", "SGD", "RMSprop")
# what a hostile description can make a constructor, a builder or a parser raise
_INVALID = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    NotImplementedError,
    RecursionError,
    MemoryError,
)
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    SyntaxError,
    RuntimeError,  # zipfile: an encrypted member
    NotImplementedError,  # zipfile: a compression method it does not know
    MemoryError,
)


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
    """SHA-256 of the arrays: name, dtype, shape and bytes of each, in name order (the whole
    checksum of a version-1 file, and the weights' part of a version-2 one)."""
    h = hashlib.sha256()
    for key in sorted(weights):
        h.update(key.encode())
        h.update(str(weights[key].dtype).encode() + str(weights[key].shape).encode())
        h.update(np.ascontiguousarray(weights[key]).tobytes())
    return h.hexdigest()


def _canonical(description: dict) -> bytes:
    """The description without its checksum, as canonical JSON (sorted keys, no spaces)."""
    body = {k: v for k, v in description.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _checksum_v2(description: dict, weights: dict[str, np.ndarray]) -> str:
    """SHA-256 over the canonical description and the weights' checksum (version 2)."""
    h = hashlib.sha256(b"ser-course-model/2\0")
    h.update(_canonical(description))
    h.update(b"\0" + _checksum(weights).encode())
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


def _refuse_non_finite(model, weights):
    for i, layer in enumerate(model.layers):
        for kind, arrays in (("weight", layer.params), ("state", layer.state)):
            for name, a in arrays.items():
                bad = int(np.count_nonzero(~np.isfinite(a)))
                if bad:
                    raise ValueError(
                        f"layer {layer.name!r} ({type(layer).__name__}): {kind} {name!r} "
                        f"(weights/{i}/{name}) holds {bad} NaN or infinite value(s); a "
                        "diverged model is not saved. Train again with a lower learning rate"
                    )


def write_model(model, file) -> None:
    """Write ``model`` (built) as the bytes of a model file into ``file``, an open binary file.

    The same bytes as ``save_model``, for a caller that owns the file: ``ser`` writes every
    output through its own atomic writer (``ser.io.atomic_write``), so a kill never leaves a
    temporary file of ours behind it.

    Raises ValueError, and writes nothing, when the model is not built or when a weight or
    state array holds NaN or infinite values (a diverged model is never written).
    """
    if not model.built:
        raise ValueError("only a built model can be saved: give the first layer an input_shape")
    weights = _weights(model)
    _refuse_non_finite(model, weights)
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
            **(
                {"loss_weights": model.loss_weights} if getattr(model, "loss_weights", None) else {}
            ),
            "optimizer": model.optimizer.get_config(),
        },
        "metadata": _jsonable(model.metadata),
    }
    text = json.dumps(description)
    # the checksum is of the description as load_model will parse it (tuples become lists)
    description["sha256"] = _checksum_v2(json.loads(text), weights)
    np.savez(file, __model__=np.array(json.dumps(description)), **weights)


def save_model(model, path) -> Path:
    """Write ``model`` (built) to ``path`` (.npz added if missing), atomically.

    The bytes go to a temporary file in the same folder, created with the mode a plain
    ``open`` gives (0o666 minus the umask), flushed to the disk, then moved into place in one
    ``os.replace``: ``path`` holds its old content or the complete new one. On any error the
    temporary file is removed.

    Raises ValueError, and writes nothing, as ``write_model``.
    """
    from nn.atomic import write_atomically

    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    return write_atomically(path, lambda f: write_model(model, f))


# ---- loading -----------------------------------------------------------------------------------
def _show(value, limit=60) -> str:
    """A short repr of a value read from a file (a hostile one may be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip(err, limit=300) -> str:
    """An exception's message, cut to ``limit`` characters (it may quote hostile values)."""
    text = str(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value) -> str:
    """What a JSON value is, in words."""
    for t, word in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "an object"),
    ):
        if isinstance(value, t):
            return word
    return "null" if value is None else type(value).__name__


class _Reader:
    """Reads one model file, refusing whatever is wrong with it as early as possible."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, message, err=None):
        raise ModelFileError(f"{self.path}: {message}") from err

    # ---- 1. the zip directory, 2. the .npy headers ------------------------------------------
    def directory(self, zf: zipfile.ZipFile) -> dict[str, tuple]:
        """name -> (ZipInfo, dtype, shape) of every member, from headers only."""
        infos = zf.infolist()
        names = [info.filename for info in infos]
        if "__model__.npy" not in names:
            self.fail("an .npz file, but not a model saved by this library")
        if len(set(names)) != len(names):
            self.fail("a member appears twice in the zip directory")
        total = 0
        for info in infos:
            name = info.filename
            if name != "__model__.npy" and not _ARRAY_MEMBER.fullmatch(name):
                self.fail(
                    f"unknown member {_show(name)} (a model file holds only __model__, "
                    "weights/<layer>/<name> and state/<layer>/<name>)"
                )
            if info.flag_bits & 0x1:
                self.fail(f"member {name} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(
                    f"member {name} uses compression method {info.compress_type}; "
                    "model files are stored or deflated"
                )
            limit = MAX_DESCRIPTION_BYTES if name == "__model__.npy" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                self.fail(
                    f"member {name} would expand to {info.file_size:,} bytes, more than "
                    f"the {limit:,} a model file may hold in one member"
                )
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            self.fail(
                f"the members would expand to {total:,} bytes in all, more than the "
                f"{MAX_TOTAL_BYTES:,} a model file may hold"
            )
        return {info.filename[:-4]: (info, *self.header(zf, info)) for info in infos}

    def header(self, zf, info):
        """(dtype, shape) from a member's .npy header, checked against the member's size."""
        name = info.filename
        try:
            with zf.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(
                        f, max_header_size=MAX_NPY_HEADER_BYTES
                    )
                elif version == (2, 0):
                    shape, _, dtype = npy_format.read_array_header_2_0(
                        f, max_header_size=MAX_NPY_HEADER_BYTES
                    )
                else:
                    self.fail(f"member {name} is a .npy of version {version}, not 1.0 or 2.0")
                offset = f.tell()
        except ModelFileError:
            raise
        except _UNREADABLE as err:
            self.fail(f"member {name} is not a readable .npy array ({_clip(err)})", err)
        if any(d < 0 for d in shape):
            self.fail(f"member {name} has a negative dimension in its shape {shape}")
        if name == "__model__.npy":
            if dtype.kind != "U" or shape != ():
                self.fail(f"member __model__ must be a JSON string, but it is {dtype} {shape}")
        elif not (dtype.kind == "f" and dtype.itemsize in (4, 8)):  # either byte order
            self.fail(f"member {name} holds {dtype} values; weights must be float32 or float64")
        size = offset + math.prod(shape) * dtype.itemsize
        if size != info.file_size:
            self.fail(
                f"member {name}: its header claims {dtype} {shape} ({size:,} bytes), but "
                f"the member holds {info.file_size:,} bytes"
            )
        return dtype, shape

    def read(self, zf, info):
        try:
            with zf.open(info) as f:
                return npy_format.read_array(
                    f, allow_pickle=False, max_header_size=MAX_NPY_HEADER_BYTES
                )
        except _UNREADABLE as err:
            self.fail(
                f"member {info.filename} cannot be read; the file is damaged ({_clip(err)})", err
            )

    # ---- 3. the JSON ---------------------------------------------------------------------------
    def description(self, zf, info) -> dict:
        try:
            text = self.read(zf, info).item()
            if not isinstance(text, str):
                raise TypeError(f"a {type(text).__name__}, not a string")
            description = json.loads(text)
        except ModelFileError:
            raise
        except RecursionError as err:
            self.fail("the model description is nested too deeply to read", err)
        except (ValueError, TypeError, UnicodeError) as err:
            self.fail(f"the model description is not valid JSON ({_clip(err)})", err)
        if not isinstance(description, dict):
            self.fail(f"the model description is {_kind(description)}, not an object")
        self.depth(description)
        return description

    def depth(self, value):
        stack = [(value, 1)]
        while stack:
            v, d = stack.pop()
            if d > MAX_JSON_DEPTH:
                self.fail(f"the model description is nested more than {MAX_JSON_DEPTH} deep")
            children = v.values() if isinstance(v, dict) else v
            stack.extend((c, d + 1) for c in children if isinstance(c, dict | list))

    def version(self, description) -> int:
        if description.get("format") != FORMAT:
            self.fail(f"format {_show(description.get('format'))} is not {FORMAT!r}")
        readable = " and ".join(map(str, READABLE_VERSIONS))
        if "format_version" not in description:
            self.fail(
                f"the description has no format_version; this library reads versions {readable}"
            )
        v = description["format_version"]
        if type(v) is not int:
            self.fail(
                f"format version {_show(v)} ({_kind(v)}) is not supported; this library "
                f"reads versions {readable}"
            )
        if v not in READABLE_VERSIONS:
            self.fail(
                f"format version {v} is not supported; this library reads versions "
                f"{readable}" + (" (a newer release wrote it)" if v > FORMAT_VERSION else "")
            )
        key = "sha256" if v >= 2 else "weights_sha256"
        checksum = description.get(key)
        if not (isinstance(checksum, str) and re.fullmatch(r"[0-9a-f]{64}", checksum)):
            self.fail(f"the description's checksum {key!r} is missing or not a SHA-256 digest")
        return v

    def architecture(self, description) -> dict:
        from nn.layers import LAYER_CLASSES

        arch = description.get("architecture")
        if not isinstance(arch, dict):
            self.fail(
                f"the description's architecture is {_kind(arch)}, not an object"
                if "architecture" in description
                else "the description has no architecture"
            )
        from nn.registry import MODEL_CLASSES

        if arch.get("class", "Sequential") not in MODEL_CLASSES:
            self.fail(
                f"architecture class {_show(arch.get('class'))} is not one of this library's "
                f"models ({', '.join(sorted(MODEL_CLASSES))})"
            )
        if arch.get("class") == "Model":
            return self.graph_architecture(arch, LAYER_CLASSES)
        for key, ok, what in (
            ("name", lambda v: isinstance(v, str), "a string"),
            ("seed", lambda v: type(v) is int and v >= 0, "an integer >= 0"),
            ("dtype", lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
            ("input_shape", self._is_shape, "a list of 1 to 8 integers >= 1"),
            (
                "layers",
                lambda v: isinstance(v, list) and 1 <= len(v) <= MAX_LAYERS,
                f"a list of 1 to {MAX_LAYERS} layers",
            ),
        ):
            if key not in arch:
                self.fail(f"the architecture has no {key!r}")
            if not ok(arch[key]):
                self.fail(f"the architecture's {key!r} must be {what}, got {_show(arch[key])}")
        for i, spec in enumerate(arch["layers"]):
            self.layer_spec(spec, f"layer {i}", LAYER_CLASSES)
        return arch

    def graph_architecture(self, arch, classes) -> dict:
        """A functional model's description: inputs, layers, the calls (nodes) and outputs,
        every reference pointing to an input or to an earlier node."""
        for key, ok, what in (
            ("name", lambda v: isinstance(v, str), "a string"),
            ("seed", lambda v: type(v) is int and v >= 0, "an integer >= 0"),
            ("dtype", lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
            ("inputs", lambda v: isinstance(v, list) and 1 <= len(v) <= 64, "a list of 1 to 64"),
            (
                "layers",
                lambda v: isinstance(v, list) and 1 <= len(v) <= MAX_LAYERS,
                f"a list of 1 to {MAX_LAYERS} layers",
            ),
            (
                "nodes",
                lambda v: isinstance(v, list) and 1 <= len(v) <= 4 * MAX_LAYERS,
                f"a list of 1 to {4 * MAX_LAYERS} layer calls",
            ),
            ("outputs", lambda v: isinstance(v, list) and 1 <= len(v) <= 64, "a list of 1 to 64"),
            ("single_input", lambda v: isinstance(v, bool), "true or false"),
            ("single_output", lambda v: isinstance(v, bool), "true or false"),
        ):
            if key not in arch:
                self.fail(f"the architecture has no {key!r}")
            if not ok(arch[key]):
                self.fail(f"the architecture's {key!r} must be {what}, got {_show(arch[key])}")
        for k, spec in enumerate(arch["inputs"]):
            if not (
                isinstance(spec, dict)
                and isinstance(spec.get("name"), str)
                and self._is_shape(spec.get("shape"))
            ):
                self.fail(f"input {k} must be an object with a name and a shape, got {_show(spec)}")
        for i, spec in enumerate(arch["layers"]):
            self.layer_spec(spec, f"layer {i}", classes)

        def valid_ref(ref, before):
            return (
                isinstance(ref, list)
                and len(ref) == 2
                and type(ref[1]) is int
                and (
                    (ref[0] == "input" and 0 <= ref[1] < len(arch["inputs"]))
                    or (ref[0] == "node" and 0 <= ref[1] < before)
                )
            )

        for j, node in enumerate(arch["nodes"]):
            if not (
                isinstance(node, dict)
                and type(node.get("layer")) is int
                and 0 <= node["layer"] < len(arch["layers"])
                and isinstance(node.get("inputs"), list)
                and 1 <= len(node["inputs"]) <= 64
                and all(valid_ref(r, j) for r in node["inputs"])
            ):
                self.fail(
                    f"node {j} must name a layer and inputs that come before it, got {_show(node)}"
                )
        for ref in arch["outputs"]:
            if not valid_ref(ref, len(arch["nodes"])):
                self.fail(f"the output {_show(ref)} is not an input or a node of the model")
        return arch

    @staticmethod
    def _is_shape(v):
        """1 to 8 ints >= 1; the time axis of a (T, C) shape may be null (any length)."""
        return (
            isinstance(v, list)
            and 1 <= len(v) <= 8
            and all((type(d) is int and d >= 1) or (d is None and k == 0 and len(v) == 2)
                    for k, d in enumerate(v))
        )  # fmt: skip

    def layer_spec(self, spec, where, classes, nested=False):
        if not isinstance(spec, dict):
            self.fail(f"{where} must be an object with 'class' and 'config', got {_show(spec)}")
        name = spec.get("class")
        if not isinstance(name, str):
            self.fail(f"{where} has no layer class")
        if name not in classes:
            self.fail(f"unknown layer class {_show(name)} ({where})")
        if "config" not in spec and nested:
            return
        config = spec.get("config")
        if not isinstance(config, dict):
            self.fail(f"{where} ({name}) has no config object")
        if not (config.get("name") is None or isinstance(config["name"], str)):
            self.fail(f"{where} ({name}): its name must be a string, got {_show(config['name'])}")
        if config.get("dtype") not in (None, "float32", "float64"):
            self.fail(f"{where} ({name}): dtype {_show(config['dtype'])} is not float32/float64")
        if config.get("input_shape") is not None and not self._is_shape(config["input_shape"]):
            self.fail(
                f"{where} ({name}): input_shape {_show(config['input_shape'])} is not "
                "a list of integers >= 1"
            )
        if "layer" in config:
            self.layer_spec(config["layer"], f"{where}'s wrapped layer", classes, nested=True)

    def optimizer(self, description):
        """The compile block (None or a dict), its optimizer built (a cheap object)."""
        from nn import optimizers

        compiled = description.get("compile")
        if compiled is None:
            return None
        if not isinstance(compiled, dict):
            self.fail(f"the compile settings are {_kind(compiled)}, not an object")
        loss = compiled.get("loss")
        losses = list(loss.values()) if isinstance(loss, dict) else [loss]
        for value in losses:
            if not isinstance(value, str) or value not in _LOSSES:
                self.fail(f"unknown loss {_show(value)}; this library has {', '.join(_LOSSES)}")
        metrics = compiled.get("metrics", [])
        lists = list(metrics.values()) if isinstance(metrics, dict) else [metrics]
        if not all(isinstance(m, list) and all(x in ("accuracy", "acc") for x in m) for m in lists):
            self.fail(f"the compile metrics {_show(metrics)} are not a list of 'accuracy'")
        extra = {}
        if "loss_weights" in compiled:
            weights = compiled["loss_weights"]
            if not (
                isinstance(weights, dict)
                and all(
                    isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w)
                    and w >= 0
                    for w in weights.values()
                )
            ):  # fmt: skip
                self.fail(f"the loss weights {_show(weights)} are not numbers >= 0 by output")
            extra["loss_weights"] = weights
        spec = compiled.get("optimizer")
        name = spec.get("class") if isinstance(spec, dict) else spec
        if not (
            isinstance(name, str) and (name in _OPTIMIZERS or name in ("adam", "sgd", "rmsprop"))
        ):
            self.fail(f"unknown optimizer {_show(name)}; this library has Adam, SGD and RMSprop")
        try:
            return {"loss": loss, "metrics": metrics, "optimizer": optimizers.get(spec), **extra}
        except _INVALID as err:
            self.fail(f"the optimizer settings are invalid ({_clip(err)})", err)

    # ---- 4. the layers -------------------------------------------------------------------------
    def build(self, arch, members):
        """The model, each layer built under a budget of what the file stores for it, and its
        stored shapes compared with the layer's as soon as it exists."""
        from nn.layers import LAYER_CLASSES
        from nn.layers.base import ParameterBudgetError, parameter_budget
        from nn.registry import model_class

        stored = {}
        for key, (_, _, shape) in members.items():
            match = _ARRAY_MEMBER.fullmatch(key + ".npy")
            if match:
                stored[int(match[2])] = stored.get(int(match[2]), 0) + math.prod(shape)
        if arch.get("class") == "Model":
            return self.build_graph(arch, members, stored)
        model_cls = model_class(arch.get("class", "Sequential"))  # checked: "architecture"
        model = model_cls(seed=arch["seed"], dtype=arch["dtype"], name=arch["name"])
        # constructors allocate nothing (the layers are built below); the budget bounds them
        with parameter_budget(sum(stored.values()) + BUILD_SLACK):
            for i, spec in enumerate(arch["layers"]):
                try:
                    model.add(self.layer(spec, LAYER_CLASSES))
                except _INVALID as err:
                    self.fail(
                        f"layer {i} ({spec['class']}) of the architecture is invalid "
                        f"({_clip(err)})",
                        err,
                    )
        shape = tuple(arch["input_shape"])
        for i, layer in enumerate(model.layers):
            budget = stored.get(i, 0) + BUILD_SLACK
            try:
                with parameter_budget(budget):
                    layer.build(shape, model._layer_rng(i), dtype=model.dtype)
            except ParameterBudgetError as err:
                self.fail(
                    f"layer {i} ({layer.name!r}, {type(layer).__name__}) as described would "
                    f"create an array of shape {err.shape} ({err.values:,} values), but the "
                    f"file stores {stored.get(i, 0):,} values for it; the description does "
                    "not match the weights",
                    err,
                )
            except _INVALID as err:
                self.fail(
                    f"the architecture description is incomplete or invalid "
                    f"(layer {i}: {_clip(err)})",
                    err,
                )
            self.compare(i, layer, members)
            shape = layer.output_shape
        expected = set(_weights(model))
        for key in members:
            if key != "__model__" and key not in expected:
                self.fail(f"unknown member {key} (no layer of the architecture has it)")
        return model

    def build_graph(self, arch, members, stored):
        """A functional model: its layers made under the budget, then its calls replayed on
        symbolic inputs (which builds each layer, under a budget of what the file stores for
        it), then the stored shapes compared."""
        from nn.graph import Input, symbolic_call
        from nn.layers import LAYER_CLASSES
        from nn.layers.base import ParameterBudgetError, parameter_budget
        from nn.registry import model_class

        with parameter_budget(sum(stored.values()) + BUILD_SLACK):
            layers = []
            for i, spec in enumerate(arch["layers"]):
                try:
                    layers.append(self.layer(spec, LAYER_CLASSES))
                except _INVALID as err:
                    self.fail(
                        f"layer {i} ({spec['class']}) of the architecture is invalid "
                        f"({_clip(err)})",
                        err,
                    )
        inputs = [Input(tuple(spec["shape"]), name=spec["name"], dtype=arch["dtype"])
                  for spec in arch["inputs"]]  # fmt: skip
        tensors = []

        def tensor(ref):
            return inputs[ref[1]] if ref[0] == "input" else tensors[ref[1]]

        for j, node in enumerate(arch["nodes"]):
            i = node["layer"]
            layer = layers[i]
            args = [tensor(r) for r in node["inputs"]]
            try:
                with parameter_budget(stored.get(i, 0) + BUILD_SLACK if not layer.built else 0):
                    tensors.append(symbolic_call(layer, args if len(args) > 1 else args[0]))
            except ParameterBudgetError as err:
                self.fail(
                    f"layer {i} ({layer.name!r}, {type(layer).__name__}) as described would "
                    f"create an array of shape {err.shape} ({err.values:,} values), but the "
                    f"file stores {stored.get(i, 0):,} values for it; the description does "
                    "not match the weights",
                    err,
                )
            except _INVALID as err:
                self.fail(f"node {j} (layer {i}) cannot be replayed ({_clip(err)})", err)
        outputs = [tensor(r) for r in arch["outputs"]]
        model_cls = model_class("Model")
        try:
            model = model_cls(
                inputs[0] if arch["single_input"] else inputs,
                outputs[0] if arch["single_output"] else outputs,
                name=arch["name"],
                seed=arch["seed"],
            )
        except _INVALID as err:
            self.fail(f"the graph is invalid ({_clip(err)})", err)
        for i, layer in enumerate(model.layers):
            self.compare(i, layer, members)
        expected = set(_weights(model))
        for key in members:
            if key != "__model__" and key not in expected:
                self.fail(f"unknown member {key} (no layer of the architecture has it)")
        return model

    @staticmethod
    def layer(spec, classes):
        config = dict(spec["config"])
        config.pop("input_shape", None)  # the architecture's input_shape builds the model
        inner = config.get("layer")
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            inner_config = {k: v for k, v in inner["config"].items() if k != "input_shape"}
            config["layer"] = {**inner, "config": inner_config}
        return classes[spec["class"]](**config)

    def compare(self, i, layer, members):
        for kind, prefix, arrays in (
            ("weight", "weights", layer.params),
            ("state", "state", layer.state),
        ):
            for name, value in arrays.items():
                key = f"{prefix}/{i}/{name}"
                if key not in members:
                    self.fail(f"{kind} {key} of layer {layer.name!r} is missing")
                shape = members[key][2]
                if shape != value.shape:
                    self.fail(
                        f"{kind} {key} of layer {layer.name!r} has shape {shape}, the "
                        f"layer needs {value.shape}"
                    )


def load_model(path):
    """Read a model written by ``save_model``; every problem is a ``ModelFileError``.

    The file is checked before anything large is allocated (see the module docstring for the
    order and the limits). The model's ``source_path`` is set to ``path``.
    """
    path = Path(path)
    if not path.exists() and path.suffix != ".npz":  # save_model("m.keras") wrote m.keras.npz
        written = path.with_suffix(path.suffix + ".npz")
        path = written if written.exists() else path
    reader = _Reader(path)
    if not path.exists():
        reader.fail("no such model file")
    if path.is_dir():
        reader.fail("is a folder, not a model file")
    if not path.is_file():
        reader.fail("is not a regular file (a model file is an .npz file)")
    try:
        size = path.stat().st_size
        if size > MAX_TOTAL_BYTES + 2**26:
            reader.fail(f"the file is {size:,} bytes, more than a model file may be")
        _count_members(reader)
        with zipfile.ZipFile(path) as zf:
            return _load(reader, zf)
    except ModelFileError:
        raise
    except MemoryError as err:  # nothing above should allocate much; say so if it does
        reader.fail("reading it needs more memory than is available", err)
    except (zipfile.BadZipFile, EOFError, ValueError, zlib.error) as err:
        reader.fail(f"not a readable .npz model file (truncated or corrupt: {_clip(err)})", err)
    except OSError as err:
        reader.fail(f"cannot be read ({err.strerror or err})", err)
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError) as err:
        # a safety net: every check above should have named the problem first
        reader.fail(
            f"is not a model file this library can read ({type(err).__name__}: {_clip(err)})", err
        )


def _count_members(reader: _Reader):
    """Refuse a zip directory of more than MAX_MEMBERS entries before ``zipfile`` reads it
    (it makes an object of every entry). The count is in the end-of-directory record, read
    with zipfile's own (private) reader; without that reader, the check after it suffices."""
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:
        return
    with open(reader.path, "rb") as f:
        try:
            end = end_record(f)
            entries = int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else 0
        except Exception:  # a damaged record: zipfile.ZipFile says what is wrong
            return
    if entries > MAX_MEMBERS:
        reader.fail(
            f"the zip directory lists {entries:,} members, more than the "
            f"{MAX_MEMBERS:,} a model file may have"
        )


def _load(reader: _Reader, zf: zipfile.ZipFile):
    if len(zf.infolist()) > MAX_MEMBERS:
        reader.fail(f"the zip directory lists more than {MAX_MEMBERS:,} members")
    members = reader.directory(zf)
    description = reader.description(zf, members["__model__"][0])
    version = reader.version(description)
    arch = reader.architecture(description)
    compiled = reader.optimizer(description)
    metadata = description.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        reader.fail(f"the metadata is {_kind(metadata)}, not an object")
    model = reader.build(arch, members)
    arrays = {}
    for key, (info, _, _) in members.items():
        if key == "__model__":
            continue
        arrays[key] = reader.read(zf, info)
    if version >= 2:
        intact = _checksum_v2(description, arrays) == description["sha256"]
    else:
        intact = _checksum(arrays) == description["weights_sha256"]
    if not intact:
        what = "the description or the weights" if version >= 2 else "the weights"
        reader.fail(
            f"{what} do not match their checksum; the file was modified or damaged "
            "after it was saved"
        )
    for i, layer in enumerate(model.layers):
        for prefix, kind, store in (
            ("weights", "weight", layer.params),
            ("state", "state", layer.state),
        ):
            for name, value in store.items():
                key = f"{prefix}/{i}/{name}"
                if not np.isfinite(arrays[key]).all():
                    reader.fail(
                        f"{kind} {key} of layer {layer.name!r} holds NaN or infinite "
                        "values (the model diverged when it was trained)"
                    )
                store[name] = arrays[key].astype(value.dtype)
        layer.zero_grad()
    if compiled:
        model.compile(**compiled)
    model.metadata = metadata
    model.source_path = reader.path
    return model
