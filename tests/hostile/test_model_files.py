"""Hostile model files (issue 16, items 2 and 4): every edited, damaged or oversized file is
one ModelFileError naming the file, and refused before anything large is allocated.

Most edits below are *re-signed* (the checksum recomputed, as an attacker or a buggy tool
would), so the check that refuses them is the schema, not the checksum; the checksum itself
is tested on an edit that is not re-signed (swapped labels).
"""

from __future__ import annotations

import io
import json
import math
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from features import MFCCConfig
from nn.layers import Bidirectional, Dense, Flatten, SimpleRNN
from nn.models import Sequential
from nn.optimizers import Adam
from nn.serialization import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    ModelFileError,
    _checksum,
    _checksum_v2,
    load_model,
)
from ser.experiment import pipeline_of, validate_metadata
from ser.inputs import InputSpec

pytestmark = pytest.mark.ch04_training

MEMORY_BOUND = 200 * 2**20  # bytes: what refusing a hostile file may cost at most
LABELS = ["neutral", "happy", "sad"]
N_FRAMES, WIDTH = 4, 5  # the tiny "image" inputs (4 frames x 5 coefficients x 1)


def tiny_model():
    """Flatten + Dense(3, softmax) on (4, 5, 1) images: 63 weights, float64, compiled."""
    model = Sequential(seed=0, dtype="float64")
    model.add(Flatten(input_shape=(N_FRAMES, WIDTH, 1)))
    model.add(Dense(3, activation="softmax"))
    model.compile(Adam(1e-3), "categorical_crossentropy", metrics=["accuracy"])
    model.metadata = {
        "recipe": "tiny",
        "labels": list(LABELS),
        "feature_config": MFCCConfig().to_dict(),
        "inputs": InputSpec(layout="image", n_frames=N_FRAMES).to_dict(),
        "adapt_batchnorm": False,
        "input": "image",
        "n_frames": N_FRAMES,
        "cmvn": {"mean": [0.5] * WIDTH, "std": [2.0] * WIDTH, "n_frames": 100},
    }
    return model


@pytest.fixture
def saved(tmp_path):
    return tiny_model().save(tmp_path / "good.npz")


