"""Hostile numbers in training (issue 16, item 6 and the ``fit`` half of item 9): divergence
stops training with the epoch and the batch named, a diverged model is never saved, and
nonsense arguments and data are refused instead of training nothing or garbage."""

from __future__ import annotations

import numpy as np
import pytest

from nn.callbacks import LearningRateScheduler
from nn.layers import LSTM, AttentionPooling1D, Conv2D, Dense, Flatten
from nn.models import Sequential, TrainingDivergedError
from nn.optimizers import SGD, Adam
from nn.schedules import ExponentialDecay

pytestmark = pytest.mark.ch04_training

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 6))
LABELS = RNG.integers(0, 3, 64)
ONEHOT = np.eye(3)[LABELS]


def classifier(optimizer=None, loss="categorical_crossentropy", dtype="float64"):
    model = Sequential(seed=0, dtype=dtype)
    model.add(Dense(8, activation="relu", input_shape=(6,)))
    model.add(Dense(3, activation=None if loss == "mse" else "softmax"))
    model.compile(optimizer or SGD(0.1), loss, metrics=["accuracy"])
    return model


# ---- divergence ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "loss, dtype",
    [("categorical_crossentropy", "float32"), ("mse", "float32"), ("mse", "float64")],
)
def test_sgd_at_a_learning_rate_of_a_million_stops_with_the_epoch_and_batch(loss, dtype):
    model = classifier(SGD(1e6), loss, dtype)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        model.fit(X, ONEHOT, epochs=3, batch_size=8, verbose=0)
    err = info.value
    assert isinstance(err, ValueError) and err.epoch == 1 and 1 <= err.batch <= 8
    assert f"training diverged at epoch 1/3, batch {err.batch}/8" in str(err)
    assert "lower learning rate" in str(err) and "this one is 1e+06" in str(err)
    assert err.history.epoch == []  # no epoch was completed


def test_a_diverged_model_is_never_saved(tmp_path):
    model = classifier(SGD(1e6), "mse", "float32")
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError):
        model.fit(X, ONEHOT, epochs=3, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="holds .* NaN or infinite value.*not saved"):
        model.save(tmp_path / "diverged.npz")
    assert list(tmp_path.iterdir()) == []


class PoisonedSGD(SGD):
    """SGD whose third update leaves a NaN in the first weight (after its batch's loss)."""

    def apply(self, params_and_grads):
        pairs = list(params_and_grads)
        super().apply(pairs)
        if self.iterations == 3:
            pairs[0][0][0, 0] = np.nan


def test_weights_made_non_finite_by_the_last_update_of_an_epoch_are_caught():
    """The loss of batch 3 was finite; its update was not: found at the epoch's end."""
    model = classifier(PoisonedSGD(0.1))
    with pytest.raises(TrainingDivergedError) as info:
        model.fit(X[:24], ONEHOT[:24], epochs=5, batch_size=8, verbose=0)
    assert (info.value.epoch, info.value.batch) == (1, 3)
    assert "epoch 1/5, batch 3/3: weight 'kernel' of layer 'dense' holds NaN" in str(info.value)


def test_adam_at_a_learning_rate_of_a_million_is_warned_about():
    """Adam's steps are bounded by the rate, so the loss climbs without becoming NaN (the
    issue's 5.8e20); a thousandfold rise over the first batch's loss is a RuntimeWarning."""
    model = classifier(Adam(1e6), dtype="float32")
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="training is diverging"):
        model.fit(X, ONEHOT, epochs=3, batch_size=8, verbose=0)


