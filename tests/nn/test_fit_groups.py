"""Sequential.fit(batch_groups=...): one group (speaker) per batch; and callbacks that add
entries to the epoch logs for the callbacks after them."""

import numpy as np
import pytest

from nn.callbacks import Callback, EarlyStopping
from nn.layers import BatchNormalization, Dense
from nn.metrics import uar
from nn.models import Sequential

pytestmark = pytest.mark.ch04_training


def indexed(n, seed=0):
    """x[i, 0] = i, so a batch tells which examples it holds; random labels of 3 classes."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.arange(n), rng.standard_normal((n, 2))])
    return x, rng.integers(0, 3, n)


def small_model(seed=0):
    model = Sequential(seed=seed, dtype="float64")
    model.add(Dense(4, activation="tanh", input_shape=(3,)))
    model.add(BatchNormalization())
    model.add(Dense(3, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def recorded_batches(model, x, y, **fit_kwargs):
    """The example indices of every batch fit trains on, epoch by epoch."""
    batches = []
    real = model.train_on_batch

    def spy(xb, yb):
        batches.append(xb[:, 0].astype(int))
        return real(xb, yb)

    model.train_on_batch = spy
    model.fit(x, y, verbose=0, **fit_kwargs)
    return batches


# group sizes 10, 47, 64, 100 with batch_size 32: max(1, round(n / 32)) = 1, 1, 2, 3 batches
SIZES = {"spk_a": 10, "spk_b": 47, "spk_c": 64, "spk_d": 100}


def speaker_groups(seed=0):
    groups = np.concatenate([[name] * n for name, n in SIZES.items()])
    return np.random.default_rng(seed).permutation(groups)  # speakers interleaved in x


def test_every_batch_holds_one_group_and_every_example_once_per_epoch():
    groups = speaker_groups()
    x, y = indexed(len(groups))
    batches = recorded_batches(small_model(), x, y, epochs=3, batch_size=32, batch_groups=groups)
    per_epoch = 1 + 1 + 2 + 3
    assert len(batches) == 3 * per_epoch
    for e in range(3):
        epoch = batches[e * per_epoch : (e + 1) * per_epoch]
        for b in epoch:
            assert len(set(groups[b])) == 1  # one speaker per batch
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(len(groups)))
        sizes = sorted((groups[b[0]], len(b)) for b in epoch)
        assert sizes == [
            ("spk_a", 10),
            ("spk_b", 47),
            ("spk_c", 32),
            ("spk_c", 32),
            ("spk_d", 33),
            ("spk_d", 33),
            ("spk_d", 34),
        ]  # np.array_split: nearly equal, the larger parts first
    orders = [[groups[b[0]] for b in batches[e * 7 : (e + 1) * 7]] for e in range(3)]
    assert len({tuple(o) for o in orders}) > 1  # the order of the batches is reshuffled


def test_grouped_batches_are_deterministic_from_the_seed():
    groups = speaker_groups()
    x, y = indexed(len(groups))
    runs = [
        recorded_batches(small_model(seed=s), x, y, epochs=2, batch_size=32, batch_groups=groups)
        for s in (5, 5, 6)
    ]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2], strict=True))


def test_without_groups_batches_and_the_random_stream_are_unchanged():
    x, y = indexed(70)
    model = small_model(seed=3)
    batches = recorded_batches(model, x, y, epochs=2, batch_size=32)
    rng = np.random.default_rng(3)  # fit draws one permutation per epoch from the model's seed
    want = []
    for _ in range(2):
        order = rng.permutation(70)
        want += [order[s : s + 32] for s in range(0, 70, 32)]
    assert len(batches) == len(want)
    for got, w in zip(batches, want, strict=True):
        np.testing.assert_array_equal(got, w)
    assert model.rng.bit_generator.state == rng.bit_generator.state


def test_grouped_batches_without_shuffle_keep_the_order():
    groups = np.array([2, 1, 2, 1, 1, 2, 2, 1])
    x, y = indexed(8)
    batches = recorded_batches(
        small_model(), x, y, epochs=1, batch_size=2, batch_groups=groups, shuffle=False
    )
    assert [b.tolist() for b in batches] == [[1, 3], [4, 7], [0, 2], [5, 6]]


def test_batch_groups_must_give_one_id_per_example():
    x, y = indexed(10)
    with pytest.raises(ValueError, match=r"batch_groups must give one group id per example, "
                       r"shape \(10,\); got shape \(9,\)"):  # fmt: skip
        small_model().fit(x, y, batch_groups=np.zeros(9), verbose=0)
    with pytest.raises(ValueError, match="one group id per example"):
        small_model().fit(x, y, batch_groups=np.zeros((10, 2)), verbose=0)


def test_grouped_batches_with_a_validation_split():
    groups = np.repeat([0, 1, 2, 3], 10)
    x, y = indexed(40)
    batches = recorded_batches(
        small_model(), x, y, epochs=1, batch_size=5, batch_groups=groups, validation_split=0.25
    )
    seen = np.sort(np.concatenate(batches))
    np.testing.assert_array_equal(seen, np.arange(30))  # the last 10 are held out
    assert all(len(set(groups[b])) == 1 for b in batches)


class ValidationUAR(Callback):
    """Adds "val_uar" to the epoch logs, as the application does."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def on_epoch_end(self, epoch, logs):
        logs["val_uar"] = uar(self.y, self.model.predict(self.x).argmax(axis=1), n_classes=3)


def test_a_callback_adds_a_log_entry_that_a_later_early_stopping_monitors(capsys):
    x, y = indexed(60)
    x[:, 0] = 0.0  # the index column carries no information here
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(logs["val_uar"])

    stop = EarlyStopping(monitor="val_uar", mode="max", patience=1, restore_best_weights=True)
    model = small_model()
    history = model.fit(
        x[:40],
        y[:40],
        epochs=20,
        batch_size=8,
        callbacks=[ValidationUAR(x[40:], y[40:]), Watch(), stop],
        verbose=2,
    )
    assert history.history["val_uar"] == seen  # recorded in the History
    assert stop.best == max(seen)
    assert "val_uar:" in capsys.readouterr().out  # and printed in the epoch line
    with pytest.raises(KeyError, match="before this one in the list"):
        small_model().fit(
            x, y, epochs=1, callbacks=[EarlyStopping("val_uar"), ValidationUAR(x, y)], verbose=0
        )
