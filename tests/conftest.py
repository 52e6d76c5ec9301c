"""Shared fixtures: small deterministic signals with known answers."""

import numpy as np
import pytest


def pytest_configure(config):
    """Register one marker per exercise, ``ex_<ID>`` (``pytest -m ex_M3``), from the exercise
    table in ser/course/exercises.py (docs/exercises.md)."""
    from ser.course.exercises import EXERCISES

    for exercise in EXERCISES:
        config.addinivalue_line(
            "markers", f"{exercise.marker}: exercise {exercise.id}, {exercise.title} (ser course)"
        )


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def voiced_signal(sr=16000, seconds=1.0, f0=140.0, seed=0):
    """A buzzy harmonic signal with a slow vibrato and a little noise: speech-like spectra."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 30))
    y *= 0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2  # syllable-like envelope
    return 0.2 * y + 1e-3 * rng.standard_normal(t.size)


@pytest.fixture
def speechlike():
    return voiced_signal()
