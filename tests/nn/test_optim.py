"""The update rules (eqs. O-1..O-3): each by hand, each Numba twin equal to its reference,
the optimizer classes through the backend, and RMSprop beside PyTorch's."""

import numpy as np
import pytest

from nn.functional import optim as ref
from nn.kernels import optim as fast
from nn.optimizers import SGD, Adam, RMSprop, get

pytestmark = [pytest.mark.ch04_training]

RULES = {
    "sgd": {"momentum": 0.0},
    "sgd-momentum": {"momentum": 0.9},
    "sgd-nesterov": {"momentum": 0.9, "nesterov": True},
    "rmsprop": {},
    "rmsprop-momentum": {"momentum": 0.5},
    "rmsprop-centered": {"centered": True},
    "rmsprop-centered-momentum": {"centered": True, "momentum": 0.5},
    "adam": {},
}


def rule(name, module):
    kind = name.split("-")[0]
    return getattr(module, f"{kind}_update")


@pytest.mark.kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(RULES))
def test_each_twin_equals_its_reference_over_several_steps(name, dtype):
    rng = np.random.default_rng(3)
    w_ref = rng.standard_normal((4, 5)).astype(dtype)
    w_fast = w_ref.copy()
    s_ref, s_fast = {}, {}
    for _ in range(4):
        g = rng.standard_normal((4, 5)).astype(dtype)
        rule(name, ref)(w_ref, g, s_ref, learning_rate=0.01, **RULES[name])
        rule(name, fast)(w_fast, g, s_fast, learning_rate=0.01, **RULES[name])
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(w_fast, w_ref, rtol=tol, atol=tol)
    assert w_fast.dtype == dtype and sorted(s_fast) == sorted(s_ref)
    for key, value in s_ref.items():
        np.testing.assert_allclose(s_fast[key], value, rtol=tol, atol=tol)


@pytest.mark.kernels
def test_a_twin_given_a_strided_view_falls_back_to_the_reference():
    rng = np.random.default_rng(4)
    base = rng.standard_normal((6, 6))
    w_fast, w_ref = base.copy()[:, ::2], base.copy()[:, ::2]  # not C-contiguous
    g = rng.standard_normal((6, 3))
    fast.rmsprop_update(w_fast, g, {}, learning_rate=0.1)
    ref.rmsprop_update(w_ref, g, {}, learning_rate=0.1)
    np.testing.assert_array_equal(w_fast, w_ref)


def test_rmsprop_matches_the_keras_formula_by_hand():
    """Two steps of eq. O-3 written out, plain and centered with momentum."""
    w0, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.1]), np.array([-0.2, 0.3])
    lr, rho, eps = 0.1, 0.9, 1e-7

    w, state = w0.copy(), {}
    ref.rmsprop_update(w, g1, state, learning_rate=lr)
    ref.rmsprop_update(w, g2, state, learning_rate=lr)
    s1 = (1 - rho) * g1**2
    s2 = rho * s1 + (1 - rho) * g2**2
    expected = w0 - lr * g1 / np.sqrt(s1 + eps) - lr * g2 / np.sqrt(s2 + eps)
    np.testing.assert_allclose(w, expected, rtol=1e-14)

    w, state = w0.copy(), {}
    ref.rmsprop_update(w, g1, state, learning_rate=lr, centered=True, momentum=0.5)
    ref.rmsprop_update(w, g2, state, learning_rate=lr, centered=True, momentum=0.5)
    m1 = (1 - rho) * g1
    m2 = rho * m1 + (1 - rho) * g2
    u1 = lr * g1 / np.sqrt(s1 - m1**2 + eps)
    u2 = 0.5 * u1 + lr * g2 / np.sqrt(s2 - m2**2 + eps)
    np.testing.assert_allclose(w, w0 - u1 - u2, rtol=1e-14)


@pytest.mark.parity
def test_rmsprop_follows_pytorch_where_epsilon_does_not_matter():
    """PyTorch adds epsilon outside the square root, Keras (and this library) inside; with
    epsilon 0 the two are the same rule."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w = rng.standard_normal(7)
    p = torch.tensor(w.copy(), requires_grad=True)
    theirs = torch.optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.0, momentum=0.3, centered=True)
    ours = RMSprop(0.01, rho=0.9, momentum=0.3, epsilon=1e-300, centered=True)
    for _ in range(5):
        g = rng.standard_normal(7)
        p.grad = torch.tensor(g.copy())
        theirs.step()
        ours.apply([(w, g)])
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12)


def test_every_optimizer_class_runs_through_the_backend_twin(monkeypatch):
    from nn import backend

    calls = []
    for kind in ("sgd", "rmsprop", "adam"):
        real = getattr(backend.ops.optim, f"{kind}_update")

        def spy(*args, _real=real, _kind=kind, **kwargs):
            calls.append(_kind)
            return _real(*args, **kwargs)

        monkeypatch.setattr(backend.ops.optim, f"{kind}_update", spy)
    w = np.zeros(3)
    for opt in (SGD(0.1, momentum=0.9), RMSprop(0.1), Adam(0.1)):
        opt.apply([(w, np.ones(3))])
    assert calls == ["sgd", "rmsprop", "adam"]


def test_rmsprop_is_saved_and_rebuilt_by_name_and_its_settings_checked():
    opt = get({"class": "RMSprop", **{k: v for k, v in RMSprop(0.01, rho=0.8).get_config().items()
                                      if k != "class"}})  # fmt: skip
    assert isinstance(opt, RMSprop) and opt.rho == 0.8 and opt.learning_rate == 0.01
    assert isinstance(get("rmsprop"), RMSprop)
    for bad in ({"rho": 1.0}, {"momentum": -0.1}, {"epsilon": 0.0}):
        with pytest.raises(ValueError, match="RMSprop"):
            RMSprop(**bad)


def test_a_model_compiled_with_rmsprop_trains_saves_and_loads(tmp_path):
    from nn.layers import Dense
    from nn.models import Sequential, load_model

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    y = np.eye(2)[(x[:, 0] > 0).astype(int)]
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))], seed=0)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    again = load_model(model.save(tmp_path / "m.npz"))
    assert isinstance(again.optimizer, RMSprop)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
