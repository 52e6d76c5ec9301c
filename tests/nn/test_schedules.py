"""Learning-rate schedules (LR-exp, LR-pw, LR-cos) against their formulas and Keras's documented
values; the optimizers' step counting; saving a scheduled optimizer; LearningRateScheduler and
ReduceLROnPlateau in a fit; the epoch-begin and batch-end callback hooks."""

import json
import math

import numpy as np
import pytest

from nn import backend, optimizers
from nn.callbacks import Callback, LearningRateScheduler, ReduceLROnPlateau
from nn.layers import Dense
from nn.models import Sequential, load_model
from nn.optimizers import SGD, Adam, adam_update
from nn.schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    deserialize,
    serialize,
)

pytestmark = pytest.mark.ch04_training


# ---- the schedules -----------------------------------------------------------------------------
def test_exponential_decay_formula_and_keras_values():
    lr = ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    for step in (0, 1, 4, 7, 40):
        assert lr(step) == pytest.approx(0.1 * 0.5 ** (step / 4), rel=1e-15)  # eq. LR-exp
    stairs = ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    assert [stairs(s) for s in (0, 3, 4, 7, 8)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    # keras/src/optimizers/schedules/learning_rate_schedule_test.py
    assert ExponentialDecay(0.05, 10, 0.96)(5) == pytest.approx(0.05 * 0.96 ** (5.0 / 10.0))
    keras_stairs = ExponentialDecay(0.1, 3, 0.96, staircase=True)
    assert keras_stairs(1) == keras_stairs(2) == pytest.approx(0.1)
    assert keras_stairs(100) == pytest.approx(0.1 * 0.96 ** (100 // 3))
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        ExponentialDecay(0.1, 0, 0.5)


def test_piecewise_constant_decay_keras_documented_example():
    """Keras's docstring: 1.0 for the first 100001 steps, 0.5 for the next 10000, then 0.1."""
    lr = PiecewiseConstantDecay([100000, 110000], [1.0, 0.5, 0.1])
    assert [lr(s) for s in (0, 100000, 100001, 110000, 110001, 10**9)] == [
        1.0,
        1.0,
        0.5,
        0.5,
        0.1,
        0.1,
    ]
    keras_test = PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001])
    assert [keras_test(s) for s in (-999, 100, 105, 110, 120, 999)] == [
        1.0,
        1.0,
        0.1,
        0.1,
        0.01,
        0.001,
    ]
    with pytest.raises(ValueError, match="one value more than boundaries"):
        PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match="increase strictly"):
        PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1])


def keras_cosine(step, decay_steps, alpha=0.0):
    """``np_cosine_decay`` of Keras's tests."""
    step = min(step, decay_steps)
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps)) + alpha


def test_cosine_decay_formula_warmup_and_keras_values():
    for alpha in (0.0, 0.1):
        lr = CosineDecay(1.0, 1000, alpha)
        for step in range(0, 1500, 250):  # Keras's test_decay and test_alpha
            assert lr(step) == pytest.approx(keras_cosine(step, 1000, alpha), abs=1e-12)
    assert CosineDecay(0.2, 10)(5) == pytest.approx(0.1)  # half way: half the rate
    assert CosineDecay(0.2, 10, alpha=0.25)(10) == pytest.approx(0.05)  # the floor, alpha lr
    warm = CosineDecay(0.0, 1000, warmup_target=10.0, warmup_steps=2000)
    for step in range(0, 3000, 250):  # Keras's test_warmup_decay
        want = step / 2000 * 10.0 if step <= 2000 else 10.0 * keras_cosine(step - 2000, 1000)
        assert warm(step) == pytest.approx(want, abs=1e-12)
    # the warmup starts at initial_learning_rate (Keras's code; its docstring omits "+ lr_0")
    lr = CosineDecay(0.1, 10, warmup_target=0.5, warmup_steps=4)
    assert [lr(s) for s in (0, 2, 4)] == pytest.approx([0.1, 0.3, 0.5])
    assert lr(14) == lr(100) == pytest.approx(0.0, abs=1e-15)
    assert CosineDecay(0.1, 10, warmup_steps=5)(0) == 0.1  # no target: no warmup


@pytest.mark.parametrize(
    "schedule",
    [
        ExponentialDecay(0.05, 10, 0.96, staircase=True),
        PiecewiseConstantDecay([10, 20], [1.0, 2.0, 3.0]),
        CosineDecay(0.05, 10, alpha=0.1, warmup_target=0.2, warmup_steps=2),
    ],
    ids=["exponential", "piecewise", "cosine"],
)
def test_schedules_round_trip_through_their_config(schedule):
    spec = json.loads(json.dumps(serialize(schedule)))  # as a model file stores it
    again = deserialize(spec)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(s) for s in range(0, 30, 3)] == [schedule(s) for s in range(0, 30, 3)]
    opt = optimizers.get(json.loads(json.dumps(Adam(schedule).get_config())))
    assert isinstance(opt, Adam) and opt.learning_rate == schedule(0)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        deserialize({"class": "Exotic", "config": {}})