def test_ordinary_training_raises_no_divergence_warning(recwarn):
    history = classifier(Adam(1e-2)).fit(X, ONEHOT, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not [w for w in recwarn if "diverging" in str(w.message)]


# ---- learning rates --------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize("rate", [float("nan"), -1.0, float("inf"), -float("inf")])
def test_a_learning_rate_that_is_not_finite_and_non_negative_is_refused(cls, rate):
    with pytest.raises(ValueError, match=f"{cls.__name__}: learning_rate must be a finite"):
        cls(rate)


@pytest.mark.parametrize("rate", ["0.1", True, None, [0.1]])
def test_a_learning_rate_that_is_not_a_number_is_refused(rate):
    with pytest.raises(TypeError, match="learning_rate must be a number or a nn.schedules"):
        SGD(rate)


def test_a_schedule_is_still_a_learning_rate():
    opt = SGD(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
    assert opt.learning_rate == pytest.approx(0.1)


def test_a_callback_setting_a_nan_rate_is_refused():
    model = classifier(SGD(0.1))
    callback = LearningRateScheduler(lambda epoch, lr: float("nan"))
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        model.fit(X, ONEHOT, epochs=2, callbacks=[callback], verbose=0)


# ---- fit's arguments and data ----------------------------------------------------------------
@pytest.mark.parametrize("epochs", [0, -1, 2.5, True, "3"])
def test_epochs_below_one_or_not_whole_are_refused(epochs):
    with pytest.raises(ValueError, match="fit: epochs must be a whole number >= 1"):
        classifier().fit(X, ONEHOT, epochs=epochs, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -1, 0.5, None])
def test_batch_sizes_below_one_are_refused(batch_size):
    with pytest.raises(ValueError, match="fit: batch_size must be a whole number >= 1"):
        classifier().fit(X, ONEHOT, batch_size=batch_size, verbose=0)


def test_an_empty_training_set_is_refused():
    with pytest.raises(ValueError, match=r"at least one training example, got inputs \(0, 6\)"):
        classifier().fit(X[:0], ONEHOT[:0], verbose=0)


def test_a_validation_split_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match="leaves 0 for training and 1 for validation"):
        classifier().fit(X[:1], ONEHOT[:1], validation_split=0.9, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused(bad):
    x = X.copy()
    x[5, 2] = bad
    with pytest.raises(ValueError, match=r"training inputs hold 1 NaN .* at index \(5, 2\)"):
        classifier().fit(x, ONEHOT, verbose=0)
    with pytest.raises(ValueError, match="the validation inputs hold 1 NaN"):
        classifier().fit(X, ONEHOT, validation_data=(x, ONEHOT), verbose=0)
    with pytest.raises(ValueError, match="the inputs hold 1 NaN"):
        classifier().evaluate(x, ONEHOT)


def test_non_finite_inputs_from_a_sampler_are_refused_in_their_epoch():
    def sampler(epoch, rng):
        return X if epoch == 0 else np.full_like(X, np.nan)

    with pytest.raises(ValueError, match="the training inputs of epoch 2 hold"):
        classifier().fit(sampler, ONEHOT, epochs=2, verbose=0)


def test_non_finite_targets_are_refused():
    y = ONEHOT.copy()
    y[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"the targets hold 1 NaN .* at index \(3, 0\)"):
        classifier().fit(X, y, verbose=0)


def test_fractional_sparse_labels_are_refused_not_truncated():
    model = classifier(loss="sparse_categorical_crossentropy")
    labels = LABELS.astype(float)
    labels[7] = 1.5
    with pytest.raises(ValueError, match=r"needs integer class labels, got 1.5 at index 7"):
        model.fit(X, labels, verbose=0)
    labels[7] = np.nan
    with pytest.raises(ValueError, match="needs integer class labels, got nan"):
        model.fit(X, labels, verbose=0)


def test_whole_float_sparse_labels_are_classes():
    model = classifier(loss="sparse_categorical_crossentropy")
    history = model.fit(X, LABELS.astype(float), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("labels", [LABELS + 3, LABELS - 1], ids=["too large", "negative"])
def test_sparse_labels_outside_the_classes_are_refused(labels):
    model = classifier(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"class labels must be in 0 .. 2 \(the model has 3"):
        model.fit(X, labels, verbose=0)


def test_string_sparse_labels_are_refused():
    model = classifier(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="needs integer class labels, got an array of <U"):
        model.fit(X, np.array(["a"] * 64), verbose=0)


# ---- layers with nothing in them -------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Conv2D(0, 3), "Conv2D filters must be >= 1"),
        (lambda: Conv2D(-2, 3, name="c"), "Conv2D 'c' filters must be >= 1"),
        (lambda: Dense(0), "Dense units must be >= 1"),
        (lambda: Dense(2.5, name="d"), "Dense 'd' units must be >= 1"),
        (lambda: LSTM(0), "LSTM units must be >= 1"),
        (lambda: AttentionPooling1D(0), "AttentionPooling1D units must be >= 1"),
    ],
)
def test_a_layer_of_zero_units_is_refused_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "layers, match",
    [
        ([Dense(2, input_shape=(0,), name="d")], r"layer 'd' \(Dense\) would have inputs shaped"),
        ([Conv2D(2, 3, input_shape=(0, 13, 1))], r"layer 'conv2d' \(Conv2D\) would have inputs"),
        ([Flatten(input_shape=(4, 0, 1))], r"layer 'flatten' \(Flatten\) would have inputs"),
    ],
)
def test_a_layer_whose_input_has_a_zero_dimension_is_refused_at_build(layers, match):
    with pytest.raises(ValueError, match=match):
        Sequential(layers)


# ---- predict and evaluate on nothing ---------------------------------------------------------
def test_predict_on_an_empty_batch_returns_an_empty_array():
    model = classifier()
    out = model.predict(X[:0])
    assert out.shape == (0, 3) and out.dtype == np.float64


def test_evaluate_on_nothing_and_batch_size_zero_are_clear_errors():
    model = classifier()
    with pytest.raises(ValueError, match=r"evaluate needs at least one example"):
        model.evaluate(X[:0], ONEHOT[:0])
    with pytest.raises(ValueError, match="evaluate: batch_size must be a whole number >= 1"):
        model.evaluate(X, ONEHOT, batch_size=0)
    with pytest.raises(ValueError, match="predict: batch_size must be a whole number >= 1"):
        model.predict(X, batch_size=0)