def members(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    return json.loads(str(arrays.pop("__model__"))), arrays


def write(path, description, arrays, *, resign=True):
    """An .npz model file with this description: a dict (re-signed unless ``resign`` is
    False or the edit removed the checksum) or raw JSON text."""
    if isinstance(description, dict) and resign and "sha256" in description:
        description = dict(description)
        description["sha256"] = _checksum_v2(description, arrays)
    text = description if isinstance(description, str) else json.dumps(description)
    np.savez(path, __model__=np.array(text), **arrays)
    return path


def edited(src, dst, edit, *, resign=True):
    description, arrays = members(src)
    result = edit(description)
    return write(dst, description if result is None else result, arrays, resign=resign)


def refused(path, match=None):
    """load_model(path) raises ModelFileError naming the file; returns the message."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    if match:
        assert match in message, message
    return message


def peak_bytes(fn):
    """The peak Python/NumPy allocation while fn() runs (tracemalloc sees NumPy's data)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def deep(n):
    """Lists nested n deep."""
    return json.loads("[" * n + "]" * n)


def _set(path, value):
    def edit(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _drop(path):
    def edit(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


# ---- the checksum covers the JSON (format version 2); version 1 still loads ------------------
def test_a_saved_model_round_trips_in_format_version_2(saved):
    description, _ = members(saved)
    assert description["format_version"] == 2 and "sha256" in description
    model = load_model(saved)
    assert model.metadata["labels"] == LABELS and model.source_path == saved
    spec, config, cmvn, adapt = validate_metadata(model, saved)
    assert spec.n_frames == N_FRAMES and cmvn.mean.shape == (WIDTH,) and adapt is False


def test_swapped_labels_are_caught_by_the_checksum(saved, tmp_path):
    def swap(d):
        d["metadata"]["labels"] = ["happy", "neutral", "sad"]

    path = edited(saved, tmp_path / "swapped.npz", swap, resign=False)
    refused(path, "the description or the weights do not match their checksum")


@pytest.mark.parametrize("part", ["architecture", "compile", "library_version"])
def test_any_unsigned_edit_of_the_description_is_caught(saved, tmp_path, part):
    def edit(d):
        if part == "architecture":
            d["architecture"]["layers"][1]["config"]["activation"] = "sigmoid"
        elif part == "compile":
            d["compile"]["optimizer"]["learning_rate"] = 0.5
        else:
            d["library_version"] = "9.9"

    refused(edited(saved, tmp_path / "e.npz", edit, resign=False), "do not match their checksum")


def version_1(src, dst, edit=None):
    """The file as an earlier release wrote it: format_version 1, weights_sha256 only."""
    description, arrays = members(src)
    description.pop("sha256")
    description["format_version"] = 1
    description["weights_sha256"] = _checksum(arrays)
    if edit:
        edit(description)
    return write(dst, description, arrays, resign=False)


def test_a_version_1_file_of_an_earlier_release_still_loads(saved, tmp_path):
    path = version_1(saved, tmp_path / "v1.npz")
    model = load_model(path)
    x = np.random.default_rng(0).standard_normal((2, N_FRAMES, WIDTH, 1))
    np.testing.assert_array_equal(model.predict(x), load_model(saved).predict(x))
    validate_metadata(model, path)


def test_a_version_1_file_keeps_its_weights_checksum(saved, tmp_path):
    description, arrays = members(version_1(saved, tmp_path / "v1.npz"))
    arrays["weights/1/bias"] = arrays["weights/1/bias"] + 1.0
    path = write(tmp_path / "v1-edited.npz", description, arrays, resign=False)
    refused(path, "the weights do not match their checksum")


def test_a_version_1_file_with_nan_weights_is_refused(saved, tmp_path):
    """A diverged model saved by an earlier release: refused, never predicted with."""
    description, arrays = members(version_1(saved, tmp_path / "v1.npz"))
    arrays["weights/1/kernel"][0, 0] = np.nan
    description["weights_sha256"] = _checksum(arrays)
    path = write(tmp_path / "nan.npz", description, arrays, resign=False)
    refused(path, "weight weights/1/kernel of layer 'dense' holds NaN or infinite values")


# ---- format_version --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, shown",
    [
        (True, "format version True (a boolean) is not supported"),
        ("1", "format version '1' (a string) is not supported"),
        (1.0, "format version 1.0 (a number) is not supported"),
        (None, "format version None (null) is not supported"),
        (3, "format version 3 is not supported"),
        (0, "format version 0 is not supported"),
    ],
)
def test_format_version_must_be_exactly_a_known_integer(saved, tmp_path, value, shown):
    def edit(d):
        d["format_version"] = value

    message = refused(edited(saved, tmp_path / "v.npz", edit), shown)
    assert message.endswith("this library reads versions 1 and 2") or "(a newer" in message


def test_a_missing_format_version_is_named(saved, tmp_path):
    path = edited(saved, tmp_path / "v.npz", _drop(["format_version"]))
    refused(path, "the description has no format_version")


# ---- edited descriptions (re-signed: the schema refuses them) --------------------------------
DENSE = ["architecture", "layers", 1, "config"]
EDITS = {
    "description is a list": (lambda d: [d], "is a list, not an object"),
    "description is a string": (lambda d: '"model"', "is a string, not an object"),
    "description is not JSON": (lambda d: "{'format': oops", "not valid JSON"),
    "description nested 100000 deep": (
        lambda d: "[" * 100_000 + "]" * 100_000,
        "nested",
    ),
    "metadata nested 40 deep": (_set(["metadata", "x"], deep(40)), "nested more than 32 deep"),
    "format is another": (_set(["format"], "keras"), "format 'keras' is not 'ser-course-model'"),
    "checksum is missing": (_drop(["sha256"]), "checksum 'sha256' is missing"),
    "architecture is missing": (_drop(["architecture"]), "has no architecture"),
    "architecture is a list": (_set(["architecture"], []), "architecture is a list"),
    "architecture class": (
        _set(["architecture", "class"], "Functional"),
        "is not one of this library's models (Model, Sequential)",
    ),
    "layers are missing": (_drop(["architecture", "layers"]), "has no 'layers'"),
    "layers are empty": (_set(["architecture", "layers"], []), "list of 1 to 1000 layers"),
    "layers are an object": (_set(["architecture", "layers"], {}), "list of 1 to 1000 layers"),
    "1001 layers": (
        _set(["architecture", "layers"], [{"class": "Flatten", "config": {}}] * 1001),
        "list of 1 to 1000 layers",
    ),
    "seed is negative": (_set(["architecture", "seed"], -1), "'seed' must be an integer >= 0"),
    "seed is true": (_set(["architecture", "seed"], True), "'seed' must be an integer >= 0"),
    "dtype is int8": (_set(["architecture", "dtype"], "int8"), "'dtype' must be 'float32'"),
    "dtype is float16": (_set(["architecture", "dtype"], "float16"), "'dtype' must be"),
    "model name is a list": (_set(["architecture", "name"], [1]), "'name' must be a string"),
    "input_shape has a 0": (_set(["architecture", "input_shape"], [0, 5, 1]), "'input_shape'"),
    "input_shape negative": (_set(["architecture", "input_shape"], [-4, 5, 1]), "'input_shape'"),
    "input_shape a string": (_set(["architecture", "input_shape"], "4,5,1"), "'input_shape'"),
    "input_shape missing": (_drop(["architecture", "input_shape"]), "has no 'input_shape'"),
    "layer spec a string": (_set(["architecture", "layers", 1], "Dense"), "layer 1 must be an"),
    "unknown layer class": (
        _set(["architecture", "layers", 1, "class"], "Transformer"),
        "unknown layer class 'Transformer'",
    ),
    "layer config a list": (_set(DENSE, [3]), "has no config object"),
    "units 0": (_set([*DENSE, "units"], 0), "units must be >= 1"),
    "units negative": (_set([*DENSE, "units"], -3), "units must be >= 1"),
    "units a string": (_set([*DENSE, "units"], "3"), "units must be >= 1"),
    "units a fraction": (_set([*DENSE, "units"], 2.5), "units must be >= 1"),
    "units true": (_set([*DENSE, "units"], True), "units must be >= 1"),
    "unknown layer argument": (_set([*DENSE, "colour"], "red"), "unexpected keyword"),
    "unknown activation": (_set([*DENSE, "activation"], "swish"), "unknown activation"),
    "activation a list": (_set([*DENSE, "activation"], ["relu"]), "layer 1 (Dense)"),
    "layer name a list": (_set([*DENSE, "name"], ["x"]), "its name must be a string"),
    "layer dtype complex": (_set([*DENSE, "dtype"], "complex128"), "is not float32/float64"),
    "layer names repeat": (_set([*DENSE, "name"], "flatten"), "already in the model"),
    "compile is a list": (_set(["compile"], []), "compile settings are a list"),
    "unknown loss": (_set(["compile", "loss"], "hinge"), "unknown loss 'hinge'"),
    "unknown metric": (_set(["compile", "metrics"], ["f1"]), "not a list of 'accuracy'"),
    "unknown optimizer": (
        _set(["compile", "optimizer", "class"], "Adagrad"),
        "unknown optimizer 'Adagrad'",
    ),
    "optimizer a number": (_set(["compile", "optimizer"], 3), "unknown optimizer 3"),
    "learning rate NaN": (
        _set(["compile", "optimizer", "learning_rate"], float("nan")),
        "learning_rate must be a finite number >= 0",
    ),
    "learning rate negative": (
        _set(["compile", "optimizer", "learning_rate"], -1.0),
        "learning_rate must be a finite number >= 0",
    ),
    "unknown optimizer argument": (
        _set(["compile", "optimizer", "warp"], 9),
        "optimizer settings are invalid",
    ),
    "metadata a list": (_set(["metadata"], [1, 2]), "the metadata is a list, not an object"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_description_is_one_clear_error(saved, tmp_path, name):
    edit, match = EDITS[name]
    refused(edited(saved, tmp_path / "edited.npz", edit), match)


def test_a_bidirectional_wrapping_a_dense_layer_is_refused(tmp_path):
    model = Sequential(seed=0, dtype="float64")
    model.add(Bidirectional(SimpleRNN(2), input_shape=(3, 2)))
    model.add(Dense(2, activation="softmax"))
    path = model.save(tmp_path / "bi.npz")
    assert load_model(path).count_params() == model.count_params()
    dense = {"class": "Dense", "config": {"units": 2}}
    edit = _set(["architecture", "layers", 0, "config", "layer"], dense)
    refused(edited(path, tmp_path / "e.npz", edit), "wraps a recurrent layer")
    edit = _set(["architecture", "layers", 0, "config", "layer", "class"], "Nope")
    refused(edited(path, tmp_path / "e2.npz", edit), "unknown layer class 'Nope'")


# ---- weights of the wrong kind ---------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        np.zeros((20, 3), np.float16),
        np.zeros((20, 3), np.int8),
        np.zeros((20, 3), np.int64),
        np.zeros((20, 3), np.complex64),
        np.zeros((20, 3), np.complex128),
        np.zeros((20, 3), bool),
        np.full((20, 3), "0.5"),
    ],
    ids=lambda a: str(a.dtype),
)
def test_weights_that_are_not_float32_or_float64_are_refused(saved, tmp_path, value):
    description, arrays = members(saved)
    arrays["weights/1/kernel"] = value
    path = write(tmp_path / "dtype.npz", description, arrays)
    refused(path, f"holds {value.dtype} values; weights must be float32 or float64")


def test_object_weights_are_refused_from_the_header_never_unpickled(saved, tmp_path):
    description, arrays = members(saved)
    arrays["weights/1/kernel"] = np.array([{"a": 1}, None], dtype=object)
    path = write(tmp_path / "object.npz", description, {**arrays})  # np.savez pickles it
    refused(path, "holds object values; weights must be float32 or float64")


def test_weights_of_another_shape_are_named(saved, tmp_path):
    description, arrays = members(saved)
    arrays["weights/1/kernel"] = np.zeros((20, 4))
    refused(
        write(tmp_path / "shape.npz", description, arrays),
        "weight weights/1/kernel of layer 'dense' has shape (20, 4), the layer needs (20, 3)",
    )


@pytest.mark.parametrize("key", ["extra", "weights/1/extra", "weights/7/kernel", "state/0/x"])
def test_unknown_members_are_refused(saved, tmp_path, key):
    description, arrays = members(saved)
    arrays[key] = np.zeros(2)
    refused(write(tmp_path / "extra.npz", description, arrays), "unknown member")


def test_a_member_that_is_not_an_npy_array_is_refused(saved, tmp_path):
    path = tmp_path / "readme.npz"
    path.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("README.txt", "hello")
    refused(path, "unknown member 'README.txt'")


def test_a_member_stored_twice_is_refused(saved, tmp_path):
    path = tmp_path / "twice.npz"
    path.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "a") as zf:
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("weights/1/bias.npy", src.read("weights/1/bias.npy"))
    refused(path, "a member appears twice")


def test_a_member_compressed_another_way_is_refused(saved, tmp_path):
    path = tmp_path / "lzma.npz"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            method = zipfile.ZIP_LZMA if "kernel" in info.filename else zipfile.ZIP_STORED
            zf.writestr(info.filename, src.read(info), compress_type=method)
    refused(path, "uses compression method 14")


def test_a_description_that_is_not_a_string_is_refused(saved, tmp_path):
    _, arrays = members(saved)
    np.savez(tmp_path / "number.npz", __model__=np.array(3.0), **arrays)
    refused(tmp_path / "number.npz", "member __model__ must be a JSON string")


def test_truncated_foreign_missing_and_folder_paths_are_one_error(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "cut.npz", "not a readable .npz model file")
    (tmp_path / "text.npz").write_text("not a zip")
    refused(tmp_path / "text.npz", "not a readable .npz model file")
    (tmp_path / "empty.npz").write_bytes(b"")
    refused(tmp_path / "empty.npz", "not a readable .npz model file")
    np.savez(tmp_path / "foreign.npz", a=np.ones(3))
    refused(tmp_path / "foreign.npz", "not a model saved by this library")
    refused(tmp_path / "nope.npz", "no such model file")
    (tmp_path / "dir.npz").mkdir()
    refused(tmp_path / "dir.npz", "is a folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    refused(tmp_path / "pipe.npz", "is not a regular file")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads all")
def test_an_unreadable_file_is_one_error(saved, tmp_path):
    path = tmp_path / "locked.npz"
    path.write_bytes(saved.read_bytes())
    path.chmod(0)
    try:
        refused(path, "cannot be read (Permission denied)")
    finally:
        path.chmod(0o600)


def test_big_endian_float_weights_are_floats(saved, tmp_path):
    description, arrays = members(saved)
    arrays = {k: v.astype(">f8") for k, v in arrays.items()}
    model = load_model(write(tmp_path / "big.npz", description, arrays))
    np.testing.assert_array_equal(
        model.layers[1].params["kernel"], load_model(saved).layers[1].params["kernel"]
    )


def test_a_damaged_member_is_caught_by_its_crc(saved, tmp_path):
    """A flipped byte inside a stored weight: zipfile's CRC or the checksum refuses it."""
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("weights/1/kernel.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(data))
    refused(tmp_path / "flip.npz")


# ---- memory bounds ---------------------------------------------------------------------------
@pytest.mark.parametrize("units", [20_000_000, 10**12])
def test_a_description_claiming_a_huge_dense_layer_costs_nothing(saved, tmp_path, units):
    """The issue's 2e7-unit JSON took 15 GB before the shapes were compared; 1e12 units gave
    a MemoryError. Each layer is built under a budget of what the file stores for it."""
    path = edited(saved, tmp_path / "huge.npz", _set([*DENSE, "units"], units))
    message = None

    def load():
        nonlocal message
        message = refused(path, "layer 1 ('dense', Dense) as described would create an array")

    assert peak_bytes(load) < MEMORY_BOUND
    assert f"of shape (20, {units})" in message and "the file stores 63 values for it" in message


def test_a_description_claiming_a_huge_input_costs_nothing(saved, tmp_path):
    path = edited(
        saved, tmp_path / "wide.npz", _set(["architecture", "input_shape"], [10**9, 5, 1])
    )
    message = "would create an array of shape (5000000000, 3)"
    assert peak_bytes(lambda: refused(path, message)) < MEMORY_BOUND


def test_a_header_claiming_6_gb_in_a_small_member_is_refused_unread(saved, tmp_path):
    """A .npy header claiming (750_000_000,) float64 over a 64-byte member."""
    description, arrays = members(saved)
    path = write(tmp_path / "claim.npz", description, arrays)
    header = {"descr": "<f8", "fortran_order": False, "shape": (750_000_000,)}
    with zipfile.ZipFile(path, "a") as zf, zf.open("state/1/claim.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(np.zeros(8).tobytes())
    message = None

    def load():
        nonlocal message
        message = refused(path)

    assert peak_bytes(load) < MEMORY_BOUND
    assert "its header claims float64 (750000000,) (6,000,000,128 bytes)" in message


def stream_zeros(zf, name, shape):
    """A deflated .npy member of float64 zeros, written 8 MiB at a time."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    left, chunk = math.prod(shape) * 8, bytes(8 * 2**20)
    with zf.open(name, "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header)
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory):
    """A model file whose Dense kernel is a deflated member of just over MAX_MEMBER_BYTES of
    zeros (about 540 MB, about half a megabyte on disk), with a description that matches it,
    so that the member limit is the only check between the loader and a half-gigabyte read
    (the issue's 6 GB member is refused by the same rule; a bigger one proves no more)."""
    folder = tmp_path_factory.mktemp("bomb")
    description, _ = members(tiny_model().save(folder / "tiny.npz"))
    units = MAX_MEMBER_BYTES // (20 * 8) + 2**16  # a (20, units) float64 kernel
    description["architecture"]["layers"][1]["config"]["units"] = units
    text = io.BytesIO()
    np.lib.format.write_array(text, np.array(json.dumps(description)))
    path = folder / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("__model__.npy", text.getvalue())
        stream_zeros(zf, "weights/1/kernel.npy", (20, units))
        stream_zeros(zf, "weights/1/bias.npy", (units,))
    return path


def test_a_small_file_with_a_deflated_half_gigabyte_member_costs_nothing(zip_bomb):
    assert zip_bomb.stat().st_size < 8 * 2**20
    message = None

    def load():
        nonlocal message
        message = refused(zip_bomb)

    assert peak_bytes(load) < MEMORY_BOUND
    assert "member weights/1/kernel.npy would expand to" in message
    assert f"more than the {MAX_MEMBER_BYTES:,} a model file may hold in one member" in message


def test_a_zip_directory_of_too_many_members_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(MAX_MEMBERS + 1):
            zf.writestr(f"weights/0/w{i}.npy", b"")
    refused(path, f"lists {MAX_MEMBERS + 1:,} members")


# ---- save_model never writes a diverged model ------------------------------------------------
def test_a_model_with_nan_weights_is_never_saved(tmp_path):
    model = tiny_model()
    model.layers[1].params["kernel"][3, 1] = np.inf
    with pytest.raises(ValueError, match=r"layer 'dense' \(Dense\): weight 'kernel'"):
        model.save(tmp_path / "nan.npz")
    assert list(tmp_path.iterdir()) == []


# ---- the application's metadata (ser.experiment.validate_metadata) ---------------------------
META = ["metadata"]
METADATA_EDITS = {
    "labels missing": (_drop([*META, "labels"]), "has no label names"),
    "labels a string": (_set([*META, "labels"], "neutral"), "labels must be a list of names"),
    "labels empty": (_set([*META, "labels"], []), "labels must be a list of names"),
    "labels not strings": (_set([*META, "labels"], [1, 2, 3]), "labels must be a list"),
    "labels too few": (_set([*META, "labels"], ["neutral", "happy"]), "names 2 labels"),
    "labels too many": (_set([*META, "labels"], [*LABELS, "angry"]), "names 4 labels"),
    "labels repeat": (_set([*META, "labels"], ["angry", "angry", "sad"]), "repeat a name"),
    "feature_config missing": (_drop([*META, "feature_config"]), "has no feature config"),
    "feature_config a list": (_set([*META, "feature_config"], [1]), "feature config is invalid"),
    "feature_config unknown key": (
        _set([*META, "feature_config", "colour"], 1),
        "feature config is invalid",
    ),
    "feature_config bad value": (
        _set([*META, "feature_config", "hop_length"], 0),
        "feature config is invalid",
    ),
    "inputs a string": (_set([*META, "inputs"], "image"), "input settings are invalid"),
    "inputs n_frames 0": (_set([*META, "inputs", "n_frames"], 0), "input settings are invalid"),
    "inputs n_frames negative": (
        _set([*META, "inputs", "n_frames"], -128),
        "input settings are invalid",
    ),
    "inputs n_frames true": (
        _set([*META, "inputs", "n_frames"], True),
        "input settings are invalid",
    ),
    "inputs unknown key": (_set([*META, "inputs", "colour"], 1), "input settings are invalid"),
    "inputs n_frames disagree": (_set([*META, "inputs", "n_frames"], 9), "of 9 frames"),
    "inputs layout disagrees": (_set([*META, "inputs", "layout"], "sequence"), "sequences of"),
    "cmvn missing": (_drop([*META, "cmvn"]), "has none (metadata 'cmvn')"),
    "cmvn null": (_set([*META, "cmvn"], None), "has none (metadata 'cmvn')"),
    "cmvn a list": (_set([*META, "cmvn"], [0.0]), "CMVN statistics are a list"),
    "cmvn mean too short": (_set([*META, "cmvn", "mean"], [0.0] * 3), "CMVN mean must be"),
    "cmvn mean strings": (_set([*META, "cmvn", "mean"], ["0"] * WIDTH), "CMVN mean must be"),
    "cmvn std missing": (_drop([*META, "cmvn", "std"]), "CMVN std must be a list of 5"),
    "cmvn std NaN": (_set([*META, "cmvn", "std"], [float("nan")] * WIDTH), "NaN or infinite"),
    "cmvn std negative": (_set([*META, "cmvn", "std"], [-1.0] * WIDTH), "negative values"),
    "cmvn n_frames 0": (_set([*META, "cmvn", "n_frames"], 0), "CMVN n_frames must be"),
    "adapt_batchnorm a string": (_set([*META, "adapt_batchnorm"], "yes"), "adapt_batchnorm"),
}


@pytest.mark.parametrize("name", list(METADATA_EDITS))
def test_edited_metadata_is_one_clear_error_when_the_model_is_used(saved, tmp_path, name):
    edit, match = METADATA_EDITS[name]
    path = edited(saved, tmp_path / "meta.npz", edit)
    model = load_model(path)  # the file itself is sound; its use is not
    with pytest.raises(ModelFileError, match=None) as info:
        validate_metadata(model, path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)
    with pytest.raises(ModelFileError) as again:  # evaluate and predict_files go through here
        pipeline_of(model)
    assert str(again.value) == str(info.value)


@pytest.mark.parametrize("n_frames", [0, -3, "128", 2.5, None])
def test_a_file_older_than_input_specs_with_a_bad_n_frames_is_refused(saved, tmp_path, n_frames):
    def edit(d):
        del d["metadata"]["inputs"]
        d["metadata"]["n_frames"] = n_frames

    model = load_model(edited(saved, tmp_path / "old.npz", edit))
    with pytest.raises(ModelFileError, match="n_frames must be a positive integer"):
        pipeline_of(model)


def test_a_file_older_than_input_specs_is_read_as_the_first_recipes(saved, tmp_path):
    model = load_model(edited(saved, tmp_path / "old.npz", _drop(["metadata", "inputs"])))
    spec, _, cmvn, _ = pipeline_of(model)
    assert spec.layout == "image" and spec.n_frames == N_FRAMES and cmvn.n_frames == 100