# ---- optimizers with a schedule ----------------------------------------------------------------
class Recording(LearningRateSchedule):
    """lr = 1 / (step + 1), and the steps it was asked for."""

    def __init__(self):
        self.steps = []

    def __call__(self, step):
        self.steps.append(step)
        return 1.0 / (step + 1)

    def get_config(self):
        return {}


def test_sgd_evaluates_the_schedule_once_per_update_step():
    schedule = Recording()
    opt = SGD(learning_rate=schedule)
    a, b = np.zeros(2), np.zeros(3)
    for _ in range(3):
        opt.apply([(a, np.ones(2)), (b, np.ones(3))])  # two parameters, one step
    assert schedule.steps == [0, 1, 2] and opt.iterations == 3
    np.testing.assert_allclose(a, -(1 + 1 / 2 + 1 / 3))  # step k used lr = 1 / (k + 1)
    np.testing.assert_allclose(b, a[0])
    assert opt.learning_rate == pytest.approx(1 / 4)  # the rate of the next update


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_adam_with_a_schedule_matches_the_rule_step_by_step(monkeypatch, impl):
    """Through the backend's Adam (the Numba twin or the reference), with lr(t) per step."""
    monkeypatch.setattr(backend, "ops", backend.implementations(impl))
    schedule = CosineDecay(0.01, 5, warmup_target=0.05, warmup_steps=2)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(6)
    w_ref, state = w.copy(), {}
    opt = Adam(schedule)
    for step in range(8):
        g = rng.standard_normal(6)
        opt.apply([(w, g)])
        adam_update(w_ref, g, state, learning_rate=schedule(step))
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)


def test_fit_with_exponential_decay_gives_keras_losses():
    """Keras's own test (TestFitLRSchedulesFlow): Adam on an ExponentialDecay(0.05, 1, 0.9),
    12 steps; the losses match to Keras's tolerance only if the first update uses step 0."""
    model = Sequential([Dense(2, kernel_initializer="ones", bias_initializer="ones")])
    optimizer = Adam(learning_rate=ExponentialDecay(0.05, decay_steps=1, decay_rate=0.9))
    model.compile(optimizer=optimizer, loss="mse")
    x = np.arange(32).reshape((16, 2))
    history = model.fit(x, x, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert optimizer.iterations == 4 * 3
    np.testing.assert_allclose(
        history.history["loss"],
        [230.79457092285156, 128.30319213867188, 79.33648681640625],
        rtol=5e-5,
    )


def test_a_scheduled_optimizer_refuses_a_plain_rate():
    opt = SGD(ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="cannot be set to a number"):
        opt.learning_rate = 0.01
    opt.learning_rate = CosineDecay(0.2, 10)  # another schedule replaces it
    assert opt.learning_rate == 0.2
    constant = Adam(0.01)
    constant.learning_rate = 0.5
    assert constant.learning_rate == 0.5 and constant.get_config()["learning_rate"] == 0.5
    with pytest.raises(TypeError, match="a number or a nn.schedules schedule"):
        Adam(lambda step: 0.1)


def test_save_and_load_a_model_whose_optimizer_has_a_schedule(tmp_path, rng):
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 20)]
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    schedule = CosineDecay(0.05, 10, alpha=0.1, warmup_target=0.1, warmup_steps=3)
    model.compile(Adam(schedule, clipnorm=1.0), "categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    again = load_model(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert isinstance(again.optimizer._schedule, CosineDecay)
    # the step count, like Adam's moments, is not saved: a reloaded optimizer starts at 0
    assert model.optimizer.iterations == 8 and again.optimizer.iterations == 0
    assert again.optimizer.learning_rate == schedule(0)


# ---- callbacks ---------------------------------------------------------------------------------
class Recorder(Callback):
    def __init__(self):
        self.events, self.rates = [], []

    def on_epoch_begin(self, epoch, logs):
        self.events.append(("begin", epoch))

    def on_batch_end(self, batch, logs):
        self.events.append(("batch", batch, sorted(logs)))
        self.rates.append(self.model.optimizer.learning_rate)

    def on_epoch_end(self, epoch, logs):
        self.events.append(("end", epoch, logs.get("learning_rate")))


def tiny_task(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]


def tiny_model(optimizer):
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))], seed=1)
    model.compile(optimizer, "categorical_crossentropy", ["accuracy"])
    return model


def test_fit_calls_epoch_begin_and_batch_end():
    x, y = tiny_task(n=10)
    recorder = Recorder()
    tiny_model(SGD(0.1)).fit(x, y, epochs=2, batch_size=4, callbacks=[recorder], verbose=0)
    batch = ["accuracy", "loss"]
    assert recorder.events == [
        ("begin", 0),
        ("batch", 0, batch),
        ("batch", 1, batch),
        ("batch", 2, batch),
        ("end", 0, None),
        ("begin", 1),
        ("batch", 0, batch),
        ("batch", 1, batch),
        ("batch", 2, batch),
        ("end", 1, None),
    ]


def test_learning_rate_scheduler_sets_the_rate_at_each_epoch_begin(capsys):
    x, y = tiny_task()
    recorder = Recorder()
    halve = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2, verbose=1)
    model = tiny_model(SGD(0.1))
    model.fit(x, y, epochs=3, batch_size=6, callbacks=[halve, recorder], verbose=0)
    assert recorder.rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])  # per step
    ends = [e[2] for e in recorder.events if e[0] == "end"]
    assert ends == pytest.approx([0.1, 0.05, 0.025])  # "learning_rate" in the epoch logs
    assert (
        "Epoch 3: LearningRateScheduler setting learning rate to 0.025." in capsys.readouterr().out
    )
    with pytest.raises(TypeError, match="cannot be set to a number"):
        tiny_model(SGD(ExponentialDecay(0.1, 2, 0.5))).fit(x, y, callbacks=[halve], verbose=0)
    with pytest.raises(ValueError, match="the schedule must return a number"):
        model.fit(x, y, callbacks=[LearningRateScheduler(lambda e, lr: "fast")], verbose=0)


def test_reduce_lr_on_plateau_in_a_fit():
    """A rate so small that nothing improves by min_delta: after the first epoch every
    epoch is a plateau, and patience=1 halves the rate each time."""
    x, y = tiny_task()
    recorder = Recorder()
    plateau = ReduceLROnPlateau(factor=0.5, patience=1)
    model = tiny_model(SGD(1e-9))
    model.fit(x, y, epochs=4, validation_data=(x, y), callbacks=[plateau, recorder], verbose=0)
    ends = [e[2] for e in recorder.events if e[0] == "end"]
    assert ends == pytest.approx([1e-9, 1e-9, 5e-10, 2.5e-10], rel=1e-12)  # the epoch's rate
    assert model.optimizer.learning_rate == pytest.approx(1.25e-10)
    with pytest.raises(KeyError, match="pass validation_data"):
        tiny_model(SGD(0.1)).fit(x, y, callbacks=[ReduceLROnPlateau()], verbose=0)
    with pytest.raises(ValueError, match="0 < factor < 1"):
        ReduceLROnPlateau(factor=1.0)


class _Model:
    """What the callback touches: model.optimizer.learning_rate."""

    def __init__(self):
        self.optimizer = SGD(1.0)


def plateau_rates(losses, **kwargs):
    cb = ReduceLROnPlateau(monitor="val_loss", **kwargs)
    cb.set_model(_Model())
    cb.model.optimizer.learning_rate = 1.0
    cb.on_train_begin()
    rates = []
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"val_loss": loss})
        rates.append(cb.model.optimizer.learning_rate)
    return rates


def test_reduce_lr_on_plateau_rule_with_cooldown_and_floor():
    """Keras's rule, epoch by epoch: wait counts epochs without an improvement of more than
    min_delta; at wait >= patience the rate is cut, then cooldown epochs are not counted."""
    losses = [1.0, 0.9, 0.95, 0.9, 0.92, 0.91, 0.93, 0.89, 0.95, 0.95, 0.95, 0.95]
    rates = plateau_rates(losses, factor=0.5, patience=2, cooldown=2, min_lr=0.3)
    # epoch 1 improves; 2, 3 do not (0.9 is not better than 0.9 by 1e-4): cut to 0.5 after 3;
    # 4 is not counted (cooldown); 5, 6 do not improve: cut to 0.3 (the floor, not 0.25);
    # 7 improves; 8, 9 do not, but the rate is at the floor: nothing more happens
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    # as Keras, the counter runs down before the epoch is judged, so the last cooldown epoch
    # counts already: cooldown=1 skips nothing, and the second cut comes one epoch earlier
    quirk = plateau_rates(losses, factor=0.5, patience=2, cooldown=1, min_lr=0.3)
    assert quirk[:6] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.3]
    max_mode = ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=1)
    max_mode.set_model(_Model())
    max_mode.model.optimizer.learning_rate = 1.0
    max_mode.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.6, 0.6]):  # "acc" in the name: higher is better
        max_mode.on_epoch_end(epoch, {"val_accuracy": acc})
    assert max_mode.model.optimizer.learning_rate == pytest.approx(0.1)
